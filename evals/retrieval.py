"""Run a retrieval suite through a backend for several retrievers and aggregate the scores.

Every retriever sees exactly the same queries. Each ranking of ``depth`` chunks is mapped to passages (document
ids; a passage ranks at its first chunk) and pages (``suite.page_of``; a page ranks at its first passage).
"""

from __future__ import annotations

from typing import Literal, Sequence

from pydantic import BaseModel, Field
from tqdm import tqdm

from evals.backends import Backend
from evals.metrics import dedupe, metric
from evals.stats import Estimate, bootstrap_ci, paired_difference_ci, percentile
from evals.suites import CURVE_KS, MetricSpec, RetrievalQuery, RetrievalSuite

BASELINES = ("bm25", "dense")
DEPTH = 100


class QueryRow(BaseModel):
    variant: str
    retriever: str
    qid: str
    query: str
    metrics: dict[str, float]
    curve: list[float] = Field(description="Curve metric at each k of CURVE_KS.")
    top: list[str] = Field(description="First 10 passage ids.")
    latency_ms: float


class Aggregate(BaseModel):
    variant: str
    retriever: str
    n: int
    metrics: dict[str, Estimate]
    curve: list[float]
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class Comparison(BaseModel):
    variant: str
    metric: str
    retriever: str
    baseline: str
    delta: Estimate
    verdict: Literal["better", "worse", "no significant difference"]


class RetrievalResult(BaseModel):
    suite: str
    retrievers: list[str]
    skipped: dict[str, str] = Field(default_factory=dict, description="Retriever -> why it was not run.")
    metric_names: list[str]
    primary: list[str]
    curve_name: str
    curve_ks: list[int] = Field(default_factory=lambda: list(CURVE_KS))
    aggregates: list[Aggregate]
    comparisons: list[Comparison]
    rows: list[QueryRow]
    notes: list[str] = Field(default_factory=list)


def score_ranking(query: RetrievalQuery, doc_ids: Sequence[str], suite: RetrievalSuite) -> tuple[dict[str, float], list[float], list[str]]:
    """Metrics, curve values and the passage ranking for one query's ranked chunk document ids."""
    passages = dedupe(doc_ids)
    pages = dedupe(suite.page_of.get(p, p) for p in passages)

    def value(spec: MetricSpec, k: int) -> float:
        ranking, gains = (passages, query.gains) if spec.level == "passage" else (pages, query.page_gains)
        return metric(spec.kind, ranking, gains, k, spec.min_gain)

    metrics = {spec.name: value(spec, spec.k) for spec in suite.metrics}
    curve = [value(suite.curve, k) for k in CURVE_KS]
    return metrics, curve, passages


def verdict(delta: Estimate) -> Literal["better", "worse", "no significant difference"]:
    """'better' / 'worse' when the 95% interval of the paired difference excludes 0."""
    if delta.lo is not None and delta.lo > 0:
        return "better"
    if delta.hi is not None and delta.hi < 0:
        return "worse"
    return "no significant difference"


def evaluate(suite: RetrievalSuite, backend: Backend, retrievers: Sequence[str], *, depth: int = DEPTH,
             progress: bool = True) -> RetrievalResult:
    """Score every variant of ``suite`` with every available retriever (others are listed in ``skipped``)."""
    skipped = {r: why for r in retrievers if (why := backend.unavailable(r))}
    active = [r for r in retrievers if r not in skipped]
    rows: list[QueryRow] = []
    for variant, queries in suite.variants.items():
        for retriever in active:
            if queries:  # warm-up: the first call may pay for lazy model loads
                backend.search(queries[0].text, depth, retriever)
            desc = f"{suite.name}/{variant}/{retriever}"
            for q in tqdm(queries, desc=desc, unit="q", disable=not progress, leave=False):
                outcome = backend.search(q.text, depth, retriever)
                metrics, curve, passages = score_ranking(q, outcome.doc_ids, suite)
                rows.append(QueryRow(variant=variant, retriever=retriever, qid=q.qid, query=q.text, metrics=metrics,
                                     curve=curve, top=passages[:10], latency_ms=round(outcome.latency_ms, 3)))
    names = [m.name for m in suite.metrics]
    return RetrievalResult(
        suite=suite.name, retrievers=active, skipped=skipped, metric_names=names, primary=suite.primary,
        curve_name=suite.curve.name, aggregates=aggregate(rows, names), comparisons=compare(rows, names, active),
        rows=rows, notes=list(suite.notes),
    )


def _group(rows: Sequence[QueryRow]) -> dict[tuple[str, str], list[QueryRow]]:
    groups: dict[tuple[str, str], list[QueryRow]] = {}
    for row in rows:
        groups.setdefault((row.variant, row.retriever), []).append(row)
    return groups


def aggregate(rows: Sequence[QueryRow], names: Sequence[str]) -> list[Aggregate]:
    """Mean and 95% bootstrap CI of every metric per (variant, retriever), mean curve, latency p50/p95."""
    out = []
    for (variant, retriever), group in _group(rows).items():
        latencies = [r.latency_ms for r in group]
        curve = [sum(r.curve[i] for r in group) / len(group) for i in range(len(group[0].curve))]
        out.append(Aggregate(
            variant=variant, retriever=retriever, n=len(group), curve=curve,
            metrics={name: bootstrap_ci([r.metrics[name] for r in group]) for name in names},
            latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        ))
    return out


def compare(rows: Sequence[QueryRow], names: Sequence[str], retrievers: Sequence[str]) -> list[Comparison]:
    """Paired bootstrap differences of every metric: each retriever against BM25 and dense (when run)."""
    groups = _group(rows)
    variants = dict.fromkeys(r.variant for r in rows)
    out = []
    for variant in variants:
        for baseline in BASELINES:
            base = groups.get((variant, baseline))
            if base is None:
                continue
            for retriever in retrievers:
                if retriever == baseline or (baseline == "dense" and retriever == "bm25"):
                    continue
                other = groups.get((variant, retriever), [])
                pairs = [(a, b) for a, b in zip(other, base) if a.qid == b.qid]  # same queries, same order
                for name in names:
                    delta = paired_difference_ci([a.metrics[name] for a, _ in pairs], [b.metrics[name] for _, b in pairs])
                    out.append(Comparison(variant=variant, metric=name, retriever=retriever, baseline=baseline,
                                          delta=delta, verdict=verdict(delta)))
    return out
