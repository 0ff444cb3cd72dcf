"""ExTES-style files: ``[{scene, description, content: [{"User": text} |
{"AI Strategy": s, "AI": text}]}]``.

Reading: ``scene`` -> topic, ``description`` -> description. The full ExTES file is irregular; each
irregularity below is either normalised with a warning naming the record and field, or refuses the
record with its index and field. Nothing is dropped silently.

Normalised, with a warning
  * ``Description`` / ``Scene`` / ``Content`` in another casing -> the lower-case key;
  * speaker keys in another casing (``user``, ``ai``) -> ``User`` / ``AI``;
  * the strategy key spelled ``AI strategy``, ``strategy``, ``Strategy``, ``ai_strategy`` ->
    ``AI Strategy``;
  * a text given as an object (``{"text": ...}``, ``{"Response": ...}``, or any object with a
    single string value) -> that string;
  * one turn object holding both ``User`` and ``AI`` -> two turns, User first;
  * an AI turn whose strategy is ``null`` or missing -> no strategy. An empty string is ExTES's own
    way to say "no strategy" (greetings, closings) and is read silently;
  * a strategy given as a one-item list -> that strategy;
  * a strategy in another casing or an alias -> the vocabulary's spelling (off-list strategies
    are kept as written and reported as unknown labels, for the import to decide);
  * dialogues that start with the AI, end with the User, or have two turns of one speaker in a
    row: taken as they are (turns stay separate), each place warned;
  * NaN as scene/description -> missing; unknown keys -> kept under ``metadata["extes"]``.

Refused
  a record that is not an object; no ``content`` or an empty one; a turn that is not an object, or
  has neither a User nor an AI text, or two keys for one speaker; a text that is neither a string
  nor an object we can unwrap; a non-empty strategy on a User-only turn; several strategies on one
  turn (the format holds one).

Writing: ``{"scene", "description", "content"}``; a seeker turn is ``{"User": text}``, a supporter
turn ``{"AI Strategy": s or "", "AI": text}`` in that key order. A seeker turn carrying a strategy
cannot be written in this format and stops the export with an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from curation_app.domain import Dialogue, Role, Turn
from curation_app.errors import ExportError
from curation_app.formats.base import (
    RecordContext,
    dialogue_label,
    fold,
    namespace,
    plain_stored_turns,
    text_or_none,
    with_namespace,
)
from curation_app.formats.validation import PathParts, RecordValidator, format_path, kind_of, show
from curation_app.presets import Vocabulary
from curation_app.textsafety import label_problem

NAME = "extes"
CONTAINER = "array"
USER, AI, STRATEGY = "User", "AI", "AI Strategy"
_RECORD_KEYS = ("scene", "description", "content")
_STRATEGY_KEYS = frozenset({"ai strategy", "strategy", "aistrategy", "ai strategies"})
_TEXT_KEYS = frozenset({"text", "response", "content", "utterance", "message"})


def role_names(vocab: Vocabulary) -> None:
    """ExTES names its speakers by keys, not by a value the schema could enumerate."""
    return None


def _unwrap(value: Any) -> str | None:
    """The text inside ``{"text": ...}``-like objects, or None when there is no single one."""
    if not isinstance(value, dict):
        return None
    found = [v for k, v in value.items() if fold(k) in _TEXT_KEYS
             and isinstance(v, str)]
    if len(found) == 1:
        return found[0]
    strings = [v for v in value.values() if isinstance(v, str)]
    if len(value) == 1 and len(strings) == 1:
        return strings[0]
    return None


class _Turns:
    """Builds the normalised ``content`` list, remembering where each turn came from."""

    def __init__(self, ctx: RecordContext):
        self.ctx = ctx
        self.turns: list[Any] = []
        self.origin: list[int] = []  # normalised index -> index in the source content
        self.keys: list[dict[str, str]] = []  # canonical key -> key as written in the source

    def add(self, turn: Any, origin: int, keys: dict[str, str] | None = None) -> None:
        self.turns.append(turn)
        self.origin.append(origin)
        self.keys.append(keys or {})

    def source_path(self, parts: PathParts) -> PathParts:
        """A path in the normalised record -> the same place in the source record."""
        if len(parts) >= 2 and parts[0] == "content" and isinstance(parts[1], int) \
                and parts[1] < len(self.origin):
            rest = parts[2:]
            if rest and isinstance(rest[0], str):
                rest = (self.keys[parts[1]].get(rest[0], rest[0]), *rest[1:])
            return ("content", self.origin[parts[1]], *rest)
        return parts

    def normalise(self, i: int, turn: dict[str, Any]) -> None:
        ctx = self.ctx
        where = format_path(("content", i))
        found: dict[str, list[str]] = {USER: [], AI: [], STRATEGY: []}
        extras: dict[str, Any] = {}
        for key in turn:
            if key in found:
                found[key].append(key)
            elif fold(key) == "user":
                found[USER].append(key)
            elif fold(key) == "ai":
                found[AI].append(key)
            elif fold(key) in _STRATEGY_KEYS:
                found[STRATEGY].append(key)
            else:
                extras[key] = ctx.scrubbed(turn[key], ("content", i, key))
        for canonical, keys in found.items():
            if len(keys) > 1:
                ctx.refuse(where, f"holds {len(keys)} keys for {show(canonical)} "
                                  f"({', '.join(show(k) for k in keys)}); keep one")
                return
        if not found[USER] and not found[AI]:
            ctx.refuse(where, "turn has neither a User nor an AI text "
                              f"(keys: {', '.join(show(str(k)) for k in turn) or 'none'})")
            return
        source = {canonical: keys[0] for canonical, keys in found.items() if keys}
        for canonical, key in source.items():
            if key != canonical:
                ctx.warn(format_path(("content", i, key)), f"key read as {show(canonical)}")
        values: dict[str, Any] = {c: turn[k] for c, k in source.items()}
        for canonical in (USER, AI):
            value = values.get(canonical)
            text = _unwrap(value)
            if text is not None:
                ctx.warn(format_path(("content", i, source[canonical])),
                         f"text given as {kind_of(value)}; read its string value")
                values[canonical] = text

        strategy_at = format_path(("content", i, source.get(STRATEGY, STRATEGY)))
        if AI not in values:
            strategy = values.get(STRATEGY)
            if strategy is not None and strategy != "" and strategy != []:
                ctx.refuse(strategy_at, "a strategy on a User turn (is the AI text missing?)")
                return
            if STRATEGY in values:
                ctx.warn(strategy_at, "an empty strategy key on a User turn; ignored")
            self.add({USER: values[USER], **extras}, i, {USER: source[USER]})
            return

        if STRATEGY not in values:
            ctx.warn(where, f"AI turn without an {show(STRATEGY)} key; read as no strategy")
            strategy = ""
        else:
            strategy = values[STRATEGY]
        if strategy is None:
            ctx.warn(strategy_at, "null; read as no strategy")
            strategy = ""
        elif isinstance(strategy, list):
            if len(strategy) > 1:
                ctx.refuse(strategy_at,
                           f"{len(strategy)} strategies on one turn; the extes format holds one")
                return
            ctx.warn(strategy_at, f"a {len(strategy)}-item list; read as "
                                  f"{'its strategy' if strategy else 'no strategy'}")
            strategy = strategy[0] if strategy else ""
        ai_turn = {STRATEGY: strategy, AI: values[AI]}
        ai_keys = {AI: source[AI], STRATEGY: source.get(STRATEGY, STRATEGY)}
        if USER in values:
            ctx.warn(where, "turn holds both User and AI; split into two turns, User first")
            self.add({USER: values[USER], **extras}, i, {USER: source[USER]})
            self.add(ai_turn, i, ai_keys)
        else:
            self.add({**ai_turn, **extras}, i, ai_keys)


def _normalise_record(record: dict[str, Any], ctx: RecordContext) -> None:
    for key in list(record):
        if key in _RECORD_KEYS:
            continue
        folded = fold(key)
        if folded in _RECORD_KEYS:
            if folded in record:
                ctx.warn(key, f"both {show(key)} and {show(folded)} given; "
                              f"{show(key)} kept as metadata")
                continue
            ctx.warn(key, f"key read as {show(folded)}")
            # rebuild to keep the key's position (it matters for the extras' order only)
            items = [(folded if k == key else k, v) for k, v in record.items()]
            record.clear()
            record.update(items)
    for key in ("scene", "description"):
        ctx.optional_text(record, key)


_PLAIN_KEYS = frozenset(_RECORD_KEYS)
_AI_KEYS = frozenset({STRATEGY, AI})
_ALTERNATING = [False, True] * 64


def _read_plain(raw: dict[str, Any], ctx: RecordContext) -> Dialogue | None:
    """A record already written the way the writer writes it (the common case: every key as
    spelled, every text a string), read without the normalising pass, which can only find
    nothing to say about it; None for anything else, which takes the general path. The
    checks below imply the structural schema, and the result (warnings included) is what the
    general path gives."""
    if not raw.keys() <= _PLAIN_KEYS:
        return None
    scene, description, content = raw.get("scene"), raw.get("description"), raw.get("content")
    if not ((scene is None or type(scene) is str)
            and (description is None or type(description) is str)
            and type(content) is list and content):
        return None
    for turn in content:  # the shape first: nothing is said about a record not taken here
        if type(turn) is not dict:
            return None
        if len(turn) == 1:
            if type(turn.get(USER)) is not str:
                return None
        elif (len(turn) != 2 or turn.keys() != _AI_KEYS or type(turn[AI]) is not str
              or type(turn[STRATEGY]) is not str):
            return None
    out: list[Turn] = []
    supporter_at: list[bool] = []
    plain = ctx.lookups.plain_strategies
    seeker, supporter = Role.SEEKER, Role.SUPPORTER
    for turn in content:
        if len(turn) == 1:
            out.append(Turn(seeker, turn[USER], [], {}))
            supporter_at.append(False)
            continue
        supporter_at.append(True)
        strategy = turn[STRATEGY]
        if not strategy:
            strategies: list[str] = []
        elif plain[strategy]:
            strategies = [strategy]
        else:
            at = f'content[{len(out)}]["AI Strategy"]'
            strategies = ctx.strategies([(strategy, at)], at)
        out.append(Turn(supporter, turn[AI], strategies, {}))
    # User, AI, User, AI, ... (the usual order) has nothing to warn about
    if len(out) % 2 or supporter_at != _ALTERNATING[:len(out)]:
        _warn_order(out, range(len(out)), ctx)
    return Dialogue(
        turns=out,
        language=ctx.vocab.language,
        topic=ctx.label("topic", scene, "scene"),
        description=description,
        metadata={},
    )


def plain_texts(raw: dict[str, Any]) -> tuple[list[str], list[bool]] | None:
    """(texts, is-supporter flags) of a record :func:`_read_plain` would take, when reading
    it whole could not refuse it (its scene fits the topic column); None otherwise. For
    ``curation dedup FILE``, which needs no more of a record than this."""
    if not raw.keys() <= _PLAIN_KEYS:
        return None
    scene, description, content = raw.get("scene"), raw.get("description"), raw.get("content")
    if not ((scene is None or (type(scene) is str and label_problem("topic", scene) is None))
            and (description is None or type(description) is str)
            and type(content) is list and content):
        return None
    texts: list[str] = []
    supporter: list[bool] = []
    for turn in content:
        if type(turn) is not dict:
            return None
        if len(turn) == 1:
            text = turn.get(USER)
            if type(text) is not str:
                return None
            texts.append(text)
            supporter.append(False)
        elif (len(turn) == 2 and turn.keys() == _AI_KEYS and type(turn[AI]) is str
              and type(turn[STRATEGY]) is str):
            texts.append(turn[AI])
            supporter.append(True)
        else:
            return None
    return texts, supporter


def read_record(raw: dict[str, Any], ctx: RecordContext,
                validator: RecordValidator) -> Dialogue | None:
    plain = _read_plain(raw, ctx)
    if plain is not None or ctx.refused:
        return plain
    record = dict(raw)  # a copy: normalising must not touch the caller's data
    _normalise_record(record, ctx)
    turns = _Turns(ctx)
    content = record.get("content")
    if isinstance(content, list):
        for i, turn in enumerate(content):
            if isinstance(turn, dict):
                turns.normalise(i, turn)
            else:
                turns.add(turn, i)
        record["content"] = turns.turns
    ctx.check(record, validator, turns.source_path)
    if ctx.refused:
        return None

    out: list[Turn] = []
    for j, turn in enumerate(record["content"]):
        extras = {k: v for k, v in turn.items() if k not in (USER, AI, STRATEGY)}
        if USER in turn:
            out.append(Turn(Role.SEEKER, turn[USER], metadata=with_namespace(NAME, extras)))
            continue
        strategies: list[str] = []
        if turn[STRATEGY]:
            at = format_path(turns.source_path(("content", j, STRATEGY)))
            strategies = ctx.strategies([(turn[STRATEGY], at)], at)
        out.append(Turn(Role.SUPPORTER, turn[AI], strategies, with_namespace(NAME, extras)))
    _warn_order(out, turns.origin, ctx)

    extras = {k: ctx.scrubbed(v, (k,)) for k, v in record.items() if k not in _RECORD_KEYS}
    return Dialogue(
        turns=out,
        language=ctx.vocab.language,
        topic=ctx.label("topic", record.get("scene"), "scene"),
        description=record.get("description"),
        metadata=with_namespace(NAME, extras),
    )


def _warn_order(turns: list[Turn], origin: Sequence[int], ctx: RecordContext) -> None:
    """Accept odd speaker orders as they are, but say where they are."""
    name = {Role.SEEKER: USER, Role.SUPPORTER: AI}
    if turns[0].role == Role.SUPPORTER:
        ctx.warn("content[0]", "dialogue starts with the AI")
    for j in range(1, len(turns)):
        if turns[j].role == turns[j - 1].role:
            ctx.warn(f"content[{origin[j]}]",
                     f"two {name[turns[j].role]} turns in a row; kept as separate turns")
    if turns[-1].role == Role.SEEKER:
        ctx.warn(f"content[{origin[-1]}]", "dialogue ends with the User")


def write_record(dialogue: Dialogue, vocab: Vocabulary, position: int) -> dict[str, Any]:
    content = []
    seeker = Role.SEEKER
    for i, turn in enumerate(dialogue.turns):
        strategies = turn.strategies
        if turn.role == seeker:
            if strategies:
                raise ExportError(
                    f"cannot export {dialogue_label(dialogue, position)} as extes: field "
                    f"content[{i}]: a User turn cannot carry a strategy in this format "
                    f"(it has {', '.join(show(s) for s in strategies)})"
                )
            item: dict[str, Any] = {USER: turn.text}
        else:
            # One strategy is a string; several stay a list so the schema refuses them by name.
            strategy: Any = (strategies[0] if len(strategies) == 1
                             else list(strategies) if strategies else "")
            item = {STRATEGY: strategy, AI: turn.text}
        if turn.metadata:  # empty (most turns): nothing of this format's to add
            for key, value in namespace(turn.metadata, NAME).items():
                item.setdefault(key, value)
        content.append(item)
    record: dict[str, Any] = {"scene": dialogue.topic, "description": dialogue.description,
                              "content": content}
    for key, value in namespace(dialogue.metadata, NAME).items():
        record.setdefault(key, value)
    return record


def stored_writer(vocab: Vocabulary) -> Callable[[Any, int], dict[str, Any] | None]:
    """:func:`write_record` straight from a stored dialogue (``StoredDialogue``: columns and
    turns as stored), for the common case only: no metadata, every turn a seeker text or a
    supporter text with at most one of the vocabulary's strategies. The record it makes is
    then valid by construction (tests/formats/test_write_stored.py holds it to the schema and
    to :func:`write_record`); for anything else it returns None and the dialogue takes the
    general path (which also words any error)."""
    known = frozenset(vocab.strategy_names)

    def write(stored: Any, position: int) -> dict[str, Any] | None:
        topic, description = stored.topic, stored.description
        turns = stored.turns
        if (stored.metadata or not plain_stored_turns(turns, known, 1, seeker_strategies=False)
                or not text_or_none(topic, description)):
            return None
        content = [{STRATEGY: s[0] if (s := t.get("strategies")) else "", AI: t["text"]}
                   if t["role"] == "supporter" else {USER: t["text"]} for t in turns]
        return {"scene": topic, "description": description, "content": content}

    return write
