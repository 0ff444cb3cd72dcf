"""The project's own JSON Lines: one canonical record (``Dialogue.to_record()``) per line.

Lossless: reading what the writer wrote gives equal dialogues (database id, version, assignee and
timestamps are not part of the record). Blank lines are skipped; a record's index is its line
number minus one, and its id in messages is ``line N``.

Reading normalises, with a warning: an integer ``external_id`` (read as a string); NaN as
topic/emotion/description (read as missing) and anywhere in metadata/provenance (read as null);
labels in another casing or an alias; unknown top-level keys (ignored). A missing ``language``
becomes the project's language, silently.

Refused: a line that is not valid JSON or not an object; no ``turns`` or an empty list; a turn
without a role of seeker/supporter or a string text; a status or source that does not exist;
several strategies on one turn of a single-strategy project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curation_app.domain import Dialogue
from curation_app.formats.base import RecordContext, plain_stored_turns, text_or_none
from curation_app.formats.validation import RecordValidator
from curation_app.presets import Vocabulary

NAME = "jsonl"
CONTAINER = "lines"
_KEYS = ("external_id", "language", "topic", "emotion", "description", "status", "source",
         "provenance", "metadata", "turns")


def role_names(vocab: Vocabulary) -> None:
    """Canonical roles are fixed (seeker, supporter); the schema file lists them already."""
    return None


def read_record(raw: dict[str, Any], ctx: RecordContext,
                validator: RecordValidator) -> Dialogue | None:
    record = dict(raw)  # a copy: normalising must not touch the caller's data
    external_id = record.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        record["external_id"] = str(external_id)
        ctx.warn("external_id", "an integer; read as a string")
    if isinstance(record.get("external_id"), str):
        ctx.record_id += f", external_id {record['external_id']}"
    for key in ("topic", "emotion", "description"):
        ctx.optional_text(record, key)
    for key in ("provenance", "metadata"):
        if isinstance(record.get(key), dict):
            record[key] = ctx.scrubbed(record[key], (key,))
    turns = record.get("turns")
    if isinstance(turns, list):
        record["turns"] = [
            {**t, "metadata": ctx.scrubbed(t["metadata"], ("turns", i, "metadata"))}
            if isinstance(t, dict) and isinstance(t.get("metadata"), dict) else t
            for i, t in enumerate(turns)
        ]
    if not ctx.check(record, validator):
        return None

    for key in record:
        if key not in _KEYS:
            ctx.warn(key, "not a field of the canonical record; ignored")
    record.setdefault("language", ctx.vocab.language)
    record["topic"] = ctx.label("topic", record.get("topic"), "topic")
    record["emotion"] = ctx.label("emotion", record.get("emotion"), "emotion")
    normalised_turns = []
    for i, turn in enumerate(record["turns"]):
        where = f"turns[{i}].strategies"
        names = turn.get("strategies", [])
        strategies = ctx.strategies([(s, f"{where}[{j}]") for j, s in enumerate(names)], where)
        normalised_turns.append({**turn, "strategies": strategies})
    record["turns"] = normalised_turns
    if ctx.refused:
        return None
    return Dialogue.from_record(record)


def write_record(dialogue: Dialogue, vocab: Vocabulary, position: int) -> dict[str, Any]:
    return dialogue.to_record()


_STATUSES = frozenset({"draft", "in_progress", "submitted", "approved", "returned",
                       "discarded"})
_SOURCES = frozenset({"generated", "imported", "manual"})


def stored_writer(vocab: Vocabulary) -> Callable[[Any, int], dict[str, Any] | None]:
    """:func:`write_record` straight from a stored dialogue (``StoredDialogue``), for the
    common case only: turns without metadata, each with the vocabulary's strategies (at most
    one unless the project allows several); the provenance and metadata objects go in as
    decoded. Valid by construction (see tests/formats/test_write_stored.py); None for
    anything else (the general path)."""
    known = frozenset(vocab.strategy_names)
    most = None if vocab.multi_strategy else 1

    def write(stored: Any, position: int) -> dict[str, Any] | None:
        turns = stored.turns
        if (not plain_stored_turns(turns, known, most) or type(stored.provenance) is not dict
                or type(stored.metadata) is not dict or type(stored.language) is not str
                or not text_or_none(stored.external_id, stored.topic, stored.emotion,
                                    stored.description)
                or stored.status not in _STATUSES or stored.source not in _SOURCES):
            return None
        return {"external_id": stored.external_id, "language": stored.language,
                "topic": stored.topic, "emotion": stored.emotion,
                "description": stored.description, "status": stored.status,
                "source": stored.source, "provenance": stored.provenance,
                "metadata": stored.metadata,
                "turns": [{"role": t["role"], "text": t["text"],
                           "strategies": list(t.get("strategies") or [])} for t in turns]}

    return write
