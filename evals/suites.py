"""Retrieval suites: queries with judged passages, the metrics to report and the passage -> page map.

Passage ids are document ids of the index (one JSONL record = one document, chunked into ``doc_id#n``);
page ids group passages (MedQuAD web page, PubMed id). Gains: 1 for a gold passage (binary sets), ``grade - 1``
for LiveQA (so ``1-Incorrect`` is judged but gains 0).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal, Sequence, TypeVar

from pydantic import BaseModel, Field

from evals import datasets as ds

SAMPLE_SEED = 7
CURVE_KS = (1, 2, 3, 5, 10, 20, 30, 50, 100)
T = TypeVar("T")


class RetrievalQuery(BaseModel):
    qid: str
    text: str
    gains: dict[str, float] = Field(description="Judged passage ids -> gain (0 = judged not relevant).")
    page_gains: dict[str, float] = Field(default_factory=dict, description="Judged page ids -> gain.")


class MetricSpec(BaseModel):
    """One reported number: ``kind`` (see evals.metrics.METRIC_KINDS) at cut-off ``k`` on a level."""

    name: str
    level: Literal["passage", "page"] = "passage"
    kind: str
    k: int
    min_gain: float = 1.0


class RetrievalSuite(BaseModel):
    name: str
    corpus: Literal["default", "eval"] = Field(description="Scored on the default index or a suite's eval index.")
    variants: dict[str, list[RetrievalQuery]] = Field(description="Query runs, e.g. paraphrase and raw message.")
    metrics: list[MetricSpec]
    primary: list[str] = Field(description="Metric names compared between retrievers in the summary.")
    curve: MetricSpec = Field(description="Metric plotted against k (its own k is ignored).")
    page_of: dict[str, str] = Field(default_factory=dict, description="Passage id -> page id.")
    notes: list[str] = Field(default_factory=list)


def sample(items: Sequence[T], limit: int | None, seed: int = SAMPLE_SEED) -> list[T]:
    """``limit`` items drawn with ``random.Random(seed).sample`` (all items, in order, when no limit applies).

    >>> sample(list(range(10)), 3) == random.Random(7).sample(list(range(10)), 3)
    True
    >>> sample([1, 2], None)
    [1, 2]
    """
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    return random.Random(seed).sample(list(items), limit)


def _ranked(level: Literal["passage", "page"], kind: str, ks: Sequence[int], label: str, **kw: float) -> list[MetricSpec]:
    return [MetricSpec(name=f"{label}@{k}", level=level, kind=kind, k=k, **kw) for k in ks]


def medquad_suite(questions: Path, passages: Path | None, limit: int | None) -> RetrievalSuite:
    """MedQuAD dev questions -> gold passages (passage level) and gold pages (page level)."""
    queries = sample(ds.load_medquad_queries(questions), limit)
    page_of = {p.passage_id: p.doc_id for p in ds.load_medquad_passages(passages)} if passages else {}
    rows = [
        RetrievalQuery(
            qid=q.query_id, text=q.question, gains={p: 1.0 for p in q.relevant_passage_ids},
            page_gains={d: 1.0 for d in (q.relevant_doc_ids or [page_of.get(p, p) for p in q.relevant_passage_ids])},
        )
        for q in queries
    ]
    metrics = [
        *_ranked("passage", "recall", (1, 5, 10), "passage R"),
        MetricSpec(name="passage MRR@10", kind="mrr", k=10),
        MetricSpec(name="passage nDCG@10", kind="ndcg", k=10),
        *_ranked("page", "recall", (1, 5, 10), "page R"),
        MetricSpec(name="page MRR@10", level="page", kind="mrr", k=10),
        MetricSpec(name="page nDCG@10", level="page", kind="ndcg", k=10),
    ]
    return RetrievalSuite(
        name="medquad", corpus="default", variants={"question": rows}, metrics=metrics,
        primary=["passage nDCG@10", "passage R@10", "page R@10"],
        curve=MetricSpec(name="passage recall", kind="recall", k=0), page_of=page_of,
        notes=["Passage = MedQuAD answer section (index document); page = its web page (relevant_doc_ids). "
               "A passage ranks at its first chunk; a page at its first passage. Binary gains, nDCG's ideal "
               "ranking holds every gold passage."],
    )


def liveqa_suite(path: Path, limit: int | None) -> RetrievalSuite:
    """LiveQA graded nDCG over MedQuAD; two runs: NIST paraphrase and the raw consumer message."""
    questions = ds.load_liveqa(path)
    kept = []
    for q in questions:
        gains = {j.passage_id: float(max(j.grade - 1, 0)) for j in q.medquad_judgments if j.text_in_corpus}
        if any(g >= 1 for g in gains.values()):
            kept.append((q, gains))
    kept = sample(kept, limit)

    def run(text_of) -> list[RetrievalQuery]:
        return [RetrievalQuery(qid=q.qid, text=text_of(q), gains=g) for q, g in kept]

    metrics = [
        MetricSpec(name="nDCG@10", kind="ndcg", k=10),
        MetricSpec(name="MRR@10 (grade>=2)", kind="mrr", k=10),
        MetricSpec(name="R@10 (grade>=2)", kind="recall", k=10),
        MetricSpec(name="P@10 (grade>=3)", kind="precision", k=10, min_gain=2.0),
        MetricSpec(name="judged@10", kind="judged", k=10),
    ]
    return RetrievalSuite(
        name="liveqa", corpus="default",
        variants={"paraphrase": run(lambda q: (q.nist_paraphrase or q.message).strip()),
                  "message": run(lambda q: q.message.strip() or (q.subject or ""))},
        metrics=metrics, primary=["nDCG@10"], curve=MetricSpec(name="recall (grade>=2)", kind="recall", k=0),
        notes=[f"{len(kept)} of {len(questions)} questions have >= 1 judged MedQuAD passage of grade >= 2 with text "
               "in the corpus; only those are scored. Gain = grade - 1 over judged passages with text_in_corpus "
               "(1-Incorrect = 0); unjudged retrieved passages gain 0, so scores are lower bounds (see judged@10). "
               "Runs: 'paraphrase' = nist_paraphrase, 'message' = the raw consumer message."],
    )


def bioasq_suite(path: Path, snippet_ids: set[str], page_of: dict[str, str], limit: int | None) -> RetrievalSuite:
    """BioASQ questions -> gold snippets (passage level) and gold PubMed ids (page level) in the eval corpus."""
    pmids = set(page_of.values())
    rows = []
    for q in ds.load_bioasq_questions(path):
        gold = [s for s in q.snippet_ids if s in snippet_ids]
        if gold:
            rows.append(RetrievalQuery(qid=q.id, text=q.body, gains={s: 1.0 for s in gold},
                                       page_gains={p: 1.0 for p in q.documents_pmids if p in pmids}
                                       or {page_of[s]: 1.0 for s in gold}))
    metrics = [
        MetricSpec(name="snippet R@10", kind="recall", k=10),
        MetricSpec(name="snippet MRR@10", kind="mrr", k=10),
        MetricSpec(name="snippet nDCG@10", kind="ndcg", k=10),
        MetricSpec(name="PMID R@10", level="page", kind="recall", k=10),
        MetricSpec(name="PMID hit@10", level="page", kind="hit", k=10),
    ]
    return RetrievalSuite(
        name="bioasq", corpus="eval", variants={"question": sample(rows, limit)}, metrics=metrics,
        primary=["snippet R@10", "PMID R@10"], curve=MetricSpec(name="snippet recall", kind="recall", k=0),
        page_of=page_of,
        notes=["Corpus: every BioASQ gold snippet plus all MedQuAD passages and PubMedQA abstracts as distractors. "
               "Snippet R@10 = share of a question's gold snippets among the top 10 passages; PMID R@10 = share of "
               "its gold PubMed ids (those with a snippet in the corpus) among the top 10 distinct PubMed ids; "
               "PMID hit@10 = at least one of them."],
    )


def pubmedqa_suite(path: Path, abstract_ids: dict[str, str], page_of: dict[str, str],
                   limit: int | None) -> RetrievalSuite:
    """PubMedQA question -> its own abstract (``abstract_ids``: pubid -> document id) among distractors."""
    rows = [
        RetrievalQuery(qid=q.pubid, text=q.question, gains={abstract_ids[q.pubid]: 1.0})
        for q in ds.load_pubmedqa_questions(path) if q.pubid in abstract_ids
    ]
    metrics = [*_ranked("passage", "hit", (1, 5, 10), "hit"), MetricSpec(name="MRR@10", kind="mrr", k=10)]
    return RetrievalSuite(
        name="pubmedqa", corpus="eval", variants={"question": sample(rows, limit)}, metrics=metrics,
        primary=["hit@1", "hit@10"], curve=MetricSpec(name="hit", kind="hit", k=0), page_of=page_of,
        notes=["Corpus: all PubMedQA abstracts (conclusions removed) plus every BioASQ gold snippet (PubMed "
               "title/abstract text of ~13k other articles) as distractors. Gold = the question's own abstract."],
    )
