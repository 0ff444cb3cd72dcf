"""One dialogue as a chat-messages record (docs/release-layout.md, schemas/chat_messages)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from curation_app.domain import Dialogue, Role
from curation_app.presets import Vocabulary, preset_text


def system_prompt(vocab: Vocabulary, settings: dict[str, Any] | None = None) -> str:
    """The project's own system prompt if a lead set one, else the preset's."""
    own = (settings or {}).get("system_prompt")
    if isinstance(own, str) and own.strip():
        return own
    text = preset_text(vocab.preset, "system_prompt")
    if text:
        return text
    # A preset without one (added later by a lead): say who speaks, from the vocabulary.
    return (f"You are the {vocab.role_display(Role.SUPPORTER)} in an emotional support "
            f"conversation with the {vocab.role_display(Role.SEEKER)}.")


def chat_record(dialogue: Dialogue, prompt: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt}]
    for turn in dialogue.turns:
        if turn.role == Role.SUPPORTER:
            messages.append({"role": "assistant", "content": turn.text,
                             "strategies": list(turn.strategies)})
        else:
            messages.append({"role": "user", "content": turn.text})
    return {"id": str(dialogue.id), "language": dialogue.language, "topic": dialogue.topic,
            "emotion": dialogue.emotion, "messages": messages}


# The parquet files hold the same columns; ``strategies`` is null on system and user messages
# (a parquet struct has the same fields in every row).
PARQUET_SCHEMA = pa.schema([
    ("id", pa.string()), ("language", pa.string()), ("topic", pa.string()),
    ("emotion", pa.string()),
    ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string()),
                                     ("strategies", pa.list_(pa.string()))]))),
])
