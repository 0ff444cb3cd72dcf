"""Small valid records of every format with one text slot, and hostile text to put in it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from curation_app.domain import Dialogue, Role, Turn

# Where the first turn's text is in each format, as import messages name it.
TEXT_FIELD = {"peconv": "dialog[0].text", "extes": "content[0].User",
              "esconv": "dialog[0].content", "jsonl": "turns[0].text"}
TOPIC_FIELD = {"peconv": "topic", "extes": "scene", "esconv": "problem_type", "jsonl": "topic"}
PRESET = {"peconv": "peconv", "extes": "extes", "esconv": "esconv", "jsonl": "esconv"}


def record(fmt: str, text: str = "I feel alone.", topic: str | None = None) -> dict[str, Any]:
    if fmt == "peconv":
        out: dict[str, Any] = {"dialog_id": 1, "emotion": "angry", "topic": topic or "班会游戏",
                               "dialog": [{"speaker": "孩子", "text": text},
                                          {"speaker": "家长", "text": "我在听。"}]}
    elif fmt == "extes":
        out = {"scene": topic or "Communication Challenges", "description": "d",
               "content": [{"User": text},
                           {"AI Strategy": "Reflective Statements", "AI": "I hear you."}]}
    elif fmt == "esconv":
        out = {"emotion_type": "anxiety", "problem_type": topic or "job crisis",
               "situation": "s",
               "dialog": [{"speaker": "seeker", "annotation": {}, "content": text},
                          {"speaker": "supporter", "annotation": {"strategy": "Question"},
                           "content": "Why?"}]}
    else:
        out = Dialogue(turns=[Turn(Role.SEEKER, text),
                              Turn(Role.SUPPORTER, "Why?", ["Question"])],
                       topic=topic or "job crisis").to_record()
    return out


def encode(records: list[dict[str, Any]], fmt: str) -> bytes:
    """A file of ``records``; ensure_ascii writes lone surrogates and NULs as escapes, which
    is how they arrive in real files (the JSON is valid)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    return json.dumps(records).encode("utf-8")


# Any code point, surrogates included (hypothesis leaves them out unless asked), plus the
# specific troublemakers mixed in often.
_ANY_CHAR = st.characters(exclude_categories=())
_SPECIAL = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "<script>alert(1)</script>",
                            "![x](http://example.invalid/a.png)", "\u2028", "\r\n", "😀", "é"])
hostile_text = st.lists(st.one_of(_ANY_CHAR, _SPECIAL), min_size=1, max_size=30).map("".join)
long_label = st.integers(min_value=480, max_value=520).map(lambda n: "t" * n)
