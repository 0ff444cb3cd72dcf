"""Deterministic, leakage-free train / validation / test splits.

Dialogues that must not be separated form one group: the members of a near-duplicate cluster,
and a seed family (a seed and every selected draft prompted with it; a draft prompted with
several seeds joins their families into one). Groups, not dialogues, are assigned to splits:

1. groups are ordered largest first, ties by a hash of (seed, the group's smallest id), so the
   same selection and seed always give the same order, and another seed another order;
2. each group goes to the split where its topics have the most room left against their
   target shares (stratified by topic), ties by the overall shortfall, then in the order
   train, validation, test; when no split has room for the whole group (topics of a handful
   of dialogues, where 10% is less than one), to the split with the largest overall
   shortfall, so the overall shares still hold.

A group larger than a small split's target lands in train; the manifest reports the shares
actually reached next to the ones asked for.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from curation_app.errors import InvalidInputError

SPLITS = ("train", "validation", "test")


def parse_ratios(text: str | Sequence[float]) -> tuple[float, float, float]:
    """"0.8,0.1,0.1" -> (0.8, 0.1, 0.1); three non-negative numbers summing to 1."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InvalidInputError(f"--splits {text!r}: expected three numbers such as "
                                    "0.8,0.1,0.1") from None
    else:
        values = [float(v) for v in text]
    if len(values) != 3:
        raise InvalidInputError(f"--splits needs three shares (train, validation, test), "
                                f"got {len(values)}")
    if any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-6 or values[0] <= 0:
        raise InvalidInputError(f"--splits shares must be >= 0, train > 0, and sum to 1; "
                                f"got {', '.join(map(str, values))}")
    return values[0], values[1], values[2]


class _UnionFind:
    def __init__(self, items: Iterable[int]):
        self.parent = {i: i for i in items}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller id stays the root: the result does not depend on the union order.
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


@dataclass
class SplitResult:
    ids: dict[str, list[int]]
    groups: int
    largest_group: int
    joined_by_duplicates: int
    joined_by_seeds: int
    requested: tuple[float, float, float]
    reached: dict[str, float] = field(default_factory=dict)


def assign_splits(topics: Mapping[int, str | None], *, ratios: tuple[float, float, float],
                  seed: int, clusters: Iterable[Sequence[int]] = (),
                  families: Mapping[int, Sequence[int]] | None = None) -> SplitResult:
    """Split the dialogues of ``topics`` (id -> topic). ``clusters``: near-duplicate clusters
    (ids); ``families``: draft id -> ids of the seeds it was prompted with (ids outside the
    selection are ignored)."""
    ids = sorted(topics)
    uf = _UnionFind(ids)
    dup_joined = seed_joined = 0
    for cluster in clusters:
        members = [i for i in cluster if i in uf.parent]
        for other in members[1:]:
            if uf.find(other) != uf.find(members[0]):
                dup_joined += 1
            uf.union(members[0], other)
    for draft, seeds in (families or {}).items():
        if draft not in uf.parent:
            continue
        for s in seeds:
            if s in uf.parent:
                if uf.find(s) != uf.find(draft):
                    seed_joined += 1
                uf.union(draft, s)

    groups: dict[int, list[int]] = {}
    for i in ids:
        groups.setdefault(uf.find(i), []).append(i)

    def order_key(root: int) -> tuple[int, str]:
        digest = hashlib.sha256(f"{seed}:{root}".encode()).hexdigest()
        return (-len(groups[root]), digest)

    per_topic = Counter(topics[i] or "" for i in ids)
    target = {t: [n * r for r in ratios] for t, n in per_topic.items()}
    total_target = [len(ids) * r for r in ratios]
    have = {t: [0, 0, 0] for t in per_topic}
    total_have = [0, 0, 0]
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for root in sorted(groups, key=order_key):
        members = groups[root]
        mix = Counter(topics[i] or "" for i in members)

        size = len(members)
        candidates = [s for s in range(3) if ratios[s] > 0]
        room = {s: sum(target[t][s] - have[t][s] for t in mix) for s in candidates}
        fits = [s for s in candidates if room[s] >= size - 1e-9]
        if fits:  # the group's topics still have room for it in some split: the most room
            chosen = max(fits, key=lambda s: (room[s], total_target[s] - total_have[s], -s))
        else:  # small topics (a handful of dialogues each): keep the overall shares
            chosen = max(candidates, key=lambda s: (total_target[s] - total_have[s], -s))
        for t, c in mix.items():
            have[t][chosen] += c
        total_have[chosen] += len(members)
        out[SPLITS[chosen]].extend(members)
    for s in SPLITS:
        out[s].sort()
    n = len(ids) or 1
    return SplitResult(ids=out, groups=len(groups),
                       largest_group=max((len(g) for g in groups.values()), default=0),
                       joined_by_duplicates=dup_joined, joined_by_seeds=seed_joined,
                       requested=ratios,
                       reached={s: round(len(out[s]) / n, 4) for s in SPLITS})
