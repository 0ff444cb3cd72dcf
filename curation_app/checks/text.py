"""Text helpers shared by the checks: normalisation and tokens.

Two texts count as the same when they differ only in Unicode width or compatibility forms
(NFKC: full-width ``ＡＢＣ，`` is ``ABC,``), letter case, whitespace and punctuation. Tokens are
words for alphabetic scripts and single characters for Chinese and Japanese, which are written
without spaces: that is how the near-duplicate search compares English by words and Chinese by
characters with one code path. :func:`char_table` is the same rule as a lookup table, for the
vectorised tokeniser in :mod:`curation_app.checks.dedup`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import numpy as np

# Scripts written without spaces between words: every character is a token of its own.
# Hiragana/katakana, CJK extension A, unified ideographs, compatibility ideographs, and the
# supplementary ideograph planes.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
SEPARATOR, WORD, CJK = 0, 1, 2

_CJK_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)
# `[^\W_]` is "alphanumeric" as str.isalnum() defines it, which is what the table below uses.
_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^\\W_{_CJK_CLASS}]+")


def normalise(text: str) -> str:
    """NFKC (full/half width, compatibility forms) then case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` after :func:`normalise`: words, and CJK characters one by one;
    whitespace and punctuation are dropped."""
    return _TOKEN.findall(normalise(text))


_UNICODE = 0x110000
_MAPPED = 0x30000  # beyond the ideograph planes NFKC changes nothing we compare
CLASS_SHIFT = 21  # code points need 21 bits; the class goes above them
CODE_MASK = (1 << CLASS_SHIFT) - 1


def code_points(lo: int, hi: int, between: int | None = None) -> str:
    """Every code point from ``lo`` up to ``hi`` (excluded) as one string, lone surrogates
    included; with ``between``, that code point comes after each but the last."""
    codes = np.arange(lo, hi, dtype=np.uint32)
    if between is not None:
        codes = np.column_stack([codes, np.full_like(codes, between)]).ravel()[:-1]
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


def class_mask(char_class: str, limit: int = _UNICODE) -> np.ndarray:
    """Which code points below ``limit`` the one-character regex ``char_class`` matches (such
    as ``\\s``, or ``[^\\W_]`` for str.isalnum), as booleans: one regex pass over a string
    of them all, by maximal runs, rather than a Python call per code point."""
    runs = [m.span() for m in re.finditer(f"(?:{char_class})+", code_points(0, limit))]
    edges = np.zeros(limit + 1, dtype=np.int8)
    if runs:
        spans = np.array(runs, dtype=np.int64)
        # maximal runs never touch, so a run's end is never another's start
        edges[spans[:, 0]] = 1
        edges[spans[:, 1]] = -1
    return np.cumsum(edges[:limit], dtype=np.int8).astype(bool)


@cache
def char_table() -> np.ndarray:
    """:func:`normalise` and the token classes as one lookup table, for vectorised use.

    ``table[c]`` is ``(cls << CLASS_SHIFT) | m`` where ``m`` is what ``c`` becomes under NFKC
    and case folding when that is one character (``c`` itself when it is several, as for the
    ligature ``ﬁ``), and ``cls`` is SEPARATOR, WORD (alphanumeric) or CJK (a token by itself)
    of ``m``. Applied character by character, it agrees with :func:`normalise` on everything
    but multi-character expansions and combining sequences, which is plenty for fingerprints.
    Built once per process, with numpy and one regex pass (tens of milliseconds): every
    command that checks duplicates pays it.
    """
    # The code points, NUL between each (a starter: NFKC composes nothing across it), are
    # normalised as one string; a code point whose piece is one character maps to it.
    folded = np.frombuffer(normalise(code_points(1, _MAPPED, between=0))
                           .encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.concatenate([np.flatnonzero(folded == 0), [len(folded)]])
    starts = np.concatenate([[0], ends[:-1] + 1])
    single = (ends - starts) == 1
    mapped = np.arange(_UNICODE, dtype=np.uint32)
    mapped[1:_MAPPED][single] = folded[starts[single]]
    classes = class_mask(r"[^\W_]").astype(np.uint32)  # WORD is 1: str.isalnum
    for lo, hi in CJK_RANGES:
        part = classes[lo:hi + 1]
        part[part == WORD] = CJK
    table = (classes[mapped] << CLASS_SHIFT) | mapped
    table.flags.writeable = False
    return table
