"""ESConv-style files: ``[{experience_type, emotion_type, problem_type, situation, survey_score,
dialog: [{speaker, annotation: {strategy} | {feedback}, content}], seeker_question1, ...}]``.

Reading
  * ``emotion_type`` -> emotion, ``problem_type`` -> topic, ``situation`` -> description. Every
    other key of the record (experience_type, survey_score, the four questions, and any key we do
    not know) is kept, in order, under ``metadata["esconv"]``.
  * ``annotation.strategy`` -> the turn's one strategy; other annotation keys (seeker
    ``feedback``) go to ``turn.metadata["esconv"]["annotation"]``, other turn keys to
    ``turn.metadata["esconv"]``. Consecutive turns of one speaker stay separate turns (that is
    how ESConv records a speaker sending several messages), without a warning.
  * Speakers: the project's names and aliases, then ESConv's own (seeker/supporter, usr/sys,
    speaker/listener, ...); one warning per record and spelling other than seeker/supporter.
  * Normalised with a warning: a missing or null ``annotation`` (read as ``{}``); a strategy given
    as a one-item list; a null or empty strategy (read as none); a supporter turn without a
    strategy; a strategy on a seeker turn (kept); NaN labels (read as missing).

Refused: a record that is not an object; no ``dialog`` or an empty one; a turn without a string
``speaker``/``content``; an unknown speaker; an annotation that is not an object; several
strategies on one turn (the format holds one).

Writing
  Keys in ESConv's order, then any other kept keys; speakers always ``seeker``/``supporter`` (the
  ESConv preset's names, whatever the project); annotation ``{"strategy": s}`` on turns with a
  strategy, ``{}`` otherwise, plus the kept annotation keys. Reading ESConv.json and writing it
  back gives records equal to the originals.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from curation_app.domain import Dialogue, Role, Turn
from curation_app.formats.base import (
    RecordContext,
    SpeakerAliases,
    namespace,
    plain_stored_turns,
    text_or_none,
    with_namespace,
)
from curation_app.formats.validation import RecordValidator, kind_of, show
from curation_app.presets import Vocabulary, load_preset

NAME = "esconv"
CONTAINER = "array"
ORDER = ("experience_type", "emotion_type", "problem_type", "situation", "survey_score", "dialog",
         "seeker_question1", "seeker_question2", "supporter_question1", "supporter_question2")
_CANONICAL_KEYS = ("emotion_type", "problem_type", "situation", "dialog")
_TURN_KEYS = ("speaker", "annotation", "content")


@cache
def _native_names() -> tuple[str, str]:
    native = load_preset(NAME)
    return native.role_name(Role.SEEKER), native.role_name(Role.SUPPORTER)


def role_names(vocab: Vocabulary) -> list[str]:
    """ESConv's own speaker names, whatever the project calls its roles."""
    return list(_native_names())


def _normalise_turn(turn: dict[str, Any], where: str, ctx: RecordContext) -> dict[str, Any]:
    turn = dict(turn)
    annotation = turn.get("annotation")
    if annotation is None:
        ctx.warn(f"{where}.annotation", f"{'null' if 'annotation' in turn else 'missing'}; "
                                        "read as {} (no strategy)")
        turn["annotation"] = {}
        return turn
    if not isinstance(annotation, dict) or "strategy" not in annotation:
        return turn
    annotation = dict(annotation)
    value = annotation["strategy"]
    at = f"{where}.annotation.strategy"
    if isinstance(value, list):
        if len(value) > 1:
            ctx.refuse(at, f"{len(value)} strategies on one turn; the esconv format holds one")
            del annotation["strategy"]  # refused already; spare the schema a second message
        elif len(value) == 1:
            ctx.warn(at, "a one-item list; read as the strategy it holds")
            annotation["strategy"] = value[0]
        else:
            ctx.warn(at, "an empty list; read as no strategy")
            del annotation["strategy"]
    elif value is None or (isinstance(value, str) and not value.strip()):
        ctx.warn(at, f"{kind_of(value) if value is None else 'empty'}; read as no strategy")
        del annotation["strategy"]
    turn["annotation"] = annotation
    return turn


def read_record(raw: dict[str, Any], ctx: RecordContext,
                validator: RecordValidator) -> Dialogue | None:
    record = dict(raw)  # a copy: normalising must not touch the caller's data
    for key in ("emotion_type", "problem_type", "situation"):
        ctx.optional_text(record, key)
    turns = record.get("dialog")
    if isinstance(turns, list):
        record["dialog"] = [
            _normalise_turn(t, f"dialog[{i}]", ctx) if isinstance(t, dict) else t
            for i, t in enumerate(turns)
        ]
    ctx.check(record, validator)
    if ctx.refused:
        return None

    written = dict(zip((Role.SEEKER, Role.SUPPORTER), role_names(ctx.vocab), strict=True))
    aliases = SpeakerAliases()
    out: list[Turn] = []
    for i, turn in enumerate(record["dialog"]):
        where = f"dialog[{i}]"
        role = ctx.lookups.role(turn["speaker"], NAME)
        if role is None:
            ctx.refuse(f"{where}.speaker",
                       f"unknown speaker {show(turn['speaker'])}; expected seeker or supporter")
            continue
        aliases.note(turn["speaker"], written[role], f"{where}.speaker")
        annotation = turn["annotation"]
        strategies: list[str] = []
        if "strategy" in annotation:
            at = f"{where}.annotation.strategy"
            strategies = ctx.strategies([(annotation["strategy"], at)], at)
            if role == Role.SEEKER:
                ctx.warn(at, "a strategy on a seeker turn; kept")
        elif role == Role.SUPPORTER:
            ctx.warn(f"{where}.annotation", "supporter turn without a strategy")
        kept: dict[str, Any] = {
            k: ctx.scrubbed(v, ("dialog", i, k)) for k, v in turn.items() if k not in _TURN_KEYS
        }
        other = {k: ctx.scrubbed(v, ("dialog", i, "annotation", k))
                 for k, v in annotation.items() if k != "strategy"}
        if other:
            kept["annotation"] = other
        out.append(Turn(role=role, text=turn["content"], strategies=strategies,
                        metadata=with_namespace(NAME, kept)))
    if ctx.refused:
        return None
    aliases.report(ctx)

    extras = {k: ctx.scrubbed(v, (k,)) for k, v in record.items() if k not in _CANONICAL_KEYS}
    return Dialogue(
        turns=out,
        language=ctx.vocab.language,
        topic=ctx.label("topic", record.get("problem_type"), "problem_type"),
        emotion=ctx.label("emotion", record.get("emotion_type"), "emotion_type"),
        description=record.get("situation"),
        metadata=with_namespace(NAME, extras),
    )


def write_record(dialogue: Dialogue, vocab: Vocabulary, position: int) -> dict[str, Any]:
    speaker = dict(zip((Role.SEEKER, Role.SUPPORTER), role_names(vocab), strict=True))
    turns = []
    for turn in dialogue.turns:
        # empty metadata (most turns): nothing of this format's to add
        kept = dict(namespace(turn.metadata, NAME)) if turn.metadata else {}
        annotation: dict[str, Any] = {}
        if turn.strategies:
            # One strategy is a string; several stay a list so the schema refuses them by name.
            annotation["strategy"] = (turn.strategies[0] if len(turn.strategies) == 1
                                      else list(turn.strategies))
        extra_annotation = kept.pop("annotation", None)
        if isinstance(extra_annotation, dict):
            for key, value in extra_annotation.items():
                annotation.setdefault(key, value)
        item: dict[str, Any] = {"speaker": speaker[turn.role], "annotation": annotation,
                                "content": turn.text}
        for key, value in kept.items():
            item.setdefault(key, value)
        turns.append(item)

    own = {"emotion_type": dialogue.emotion, "problem_type": dialogue.topic,
           "situation": dialogue.description, "dialog": turns}
    extras = {k: v for k, v in namespace(dialogue.metadata, NAME).items() if k not in own}
    record: dict[str, Any] = {}
    for key in ORDER:
        if key in own:
            record[key] = own[key]
        elif key in extras:
            record[key] = extras[key]
    for key, value in extras.items():
        record.setdefault(key, value)
    return record


def stored_writer(vocab: Vocabulary) -> Callable[[Any, int], dict[str, Any] | None]:
    """:func:`write_record` straight from a stored dialogue (``StoredDialogue``), for the
    common case only: no metadata, every turn a text with at most one of the vocabulary's
    strategies. Valid by construction (see tests/formats/test_write_stored.py); None for
    anything else (the general path)."""
    known = frozenset(vocab.strategy_names)
    seeker, supporter = role_names(vocab)
    speakers = {"seeker": seeker, "supporter": supporter}

    def write(stored: Any, position: int) -> dict[str, Any] | None:
        topic, emotion, description = stored.topic, stored.emotion, stored.description
        turns = stored.turns
        if (stored.metadata or not plain_stored_turns(turns, known, 1)
                or not text_or_none(topic, emotion, description)):
            return None
        dialog = [{"speaker": speakers[t["role"]],
                   "annotation": {"strategy": s[0]} if (s := t.get("strategies")) else {},
                   "content": t["text"]} for t in turns]
        return {"emotion_type": emotion, "problem_type": topic, "situation": description,
                "dialog": dialog}

    return write
