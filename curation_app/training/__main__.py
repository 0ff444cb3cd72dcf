"""``python -m curation_app.training`` (and ``accelerate launch -m curation_app.training``)."""

from curation_app.training.cli import main

main()
