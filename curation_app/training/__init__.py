"""The bundled LoRA training script (``curation-train``): a release in, an adapter out.

::

    release   read and check a release folder (docs/release-layout.md)
    examples  dialogues -> token ids with labels on the supporter's tokens only
    model     base model, tokenizer, LoRA config, adapters
    fit       training with TRL's SFT trainer; merge
    evaluate  perplexity and generation metrics on the test split (ExTES table 6)
    metrics   the metric implementations
    chat      a terminal conversation behind the project's safety screen
    cli       the ``curation-train`` command

It reads release files only and imports nothing of the app but ``curation_app.resources`` (for the
chat-messages schema) and the safety screen (``curation_app.checks.safety``/``moderation``).
The heavy libraries (torch, transformers, peft, trl) come with the ``train`` extra and are
imported only when a command needs them.
"""
