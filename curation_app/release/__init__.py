"""Release builder: selection, splits, writers, dataset card, manifest, atomic write, verify.

::

    selection  one member per overlap group (adjudicated copy, else the original)
    splits     deterministic topic-stratified splits keeping duplicates and seed families whole
    records    a dialogue as a chat-messages record; the system prompt
    card       README.md with the Hugging Face YAML header and the curation story
    writer     the folder layout of docs/release-layout.md, written atomically
    verify     re-check hashes and schemas; diff two releases

The use case itself (reading the database, running the checks) is
:mod:`curation_app.services.release`.
"""
