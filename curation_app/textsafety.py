"""Text the databases cannot hold, labels longer than their columns, inputs too big to read.

Both databases must refuse or keep exactly the same text. PostgreSQL cannot store a NUL
(U+0000) in a text or JSONB value at all, and a lone UTF-16 surrogate (``"x\\ud800y"`` is valid
JSON) is not a character: SQLite keeps it inside JSON text, but nothing can encode it as UTF-8
later, so every export would fail. Both are therefore refused at the door (import, editor save)
with the place named; no replacement is made, so nothing is changed silently.

The label lengths here are the column lengths of ``store/models.py`` (a test keeps them equal):
a longer label is refused with a message instead of a database error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

# Column lengths of the dialogue's label fields (DialogueRow / RevisionRow).
LABEL_LIMITS: dict[str, int] = {
    "topic": 500,
    "emotion": 200,
    "external_id": 200,
    "language": 10,
    "assignee": 200,
}
# Input files larger than this are refused before being read (CURATION_MAX_IMPORT_BYTES).
# Files are read as a stream of records (memory does not grow with the file), so the limit is
# a guard against a wrong file, not against memory: a 100k-dialogue ExTES file is 350 MB.
DEFAULT_MAX_IMPORT_BYTES = 1024 * 1024 * 1024

_BAD = re.compile("[\x00\ud800-\udfff]")
# In JSON text, the only ways to write a NUL or a surrogate are these escapes (a raw NUL is not
# allowed inside a JSON string, and UTF-8 decoding refuses raw surrogates); a file without any
# of them needs no string-by-string scan.
_MAYBE_BAD_ESCAPE = re.compile(r"\\u(?:[dD][89abAB][0-9a-fA-F]{2}|[dD][c-fC-F][0-9a-fA-F]{2}"
                               r"|0000)")


def max_import_bytes() -> int:
    configured = os.environ.get("CURATION_MAX_IMPORT_BYTES")
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            pass
    return DEFAULT_MAX_IMPORT_BYTES


def size_problem(size: int, source: str) -> str | None:
    """A one-line refusal of an input of ``size`` bytes, or None when it may be read."""
    limit = max_import_bytes()
    if size > limit:
        return (f"{source} is {_size(size)}; inputs over {_size(limit)} are refused before "
                "reading (split the file, or raise CURATION_MAX_IMPORT_BYTES)")
    return None


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def may_hold_bad_text(json_text: str) -> bool:
    """False when ``json_text`` certainly decodes to no NUL and no surrogate (fast pre-check)."""
    return _MAYBE_BAD_ESCAPE.search(json_text) is not None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored (a NUL or a lone surrogate), naming where; else None.

    The message never quotes the text itself: a lone surrogate cannot even be printed.
    """
    match = _BAD.search(value)
    if match is None:
        return None
    char = match.group()
    at = match.start() + 1
    if char == "\x00":
        return (f"holds a NUL character (U+0000) at character {at}; the database cannot store "
                "it, remove it")
    return (f"holds a lone surrogate U+{ord(char):04X} at character {at}, which is not a "
            "character (broken UTF-16 escape); fix the text")


def label_problem(field: str, value: str) -> str | None:
    """Why a label is too long for its column, or None."""
    limit = LABEL_LIMITS.get(field)
    if limit is not None and len(value) > limit:
        return f"is {len(value)} characters long; a {field} holds at most {limit}"
    return None


def bad_text_in(value: Any, path: tuple[str | int, ...] = ()
                ) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for every string, key or value, anywhere in ``value`` that holds a NUL
    or a lone surrogate."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                problem = text_problem(key)
                if problem:
                    yield path, f"a key {problem}"
                    continue
            yield from bad_text_in(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from bad_text_in(item, (*path, i))


def pairs_hook(found: dict[int, list[str]]) -> Any:
    """An ``object_pairs_hook`` that keeps JSON's "last value wins" but notes, in ``found``
    under the ``id`` of the object made, the keys an object repeated. The objects stay alive in
    the parsed document, so their ids stay valid while the document is read; a file without any
    repeated key needs no second look."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            repeated: list[str] = []
            for key, _ in pairs:
                if key in seen and key not in repeated:
                    repeated.append(key)
                seen.add(key)
            found[id(out)] = repeated
        return out

    return hook


def duplicate_keys_in(value: Any, found: dict[int, list[str]],
                      path: tuple[str | int, ...] = ()
                      ) -> Iterator[tuple[tuple[str | int, ...], list[str]]]:
    """(path, repeated keys) of every object in ``value`` that :func:`pairs_hook` noted."""
    if isinstance(value, dict):
        if id(value) in found:
            yield path, found[id(value)]
        for key, item in value.items():
            yield from duplicate_keys_in(item, found, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from duplicate_keys_in(item, found, (*path, i))
