"""PECONV-style files: ``[{dialog_id, emotion, topic, dialog: [{speaker, text, strategy?}]}]``.

Reading
  * ``dialog_id`` becomes the external id, as a string. A non-string id (the public sample uses
    integers) is also kept in ``metadata["peconv"]["dialog_id"]`` so the writer puts back the
    very same value. A missing id is allowed (warned).
  * Speakers: the project's role names, display names and aliases, then PECONV's own
    (``孩子``, ``智能助手``, ...). One warning per record and spelling when the speaker is not
    written the way the writer writes it (the sample's ``智能助手`` is read as ``家长``).
  * ``strategy`` is optional on any turn: a list of names, one name, or names joined by
    ``、 , / ; |`` in one string; ``null`` or ``""`` mean none. Several strategies on one turn
    are refused when the project allows one.
  * ``topic``/``emotion`` given as NaN (Python's ``json`` accepts the bare token; record 100 of
    the public sample has it) are read as missing, with a warning.
  * Unknown keys (of the record or a turn) are kept under ``metadata["peconv"]`` and written back.

Refused: a record that is not an object; no ``dialog`` or an empty one; a turn without a string
``speaker``/``text``; a speaker no vocabulary knows; a strategy that is not a string.

Writing
  ``{dialog_id, emotion, topic, dialog: [{speaker, text, strategy?}]}`` with the speakers' display
  names in the project's language (孩子/家长 for a PECONV project) and ``strategy`` as a list,
  only on turns that have one. A dialogue without an external id gets its database id, or its
  1-based position in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curation_app.domain import Dialogue, Role, Turn
from curation_app.formats.base import (
    Lookups,
    RecordContext,
    SpeakerAliases,
    namespace,
    plain_stored_turns,
    split_joined,
    text_or_none,
    with_namespace,
)
from curation_app.formats.validation import RecordValidator, show
from curation_app.presets import Vocabulary

NAME = "peconv"
CONTAINER = "array"
_RECORD_KEYS = ("dialog_id", "emotion", "topic", "dialog")
_TURN_KEYS = ("speaker", "text", "strategy")


def role_names(vocab: Vocabulary) -> list[str]:
    """The speaker names the writer uses (and the schema's enum)."""
    return [vocab.role_display(Role.SEEKER), vocab.role_display(Role.SUPPORTER)]


def _strategy_value(value: Any, lookups: Lookups) -> Any:
    """The accepted spellings of ``strategy`` -> a list (other types are left for the schema)."""
    if value is None:
        return []
    if isinstance(value, str):
        if not value.strip():
            return []
        if lookups.match("strategy", value).label is not None:
            return [value]
        return split_joined(value)
    return value


def read_record(raw: dict[str, Any], ctx: RecordContext,
                validator: RecordValidator) -> Dialogue | None:
    record = dict(raw)  # a copy: normalising must not touch the caller's data
    dialog_id = record.get("dialog_id")
    if isinstance(dialog_id, (str, int)) and not isinstance(dialog_id, bool):
        ctx.record_id = f"dialog_id {dialog_id}"
    if dialog_id is None:
        record.pop("dialog_id", None)
        ctx.warn("dialog_id", f"{'null' if 'dialog_id' in raw else 'missing'}; "
                              "the dialogue has no external id")
    for key in ("emotion", "topic"):
        ctx.optional_text(record, key)

    # strategy given as a string (one or joined) -> a list; remember which were strings so
    # messages can point at the field as it was written.
    written_as_string: set[int] = set()
    turns = record.get("dialog")
    if isinstance(turns, list):
        turns = list(turns)
        for i, turn in enumerate(turns):
            if isinstance(turn, dict) and "strategy" in turn:
                value = turn["strategy"]
                if isinstance(value, str):
                    written_as_string.add(i)
                turns[i] = {**turn, "strategy": _strategy_value(value, ctx.lookups)}
        record["dialog"] = turns

    if not ctx.check(record, validator):
        return None

    aliases = SpeakerAliases()
    out: list[Turn] = []
    for i, turn in enumerate(record["dialog"]):
        where = f"dialog[{i}]"
        role = ctx.lookups.role(turn["speaker"], NAME)
        if role is None:
            ctx.refuse(f"{where}.speaker", f"unknown speaker {show(turn['speaker'])}; expected "
                                           f"{' or '.join(role_names(ctx.vocab))} (or an alias)")
            continue
        aliases.note(turn["speaker"], ctx.vocab.role_display(role), f"{where}.speaker")
        names = turn.get("strategy", [])
        located = [
            (name, f"{where}.strategy" if i in written_as_string else f"{where}.strategy[{j}]")
            for j, name in enumerate(names)
        ]
        strategies = ctx.strategies(located, f"{where}.strategy")
        extras = {k: ctx.scrubbed(v, ("dialog", i, k)) for k, v in turn.items()
                  if k not in _TURN_KEYS}
        out.append(Turn(role=role, text=turn["text"], strategies=strategies,
                        metadata=with_namespace(NAME, extras)))
    if ctx.refused:
        return None
    aliases.report(ctx)

    extras = {k: ctx.scrubbed(v, (k,)) for k, v in record.items() if k not in _RECORD_KEYS}
    if dialog_id is not None and not isinstance(dialog_id, str):
        extras = {"dialog_id": dialog_id, **extras}
    return Dialogue(
        turns=out,
        language=ctx.vocab.language,
        topic=ctx.label("topic", record.get("topic"), "topic"),
        emotion=ctx.label("emotion", record.get("emotion"), "emotion"),
        external_id=None if dialog_id is None else str(dialog_id),
        metadata=with_namespace(NAME, extras),
    )


def _dialog_id(dialogue: Dialogue, position: int) -> Any:
    original = namespace(dialogue.metadata, NAME).get("dialog_id")
    if original is not None and str(original) == dialogue.external_id:
        return original  # the value as it was read (an integer in the public sample)
    if dialogue.external_id is not None:
        return dialogue.external_id
    return dialogue.id if dialogue.id is not None else position + 1


def write_record(dialogue: Dialogue, vocab: Vocabulary, position: int) -> dict[str, Any]:
    turns = []
    for turn in dialogue.turns:
        item: dict[str, Any] = {"speaker": vocab.role_display(turn.role), "text": turn.text}
        if turn.strategies:
            item["strategy"] = list(turn.strategies)
        if turn.metadata:  # empty (most turns): nothing of this format's to add
            for key, value in namespace(turn.metadata, NAME).items():
                item.setdefault(key, value)
        turns.append(item)
    record: dict[str, Any] = {
        "dialog_id": _dialog_id(dialogue, position),
        "emotion": dialogue.emotion,
        "topic": dialogue.topic,
        "dialog": turns,
    }
    for key, value in namespace(dialogue.metadata, NAME).items():
        record.setdefault(key, value)
    return record


def stored_writer(vocab: Vocabulary) -> Callable[[Any, int], dict[str, Any] | None]:
    """:func:`write_record` straight from a stored dialogue (``StoredDialogue``), for the
    common case only: no metadata, every turn a text with the vocabulary's strategies (at most
    one unless the project allows several). Valid by construction (see
    tests/formats/test_write_stored.py); None for anything else (the general path)."""
    known = frozenset(vocab.strategy_names)
    most = None if vocab.multi_strategy else 1
    speakers = {"seeker": vocab.role_display(Role.SEEKER),
                "supporter": vocab.role_display(Role.SUPPORTER)}

    def write(stored: Any, position: int) -> dict[str, Any] | None:
        topic, emotion, dialog_id = stored.topic, stored.emotion, stored.external_id
        turns = stored.turns
        if (stored.metadata or not plain_stored_turns(turns, known, most)
                or not text_or_none(topic, emotion, dialog_id)):
            return None
        dialog = [{"speaker": speakers[t["role"]], "text": t["text"], "strategy": list(s)}
                  if (s := t.get("strategies")) else
                  {"speaker": speakers[t["role"]], "text": t["text"]} for t in turns]
        if dialog_id is None:
            dialog_id = stored.id if stored.id is not None else position + 1
        return {"dialog_id": dialog_id, "emotion": emotion, "topic": topic, "dialog": dialog}

    return write
