"""The lookup tables the vectorised checks use are built with numpy and one regex pass; they
must equal, code point for code point, the tables built the plain way, one Python call per
code point (the construction they replaced)."""

from __future__ import annotations

import numpy as np
import pytest

from curation_app.checks import privacy
from curation_app.checks.text import (
    CJK,
    CJK_RANGES,
    CLASS_SHIFT,
    WORD,
    char_table,
    class_mask,
    code_points,
    normalise,
)

UNICODE, MAPPED = 0x110000, 0x30000


def plain_char_table() -> np.ndarray:
    """char_table as it was first written: a generator over every code point."""
    chars = [chr(c) for c in range(1, MAPPED)]
    folded = normalise("\x00".join(chars)).split("\x00")
    mapped = np.arange(UNICODE, dtype=np.uint32)
    mapped[1:MAPPED] = np.fromiter((ord(f) if len(f) == 1 else c
                                    for c, f in enumerate(folded, start=1)),
                                   dtype=np.uint32, count=MAPPED - 1)
    classes = np.fromiter((c.isalnum() for c in map(chr, range(UNICODE))), dtype=np.uint32,
                          count=UNICODE)
    for lo, hi in CJK_RANGES:
        part = classes[lo:hi + 1]
        part[part == WORD] = CJK
    return (classes[mapped] << CLASS_SHIFT) | mapped


def plain_char_flags() -> np.ndarray:
    """privacy._char_flags as it was first written."""
    limit = privacy._TABLE_LIMIT
    flags = np.zeros(limit + 1, dtype=np.uint8)
    chars = [chr(c) for c in range(limit)]
    flags[:limit] |= np.fromiter((c.isdecimal() for c in chars), dtype=bool,
                                 count=limit) * np.uint8(privacy._SPECIAL)
    flags[:limit] |= np.fromiter((c.isspace() for c in chars), dtype=bool,
                                 count=limit) * np.uint8(privacy._SPACE)
    for lo, hi in ((0x3400, 0x9FFF), (0xF900, 0xFAFF)):
        flags[lo:hi + 1] |= privacy._SPECIAL
    flags[ord("@")] |= privacy._SPECIAL
    flags[ord("A"):ord("Z") + 1] |= privacy._UPPER
    flags[ord("a"):ord("z") + 1] |= privacy._LOWER
    flags[ord(",")] |= privacy._COMMA
    for c in "mMoO":
        flags[ord(c)] |= privacy._M_OR_O
    return flags


def test_char_table_equals_the_plain_construction() -> None:
    fast = char_table()
    assert fast.dtype == np.uint32 and fast.shape == (UNICODE,)
    assert np.array_equal(fast, plain_char_table())


def test_privacy_flags_equal_the_plain_construction() -> None:
    privacy._char_flags.cache_clear()
    assert np.array_equal(privacy._char_flags(), plain_char_flags())


def test_code_points_holds_every_code_point_surrogates_included() -> None:
    text = code_points(0xD7FE, 0xE002)
    assert list(map(ord, text)) == list(range(0xD7FE, 0xE002))
    assert code_points(65, 68, between=0) == "A\x00B\x00C"
    assert code_points(5, 5) == ""


@pytest.mark.parametrize(("char_class", "method"), [
    (r"[^\W_]", str.isalnum), (r"\d", str.isdecimal), (r"\s", str.isspace),
    ("[a-c]", lambda c: c in "abc"),
])
def test_class_mask_is_the_method_per_code_point(char_class, method) -> None:
    expected = np.fromiter(map(method, map(chr, range(UNICODE))), dtype=bool, count=UNICODE)
    assert np.array_equal(class_mask(char_class), expected)
    assert np.array_equal(class_mask(char_class, 0x1000), expected[:0x1000])


def test_class_mask_with_no_match_and_a_run_to_the_end() -> None:
    assert not class_mask("x", 100).any()
    assert class_mask("[\\x00-\\U0010FFFF]").all()
