"""Which dialogues a release takes: one per overlap group.

An overlap group is an original dialogue and its copies (``overlap_of = original.id``) that
other annotators edited independently, for agreement. The release takes the member a lead
marked ``metadata["adjudicated"] = true``, else the original; the others never ship.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from curation_app.domain import Dialogue


@dataclass
class Selection:
    dialogues: list[Dialogue]
    copies_left_out: list[int] = field(default_factory=list)


def pick_members(candidates: Iterable[Dialogue]) -> Selection:
    """``candidates``: the dialogues in an included status, originals and copies alike."""
    groups: dict[int, list[Dialogue]] = {}
    for d in candidates:
        assert d.id is not None
        groups.setdefault(d.overlap_of or d.id, []).append(d)
    chosen: list[Dialogue] = []
    left_out: list[int] = []
    for root in sorted(groups):
        members = sorted(groups[root], key=lambda d: d.id or 0)
        adjudicated = [d for d in members if (d.metadata or {}).get("adjudicated") is True]
        original = [d for d in members if d.id == root]
        pick = adjudicated[0] if adjudicated else original[0] if original else None
        if pick is not None:
            chosen.append(pick)
        left_out += [d.id for d in members if d is not pick and d.id is not None]
    return Selection(chosen, left_out)
