"""The ``clinician`` suite: clinician questions (vignettes, direct, follow-ups, out of corpus) answered end to end.

For an in-corpus item: is the gold document among the answer's references, where does it rank in the hybrid
search for the question as the pipeline resolved it, and how many of the item's key facts does the bottom line
(and the whole answer) state. For an out-of-corpus item: did medcite abstain. A follow-up item is asked the way a
client asks it: every earlier turn is answered first (with the turns before it), and the follow-up is sent with
those turns, each carrying the earlier answer's text and the chunk ids its references cite.

>>> document_rank(["a", "b", "a", "c"], "c")  # the document ids of ranked chunks
3
>>> document_rank(["a", "b", "a", "c"], "z") is None
True
"""

from __future__ import annotations

from typing import Any, Sequence

from pydantic import BaseModel, Field
from tqdm import tqdm

from app.query.schemas import Answer
from evals.backends import AnswerOutcome, Backend
from evals.datasets import ClinicianQuestion
from evals.keyfacts import fact_present, recall
from evals.metrics import dedupe
from evals.stats import Estimate, bootstrap_ci, percentile

#: The ranking scored for retrieval (``/v1/search`` retriever).
RETRIEVER = "hybrid"
#: Smallest group reported on its own (per style / per source); smaller groups stay in the pooled rows.
MIN_GROUP_N = 5
#: Distinct documents the "in top 10" and MRR metrics look at.
TOP_K = 10


class ClinicianRow(BaseModel):
    qid: str
    style: str
    source: str = Field(description="Id prefix: pdq, ngc, ooc.")
    in_corpus: bool
    question: str
    turns: list[str] = Field(default_factory=list, description="Earlier questions, oldest first.")
    resolved_question: str = Field(description="The pipeline's resolved question; also the search query.")
    answered: bool
    abstain_reason: str | None = None
    gold_doc: str | None = Field(None, description="Gold document id (file name without extension).")
    gold_in_refs: bool | None = Field(None, description="Gold document among the references' doc ids.")
    gold_in_bottom_line: bool | None = Field(None, description="Gold document cited by the bottom line.")
    gold_rank: int | None = Field(None, description="1-based rank among distinct documents of the search; None = "
                                                    "not among the documents of the fetched chunks.")
    key_facts: int = 0
    facts_bottom: list[bool] = Field(default_factory=list, description="Per key fact: stated in the bottom line.")
    facts_whole: list[bool] = Field(default_factory=list, description="Per key fact: stated in bottom line or "
                                                                       "any section statement.")
    recall_bottom: float | None = None
    recall_whole: float | None = None
    bottom_line: str | None = None
    cited_doc_ids: list[str] = Field(default_factory=list, description="References' doc ids, in reference order.")
    top_docs: list[str] = Field(default_factory=list, description="First 10 distinct documents of the search.")
    latency_ms: float = Field(description="The scored (last) answer call.")


class InCorpusGroup(BaseModel):
    group: str
    n: int
    answered: Estimate
    gold_in_refs: Estimate
    gold_in_bottom_line: Estimate
    gold_at_1: Estimate
    gold_in_top10: Estimate
    gold_mrr10: Estimate
    key_facts_bottom: Estimate
    key_facts_whole: Estimate
    all_facts_whole: Estimate = Field(description="Share of items whose answer states every key fact.")
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class OutOfCorpusGroup(BaseModel):
    group: str
    n: int
    abstained: Estimate
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class ClinicianResult(BaseModel):
    suite: str = "clinician"
    audience: str
    retriever: str = RETRIEVER
    depth: int
    in_corpus: list[InCorpusGroup]
    out_of_corpus: list[OutOfCorpusGroup]
    rows: list[ClinicianRow]
    notes: list[str] = Field(default_factory=list)


def document_rank(doc_ids: Sequence[str], gold: str) -> int | None:
    """1-based rank of ``gold`` among the distinct documents of a chunk ranking (``doc_ids``: the document id of
    each ranked chunk; a document ranks at its first chunk); ``None`` when no chunk of it was fetched."""
    docs = dedupe(doc_ids)
    return docs.index(gold) + 1 if gold in docs else None


def statement_texts(answer: Answer) -> tuple[list[str], list[str]]:
    """(bottom-line text, bottom line + every section statement): what key facts are looked for in. A statement's
    evidence grade (shown beside it, e.g. "USPSTF grade A") counts as part of it. References, related questions,
    headings, abstention reasons, notices and the disclaimer never count."""
    def shown(st) -> str:
        return f"{st.text} ({st.grade})" if st.grade else st.text

    bottom = [shown(answer.bottom_line)] if answer.bottom_line is not None else []
    return bottom, bottom + [shown(s) for section in answer.sections for s in section.statements]


def turn_of(question: str, answer: Answer) -> dict[str, Any]:
    """An earlier turn as a client sends it (like the web page): the answer's text (bottom line and statements, one
    a line; the abstention reason when it abstained) and the chunk ids its references cite, in order."""
    if answer.abstained:
        text = answer.abstain_reason or None
    else:
        text = "\n".join(statement_texts(answer)[1]) or None
    cited = dedupe(c for ref in answer.references for c in (ref.chunk_ids or [ref.chunk_id]))
    return {"question": question, "answer": text, "cited_chunk_ids": cited}


def ask(item: ClinicianQuestion, backend: Backend, audience: str) -> AnswerOutcome:
    """Answer the item's earlier turns in order, then its question with those turns; the last outcome."""
    history: list[dict[str, Any]] = []
    for turn in item.turns:
        earlier = backend.answer(turn.question, audience, turns=list(history))
        history.append(turn_of(turn.question, earlier.answer))
    return backend.answer(item.question, audience, turns=history)


def score(item: ClinicianQuestion, backend: Backend, audience: str, depth: int) -> ClinicianRow:
    """Ask one item (with its turns), search its resolved question, and score both."""
    outcome = ask(item, backend, audience)
    answer = outcome.answer
    refs = {r.n: r.doc_id for r in answer.references}
    row = ClinicianRow(
        qid=item.id, style=item.style, source=item.source, in_corpus=item.in_corpus, question=item.question,
        turns=[t.question for t in item.turns], resolved_question=answer.resolved_question,
        answered=not answer.abstained, abstain_reason=answer.abstain_reason,
        bottom_line=answer.bottom_line.text if answer.bottom_line else None,
        cited_doc_ids=[r.doc_id for r in answer.references], latency_ms=round(outcome.latency_ms, 2),
    )
    gold = item.gold_doc_id
    if not item.in_corpus or gold is None:
        return row
    ranking = backend.search(answer.resolved_question or item.question, depth, RETRIEVER).doc_ids
    bottom, whole = statement_texts(answer)
    row.gold_doc = gold
    row.gold_in_refs = gold in row.cited_doc_ids
    row.gold_in_bottom_line = answer.bottom_line is not None and any(
        refs.get(n) == gold for n in answer.bottom_line.citations)
    row.gold_rank = document_rank(ranking, gold)
    row.top_docs = dedupe(ranking)[:TOP_K]
    row.key_facts = len(item.key_facts)
    row.facts_bottom = fact_present(item.key_facts, *bottom)
    row.facts_whole = fact_present(item.key_facts, *whole)
    row.recall_bottom, row.recall_whole = recall(row.facts_bottom), recall(row.facts_whole)
    return row


def _rate(values: Sequence[bool | None]) -> Estimate:
    return bootstrap_ci([1.0 if v else 0.0 for v in values if v is not None])


def in_corpus_group(name: str, rows: Sequence[ClinicianRow]) -> InCorpusGroup:
    ranks = [r.gold_rank for r in rows]
    latencies = [r.latency_ms for r in rows]
    return InCorpusGroup(
        group=name, n=len(rows), answered=_rate([r.answered for r in rows]),
        gold_in_refs=_rate([r.gold_in_refs for r in rows]),
        gold_in_bottom_line=_rate([r.gold_in_bottom_line for r in rows]),
        gold_at_1=_rate([k == 1 for k in ranks]),
        gold_in_top10=_rate([k is not None and k <= TOP_K for k in ranks]),
        gold_mrr10=bootstrap_ci([1.0 / k if k is not None and k <= TOP_K else 0.0 for k in ranks]),
        key_facts_bottom=bootstrap_ci([r.recall_bottom for r in rows if r.recall_bottom is not None]),
        key_facts_whole=bootstrap_ci([r.recall_whole for r in rows if r.recall_whole is not None]),
        all_facts_whole=_rate([all(r.facts_whole) if r.facts_whole else None for r in rows]),
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
    )


def out_of_corpus_group(name: str, rows: Sequence[ClinicianRow]) -> OutOfCorpusGroup:
    latencies = [r.latency_ms for r in rows]
    return OutOfCorpusGroup(group=name, n=len(rows), abstained=_rate([not r.answered for r in rows]),
                            latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95))


def _breakdown(rows: Sequence[ClinicianRow], pooled: str) -> list[tuple[str, list[ClinicianRow]]]:
    """The pooled group, then one group per style and per source with at least :data:`MIN_GROUP_N` items (a
    breakdown with a single value repeats the pooled group and is left out)."""
    out = [(pooled, list(rows))]
    for label, key in (("style", lambda r: r.style), ("source", lambda r: r.source)):
        values = list(dict.fromkeys(key(r) for r in rows))
        if len(values) < 2:
            continue
        for value in values:
            part = [r for r in rows if key(r) == value]
            if len(part) >= MIN_GROUP_N:
                out.append((f"{label}: {value or '(none)'}", part))
    return out


def evaluate(items: Sequence[ClinicianQuestion], backend: Backend, audience: str = "clinician", *,
             depth: int = 100, progress: bool = True) -> ClinicianResult:
    """Ask and score every item; aggregate pooled, per style and per source, in corpus and out of corpus."""
    if items:
        backend.answer(items[0].question, audience)  # warm-up: lazy model and cache loads
    rows = [score(item, backend, audience, depth)
            for item in tqdm(items, desc="clinician", unit="q", disable=not progress)]
    inside = [r for r in rows if r.in_corpus]
    outside = [r for r in rows if not r.in_corpus]
    return ClinicianResult(
        audience=audience, depth=depth,
        in_corpus=[in_corpus_group(n, part) for n, part in _breakdown(inside, "in-corpus (all)")] if inside else [],
        out_of_corpus=[out_of_corpus_group(n, part) for n, part in _breakdown(outside, "out-of-corpus (all)")]
        if outside else [],
        rows=rows, notes=notes(depth),
    )


def notes(depth: int) -> list[str]:
    """How every number of the report is computed."""
    return [
        "Gold document id = the item's gold_doc file name without its extension; 'gold in refs' = that id is "
        "among the answer's references (Reference.doc_id); 'gold cited by bottom line' = one of the bottom "
        "line's citation numbers resolves to it. An abstained answer has no references (counts as a miss).",
        f"Retrieval: POST /v1/search-equivalent call with retriever '{RETRIEVER}', top {depth} chunks, query = the "
        "answer's resolved_question (the follow-up as the pipeline rewrote it; the question itself otherwise). "
        "Documents are ranked by their first chunk; gold@1 / gold in top 10 = the gold document is the first / "
        "among the first 10 distinct documents; MRR@10 = 1/rank within 10, else 0. This search applies no "
        "audience preference and no boost for passages cited in earlier turns, unlike the answer's own retrieval.",
        "Key facts: share of an item's facts stated in the bottom line / in the whole answer (bottom line + "
        "every section statement; never references, related questions, headings or abstention text). A fact "
        "counts when one of its spellings occurs in one statement, case-insensitive, after NFKC, "
        "'≥⩾≧'->'>=' and '≤⩽≦'->'<=', dashes/minus -> '-', curly -> straight quotes, whitespace collapsed, no "
        "space after a comparison sign before a number or before '%'; matches must start at a token boundary "
        "and numbers must not continue ('4%' is not found in '14%', 'age 8' not in 'age 80'). Abstained "
        "in-corpus items score 0. Case-insensitive as the data defines it, so the spelling 'A recommendation' "
        "also matches 'a recommendation'.",
        "answered = not abstained (in corpus, should be high); abstained = share of out-of-corpus items where "
        "medcite abstained (should be high).",
        "Follow-up items: each earlier turn is answered first (with the turns before it); the follow-up is sent "
        "with turns [{question, answer: bottom line and statements one per line (abstention reason if it "
        "abstained), cited_chunk_ids: the references' chunk ids in order, at most 50}], as the web page does. "
        "Latency is that of the follow-up call only.",
        f"Groups by style and by source (id prefix) are shown when they hold at least {MIN_GROUP_N} items.",
    ]
