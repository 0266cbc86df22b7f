"""Ranking metrics over deduplicated id lists, with graded gains.

A ranking is a list of ids (passages or pages), best first, without duplicates (see :func:`dedupe`).
``gains`` maps judged ids to their gain; for binary sets every relevant id has gain 1. An id counts as
*relevant* for the binary metrics when its gain is at least ``min_gain`` (default 1).

>>> ranking = ["a", "x", "b", "y"]
>>> recall_at_k(ranking, {"a": 1, "b": 1, "c": 1}, 2)
0.3333333333333333
>>> reciprocal_rank(ranking, {"b": 1}, 10)
0.3333333333333333
>>> round(ndcg_at_k(["x", "a"], {"a": 3, "b": 1}, 10), 4)
0.5213
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence, TypeVar

T = TypeVar("T")


def dedupe(ids: Iterable[T]) -> list[T]:
    """Keep the first occurrence of each id: a passage's rank is the rank of its first chunk.

    >>> dedupe(["d1", "d2", "d1", "d3", "d2"])
    ['d1', 'd2', 'd3']
    """
    return list(dict.fromkeys(ids))


def _relevant(gains: Mapping[str, float], min_gain: float) -> set[str]:
    return {i for i, g in gains.items() if g >= min_gain}


def recall_at_k(ranking: Sequence[str], gains: Mapping[str, float], k: int, min_gain: float = 1.0) -> float:
    """Share of relevant ids found in the top ``k`` (0 when nothing is relevant)."""
    relevant = _relevant(gains, min_gain)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def hit_at_k(ranking: Sequence[str], gains: Mapping[str, float], k: int, min_gain: float = 1.0) -> float:
    """1 if any relevant id is in the top ``k``, else 0."""
    relevant = _relevant(gains, min_gain)
    return 1.0 if relevant.intersection(ranking[:k]) else 0.0


def precision_at_k(ranking: Sequence[str], gains: Mapping[str, float], k: int, min_gain: float = 1.0) -> float:
    """Relevant ids in the top ``k`` divided by ``k`` (a short ranking still divides by ``k``).

    >>> precision_at_k(["a", "b"], {"a": 2, "b": 1}, 4, min_gain=2)
    0.25
    """
    relevant = _relevant(gains, min_gain)
    return sum(1 for i in ranking[:k] if i in relevant) / k


def judged_at_k(ranking: Sequence[str], gains: Mapping[str, float], k: int) -> float:
    """Share of the top ``k`` (or of the whole ranking, when shorter) that has a judgment, any grade.

    >>> judged_at_k(["a", "x"], {"a": 0}, 10)
    0.5
    """
    top = ranking[:k]
    return sum(1 for i in top if i in gains) / len(top) if top else 0.0


def reciprocal_rank(ranking: Sequence[str], gains: Mapping[str, float], k: int, min_gain: float = 1.0) -> float:
    """1 / rank of the first relevant id within the top ``k``; 0 when there is none."""
    relevant = _relevant(gains, min_gain)
    for rank, item in enumerate(ranking[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def dcg(gains_in_order: Sequence[float]) -> float:
    """Discounted cumulative gain with linear gains: ``sum g_i / log2(i + 1)`` for 1-based ``i``.

    >>> round(dcg([3, 2]), 4)
    4.2619
    """
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains_in_order, start=1))


def ndcg_at_k(ranking: Sequence[str], gains: Mapping[str, float], k: int) -> float:
    """Normalised DCG@k with graded gains (unjudged ids gain 0); 0 when no id has a positive gain.

    The ideal ranking sorts every judged gain in decreasing order.
    """
    ideal = dcg(sorted((g for g in gains.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg([max(gains.get(i, 0.0), 0.0) for i in ranking[:k]]) / ideal


METRIC_KINDS = ("recall", "hit", "precision", "judged", "mrr", "ndcg")


def metric(kind: str, ranking: Sequence[str], gains: Mapping[str, float], k: int, min_gain: float = 1.0) -> float:
    """Dispatch one metric by name (one of :data:`METRIC_KINDS`).

    >>> metric("hit", ["a"], {"a": 1}, 1)
    1.0
    """
    if kind == "recall":
        return recall_at_k(ranking, gains, k, min_gain)
    if kind == "hit":
        return hit_at_k(ranking, gains, k, min_gain)
    if kind == "precision":
        return precision_at_k(ranking, gains, k, min_gain)
    if kind == "judged":
        return judged_at_k(ranking, gains, k)
    if kind == "mrr":
        return reciprocal_rank(ranking, gains, k, min_gain)
    if kind == "ndcg":
        return ndcg_at_k(ranking, gains, k)
    raise ValueError(f"unknown metric kind {kind!r}; choose one of {', '.join(METRIC_KINDS)}")
