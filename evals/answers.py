"""The ``answers`` suite: answer in-corpus questions, abstain on out-of-corpus ones, cite what is stated.

In-corpus sample: MedQuAD dev questions (reference = gold passage text), LiveQA questions with reference answers
(query = NIST paraphrase), MedicationQA (reference = the trusted answer). Out-of-corpus: :mod:`evals.ooc`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pydantic import BaseModel, Field
from tqdm import tqdm

from evals import datasets as ds
from evals.answer_metrics import answer_text, best_against, citation_support, reference_problems
from evals.backends import Backend
from evals.ooc import invented_questions, non_medical_questions
from evals.stats import Estimate, bootstrap_ci, percentile
from evals.suites import sample

#: Questions per source when no --limit is given (answering all 11k MedQuAD questions takes hours).
DEFAULT_LIMIT = 200
OOC_INVENTED = 40
GROUPS_IN = ("medquad", "liveqa", "medicationqa")
GROUPS_OUT = ("ooc-nonmedical", "ooc-invented")


class AnswerItem(BaseModel):
    qid: str
    group: str
    in_corpus: bool
    question: str
    references: list[str] = Field(default_factory=list)


class AnswerRow(BaseModel):
    qid: str
    group: str
    in_corpus: bool
    question: str
    abstained: bool
    statements: int
    supported: int
    support_rate: float | None = Field(description="Supported / statements of this answer (None if no statement).")
    refs_consistent: bool
    ref_problems: list[str]
    disclaimer_present: bool
    rouge_l: float | None
    token_f1: float | None
    latency_ms: float
    bottom_line: str | None


class GroupAggregate(BaseModel):
    group: str
    n: int
    answered: Estimate
    support_rate: Estimate = Field(description="Mean per-answer citation support (answers with statements).")
    statements: int
    supported_statements: int
    refs_consistent: Estimate
    disclaimer_present: Estimate
    rouge_l: Estimate
    token_f1: Estimate
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class AnswersResult(BaseModel):
    suite: str = "answers"
    audience: str
    groups: list[GroupAggregate]
    rows: list[AnswerRow]
    notes: list[str] = Field(default_factory=list)


def in_corpus_items(files: dict[str, Path], medquad_passages: Path | None, limit: int | None) -> list[AnswerItem]:
    """Sampled in-corpus questions from ``files`` (schema name -> question file)."""
    items: list[AnswerItem] = []
    if "medquad" in files:
        texts = {p.passage_id: p.text for p in ds.load_medquad_passages(medquad_passages)} if medquad_passages else {}
        for q in sample(ds.load_medquad_queries(files["medquad"]), limit):
            refs = [texts[p] for p in q.relevant_passage_ids if p in texts]
            items.append(AnswerItem(qid=q.query_id, group="medquad", in_corpus=True, question=q.question, references=refs))
    if "liveqa" in files:
        live = [q for q in ds.load_liveqa(files["liveqa"]) if q.reference_answers]
        for q in sample(live, limit):
            items.append(AnswerItem(qid=q.qid, group="liveqa", in_corpus=True,
                                    question=(q.nist_paraphrase or q.message).strip(),
                                    references=[a.answer for a in q.reference_answers]))
    if "medicationqa" in files:
        for m in sample(ds.load_medicationqa(files["medicationqa"]), limit):
            items.append(AnswerItem(qid=m.id, group="medicationqa", in_corpus=True, question=m.question,
                                    references=[m.answer]))
    unknown = sorted(set(files) - set(GROUPS_IN))
    if unknown:
        raise ds.DatasetError(f"the answers suite takes MedQuAD, LiveQA or MedicationQA question files, not {unknown}")
    return items


def out_of_corpus_items(limit: int | None) -> list[AnswerItem]:
    """Non-medical questions plus questions about made-up drugs and diseases (each capped at ``limit``)."""
    nonmed = non_medical_questions(limit)
    invented = invented_questions(min(OOC_INVENTED, limit) if limit else OOC_INVENTED)
    return ([AnswerItem(qid=f"nonmed-{i:02d}", group="ooc-nonmedical", in_corpus=False, question=q)
             for i, q in enumerate(nonmed, 1)]
            + [AnswerItem(qid=f"invented-{i:02d}", group="ooc-invented", in_corpus=False, question=q)
               for i, q in enumerate(invented, 1)])


def score(item: AnswerItem, backend: Backend, audience: str) -> AnswerRow:
    """Answer one question through ``backend`` and score it."""
    outcome = backend.answer(item.question, audience)
    answer = outcome.answer
    n, supported = citation_support(answer)
    rouge, f1 = (None, None) if answer.abstained else best_against(answer_text(answer), item.references)
    problems = reference_problems(answer)
    return AnswerRow(
        qid=item.qid, group=item.group, in_corpus=item.in_corpus, question=item.question, abstained=answer.abstained,
        statements=n, supported=supported, support_rate=supported / n if n else None, refs_consistent=not problems,
        ref_problems=problems, disclaimer_present=bool(answer.disclaimer.strip()), rouge_l=rouge, token_f1=f1,
        latency_ms=round(outcome.latency_ms, 2), bottom_line=answer.bottom_line.text if answer.bottom_line else None,
    )


def _rate(values: Sequence[bool]) -> Estimate:
    return bootstrap_ci([1.0 if v else 0.0 for v in values])


def aggregate_group(name: str, rows: Sequence[AnswerRow]) -> GroupAggregate:
    answered = [r for r in rows if not r.abstained]
    latencies = [r.latency_ms for r in rows]
    return GroupAggregate(
        group=name, n=len(rows), answered=_rate([not r.abstained for r in rows]),
        support_rate=bootstrap_ci([r.support_rate for r in rows if r.support_rate is not None]),
        statements=sum(r.statements for r in rows), supported_statements=sum(r.supported for r in rows),
        refs_consistent=_rate([r.refs_consistent for r in rows]),
        disclaimer_present=_rate([r.disclaimer_present for r in rows]),
        rouge_l=bootstrap_ci([r.rouge_l for r in answered if r.rouge_l is not None]),
        token_f1=bootstrap_ci([r.token_f1 for r in answered if r.token_f1 is not None]),
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
    )


def evaluate(items: Sequence[AnswerItem], backend: Backend, audience: str = "clinician", *,
             progress: bool = True) -> AnswersResult:
    """Answer and score every item; aggregate per group and pooled in-corpus / out-of-corpus."""
    if items:
        backend.answer(items[0].question, audience)  # warm-up: lazy model and cache loads
    rows = [score(item, backend, audience) for item in tqdm(items, desc="answers", unit="q", disable=not progress)]
    groups = [aggregate_group(g, [r for r in rows if r.group == g]) for g in dict.fromkeys(r.group for r in rows)]
    pooled = [("in-corpus (all)", [r for r in rows if r.in_corpus]), ("out-of-corpus (all)", [r for r in rows if not r.in_corpus])]
    groups += [aggregate_group(name, part) for name, part in pooled if part]
    notes = [
        "answered = share not abstained: should be high in-corpus and ~0 out-of-corpus (abstention rate = 1 - answered).",
        "support = share of an answer's statements whose text (minus '…') is contained in the whitespace-normalised "
        "cited passage, or has token F1 >= 0.8 with 1-3 consecutive passage sentences; a statement without a "
        "resolvable citation is unsupported.",
        "refs consistent = references numbered 1..n by first use, no gaps, every cited number resolves, every "
        "reference cited, every statement cited.",
        "ROUGE-L (F1, LCS over lower-case word tokens) and token F1: best over the reference answers, answered "
        "questions only (MedQuAD: gold passage text; LiveQA: reference_answers; MedicationQA: answer). Extractive "
        "answers are short, so recall (and F1) against long references is low by construction.",
        "MedicationQA: the corpus lacks the MedlinePlus drug monographs most of its answers come from, so many of "
        "these questions are in fact out of corpus; its answer rate is reported separately.",
    ]
    return AnswersResult(audience=audience, groups=groups, rows=rows, notes=notes)
