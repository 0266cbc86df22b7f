"""Answers with their review status (issue 14): the composition of the query pipeline and the review store.

The query core (:mod:`app.query`) knows nothing of the review store and the store (:mod:`app.review`) nothing of
HTTP; :class:`ReviewDesk` joins them for the routes (``/v1/answer``, the chat API, ``/v1/articles``):

1. The pipeline answers; every answer that states something carries the pending-human-review notice.
2. When the review store is in use (``review.store_answers`` is not ``off``, a database URL is set, or the SQLite
   file exists), the question (after follow-up resolution) is embedded and matched against the approved articles
   of its audience (cosine >= ``review.match_similarity``, answered on the served index version or with every cited
   passage unchanged; not for requests with metadata filters). A match is served as the answer -- its statements
   and references with "Approved by <reviewer> on <date>"; the safety notice, disclaimer and related questions
   follow the question actually asked -- and counts one view.
3. Otherwise, with ``store_answers = all``, the answer is stored as a new ``submitted`` article; with ``opt_in`` only
   :meth:`ReviewDesk.keep` (the user's explicit "keep this answer", ``POST /v1/articles``) stores it. Abstentions
   are never stored (there is nothing to review), but a matching approved article is served for them too.
4. Related questions come from the curated bank plus the questions of approved articles of the audience, never
   from anything unpublished.

A fault of the review store never fails an answer: the fresh answer is served with the pending notice and the
fault is logged (without question text). Only :meth:`ReviewDesk.keep` and the review routes report it (503).

Re-review: :meth:`ReviewDesk.housekeeping` rechecks the approved articles' cited passages whenever the served index
version differs from the one last checked (after an upload, a delete, a reindex or a restart on a new corpus), and
purges expired articles at most hourly; the admin swap calls it at once (:meth:`ReviewDesk.after_swap`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from app.query.entities import DrugNames, clinical_signature, drug_names
from app.query.pipeline import AnswerPipeline
from app.query.related import QuestionBank
from app.query.schemas import Answer, AnswerRequest, ReviewInfo
from app.review import (
    Article,
    ArticleNotFoundError,
    InvalidInputError,
    ReviewError,
    ReviewService,
    ReviewStoreError,
    StorageDisabledError,
    cited_hashes,
    current_hashes,
)
from app.review.content import question_key
from app.settings import Settings

log = logging.getLogger("medcite.review")
#: Longest wait (s) for the database lock when counting a view of an approved article on the answer path.
VIEW_WAIT_S = 0.1
#: Seconds between two retention purges (``review.retention_days``).
PURGE_EVERY_S = 3600.0


def index_key(pipeline: AnswerPipeline) -> str:
    """The served index version as stored with articles: the version directory's name."""
    return pipeline.index.path.name


def review_info(article: Article, *, served: bool = False) -> ReviewInfo:
    """The ``Answer.review`` block of an article."""
    return ReviewInfo(article_id=article.id, url=f"/a/{article.id}", status=article.status.value,
                      label=article.label, version=article.version, approved_by=article.approved_by,
                      approved_at=article.approved_at, updated_at=article.updated_at, served_from_article=served,
                      article_question=article.question)


def article_answer(article: Article) -> Answer:
    """The article's answer as it is shown now: its question, current status and review line."""
    return article.answer.model_copy(update={
        "question": article.question, "review": review_info(article),
        "review_notice": None if article.answer.abstained else article.review_line, "trace": None})


def served_answer(article: Article, fresh: Answer) -> Answer:
    """An approved article served as the answer to the question of ``fresh``."""
    return article.answer.model_copy(update={
        "question": fresh.question, "resolved_question": fresh.resolved_question, "disclaimer": fresh.disclaimer,
        "safety_notice": fresh.safety_notice, "related_questions": fresh.related_questions, "trace": None,
        "review": review_info(article, served=True), "review_notice": article.review_line})


class Published(NamedTuple):
    """The approved articles' questions of one audience: the bank related questions come from, and their vectors."""

    bank: QuestionBank
    vectors: np.ndarray
    keys: frozenset[str] = frozenset()

    def has_question(self, question: str) -> bool:
        """Whether ``question`` is a published question in other case or spacing (:func:`question_key`)."""
        return question_key(question) in self.keys

    def closest(self, qvec: np.ndarray) -> float:
        """Best cosine of ``qvec`` to a published question (-1.0 when there is none): matching is skipped below
        the threshold without touching the database."""
        return float(np.max(self.vectors @ qvec)) if len(self.vectors) else -1.0


class ViewLedger:
    """Which client already viewed which article within the last ``window_s`` (memory only, bounded): one client
    reloading an article page counts one view per hour, so a burst of reads cannot lift it up the queue.

    >>> ledger = ViewLedger(window_s=60, clock=iter([0.0, 1.0, 2.0, 61.5]).__next__)
    >>> [ledger.first_view("a-1", "ip:10.0.0.1") for _ in range(3)], ledger.first_view("a-1", "ip:10.0.0.1")
    ([True, False, False], True)
    """

    def __init__(self, window_s: float = 3600.0, max_entries: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.max_entries, self.clock = window_s, max_entries, clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_view(self, article_id: str, client: str) -> bool:
        """True (and remembered) when ``client`` has not viewed ``article_id`` within the window."""
        key = hashlib.sha256(f"{client}\0{article_id}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
        now = self.clock()
        with self._lock:
            seen = self._seen.pop(key, None)
            if seen is not None and now - seen < self.window_s:
                self._seen[key] = seen
                return False
            self._seen[key] = now
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True


class ReviewDesk:
    """The review side of answering, one per app (``app.state.review_desk``); thread-safe.

    The :class:`ReviewService` is created on first use, so an app whose data directory cannot hold a database
    still starts (the review routes then answer 503).
    """

    def __init__(self, settings: Settings, service: ReviewService | None = None) -> None:
        self.settings = settings
        self._service = service
        self._service_lock = threading.Lock()
        self._check_lock = threading.Lock()  # one recheck at a time
        self._bank_lock = threading.Lock()
        self._checked: str | None = None  # index version whose passages were last rechecked
        self._purged_at = float("-inf")
        self._banks: dict[tuple[int, str], tuple[Any, Published]] = {}
        self.views = ViewLedger()

    # ------------------------------------------------------------------ the store
    @property
    def service(self) -> ReviewService:
        if self._service is None:
            with self._service_lock:
                if self._service is None:
                    self._service = ReviewService(self.settings)
        return self._service

    def in_use(self) -> bool:
        """Whether there can be articles: storing is on, a database URL is set, or the SQLite file exists. While
        not, nothing touches the database (no file is created)."""
        review = self.settings.review
        if review.store_answers != "off" or review.database_url:
            return True
        return (Path(self.settings.paths.data_dir) / "review.db").is_file()

    def close(self) -> None:
        if self._service is not None:
            self._service.close()

    # ------------------------------------------------------------------ answering
    def answer(self, pipeline: AnswerPipeline, request: AnswerRequest) -> Answer:
        """The answer to ``request``: a matching approved article, else the pipeline's answer (stored as an article
        when ``review.store_answers = all``). Review-store faults are logged, never raised."""
        answer = pipeline.answer(request)
        if not self.in_use():
            return answer
        store = self.settings.review.store_answers == "all" and not answer.abstained
        try:
            return self._reviewed(pipeline, request, answer, store=store)
        except ReviewError as exc:
            log.warning("answer served without the review store: %s: %s", type(exc).__name__, exc)
        except Exception:  # a bug in the review layer must not cost the user the answer
            log.exception("answer served without the review store")
        return answer

    def keep(self, pipeline: AnswerPipeline, request: AnswerRequest) -> Answer:
        """Store the answer to ``request`` as an article because the user asked to keep it (``opt_in`` or
        ``all``); a matching approved article is returned instead of storing a copy. Raises
        :class:`StorageDisabledError` when storing is off, :class:`InvalidInputError` for an abstention and
        :class:`~app.review.ReviewStoreError` when the database cannot be used."""
        if not self.service.should_store(kept=True):
            raise StorageDisabledError("this server does not store answers (review.store_answers is 'off'): there "
                                       "is nothing to keep them in")
        return self._reviewed(pipeline, request, pipeline.answer(request), store=True, kept=True)

    def _reviewed(self, pipeline: AnswerPipeline, request: AnswerRequest, answer: Answer, *, store: bool,
                  kept: bool = False) -> Answer:
        service = self.service
        self.housekeeping(pipeline)
        if store and answer.abstained:
            raise InvalidInputError("medcite did not answer this question (it abstained): there is no answer to keep")
        published = self._published(pipeline, request.audience)
        if published is None and not store:
            return answer  # nothing published to match or relate, nothing to store: no embedding needed
        chunks = pipeline.index.store
        version = index_key(pipeline)
        qvec = pipeline.embedder.encode_query(answer.resolved_question)
        if published is not None and request.filters is None and (
                published.closest(qvec) >= self._threshold or published.has_question(answer.resolved_question)):
            match = service.find_approved_match(qvec, request.audience, version, current_hashes(chunks),
                                                same_clinical_question(answer.resolved_question,
                                                                       getattr(pipeline, "drug_names", None)),
                                                question=answer.resolved_question)
            if match is not None:
                try:
                    service.record_view(match.id, wait_s=VIEW_WAIT_S)
                except ArticleNotFoundError:  # purged this instant: answer freshly
                    match = None
                except ReviewStoreError as exc:  # locked or failing: serve the approved answer, uncounted
                    log.info("view of an approved article not counted: %s", type(exc).__name__)
            if match is not None:
                return self._with_related(pipeline, published, request, served_answer(match, answer), qvec)
        if store:
            article = service.create_article(answer.resolved_question, request.audience, answer, version,
                                             cited_hashes(answer, chunks), qvec, kept=kept)
            answer = answer.model_copy(update={"review": review_info(article), "review_notice": article.review_line})
        return self._with_related(pipeline, published, request, answer, qvec)

    # ------------------------------------------------------------------ published questions
    @property
    def _threshold(self) -> float:
        return self.settings.review.match_similarity - 1e-6  # find_approved_match has the last word

    def _with_related(self, pipeline: AnswerPipeline, published: Published | None, request: AnswerRequest,
                      answer: Answer, qvec: np.ndarray) -> Answer:
        """Related questions from the curated bank plus the published questions of the audience (unchanged
        when nothing is published)."""
        n = pipeline.settings.answer.related_questions
        if published is None or not n:
            return answer
        exclude = [request.question, *(t.question for t in request.turns)]
        if answer.review is not None and answer.review.article_question:
            exclude.append(answer.review.article_question)
        return answer.model_copy(update={"related_questions": published.bank.related(answer.question, qvec, n,
                                                                                     exclude)})

    def _published(self, pipeline: AnswerPipeline, audience: str) -> Published | None:
        """The approved articles' questions of ``audience`` (for matching and related questions), cached until
        the approved set changes; None when none is published (one small query per call)."""
        signature = self.service.approved_signature(audience)
        if not signature:
            return None
        key = (id(pipeline), audience)
        cached = self._banks.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        dim = pipeline.embedder.info.dimension
        rows = [(q, v) for _, q, v in self.service.approved_questions(audience) if v.shape == (dim,)]
        vectors = np.array([v for _, v in rows], dtype=np.float32).reshape(len(rows), dim)
        base = pipeline.bank or QuestionBank([], np.zeros((0, dim), dtype=np.float32))
        published = Published(base.with_questions([q for q, _ in rows], vectors) if rows else base, vectors,
                              frozenset(question_key(q) for q, _ in rows))
        with self._bank_lock:
            self._banks = {k: v for k, v in self._banks.items() if k[0] == id(pipeline)}  # drop swapped pipelines
            self._banks[key] = (signature, published)
        return published

    # ------------------------------------------------------------------ re-review and retention
    def housekeeping(self, pipeline: AnswerPipeline | None) -> list[str]:
        """Recheck approved articles when the served index version changed since the last check (they go to
        needs_re_review when a cited passage changed or vanished) and purge expired articles (hourly); returns the
        ids moved to needs_re_review. Raises the store's errors (the check is then retried next time)."""
        moved: list[str] = []
        if pipeline is not None and self._checked != str(pipeline.index.path):
            with self._check_lock:
                where = str(pipeline.index.path)
                if self._checked != where:
                    moved = self.service.recheck(current_hashes(pipeline.index.store))
                    self._checked = where
                    if moved:
                        log.warning("index version %s: %d approved article(s) cite changed or vanished passages "
                                    "and need re-review: %s", index_key(pipeline), len(moved), ", ".join(moved))
        if self.settings.review.retention_days is not None and time.monotonic() - self._purged_at > PURGE_EVERY_S:
            self._purged_at = time.monotonic()
            purged = self.service.purge_expired()
            if purged:
                log.info("retention: deleted %d unreviewed article(s) older than %d days", len(purged),
                         self.settings.review.retention_days)
        return moved

    def after_swap(self, pipeline: AnswerPipeline) -> None:
        """Hook of :class:`app.http.admin.Admin` after an index swap: recheck at once (never raises; a failed
        check is retried on the next request)."""
        if not self.in_use():
            return
        try:
            self.housekeeping(pipeline)
        except Exception as exc:
            log.error("re-review check after the index swap failed (retried on the next request): %s: %s",
                      type(exc).__name__, exc)


def same_clinical_question(question: str, names: DrugNames | None = None) -> Callable[[str], bool]:
    """A test for stored questions: the same stage, risk group, histology, population, drugs and negation as
    ``question`` (:func:`app.query.entities.clinical_signature`; ``names``: the pipeline's drug names); "stage I" and "stage IV" Wilms tumor read alike
    (cosine 0.947) but are managed differently, so an article approved for one is never served for the other.

    >>> same_clinical_question("How is stage I Wilms tumor treated?")("How is stage IV Wilms tumor treated?")
    False
    """
    names = names or drug_names()
    wanted = clinical_signature(question, names)
    return lambda stored: clinical_signature(stored, names) == wanted
