"""Where a rating campaign's items come from, and what raters see of them.

An item is a frozen, blinded snapshot: roles and texts only (no ids, tags or provenance), with
the source and group kept beside it for the lead's analysis. Project samples are drawn by the
service (it needs the database); the files read here are a release's chat-messages split
(``chat/<split>.jsonl``, see docs/release-layout.md) and the responses a trained model generated
(``curation-train evaluate``): one ``{"id", "context", "response"}`` per line, ``context`` being
chat messages or one string. A record that cannot be read is named by its index and field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation_app.domain import Turn
from curation_app.errors import InvalidInputError, NotFoundError

SAMPLE_KINDS = ("random", "stratified", "ids", "draft-vs-final", "seeds-vs-generated",
                "release", "responses")


@dataclass(frozen=True)
class NewItem:
    """An item to store: its source, comparison group, reference and blinded content."""

    source: str
    content: dict[str, Any]
    group: str = ""
    ref: str | None = None
    dialogue_id: int | None = None


@dataclass(frozen=True)
class SampleSpec:
    """Where a campaign's items come from.

    ``random``: ``n`` dialogues of the project; ``stratified``: ``n`` per topic; ``ids``: the
    dialogues named; ``draft-vs-final``: ``n`` edited dialogues (or ``ids``), each twice, as the
    machine draft (group ``draft``) and as it is now (group ``final``); ``seeds-vs-generated``:
    ``n`` seed dialogues (group ``seeds``) and ``n`` generated ones (group ``generated``);
    ``release``: the records of a release split file (``chat/<split>.jsonl``); ``responses``: a
    JSONL file of generated responses, one ``{"id", "context", "response"}`` per line.
    ``statuses`` limits project samples (default: every status but discarded). ``group`` labels
    the items for comparisons.
    """

    kind: str
    n: int | None = None
    ids: tuple[int, ...] = ()
    path: str | None = None
    group: str = ""
    statuses: tuple[str, ...] = ()


def blind(turns: Sequence[Turn], language: str, topic: str | None = None,
           description: str | None = None) -> dict[str, Any]:
    return {"language": language, "topic": topic, "description": description,
            "turns": [{"role": str(t.role), "text": t.text} for t in turns]}


_ROLE_OF = {"user": "seeker", "seeker": "seeker", "assistant": "supporter",
            "supporter": "supporter"}


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise NotFoundError(f"sample file {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"sample file {path} is not UTF-8 text") from exc
    out = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path.name}: record {index} (line {index + 1}) is not "
                                    f"JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise InvalidInputError(f"{path.name}: record {index} (line {index + 1}) is not "
                                    "a JSON object")
        out.append((index, record))
    if not out:
        raise InvalidInputError(f"sample file {path} holds no records")
    return out


def _messages_to_turns(messages: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "seeker", "text": messages}]
    if not isinstance(messages, list):
        raise InvalidInputError(f"{where}: must be a list of messages or a string")
    turns = []
    for j, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidInputError(f"{where}[{j}]: must be an object with role and content")
        role = m.get("role")
        if role == "system":
            continue
        text = m.get("content", m.get("text"))
        if role not in _ROLE_OF or not isinstance(text, str):
            raise InvalidInputError(f"{where}[{j}]: needs role user/assistant and a text "
                                    "content")
        turns.append({"role": _ROLE_OF[role], "text": text})
    return turns


def release_items(spec: SampleSpec) -> list[NewItem]:
    path = Path(spec.path or "")
    items = []
    for index, record in _read_jsonl(path):
        where = f"{path.name}: record {index}, field messages"
        turns = _messages_to_turns(record.get("messages"), where)
        if not turns:
            raise InvalidInputError(f"{where}: no user or assistant message")
        items.append(NewItem(
            source=f"release:{path}", group=spec.group or path.stem,
            ref=str(record.get("id", index)),
            content={"language": record.get("language") or "", "topic": record.get("topic"),
                     "description": None, "turns": turns}))
    return items


def response_items(spec: SampleSpec) -> list[NewItem]:
    path = Path(spec.path or "")
    items = []
    for index, record in _read_jsonl(path):
        response = record.get("response")
        if not isinstance(response, str) or not response.strip():
            raise InvalidInputError(f"{path.name}: record {index}, field response: must be "
                                    "a non-empty text")
        turns = _messages_to_turns(record.get("context", []),
                                   f"{path.name}: record {index}, field context")
        turns.append({"role": "supporter", "text": response, "focus": True})
        items.append(NewItem(
            source=f"responses:{path}", group=spec.group or str(record.get("model") or
                                                               path.stem),
            ref=str(record.get("id", index)),
            content={"language": record.get("language") or "", "topic": record.get("topic"),
                     "description": None, "turns": turns}))
    return items
