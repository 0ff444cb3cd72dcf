"""Two groups side by side: their means, the difference and a bootstrap confidence interval.

The interval is the percentile bootstrap of the difference of means (B minus A). Unpaired
groups are resampled independently; paired ones (the same dialogues before and after human
rewriting, or the same prompts answered by a base model and a tuned adapter) resample the
pairs, which keeps each pair's shared difficulty out of the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Difference:
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None  # mean_b - mean_a
    low: float | None
    high: float | None
    confidence: float
    paired: bool

    def to_dict(self) -> dict[str, object]:
        return {"n_a": self.n_a, "n_b": self.n_b, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "diff": self.diff, "ci_low": self.low, "ci_high": self.high,
                "confidence": self.confidence, "paired": self.paired}


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, paired: bool = False,
                         resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95,
                         seed: int = 0) -> Difference:
    """Mean of ``b`` minus mean of ``a`` with a percentile bootstrap interval.

    ``paired``: ``a[i]`` and ``b[i]`` belong together (same length required)."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if paired and len(x) != len(y):
        raise ValueError("paired groups must have the same length")
    mean_a = float(x.mean()) if len(x) else None
    mean_b = float(y.mean()) if len(y) else None
    if mean_a is None or mean_b is None:
        return Difference(len(x), len(y), mean_a, mean_b, None, None, None, confidence, paired)
    rng = np.random.default_rng(seed)
    if paired:
        d = y - x
        picks = rng.integers(0, len(d), size=(resamples, len(d)))
        boots = d[picks].mean(axis=1)
    else:
        boots = (y[rng.integers(0, len(y), size=(resamples, len(y)))].mean(axis=1)
                 - x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boots, [tail, 100 - tail])
    return Difference(len(x), len(y), mean_a, mean_b, mean_b - mean_a, float(low), float(high),
                      confidence, paired)
