"""Request and response models of the query side (they generate the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.query.escaping import reject_lone_surrogates
from core.contracts import MAX_QUESTION_CHARS, MAX_TURNS
from core.models import Audience, DocType

RetrieverName = Literal["bm25", "dense", "hybrid", "hybrid+rerank"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: object) -> object:
        return reject_lone_surrogates(data)


class Filters(_Strict):
    """Metadata filters applied before ranking."""

    issuer: list[str] | None = Field(None, description="Keep passages whose issuer contains one of these (case-insensitive).")
    type: list[DocType] | None = Field(None, description="Keep these reference types.")
    audience: Audience | None = Field(None, description="Keep passages written for this audience.")
    year_min: int | None = Field(None, ge=1800, le=2100, description="Earliest publication year (undated sources excluded).")
    year_max: int | None = Field(None, ge=1800, le=2100, description="Latest publication year (undated sources excluded).")


def _clean_question(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("question is empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is {len(value)} characters; the limit is {MAX_QUESTION_CHARS}")
    return value


class Turn(_Strict):
    """An earlier exchange of the conversation, oldest first."""

    question: str = Field(..., max_length=MAX_QUESTION_CHARS, description="What the user asked.")
    answer: str | None = Field(None, max_length=20000, description="What medcite answered (Markdown or text).")
    cited_chunk_ids: list[str] = Field(default_factory=list, max_length=50, description="Chunks that answer cited.")


class AnswerRequest(_Strict):
    question: str = Field(..., description="The clinician's question (1-2,000 characters).")
    turns: list[Turn] = Field(default_factory=list, max_length=MAX_TURNS, description="Earlier turns, oldest first.")
    audience: Audience = Field("clinician", description="'clinician' prefers guidelines; 'patient' patient information.")
    top_k: int | None = Field(None, ge=1, le=50, description="Passages used for the answer (default from settings).")
    filters: Filters | None = Field(None, description="Metadata filters.")
    debug: bool = Field(False, description="Attach a retrieval trace.")
    generator: Literal["extractive", "llm"] | None = Field(
        None, description="Answer generator for this request (default: answer.generator): 'llm' needs llm.base_url.")

    _q = field_validator("question")(_clean_question)


class SearchRequest(_Strict):
    query: str = Field(..., description="Search text (1-2,000 characters).")
    top_k: int = Field(10, ge=1, le=100, description="Passages returned.")
    filters: Filters | None = Field(None, description="Metadata filters.")
    retriever: RetrieverName = Field("hybrid", description="Which ranking to use.")

    _q = field_validator("query")(_clean_question)


class Passage(BaseModel):
    """A ranked chunk with its source metadata."""

    chunk_id: str
    doc_id: str
    rank: int = Field(description="1-based rank in the final list.")
    score: float = Field(description="Final score (fused or reranked).")
    retriever: str = Field(description="Stage that produced the final score.")
    sources: dict[str, int] = Field(default_factory=dict, description="Rank in each retriever that found it.")
    text: str
    title: str
    issuer: str = ""
    type: DocType = DocType.other
    year: int | None = None
    url: str = ""
    pages: list[int] = Field(default_factory=list)
    section_path: list[str] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    retriever: str
    passages: list[Passage]
    timings_ms: dict[str, float] = Field(default_factory=dict)


class Statement(BaseModel):
    """A source sentence (verbatim or trimmed) and the references that support it."""

    text: str
    citations: list[int] = Field(description="Reference numbers, rendered as [n].")
    chunk_id: str = Field(description="Chunk the sentence comes from.")
    grade: str | None = Field(None, description="Evidence grade the source states for this sentence, e.g. "
                              "'USPSTF grade A', 'VA/DoD: strong for', 'Level of evidence C1 (PDQ)'.")
    generated: bool = Field(False, description="Written by the language model (generator 'llm'), not a source "
                            "sentence.")
    verified: bool | None = Field(None, description="For generated text: every number and drug name is in the cited "
                                  "passages and its support reaches llm.min_support (unverified text is never kept).")
    support: float | None = Field(None, description="For generated text: cosine to the best sentence of the cited "
                                  "passages.")


class Section(BaseModel):
    heading: str
    statements: list[Statement]
    ordered: bool = Field(False, description="Steps kept in the source's order (a numbered procedure such as a "
                          "diagnostic work-up); rendered as a numbered list.")


class Reference(BaseModel):
    n: int = Field(description="Reference number, by first use, from 1 without gaps.")
    type: DocType
    title: str
    issuer: str = ""
    year: int | None = None
    url: str = ""
    pages: list[int] = Field(default_factory=list)
    section: str = ""
    chunk_id: str = Field(description="First cited chunk of this source.")
    chunk_ids: list[str] = Field(default_factory=list, description="Every cited chunk of this source, in order.")
    doc_id: str
    passage: str = Field(description="The cited passage: the cited chunks' text, joined by ' … '.")
    date: str = Field("", description="The source's date as shown: 'reviewed 2025-12-30', 'released 2016-06', "
                      "'2016', or '' when unknown.")
    age_years: float | None = Field(None, description="Years since that date (None when undated).")
    possibly_superseded: bool = Field(False, description="Older than the configured age (AnswerSettings."
                                      "stale_after_years): it may have been superseded.")
    status: str = Field("", description="What the source says about its own currency (e.g. an archived summary).")
    grades: list[str] = Field(default_factory=list, description="Evidence grades of the statements citing it.")


class TraceHit(BaseModel):
    chunk_id: str
    rank: int
    score: float
    retriever: str
    sources: dict[str, int] = Field(default_factory=dict)


class Trace(BaseModel):
    resolved_query: str
    topic_shift: bool | None = None
    hits: list[TraceHit] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    evidence_score: float | None = Field(None, description="Best dense similarity of a usable sentence.")
    coverage: float | None = Field(None, description="Share of the question's key-term weight in the statements.")
    unknown_names: list[str] = Field(default_factory=list, description="Question words the index never mentions.")
    entity_checks: list[str] = Field(default_factory=list, description="What the consistency check compared and "
                                     "changed (app.query.consistency).")
    generation: dict[str, int] = Field(default_factory=dict, description="llm generator: sentences the model wrote, "
                                       "and how many were verified, replaced by their source sentence or dropped.")


class ReviewInfo(BaseModel):
    """Review state of the stored answer ("article") this answer was served from or stored as (issue 14)."""

    article_id: str = Field(description="Stable article id; the page is /a/{article_id}.")
    url: str = Field(description="Path of the article's page: '/a/{article_id}'.")
    status: str = Field(description="submitted, under_review, approved, changes_requested or needs_re_review.")
    label: str = Field(description="The status as readers see it, e.g. 'Under review'.")
    version: int = Field(description="Optimistic-lock counter of the article (send it back with a review).")
    approved_by: str | None = Field(None, description="Reviewer who approved it (only while approved).")
    approved_at: datetime | None = Field(None, description="When it was approved (UTC; only while approved).")
    updated_at: datetime = Field(description="Last status change (UTC): 'Last updated'.")
    served_from_article: bool = Field(False, description="True when this answer is a published (approved) article "
                                      "matched to the question rather than a freshly assembled answer.")
    article_question: str | None = Field(None, description="The question the article answers (set when served "
                                         "from an article: it may be worded differently from the one asked).")


class IndexCoverage(BaseModel):
    """Which retrievers served an answer and what share of the indexed chunks each covered (a partial index is
    still being built: the first stage is lexical-only)."""

    partial: bool = Field(description="True while the index is still being built (not every retriever is ready).")
    retrievers: list[str] = Field(description="Retrievers that ranked the passages, e.g. ['bm25'] or "
                                  "['bm25', 'dense'].")
    share: dict[str, float] = Field(description="Share of the indexed chunks each retriever covers (0-1).")
    documents: int = Field(description="Documents in the served index version.")
    version: str = Field(description="The served index version directory name.")
    notice: str | None = Field(None, description="What readers are told while the index is partial "
                               "(core.contracts.PARTIAL_INDEX_NOTICE); None for a complete index.")


class Answer(BaseModel):
    """A cited answer: bottom line, sections of statements, references, related questions, disclaimer."""

    question: str
    resolved_question: str = Field(description="The question after follow-up resolution.")
    audience: Audience
    bottom_line: Statement | None = Field(None, description="The most direct answer (None when abstaining).")
    sections: list[Section] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    related_questions: list[str] = Field(default_factory=list)
    disclaimer: str
    abstained: bool = False
    abstain_reason: str | None = None
    covered_topics: list[str] = Field(default_factory=list, description="Nearest topics the index covers (abstentions).")
    safety_notice: str | None = None
    currency_notice: str | None = Field(None, description="Set when a cited source may be superseded (too old).")
    review_notice: str | None = Field(None, description="Review line shown with the answer: 'Approved by <reviewer> "
                                      "on <date>' for a published article, else the pending-human-review notice "
                                      "(core.contracts.PENDING_REVIEW_NOTICE); None when abstaining.")
    review: ReviewInfo | None = Field(None, description="Set when the answer is stored as, or served from, an "
                                      "article of the review workflow.")
    index: IndexCoverage | None = Field(None, description="What served the answer; ``partial`` while the index is "
                                        "still being built (core.contracts.PARTIAL_INDEX_NOTICE is shown then).")
    generator: str = Field("extractive", description="What wrote the statements: 'extractive' (source sentences) "
                           "or 'llm:<model>' (verified model-written sentences).")
    generator_notice: str | None = Field(None, description="Why an answer asked of the llm generator is extractive "
                                         "(server down, timeout, malformed output, bottom line not verified).")
    trace: Trace | None = None
