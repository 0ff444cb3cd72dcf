"""The shape a model must answer with, built from a preset, and the parser that checks a reply.

:func:`draft_json_schema` is sent to the model as a structured-output schema, so it keeps to what
OpenAI's strict mode accepts: every object closed (``additionalProperties: false``) with every
property required, and no keywords strict mode refuses. Rules the schema cannot say in that subset
(who speaks first, how many strategies a turn may carry) are checked by :func:`parse_draft`.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from curation_app.domain import Dialogue, Role, Source, Status, Turn
from curation_app.errors import ModelOutputError
from curation_app.presets import Vocabulary

SCHEMA_NAME = "dialogue_draft"


def draft_json_schema(vocab: Vocabulary) -> dict[str, Any]:
    """The JSON Schema of one draft for ``vocab``'s preset (strict-mode compatible)."""
    turn = {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": [str(Role.SEEKER), str(Role.SUPPORTER)]},
            "text": {"type": "string"},
            "strategies": {
                "type": "array",
                "items": {"type": "string", "enum": list(vocab.strategy_names)},
            },
        },
        "required": ["role", "text", "strategies"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "turns": {"type": "array", "items": turn},
        },
        "required": ["description", "turns"],
        "additionalProperties": False,
    }


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def extract_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (for replies that wrap JSON in prose or code fences)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise ValueError("no JSON object found")


def _load(text: str) -> Any:
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        first_error = exc
    # Models asked for plain text (or without strict mode) often add a sentence or a code fence
    # around the object; take the first complete object rather than spend a repair call on it.
    try:
        return extract_json_object(stripped)
    except ValueError:
        pass
    raise ModelOutputError(
        f"the reply is not valid JSON (line {first_error.lineno}, column {first_error.colno}: "
        f"{first_error.msg})",
        field="(top level)",
    )


def _normalise_labels(data: Any, vocab: Vocabulary) -> None:
    """Map known aliases ("Empathy", "认可", "ES") to canonical names in place, before validation.

    Only spellings the preset lists as aliases are changed; anything else is left for the
    validator to report, so nothing unknown slips through.
    """
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        return
    for turn in data["turns"]:
        if not isinstance(turn, dict):
            continue
        role = turn.get("role")
        if isinstance(role, str) and role not in (Role.SEEKER, Role.SUPPORTER):
            found = vocab.role_for(role)
            if found is not None:
                turn["role"] = str(found)
        strategies = turn.get("strategies")
        if isinstance(strategies, list):
            fixed = []
            for s in strategies:
                match = vocab.match("strategy", s) if isinstance(s, str) else None
                fixed.append(match.label if match and match.label else s)
            if all(isinstance(s, str) for s in fixed):
                fixed = list(dict.fromkeys(fixed))  # "Empathy" and "empathy" are one label
            turn["strategies"] = fixed


def _rule_problem(data: dict[str, Any], vocab: Vocabulary) -> tuple[str, str] | None:
    """The first draft rule the strict schema could not express that ``data`` breaks."""
    turns = data["turns"]
    if len(turns) < 2:
        return "turns", f"a dialogue needs at least 2 turns, the reply has {len(turns)}"
    if turns[0]["role"] != Role.SEEKER:
        seeker = vocab.role_display(Role.SEEKER)
        return "turns[0].role", f"the first turn must be the {seeker}'s (role \"seeker\")"
    if not data["description"].strip():
        return "description", "the description is empty"
    # Greeting and closing turns may go unlabelled, as in the published ExTES data: a supporter
    # turn with no labelled supporter turn before it, or none after it.
    labelled = [i for i, t in enumerate(turns)
                if t["role"] == Role.SUPPORTER and t["strategies"]]
    may_be_bare = ({i for i in range(len(turns)) if i < labelled[0] or i > labelled[-1]}
                   if labelled else set())
    for i, turn in enumerate(turns):
        if not turn["text"].strip():
            return f"turns[{i}].text", "the turn's text is empty"
        n = len(turn["strategies"])
        if turn["role"] == Role.SEEKER and n:
            return f"turns[{i}].strategies", "a seeker turn must have no strategies"
        if turn["role"] == Role.SUPPORTER:
            if n == 0 and i not in may_be_bare:
                return (f"turns[{i}].strategies", "a supporter turn needs a strategy (only "
                        "the greeting and the closing supporter turns may have none)")
            if n > 1 and not vocab.multi_strategy:
                return (f"turns[{i}].strategies",
                        f"this project allows one strategy per supporter turn, got {n}")
    return None


def parse_draft(text: str, vocab: Vocabulary) -> Dialogue:
    """Turn a model's reply into a draft :class:`Dialogue`, or raise :class:`ModelOutputError`.

    The error names the field at fault (``turns[3].strategies[0]``) so that a repair prompt, a
    log line and a person all see the same thing.
    """
    data = _load(text)
    _normalise_labels(data, vocab)
    validator = jsonschema.Draft202012Validator(draft_json_schema(vocab))
    # Shallowest first: a missing "turns" explains more than the problems inside it.
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (len(e.path), [str(p) for p in e.path]))
    if errors:
        first = errors[0]
        where = _where(first.absolute_path)
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise ModelOutputError(
            f"the reply does not match the draft format at {where}: {first.message}{more}",
            field=where,
        )
    problem = _rule_problem(data, vocab)
    if problem is not None:
        where, message = problem
        raise ModelOutputError(f"the reply breaks a draft rule at {where}: {message}", field=where)
    return Dialogue(
        turns=[
            Turn(role=Role(t["role"]), text=t["text"].strip(), strategies=list(t["strategies"]))
            for t in data["turns"]
        ],
        language=vocab.language,
        description=data["description"].strip(),
        status=Status.DRAFT,
        source=Source.GENERATED,
    )
