"""The generation and abstention stages: the pipeline takes any AnswerGenerator, and abstention reads only the
generic evidence signals of its draft."""

from __future__ import annotations

import pytest

from app.query.abstention import MIN_COVERAGE, STRONG_EVIDENCE, Abstainer
from app.query.generator import (
    GENERATORS,
    Draft,
    Evidence,
    EvidenceSignals,
    ExtractiveGenerator,
    create_generator,
)
from app.query.pipeline import AnswerPipeline
from app.query.schemas import AnswerRequest, Reference, Statement
from app.query.settings import AnswerSettings
from core.contracts import ABSTENTION_TEXT


class OneStatementGenerator:
    """Cites the first candidate's first sentence and reports the support it is told to (a stand-in for an LLM)."""

    name = "one-statement"

    def __init__(self, support: float) -> None:
        self.support = support
        self.seen: list[Evidence] = []

    def generate(self, evidence: Evidence) -> Draft:
        self.seen.append(evidence)
        cand = evidence.candidates[0]
        statement = Statement(text=cand.chunk.sentences[0].text, citations=[1], chunk_id=cand.chunk.chunk_id)
        ref = Reference(n=1, type=cand.meta.type, title=cand.meta.title, chunk_id=cand.chunk.chunk_id,
                        chunk_ids=[cand.chunk.chunk_id], doc_id=cand.chunk.doc_id, passage=cand.chunk.text)
        return Draft(statement, [], [ref], [cand.meta.title], EvidenceSignals(len(evidence.candidates),
                                                                               self.support, 1.0))


def pipeline_with(pipeline: AnswerPipeline, generator) -> AnswerPipeline:
    other = AnswerPipeline(pipeline.index, pipeline.embedder, pipeline.settings, pipeline.bank)
    other.generator = generator
    return other


def test_pipeline_answers_with_any_generator_and_abstains_on_its_signals(pipeline):
    question = "How is Wilms tumor treated?"
    strong = pipeline_with(pipeline, OneStatementGenerator(support=0.9))
    answer = strong.answer(AnswerRequest(question=question))
    evidence = strong.generator.seen[0]
    assert not answer.abstained and answer.bottom_line.chunk_id == evidence.candidates[0].chunk.chunk_id
    assert evidence.question == question and evidence.audience == "clinician" and evidence.term_weights
    assert evidence.query_vector.shape == (pipeline.embedder.info.dimension,)
    weak = pipeline_with(pipeline, OneStatementGenerator(support=0.1)).answer(AnswerRequest(question=question))
    assert weak.abstained and weak.bottom_line is None and weak.references == []
    assert "similarity 0.10" in weak.abstain_reason and weak.covered_topics and weak.disclaimer


def test_extractive_generator_reports_the_signals_the_pipeline_traces(pipeline):
    answer = pipeline.answer(AnswerRequest(question="What are the symptoms of Wilms tumor?", debug=True))
    assert isinstance(pipeline.generator, ExtractiveGenerator) and not answer.abstained
    assert answer.trace.evidence_score >= pipeline.settings.answer.abstain_threshold
    assert 0.0 < answer.trace.coverage <= 1.0


def test_generator_registry():
    assert isinstance(create_generator(AnswerSettings()), ExtractiveGenerator)
    assert set(GENERATORS) == {"extractive", "llm"}
    with pytest.raises(ValueError, match="unknown answer generator 'poet'.*extractive"):
        create_generator(AnswerSettings(), name="poet")
    with pytest.raises(ValueError, match="needs the sentence encoder"):
        create_generator(AnswerSettings(), name="llm")
    from app.query.llm_generator import LLMGenerator

    assert isinstance(create_generator(AnswerSettings(), encode=lambda texts: None, name="llm"), LLMGenerator)


@pytest.mark.parametrize("signals,unknown,expected", [
    (EvidenceSignals(0, 0.0, 0.0), [], "No indexed passage matched"),
    (EvidenceSignals(5, 0.9, 0.9), ["zorblaxin"], "never mention: zorblaxin"),
    (EvidenceSignals(5, 0.41, 0.9), [], "too weakly related (similarity 0.41 < 0.42)"),
    (EvidenceSignals(5, STRONG_EVIDENCE - 0.01, MIN_COVERAGE - 0.01), [], "do not contain the question's key terms"),
    (EvidenceSignals(5, STRONG_EVIDENCE, MIN_COVERAGE - 0.01), [], None),  # strong paraphrase: answered
    (EvidenceSignals(5, 0.42, MIN_COVERAGE), [], None),
])
def test_abstention_rules(signals, unknown, expected):
    reason = Abstainer(AnswerSettings(abstain_threshold=0.42)).reason(signals, unknown)
    if expected is None:
        assert reason is None
    else:
        assert reason.startswith(ABSTENTION_TEXT) and expected in reason
