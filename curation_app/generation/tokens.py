"""Token counts that never fall short: what a budget reserves before a call is sent.

A budget holds only if the reservation is at least what the server will charge. Where the
``tiktoken`` package is installed with its encodings already on disk, it counts exactly (plus a
small margin for chat framing). Otherwise the count is the text's UTF-8 length in bytes: a
byte-level BPE token is never shorter than one byte, so this bound holds for any such tokenizer
and any script (a CJK character is three bytes, and one or two tokens), at the price of
reserving about four times too much for English prompts. The output side is reserved at the
call's ``max_completion_tokens`` in either case, which dominates the sum.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

# Chat framing per message (role markers, separators) and per reply; generous on purpose.
PER_MESSAGE = 8
PER_REQUEST = 8


@cache
def _encoding(model: str) -> Any:
    """tiktoken's encoding for ``model`` if it loads without the network, else None."""
    try:
        import tiktoken  # optional; never installed by this project
    except ImportError:
        return None
    try:
        return tiktoken.encoding_for_model(model)
    except Exception:  # noqa: BLE001 - an unknown model or encodings not cached offline
        return None


def text_tokens(text: str, model: str | None = None) -> int:
    """An upper bound of the tokens of ``text`` for ``model``."""
    encoding = _encoding(model) if model else None
    if encoding is not None:
        return len(encoding.encode(text, disallowed_special=())) + 2
    return len(text.encode("utf-8"))


def request_prompt_tokens(kwargs: dict[str, Any]) -> int:
    """An upper bound of the prompt tokens of a chat-completions request (``create`` kwargs):
    the messages, plus a structured-output schema, which servers count as input too."""
    model = kwargs.get("model")
    total = PER_REQUEST
    for message in kwargs.get("messages") or []:
        content = message.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        total += PER_MESSAGE + text_tokens(content, model)
    extra = kwargs.get("extra_body") or {}
    fmt = extra.get("response_format") or kwargs.get("response_format")
    if fmt:
        total += text_tokens(json.dumps(fmt, ensure_ascii=False), model)
    return total
