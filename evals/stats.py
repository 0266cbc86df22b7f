"""Aggregates with percentile-bootstrap confidence intervals (fixed seed, so reports are reproducible).

>>> ci = bootstrap_ci([1.0, 1.0, 1.0])
>>> (ci.mean, ci.lo, ci.hi, ci.n)
(1.0, 1.0, 1.0, 3)
>>> percentile([10.0, 20.0, 30.0, 40.0], 50)
25.0
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from pydantic import BaseModel, Field

#: Bootstrap resamples and seed used by every report.
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 7


class Estimate(BaseModel):
    """A sample mean with its 95% percentile-bootstrap interval (``None`` for an empty sample)."""

    mean: float | None = None
    lo: float | None = Field(None, description="2.5th percentile of the bootstrap means.")
    hi: float | None = Field(None, description="97.5th percentile of the bootstrap means.")
    n: int = 0

    def fmt(self, digits: int = 3) -> str:
        """``0.512 [0.480, 0.545]``; ``n/a`` when empty.

        >>> Estimate(mean=0.5, lo=0.4, hi=0.6, n=10).fmt()
        '0.500 [0.400, 0.600]'
        """
        if self.mean is None:
            return "n/a"
        if self.lo is None or self.hi is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _means_of_resamples(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(values)
    means = np.empty(resamples, dtype=np.float64)
    step = max(1, 2_000_000 // max(n, 1))  # bounded memory: at most ~2M indices per block
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return means


def bootstrap_ci(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """Mean of ``values`` and the percentile-bootstrap ``confidence`` interval of that mean.

    NaN values are dropped first (a metric undefined for a query does not count).
    """
    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if array.size == 0:
        return Estimate()
    mean = float(array.mean())
    if array.size == 1:
        return Estimate(mean=mean, lo=mean, hi=mean, n=1)
    means = _means_of_resamples(array, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(mean=mean, lo=float(lo), hi=float(hi), n=int(array.size))


def paired_difference_ci(
    a: Sequence[float], b: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """Mean of ``a - b`` over paired queries with its bootstrap interval (same query resampled for both).

    >>> paired_difference_ci([1.0, 1.0], [0.0, 0.0]).mean
    1.0
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    return bootstrap_ci([x - y for x, y in zip(a, b)], resamples=resamples, seed=seed)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation) or ``None`` for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))
