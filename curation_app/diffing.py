"""Turn-level differences between two versions of a dialogue (machine draft vs. current).

Pure functions for the editor and the review page: which turns were kept, changed, added or
removed, and, for a changed turn, which characters (Chinese) or words (English) differ.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from curation_app.domain import Turn

Change = Literal["same", "changed", "added", "removed"]
_WORD = re.compile(r"\s+|[\w']+|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Segment:
    kind: Literal["same", "added", "removed"]
    text: str


@dataclass(frozen=True)
class TurnDiff:
    change: Change
    old: Turn | None
    new: Turn | None
    segments: list[Segment] = field(default_factory=list)  # inline diff of the text

    @property
    def strategies_changed(self) -> bool:
        return bool(self.old and self.new and self.old.strategies != self.new.strategies)


def _tokens(text: str) -> list[str]:
    # Chinese has no spaces between words: compare it character by character.
    if _CJK.search(text):
        return list(text)
    return _WORD.findall(text)


def inline_diff(old: str, new: str) -> list[Segment]:
    a, b = _tokens(old), _tokens(new)
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("added", "".join(b[j1:j2])))
    return out


def diff_turns(old: Sequence[Turn], new: Sequence[Turn]) -> list[TurnDiff]:
    """Align two turn lists and describe each position."""
    key = [(t.role, t.text) for t in old], [(t.role, t.text) for t in new]
    out: list[TurnDiff] = []
    matcher = difflib.SequenceMatcher(None, key[0], key[1], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for o, n in zip(old[i1:i2], new[j1:j2], strict=True):
                change: Change = "changed" if o.strategies != n.strategies else "same"
                out.append(TurnDiff(change, o, n, [Segment("same", n.text)]))
            continue
        pairs = list(zip(old[i1:i2], new[j1:j2], strict=False))
        for o, n in pairs:
            out.append(TurnDiff("changed", o, n, inline_diff(o.text, n.text)))
        for o in old[i1 + len(pairs):i2]:
            out.append(TurnDiff("removed", o, None, [Segment("removed", o.text)]))
        for n in new[j1 + len(pairs):j2]:
            out.append(TurnDiff("added", None, n, [Segment("added", n.text)]))
    return out


def change_ratio(old: Sequence[Turn], new: Sequence[Turn]) -> float:
    """Share of the text that differs: 0 untouched, 1 rewritten (how much humans changed)."""
    a = "\n".join(t.text for t in old)
    b = "\n".join(t.text for t in new)
    return round(1.0 - difflib.SequenceMatcher(None, _tokens(a), _tokens(b),
                                               autojunk=False).ratio(), 4)
