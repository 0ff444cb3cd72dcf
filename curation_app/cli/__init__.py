"""The command line for leads and scripts: ``curation …`` (also ``python -m curation_app``).

Each command is a thin wrapper over one service function. Errors become one ``Error: …`` line
on stderr and a non-zero exit; details (skipped records, warnings) go to stderr too, so stdout
carries just the one-line summary. One module per family of commands; importing them registers
their commands on ``main``.
"""

from curation_app.cli import data, drafts, ops, quality, team  # noqa: F401  (registers commands)
from curation_app.cli.base import main

__all__ = ["main"]
