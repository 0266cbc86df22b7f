"""End-to-end answer behaviour on a small real index (see conftest.py)."""

from __future__ import annotations

import re

import pytest

from app.query.assemble import normalise_statement
from app.query.schemas import Answer, AnswerRequest, Turn
from core.contracts import ABSTENTION_TEXT, CITATION_RE, DISCLAIMERS, EMERGENCY_NOTICE

SEED = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank mass "
        "and ultrasound findings of a mass with internal calcification?")


def statements(answer: Answer):
    if answer.bottom_line:
        yield answer.bottom_line
    for section in answer.sections:
        yield from section.statements


def assert_consistent_citations(answer: Answer) -> None:
    """Numbers by first use from 1 without gaps; each statement's text lies in a cited passage."""
    first_use: list[int] = []
    for st in statements(answer):
        assert st.citations, f"uncited statement: {st.text}"
        for n in st.citations:
            if n not in first_use:
                first_use.append(n)
    assert first_use == list(range(1, len(first_use) + 1))
    assert [r.n for r in answer.references] == first_use
    refs = {r.n: r for r in answer.references}
    for st in statements(answer):
        text = st.text.removesuffix("…")
        assert any(text in refs[n].passage for n in st.citations), f"not in its cited passage: {st.text}"


def test_seed_question_cites_wilms_or_neuroblastoma(pipeline):
    answer = pipeline.answer(AnswerRequest(question=SEED))
    assert not answer.abstained, answer.abstain_reason
    assert answer.bottom_line is not None
    titles = " ".join(r.title.lower() for r in answer.references)
    assert "wilms" in titles or "neuroblastoma" in titles
    assert 1 <= len(answer.sections) <= 4
    assert_consistent_citations(answer)
    assert answer.disclaimer == DISCLAIMERS["clinician"]
    assert answer.safety_notice is None


def test_statement_text_is_found_in_the_cited_chunk_store_text(pipeline):
    answer = pipeline.answer(AnswerRequest(question="How is neuroblastoma diagnosed?"))
    store = pipeline.index.store
    for st in statements(answer):
        chunk = store.chunks[store.row_of(st.chunk_id)]
        assert st.text.removesuffix("…") in normalise_statement(chunk.text)


@pytest.mark.parametrize("question", [
    "How do rocket engines produce thrust in a vacuum?",
    "What is the recommended daily dose of zorblaxin for adults?",
])
def test_abstains_when_the_corpus_cannot_answer(pipeline, question):
    answer = pipeline.answer(AnswerRequest(question=question))
    assert answer.abstained
    assert answer.abstain_reason and answer.abstain_reason.startswith(ABSTENTION_TEXT)
    assert answer.bottom_line is None and not answer.sections and not answer.references
    assert answer.covered_topics, "an abstention names what the corpus does cover"
    assert answer.disclaimer


def test_emergency_question_gets_the_notice_first(pipeline):
    answer = pipeline.answer(AnswerRequest(question="My son swallowed a whole bottle of pills and is very sleepy"))
    assert answer.safety_notice == EMERGENCY_NOTICE


def test_patient_audience_gets_patient_disclaimer(pipeline):
    answer = pipeline.answer(AnswerRequest(question="What is Wilms tumor?", audience="patient"))
    assert answer.disclaimer == DISCLAIMERS["patient"]
    assert answer.audience == "patient"


def test_follow_up_stays_on_topic(pipeline):
    turns = [Turn(question="What is neuroblastoma?")]
    answer = pipeline.answer(AnswerRequest(question="How is it treated?", turns=turns, debug=True))
    assert "neuroblastoma" in answer.resolved_question.lower()
    assert answer.trace is not None and answer.trace.topic_shift is False
    assert any("neuroblastoma" in r.title.lower() for r in answer.references)


def test_topic_shift_does_not_drag_in_the_old_topic(pipeline):
    turns = [Turn(question="What is neuroblastoma?"), Turn(question="How is neuroblastoma treated?")]
    answer = pipeline.answer(AnswerRequest(question="What are the symptoms of asthma?", turns=turns, debug=True))
    assert "neuroblastoma" not in answer.resolved_question.lower()
    assert answer.trace is not None and answer.trace.topic_shift is True
    assert not any("neuroblastoma" in r.title.lower() for r in answer.references)


def test_related_questions_never_repeat_the_question(pipeline):
    question = "What are the symptoms of Neuroblastoma ?"
    answer = pipeline.answer(AnswerRequest(question=question))
    assert 3 <= len(answer.related_questions) <= 5
    norm = lambda q: re.sub(r"[\s?]+", " ", q.lower()).strip()  # noqa: E731
    assert norm(question) not in {norm(q) for q in answer.related_questions}


def test_debug_trace_has_stage_timings(pipeline):
    answer = pipeline.answer(AnswerRequest(question="What causes Wilms tumor?", debug=True))
    assert answer.trace is not None
    assert {"embed_query", "bm25", "dense", "fusion", "assembly"} <= set(answer.trace.timings_ms)
    assert answer.trace.hits and answer.trace.hits[0].rank == 1
    no_trace = pipeline.answer(AnswerRequest(question="What causes Wilms tumor?"))
    assert no_trace.trace is None


def test_rendered_markdown_keeps_citations_and_disclaimer(pipeline):
    from app.query.render import render_markdown

    answer = pipeline.answer(AnswerRequest(question="What are the treatments for Wilms tumor?"))
    md = render_markdown(answer)
    assert md.startswith("**")
    assert "### References" in md and answer.disclaimer in md
    cited = {int(n) for n in CITATION_RE.findall(md.split("### References")[0])}
    assert cited == {r.n for r in answer.references}


def test_a_dose_question_is_never_answered_with_another_drugs_dose(pipeline):
    """The small index mentions insulin (diabetes pages) but gives no paediatric insulin dose: medcite abstains with
    the plain 'no insulin dosing' line, or its bottom line names insulin and an amount (issue 18, item 3)."""
    from app.query.entities import has_dose

    answer = pipeline.answer(AnswerRequest(
        question="What starting dose of insulin in units/kg for a 9-year-old with new type 1 diabetes?", debug=True))
    assert answer.trace is not None and answer.trace.entity_checks or answer.abstained
    if answer.abstained:
        assert answer.bottom_line is None and not answer.references
    else:
        assert "insulin" in answer.bottom_line.text.lower() and has_dose(answer.bottom_line.text)
    off = pipeline.settings.answer.model_copy(update={"entity_check": False})
    assert off.entity_check is False  # the check is one setting away (AnswerSettings.entity_check)
