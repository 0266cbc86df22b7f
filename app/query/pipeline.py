"""The answer pipeline: follow-up resolution -> name and spelling checks -> hybrid retrieval -> generation
(:mod:`app.query.generator`) -> abstention (:mod:`app.query.abstention`) -> a cited ``Answer`` with safety notices,
currency marks and related questions.

>>> from app.settings import Settings                          # doctest: +SKIP
>>> pipe = AnswerPipeline.from_settings(Settings())              # doctest: +SKIP
>>> pipe.answer(AnswerRequest(question="How is Wilms tumor diagnosed?")).bottom_line  # doctest: +SKIP
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.query.abstention import Abstainer
from app.query.assemble import Candidate
from app.query.citing import superseded_notice
from app.query.conditions import ConditionNames, condition_names
from app.query.consistency import check as check_consistency
from app.query.entities import DrugNames, QuestionEntities, drug_names, question_entities, vocabulary_path
from app.query.errors import RequestError
from app.query.expand import expand_query
from app.query.followup import ResolvedQuery, resolve_followup
from app.query.generator import AnswerGenerator, Evidence, create_generator
from app.query.recovery import SourceFinder
from app.query.related import QuestionBank
from app.query.retrieval import Hit, SearchEngine
from app.query.safety import detect_emergency
from app.query.schemas import (
    Answer,
    AnswerRequest,
    IndexCoverage,
    SearchRequest,
    SearchResponse,
    Trace,
    TraceHit,
)
from app.query.settings import QueryConfig
from app.query.spelling import Speller
from app.query.timings import record_timings
from core.contracts import ABSTENTION_TEXT, DISCLAIMERS, EMERGENCY_NOTICE, PARTIAL_INDEX_NOTICE, PENDING_REVIEW_NOTICE
from core.models import DocType
from index.embedding import Embedder, get_embedder
from index.lexical import LexicalIndex, tokenize
from index.sentence_vectors import SentenceVectors, sentence_texts
from index.storage import LoadedIndex, open_index

PREFERRED_TYPES = {
    "clinician": (DocType.guideline, DocType.evidence_summary, DocType.research),
    "patient": (DocType.patient_information,),
}
_LETTERS = re.compile(r"[^\W\d_]+")
#: Unknown words offered to the spelling corrector per question (bounds the cost of a question full of names);
#: further unknown words count as names the index never mentions.
MAX_SPELLING_CHECKS = 24
#: Chunks on either side of a passage looked at to complete a numbered procedure of its section.
SECTION_REACH = 6


def unknown_names(lexical: LexicalIndex, query: str, count_pieces: Callable[[str], int],
                  speller: Speller | None = None) -> tuple[list[str], list[str]]:
    """Name-like query words the index never mentions (e.g. a made-up or unindexed drug), and typo corrections.

    Words are runs of letters ("BCR::ABL1" gives "BCR" and "ABL"). A word counts when it has 5+ letters, none of its
    terms occurs in the index, no indexed term of 5+ letters begins it (so "gentler" is a form of "gentle", not a
    name), and the embedding model's word-piece vocabulary does not know it as one piece: common English words
    ("rocket") are single pieces and are left to the similarity threshold; names ("zorblaxin") split into several.
    A word within a small edit distance of an indexed term is a misspelling ("diahrrea"), not a name: its
    correction is returned instead.
    """
    knows = lexical.knows
    unknown: list[str] = []
    corrections: list[str] = []
    checks = 0
    for word in dict.fromkeys(_LETTERS.findall(query)):
        if len(word) < 5:
            continue
        terms = tokenize(word)
        lower = word.lower()
        if not terms or any(knows(t) for t in terms) or count_pieces(lower) <= 1:
            continue
        if any(knows(lower[:k]) for k in range(len(lower) - 1, 4, -1)):
            continue  # an inflected or derived form of an indexed word
        fixed = speller.correct(terms[0]) if speller and checks < MAX_SPELLING_CHECKS else None
        checks += 1
        if fixed:
            corrections.append(fixed)
        else:
            unknown.append(word)
    return unknown, corrections


def index_coverage(index: LoadedIndex) -> IndexCoverage:
    """What the loaded version can serve: a lexical-only version (first build stage) has no dense retrieval."""
    dense = getattr(index, "dense", True)
    return IndexCoverage(partial=not dense, retrievers=["bm25", "dense"] if dense else ["bm25"],
                         share={"bm25": 1.0, "dense": 1.0 if dense else 0.0},
                         documents=len(index.store.documents), version=index.path.name,
                         notice=None if dense else PARTIAL_INDEX_NOTICE)


class AnswerPipeline:
    """Holds the loaded index, model and question bank; safe to share between request threads."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: QueryConfig,
                 bank: QuestionBank | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.engine = SearchEngine(index, embedder, settings.retrieval)
        self.sentences = SentenceVectors.load(index.path)
        self.speller = Speller(index.lexical.vocabulary(), index.lexical.document_frequency)
        self.bank = bank
        self.coverage = index_coverage(index)
        self.generator = create_generator(settings.answer, settings.llm, self._encode)
        self._generators: dict[str, AnswerGenerator] = {}
        self.abstainer = Abstainer(settings.answer, settings.embedding.backend)
        self._lock = threading.Lock()
        self._sources: SourceFinder | None = None
        self._drug_names: DrugNames | None = None
        self._condition_names: ConditionNames | None = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    def generator_for(self, name: str | None) -> AnswerGenerator:
        """The generator a request names (None: the configured one), made once per process."""
        if name is None or name == self.generator.name:
            return self.generator
        with self._lock:
            if name not in self._generators:
                self._generators[name] = create_generator(self.settings.answer, self.settings.llm, self._encode,
                                                          name=name)
            return self._generators[name]

    @property
    def drug_names(self) -> DrugNames:
        """The drug-name vocabulary of the consistency check (loaded on first use, once per process)."""
        if self._drug_names is None:
            self._drug_names = drug_names(vocabulary_path(self.settings.paths.drug_names))
        return self._drug_names

    @property
    def condition_names(self) -> ConditionNames:
        """The condition-name vocabulary of the consistency check (loaded on first use, once per process)."""
        if self._condition_names is None:
            self._condition_names = condition_names(vocabulary_path(self.settings.paths.condition_names))
        return self._condition_names

    @property
    def sources(self) -> SourceFinder:
        """Maps the references of answers sent back as text to this index (built on first use)."""
        if self._sources is None:
            self._sources = SourceFinder(self.index.store)
        return self._sources

    @classmethod
    def from_settings(cls, settings: QueryConfig, bank: QuestionBank | None = None) -> "AnswerPipeline":
        """The pipeline over the configured index; ``bank``: the related-question bank when already loaded
        (:func:`load_bank`), else it is loaded here."""
        embedder = get_embedder(settings.embedding)
        index = open_index(settings.paths.index_dir, settings.index, expect_model=embedder.info)
        return cls(index, embedder, settings, bank if bank is not None else load_bank(settings))

    # ------------------------------------------------------------------ search
    def search(self, request: SearchRequest) -> SearchResponse:
        timings: dict[str, float] = {}
        hits = self.engine.search(expand_query(request.query), k=request.top_k, retriever=request.retriever,
                                  filters=request.filters, timings=timings)
        record_timings(timings, "search")
        return SearchResponse(query=request.query, retriever=request.retriever,
                              passages=self.engine.passages(hits), timings_ms=_rounded(timings))

    # ------------------------------------------------------------------ answer
    def answer(self, request: AnswerRequest) -> Answer:
        """Answer ``request``; ValueError (a 400 over HTTP) when it breaks a configured limit."""
        limits = self.settings.limits
        if len(request.question) > limits.max_question_chars:
            raise RequestError(f"question is {len(request.question)} characters; the limit is {limits.max_question_chars}")
        if len(request.turns) > limits.max_turns:
            raise RequestError(f"{len(request.turns)} earlier turns; the limit is {limits.max_turns}")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        gathered = self.gather(request, timings)
        resolved, unknown, search_text, hits = gathered.resolved, gathered.unknown, gathered.search_text, gathered.hits
        evidence, entities = gathered.evidence, gathered.entities
        qvec, candidates = evidence.query_vector, evidence.candidates
        t = time.perf_counter()
        generator = self.generator_for(request.generator)
        draft = generator.generate(evidence)
        timings["assembly"] = _ms(t)

        reason = self.abstainer.reason(draft.signals, unknown)
        write = getattr(generator, "write", None)  # a writing generator (llm) works over the draft it answers
        if write is not None and not reason:
            t = time.perf_counter()
            draft = write(evidence, draft)
            timings["generation"] = _ms(t)
        t = time.perf_counter()
        checks: list[str] = []
        if not reason and self.settings.answer.entity_check:
            checked = check_consistency(
                entities, draft.bottom_line, draft.sections,
                draft.references, {c.chunk.chunk_id: (c.chunk.text, c.meta.title) for c in candidates},
                self.drug_names, self.condition_names if self.settings.answer.condition_check else None)
            draft.bottom_line, draft.sections, draft.references = (checked.bottom_line, checked.sections,
                                                                   checked.references)
            checks = checked.checks
            if checked.gap:
                reason = f"{ABSTENTION_TEXT} {checked.gap}"  # the covered topics are shown with it
        timings["consistency"] = _ms(t)
        answer = Answer(
            question=request.question, resolved_question=resolved.text, audience=request.audience,
            disclaimer=DISCLAIMERS[request.audience],
            safety_notice=EMERGENCY_NOTICE if detect_emergency(request.question) else None,
            index=self.coverage, generator=draft.generator, generator_notice=draft.notice,
        )
        if reason:
            answer.abstained, answer.abstain_reason = True, reason
            answer.covered_topics = draft.covered_topics
        else:
            answer.bottom_line, answer.sections, answer.references = draft.bottom_line, draft.sections, draft.references
            answer.currency_notice = superseded_notice(draft.references, self.settings.answer.stale_after_years)
            answer.review_notice = PENDING_REVIEW_NOTICE  # no reviewer approved it (app.http.reviewing may)
        t = time.perf_counter()
        if self.bank is not None and self.settings.answer.related_questions:
            answer.related_questions = self.bank.related(
                request.question, qvec, self.settings.answer.related_questions,
                exclude=[request.question, *(turn.question for turn in request.turns)],
            )
        timings["related"] = _ms(t)
        timings["total"] = _ms(t0)
        record_timings(timings, "answer", {"audience": request.audience,
                                           "outcome": "abstained" if answer.abstained else "answered"})
        if request.debug:
            answer.trace = Trace(
                resolved_query=search_text, topic_shift=resolved.topic_shift if request.turns else None,
                hits=[TraceHit(chunk_id=self.index.store.chunk_ids[h.row], rank=i, score=h.score,
                               retriever=h.retriever, sources=h.sources) for i, h in enumerate(hits, start=1)],
                timings_ms=_rounded(timings), evidence_score=round(draft.signals.support, 4),
                coverage=round(draft.signals.coverage, 4), unknown_names=unknown,
                entity_checks=checks, generation=draft.tally,
            )
        return answer

    def gather(self, request: AnswerRequest, timings: dict[str, float]) -> "Gathered":
        """Follow-up resolution, name checks and retrieval: the evidence a generator works from."""
        turns = self.sources.with_citations(request.turns)  # turns sent back as text only (chat front-ends)
        resolved = resolve_followup(request.question, turns, self.embedder.encode, self.sources.topics)
        unknown, corrections = unknown_names(self.index.lexical, resolved.text, self.embedder.count_tokens,
                                             self.speller)
        search_text = expand_query(resolved.text)
        if corrections:  # misspelt terms: add the indexed spelling for BM25 and the dense query
            search_text += " " + " ".join(corrections)
        qvec = self.engine.query_vector(search_text, timings)
        prefer_rows = [self.index.store.row_of(c) for c in resolved.prefer_chunk_ids if self._has_chunk(c)]
        prefer_types = PREFERRED_TYPES[request.audience]
        k = request.top_k or self.settings.retrieval.top_k
        hits = self.engine.search(search_text, k=k, filters=request.filters, qvec=qvec,
                                  prefer_rows=prefer_rows, prefer_types=prefer_types, timings=timings)
        candidates = [self._candidate(h.row, rank) for rank, h in enumerate(hits, start=1)]
        entities = question_entities(resolved.text, self.drug_names, self.condition_names)
        evidence = Evidence(resolved.text, qvec, self.index.lexical.term_weights(search_text), candidates,
                            request.audience, prefer_types, self._section_chunks, tuple(entities.drugs),
                            self.drug_names.find, request.question if resolved.is_followup else "",
                            tuple(turn.question for turn in request.turns))
        return Gathered(resolved, unknown, search_text, hits, entities, evidence)

    def _has_chunk(self, chunk_id: str) -> bool:
        try:
            self.index.store.row_of(chunk_id)
            return True
        except KeyError:
            return False

    def _section_chunks(self, cand: Candidate, reach: int = SECTION_REACH) -> list[Candidate]:
        """The chunks of ``cand``'s section within ``reach`` chunks of it, in order (for numbered procedures)."""
        store = self.index.store
        path, ordinal = cand.chunk.section_path, cand.chunk.ordinal
        rows = [r for r in store.rows_of_document(cand.chunk.doc_id)  # ordinals first: no chunk read for the rest
                if abs(int(store.ordinals[r]) - ordinal) <= reach and store.chunks[r].section_path == path]
        return [cand if r == cand.row else self._candidate(r, cand.rank) for r in rows]

    def _candidate(self, row: int, rank: int) -> Candidate:
        store = self.index.store
        chunk = store.chunks[row]
        if self.sentences is not None:
            vecs = self.sentences.for_row(row)
        else:  # index built without sentence vectors: embed this chunk's sentences now (slower)
            title = store.meta_of_row(row).topic
            vecs = self.embedder.encode(sentence_texts([chunk], [title]))
        return Candidate(row=row, rank=rank, chunk=chunk, meta=store.meta_of_row(row), sentence_vectors=vecs)


@dataclass(frozen=True)
class Gathered:
    """What :meth:`AnswerPipeline.gather` found for a request."""

    resolved: ResolvedQuery
    unknown: list[str]
    search_text: str
    hits: list[Hit]
    entities: QuestionEntities
    evidence: Evidence


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}


def load_bank(settings: QueryConfig) -> QuestionBank | None:
    """The related-question bank of ``settings`` with its vectors (embedded once per model and bank file, then
    cached under ``<data_dir>/cache``), or None when no bank file is configured. Independent of the index, so a
    first run loads it while the index is still being built."""
    path = settings.paths.question_bank
    if not path.is_file():
        return None
    return QuestionBank.load(path, get_embedder(settings.embedding), settings.paths.data_dir / "cache")
