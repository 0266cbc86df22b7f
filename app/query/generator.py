"""Answer generators: the stage that turns retrieved evidence into the cited parts of an answer.

The pipeline retrieves passages, bundles them as :class:`Evidence` and hands them to the configured
:class:`AnswerGenerator` (``settings.answer.generator``, registry :data:`GENERATORS`). A generator returns a
:class:`Draft`: bottom line, sections and references (every statement citing the passages it comes from) plus the
generic :class:`EvidenceSignals` that the abstention stage (:mod:`app.query.abstention`) reads. The extractive
generator -- statements are source sentences -- is the default; the ``llm`` generator
(:mod:`app.query.llm_generator`) has a language model write the statements from the same candidates, verifies each
against the passages it cites and reports the extractive draft's signals.

>>> sorted(GENERATORS)
['extractive', 'llm']
>>> Draft(None, [], [], covered_topics=["Asthma"]).signals
EvidenceSignals(passages=0, support=0.0, coverage=0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

import numpy as np

from app.query.assemble import Candidate, assemble
from app.query.schemas import Reference, Section, Statement
from app.query.selection import SentenceScorer, load_scorer
from app.query.settings import AnswerSettings, LLMSettings
from core.models import DocType
from index.lexical import tokenize


@dataclass(frozen=True)
class Evidence:
    """What a generator works from: the question, its vector and term weights, and the ranked candidates."""

    question: str  # the resolved question (a follow-up rewritten to stand alone)
    query_vector: np.ndarray
    term_weights: Mapping[str, float]  # IDF of the question's indexed terms
    candidates: list[Candidate]
    audience: str
    prefer_types: tuple[DocType, ...] = ()
    section_chunks: Callable[[Candidate], list[Candidate]] | None = None
    asked_drugs: tuple[str, ...] = ()  # drugs the question asks about (app.query.entities), canonical names
    find_drugs: Callable[[str], list[str]] | None = None  # canonical drug names in a text
    asked: str = ""  # a follow-up as the user typed it (its own intent wins over the carried topic's)
    conversation: tuple[str, ...] = ()  # earlier questions, oldest first (context for a writing generator)


@dataclass(frozen=True)
class EvidenceSignals:
    """How well the evidence answers the question, whatever produced the draft."""

    passages: int  # candidates the draft was built from
    support: float  # best similarity of a usable source sentence to the question (cosine, <= 1)
    coverage: float  # share of the question's term weight found in the chosen statements (0..1)


@dataclass
class Draft:
    """The cited parts of an answer, before abstention, safety notices and related questions are added."""

    bottom_line: Statement | None
    sections: list[Section]
    references: list[Reference]
    covered_topics: list[str]  # titles of the retrieved sources (shown when medcite abstains)
    signals: EvidenceSignals = field(default_factory=lambda: EvidenceSignals(0, 0.0, 0.0))
    generator: str = "extractive"  # what wrote the statements ('llm:<model>' for verified model-written ones)
    notice: str | None = None  # why a requested generator was not used (its fallback)
    tally: dict[str, int] = field(default_factory=dict)  # llm: sentences written / verified / replaced / dropped


class AnswerGenerator(Protocol):
    name: str

    def generate(self, evidence: Evidence) -> Draft: ...


class ExtractiveGenerator:
    """Statements are source sentences chosen by relevance and novelty (:func:`app.query.assemble.assemble`)."""

    name = "extractive"

    def __init__(self, settings: AnswerSettings) -> None:
        self.settings = settings
        self._scorer: SentenceScorer | None = None

    @property
    def scorer(self) -> SentenceScorer:
        """The sentence scorer of ``settings.selection`` (the learned model is loaded on first use)."""
        if self._scorer is None:
            mode = self.settings.selection
            self._scorer = load_scorer(None if mode == "hand" else self.settings.selection_model.resolve(),
                                       self.settings.selection_blend if mode == "blend" else None)
        return self._scorer

    def generate(self, evidence: Evidence, keep_features: list | None = None) -> Draft:
        built = assemble(evidence.question, evidence.query_vector, evidence.term_weights, evidence.candidates,
                         tokenize, self.settings, evidence.prefer_types, section_chunks=evidence.section_chunks,
                         audience=evidence.audience, scorer=self.scorer, asked_drugs=evidence.asked_drugs,
                         find_drugs=evidence.find_drugs, keep_features=keep_features,
                         asked=evidence.asked)
        signals = EvidenceSignals(len(evidence.candidates), built.evidence, built.coverage)
        return Draft(built.bottom_line, built.sections, built.references, built.covered_topics, signals)


Encode = Callable[[list[str]], np.ndarray]


def _llm(settings: AnswerSettings, llm: LLMSettings | None, encode: Encode | None) -> AnswerGenerator:
    from app.query.llm_generator import LLMGenerator  # imports this module

    if encode is None:
        raise ValueError("the llm generator needs the sentence encoder (pass encode=)")
    return LLMGenerator(settings, llm or LLMSettings(), encode)


GENERATORS: dict[str, Callable[[AnswerSettings, LLMSettings | None, Encode | None], AnswerGenerator]] = {
    "extractive": lambda settings, _llm_settings, _encode: ExtractiveGenerator(settings),
    "llm": _llm,
}


def create_generator(settings: AnswerSettings, llm: LLMSettings | None = None, encode: Encode | None = None,
                     name: str | None = None) -> AnswerGenerator:
    """The generator ``name`` (default ``settings.generator``); ``llm`` and ``encode`` (the sentence encoder) are
    what the ``llm`` generator needs."""
    name = name or settings.generator
    if name not in GENERATORS:
        raise ValueError(f"unknown answer generator {name!r}; known: {sorted(GENERATORS)}")
    return GENERATORS[name](settings, llm, encode)
