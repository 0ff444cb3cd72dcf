"""Agreement between raters and between annotators, computed with maintained implementations.

- Fleiss' kappa (statsmodels) per aspect, as ExTES reports it (table 4): each unit rated by
  the same number of raters, who need not be the same people.
- Krippendorff's alpha (the ``krippendorff`` package), ordinal for scores and nominal for tags;
  it takes any pattern of missing ratings.
- Cohen's kappa (statsmodels) for two raters, optionally linearly weighted for ordinal scores.
- Each rater against the rest: their weighted kappa with every other rater over the units both
  rated (pooled, weighted by shared units) and the Spearman correlation of their scores with
  the mean of the others'.
- Strategy tags of overlap copies: every supporter turn is a unit; a multi-label preset
  (PECONV) turns each strategy into a yes/no decision per turn, a single-label one (ExTES) uses
  the tag itself.

Every function returns None where the figure is undefined (too few units, or no variation at
all, when chance agreement is already perfect) rather than a misleading number.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import krippendorff
import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats import inter_rater

Unit = Hashable
Rater = str
# {rater: {unit: value}}: who gave which value to which unit.
Ratings = Mapping[Rater, Mapping[Unit, Any]]


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class Fleiss:
    kappa: float | None
    units: int  # units that entered the figure
    raters_per_unit: int
    skipped: int  # units with another number of ratings


def fleiss_kappa(units: Sequence[Sequence[Any]], categories: Sequence[Any]) -> Fleiss:
    """Fleiss' kappa over ``units`` (each the list of values its raters gave).

    Fleiss' statistic needs the same number of ratings per unit: the most common number is
    used and units with another count are left out (and counted in ``skipped``).
    """
    counts = Counter(len(u) for u in units if len(u) >= 2)
    if not counts:
        return Fleiss(None, 0, 0, len(units))
    k = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    used = [u for u in units if len(u) == k]
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(used), len(categories)), dtype=float)
    for row, values in enumerate(used):
        for v in values:
            table[row, index[v]] += 1
    p = table.sum(axis=0) / table.sum()
    if len(used) < 2 or math.isclose(float((p * p).sum()), 1.0):
        kappa = None  # one category only: chance agreement is perfect, kappa undefined
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kappa = _finite(inter_rater.fleiss_kappa(table, method="fleiss"))
    return Fleiss(kappa, len(used), k, len(units) - len(used))


def krippendorff_alpha(ratings: Ratings, level: str = "ordinal",
                       categories: Sequence[Any] | None = None) -> float | None:
    """Krippendorff's alpha over every unit rated by at least two raters."""
    units = sorted({u for per in ratings.values() for u in per}, key=repr)
    raters = [r for r in ratings if ratings[r]]
    if len(raters) < 2 or not units:
        return None
    domain = list(categories) if categories is not None else sorted(
        {v for per in ratings.values() for v in per.values()}, key=repr)
    code = {v: float(i) for i, v in enumerate(domain)}
    matrix = np.full((len(raters), len(units)), np.nan)
    col = {u: j for j, u in enumerate(units)}
    for i, r in enumerate(raters):
        for u, v in ratings[r].items():
            matrix[i, col[u]] = code[v]
    paired = (~np.isnan(matrix)).sum(axis=0) >= 2
    if paired.sum() < 1:
        return None
    matrix = matrix[:, paired]
    observed = np.unique(matrix[~np.isnan(matrix)])
    if len(observed) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level,
                                       value_domain=[code[v] for v in domain])
    except (ValueError, ZeroDivisionError):
        return None
    return _finite(value)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], categories: Sequence[Any] | None = None,
                *, weighted: bool = False) -> float | None:
    """Cohen's kappa of two raters' values for the same units (in the same order).
    ``weighted``: linear weights, for ordinal scales (a near miss counts partly)."""
    if len(a) != len(b):
        raise ValueError("two raters' values must cover the same units")
    if len(a) < 2:
        return None
    domain = list(categories) if categories is not None else sorted(set(a) | set(b), key=repr)
    index = {v: i for i, v in enumerate(domain)}
    table = np.zeros((len(domain), len(domain)))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    total = table.sum()
    expected = (table.sum(axis=1) @ table.sum(axis=0)) / total**2 if not weighted else None
    if expected is not None and math.isclose(float(expected), 1.0):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = inter_rater.cohens_kappa(table, wt="linear" if weighted else None,
                                             return_results=False)
    except ZeroDivisionError:
        return None
    return _finite(value)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation; None for fewer than three pairs or a constant side."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return _finite(scipy_stats.spearmanr(x, y).statistic)


@dataclass(frozen=True)
class RaterAgreement:
    rater: str
    units: int  # units this rater shares with at least one other
    kappa: float | None  # their (weighted) Cohen's kappa with each other rater, pooled
    spearman: float | None  # with the mean of the others' values
    mean_abs_diff: float | None  # from the mean of the others' values


def rater_agreement(ratings: Ratings, categories: Sequence[Any], *,
                    weighted: bool = True) -> list[RaterAgreement]:
    """Each rater against the rest (see the module docstring)."""
    out: list[RaterAgreement] = []
    raters = sorted(ratings)
    position = {c: i for i, c in enumerate(categories)}
    for r in raters:
        mine = ratings[r]
        kappas: list[tuple[float, int]] = []
        for other in raters:
            if other == r:
                continue
            shared = [u for u in mine if u in ratings[other]]
            value = cohen_kappa([mine[u] for u in shared], [ratings[other][u] for u in shared],
                                categories, weighted=weighted)
            if value is not None:
                kappas.append((value, len(shared)))
        own, rest = [], []
        for u, v in mine.items():
            others = [position[ratings[o][u]] for o in raters if o != r and u in ratings[o]]
            if others:
                own.append(float(position[v]))
                rest.append(sum(others) / len(others))
        weight = sum(n for _, n in kappas)
        out.append(RaterAgreement(
            rater=r, units=len(own),
            kappa=sum(k * n for k, n in kappas) / weight if weight else None,
            spearman=spearman(own, rest),
            mean_abs_diff=(sum(abs(a - b) for a, b in zip(own, rest, strict=True)) / len(own)
                           if own else None)))
    return out


# ---- strategy tags of overlap copies --------------------------------------------------------
NO_TAG = "(none)"


@dataclass(frozen=True)
class PairKappa:
    a: str
    b: str
    units: int
    kappa: float | None


@dataclass
class TagAgreement:
    multi_label: bool
    groups: int  # overlap groups that entered
    unaligned: int  # groups whose copies have different numbers of supporter turns
    units: int
    fleiss: Fleiss | None
    alpha: float | None
    pairs: list[PairKappa] = field(default_factory=list)
    per_strategy: dict[str, float | None] = field(default_factory=dict)


def tag_units(groups: Sequence[Mapping[str, Sequence[Sequence[str]]]],
              strategies: Sequence[str], multi_label: bool
              ) -> tuple[dict[str, dict[Unit, Any]], int, int]:
    """Decisions per annotator and unit from overlap groups.

    Each group maps an annotator to the strategy lists of their copy's supporter turns, in
    order. Returns ({annotator: {unit: value}}, groups used, groups unaligned)."""
    decisions: dict[str, dict[Unit, Any]] = {}
    used = unaligned = 0
    for g, group in enumerate(groups):
        lengths = {len(turns) for turns in group.values()}
        if len(group) < 2:
            continue
        if len(lengths) != 1:
            unaligned += 1
            continue
        used += 1
        for annotator, turns in group.items():
            mine = decisions.setdefault(annotator, {})
            for t, tags in enumerate(turns):
                if multi_label:
                    for s in strategies:
                        mine[(g, t, s)] = int(s in tags)
                else:
                    mine[(g, t)] = tags[0] if tags else NO_TAG
    return decisions, used, unaligned


def tag_agreement(groups: Sequence[Mapping[str, Sequence[Sequence[str]]]],
                  strategies: Sequence[str], multi_label: bool) -> TagAgreement:
    decisions, used, unaligned = tag_units(groups, strategies, multi_label)
    categories: list[Any] = [0, 1] if multi_label else [*strategies, NO_TAG]
    units: dict[Unit, list[Any]] = {}
    for per in decisions.values():
        for u, v in per.items():
            units.setdefault(u, []).append(v)
    pairs = []
    for a, b in itertools.combinations(sorted(decisions), 2):
        shared = [u for u in decisions[a] if u in decisions[b]]
        if shared:
            pairs.append(PairKappa(a, b, len(shared), cohen_kappa(
                [decisions[a][u] for u in shared], [decisions[b][u] for u in shared],
                categories)))
    per_strategy: dict[str, float | None] = {}
    if multi_label:
        for s in strategies:
            sub = {r: {u: v for u, v in per.items() if u[2] == s}  # type: ignore[index]
                   for r, per in decisions.items()}
            per_strategy[s] = krippendorff_alpha(sub, "nominal", categories)
    return TagAgreement(
        multi_label=multi_label, groups=used, unaligned=unaligned, units=len(units),
        fleiss=fleiss_kappa(list(units.values()), categories) if units else None,
        alpha=krippendorff_alpha(decisions, "nominal", categories), pairs=pairs,
        per_strategy=per_strategy)
