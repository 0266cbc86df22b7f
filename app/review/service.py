"""The review service: the API the HTTP routes and the page call (articles, workflow, feedback, queue).

Every method opens its own transaction and returns pydantic models (:mod:`app.review.models`). Approved
articles, matching, re-review and retention are in :mod:`app.review.published`; :class:`ReviewService` exposes
them too, so callers need only this class.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
from pydantic import ValidationError
from sqlalchemy import String, and_, case, cast, distinct, func, or_, select, update

from app.review import convert, published
from app.review.database import Store
from app.review.errors import (
    ArticleNotFoundError,
    ConflictError,
    IllegalTransitionError,
    InvalidInputError,
    StorageDisabledError,
    StorageFullError,
)
from app.review.keys import reviewer_for_key
from app.review.models import (
    MAX_NOTE_CHARS,
    Article,
    ArticleSummary,
    Feedback,
    FeedbackIn,
    QueueItem,
    ReviewEvent,
)
from app.review.tables import ArticleRow, EventRow, FeedbackRow
from app.review.transitions import apply_transition, new_event
from app.review.content import question_key
from app.review.validation import (
    check_id,
    checked_article,
    checked_status,
    checked_text,
    checked_vector,
    first_problem,
)
from app.review.workflow import QUEUE_STATUSES, SYSTEM_REVIEWER, Status, is_allowed
from app.query.schemas import Answer
from app.review.settings import ReviewConfig
from core.contracts import MAX_QUESTION_CHARS
Clock = Callable[[], datetime]
CurrentHashes = Callable[[list[str]], dict[str, str | None]]
MAX_NAME_CHARS = 200


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ReviewService:
    """Stored answers ("articles") and their review, over the database ``settings.review`` names.

    Creating the service touches nothing but the data directory; the database and its schema are created on
    the first call that needs them.
    """

    def __init__(self, settings: ReviewConfig, *, clock: Clock = utc_now) -> None:
        self.review = settings.review
        self.store = Store(settings.review, settings.paths.data_dir)
        self._now = clock

    def close(self) -> None:
        """Release the database connections (the service can be used again afterwards)."""
        self.store.dispose()

    # -- policy and identity -------------------------------------------------------------------------------
    def should_store(self, *, kept: bool) -> bool:
        """Whether ``review.store_answers`` allows storing an answer (``kept`` = the user asked to keep it)."""
        mode = self.review.store_answers
        return mode == "all" or (mode == "opt_in" and kept)

    def reviewer_for_key(self, key: str | None) -> str | None:
        """The configured reviewer whose key this is, or None (constant-time over all keys)."""
        return reviewer_for_key(self.review, key)

    # -- articles -----------------------------------------------------------------------------------------------
    def create_article(self, question: str, audience: str, answer: Answer, index_version: str,
                       cited: dict[str, str], question_vector: Sequence[float] | np.ndarray | None = None, *,
                       kept: bool = False) -> Article:
        """Store an answer as a new ``submitted`` article -- or return the article that already holds the same
        question for the same audience (:func:`~app.review.content.question_key`: case, spacing and trailing
        punctuation aside), counting one view, so 25 identical questions make one article.

        ``cited`` maps every chunk the answer cites (:func:`~app.review.content.cited_chunk_ids`) to
        :func:`~app.review.content.chunk_hash` of its text; ``question_vector`` (the question's embedding)
        lets later near-identical questions be matched. Refused with :class:`StorageDisabledError` unless
        :meth:`should_store` allows it, and with :class:`StorageFullError` once ``review.max_unreviewed`` articles
        wait for a reviewer.
        """
        if not self.should_store(kept=kept):
            raise StorageDisabledError(
                f"review.store_answers is {self.review.store_answers!r}: "
                + ("answers are not stored" if self.review.store_answers == "off" else
                   "only answers a user chose to keep are stored (kept=True)"))
        values = checked_article(question, audience, answer, index_version, cited, question_vector)
        now = self._now()
        note = "stored: kept by the user" if kept else "stored: review.store_answers = all"
        with self.store.session(write=True) as session:
            existing = session.scalars(select(ArticleRow).where(
                ArticleRow.audience == values["audience"], ArticleRow.question_key == values["question_key"])
                .order_by(ArticleRow.created_at, ArticleRow.id).limit(1)).first()
            if existing is not None:
                existing.views += 1
                session.flush()
                return convert.article(existing)
            waiting = session.execute(select(func.count()).select_from(ArticleRow)
                                      .where(ArticleRow.status == Status.submitted.value)).scalar_one()
            if waiting >= self.review.max_unreviewed:
                raise StorageFullError(f"the review store already holds {waiting} articles that no reviewer has "
                                       f"acted on (review.max_unreviewed = {self.review.max_unreviewed}); nothing "
                                       "more is stored until reviewers or retention make room")
            row = ArticleRow(**values, status=Status.submitted.value, version=1, views=0, created_at=now,
                             updated_at=now)
            session.add(row)
            session.flush()
            session.add(new_event(row.id, None, Status.submitted, SYSTEM_REVIEWER, note, now))
        return convert.article(row)

    def get(self, article_id: str) -> Article:
        with self.store.session(write=False) as session:
            return convert.article(_row(session, article_id))

    def record_view(self, article_id: str, wait_s: float | None = None) -> int:
        """Count one view (it orders the queue; it does not change the version); returns the new count.

        ``wait_s`` bounds the wait for another writer's lock (default ``review.busy_timeout_s``): the answer path
        passes a short one, so a locked database costs an approved answer its view count, not seconds.
        """
        check_id(article_id)
        with self.store.session(write=True, wait_s=wait_s) as session:
            result = session.execute(update(ArticleRow).where(ArticleRow.id == article_id)
                                     .values(views=ArticleRow.views + 1)
                                     .execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise ArticleNotFoundError(article_id)
            return session.execute(select(ArticleRow.views).where(ArticleRow.id == article_id)).scalar_one()

    # -- workflow ----------------------------------------------------------------------------------------------
    def transition(self, article_id: str, to: Status | str, reviewer: str, note: str = "",
                   expected_version: int | None = None, *, question: str | None = None,
                   question_vector: Sequence[float] | np.ndarray | None = None) -> Article:
        """Move an article to ``to`` on behalf of ``reviewer``, recording the event; one transaction.

        ``expected_version`` is the version the reviewer saw: if the article changed since, or another review
        wins a race, :class:`ConflictError` names the state that won. A move the table does not allow raises
        :class:`IllegalTransitionError` naming the allowed next statuses.

        ``question`` (only with ``to = approved``) is the question as the reviewer publishes it -- edited or
        redacted (a name, a record number): it replaces the stored question everywhere (article, answer, related
        questions), the original is not kept, and the history notes the edit; ``question_vector`` is its
        embedding (matching then uses it; without one the article is no longer matched by similarity).
        """
        target = checked_status(to)
        reviewer = checked_text(reviewer, "reviewer", MAX_NAME_CHARS, required=True)
        if reviewer.lower() == SYSTEM_REVIEWER:
            raise InvalidInputError(f"reviewer {SYSTEM_REVIEWER!r} is reserved for automatic changes")
        note = checked_text(note, "note", MAX_NOTE_CHARS)
        edited = None
        if question is not None:
            if target is not Status.approved:
                raise InvalidInputError("question: the published question can be edited only when approving")
            edited = checked_text(question, "question", MAX_QUESTION_CHARS, required=True)
        vector = None if question_vector is None else checked_vector(question_vector)
        now = self._now()
        with self.store.session(write=True) as session:
            row = _row(session, article_id)
            current = Status(row.status)
            if expected_version is not None and row.version != expected_version:
                raise ConflictError(article_id, current, row.version, expected_version)
            if not is_allowed(current, target):
                raise IllegalTransitionError(article_id, current, target, row.version)
            if edited is not None and edited != row.question:
                answer = dict(row.answer)
                answer.update(question=edited, resolved_question=edited)
                row.question, row.answer, row.question_vector = edited, answer, vector
                row.question_key = question_key(edited)
                session.flush()
                note = (note + " " if note else "") + "[published question edited by the reviewer]"
            apply_transition(session, article_id, current, row.version, target, reviewer, note, now)
            session.refresh(row)
            return convert.article(row)

    def history(self, article_id: str) -> list[ReviewEvent]:
        """Every status change of the article, oldest first (creation first)."""
        with self.store.session(write=False) as session:
            _row(session, article_id)
            rows = session.scalars(select(EventRow).where(EventRow.article_id == article_id).order_by(EventRow.id))
            return [convert.event(r) for r in rows]

    # -- feedback ---------------------------------------------------------------------------------------------
    def add_feedback(self, article_id: str, kind: str, statement_index: int | None = None,
                     reason: str | None = None, note: str = "") -> Feedback:
        """Record a rating (``helpful``/``not_helpful``) or a ``report`` (reason ``wrong``/``outdated``/
        ``unsupported``) on the whole answer (``statement_index=None``) or one statement."""
        try:
            given = FeedbackIn(kind=kind, statement_index=statement_index, reason=reason, note=note)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise InvalidInputError(first_problem(exc)) from None
        with self.store.session(write=True) as session:
            row = _row(session, article_id)
            if given.statement_index is not None:
                count = convert.statement_count(row.answer)
                if given.statement_index >= count:
                    span = f"0-{count - 1}" if count else "none"
                    raise InvalidInputError(f"statement_index {given.statement_index} is out of range: the answer "
                                            f"has {count} statements ({span})")
            fb = FeedbackRow(article_id=article_id, kind=given.kind, statement_index=given.statement_index,
                             reason=given.reason, note=given.note, at=self._now())
            session.add(fb)
            session.flush()
            return convert.feedback(fb)

    def feedback(self, article_id: str) -> list[Feedback]:
        with self.store.session(write=False) as session:
            _row(session, article_id)
            rows = session.scalars(select(FeedbackRow).where(FeedbackRow.article_id == article_id)
                                   .order_by(FeedbackRow.id))
            return [convert.feedback(r) for r in rows]

    def queue(self, limit: int = 50) -> list[QueueItem]:
        """Articles waiting for a reviewer (submitted, under review, needs re-review, changes requested) and
        approved articles reported since their approval: most distinct open reports first (statement and reason:
        the same report sent 50 times counts once), then most views, then oldest.

        ``reports`` counts the reports since the last approval (all of them for a never-approved article): a
        reviewer who approves again has answered the earlier ones.
        """
        if not 1 <= limit <= 1000:
            raise InvalidInputError(f"limit must be 1-1000, got {limit}")
        since = or_(ArticleRow.last_approved_at.is_(None), FeedbackRow.at > ArticleRow.last_approved_at)
        open_report = and_(FeedbackRow.kind == "report", since)
        # what a report is about (statement and reason): a burst of the same report orders the queue as one
        about = func.coalesce(cast(FeedbackRow.statement_index, String), "all") + ":" + \
            func.coalesce(FeedbackRow.reason, "")
        counts = (select(FeedbackRow.article_id,
                         func.sum(case((open_report, 1), else_=0)).label("report"),
                         func.count(distinct(case((open_report, about), else_=None))).label("distinct_reports"),
                         *(func.sum(case((FeedbackRow.kind == k, 1), else_=0)).label(k)
                           for k in ("helpful", "not_helpful")))
                  .join(ArticleRow, ArticleRow.id == FeedbackRow.article_id)
                  .group_by(FeedbackRow.article_id).subquery())
        reports = func.coalesce(counts.c.report, 0)
        waiting = or_(ArticleRow.status.in_([s.value for s in QUEUE_STATUSES]),
                      and_(ArticleRow.status == Status.approved.value, reports > 0))
        query = (select(*convert.SUMMARY_COLUMNS, reports.label("reports"),
                        func.coalesce(counts.c.helpful, 0).label("helpful"),
                        func.coalesce(counts.c.not_helpful, 0).label("not_helpful"))
                 .outerjoin(counts, counts.c.article_id == ArticleRow.id)
                 .where(waiting)
                 .order_by(func.coalesce(counts.c.distinct_reports, 0).desc(), ArticleRow.views.desc(),
                           ArticleRow.created_at, ArticleRow.id)
                 .limit(limit))
        with self.store.session(write=False) as session:
            return [QueueItem(article=convert.summary(r), reports=r.reports, helpful=r.helpful,
                              not_helpful=r.not_helpful) for r in session.execute(query)]

    # -- published articles (see app.review.published) ----------------------------------------------------------
    def approved(self, audience: str | None = None, limit: int | None = None) -> list[ArticleSummary]:
        """Approved articles (most viewed first), e.g. for related questions."""
        return published.approved(self.store, audience, limit)

    def approved_signature(self, audience: str) -> tuple[tuple[str, int], ...]:
        """(id, version) of the approved articles of ``audience`` that have a question vector (a cache key)."""
        return published.approved_signature(self.store, audience)

    def approved_questions(self, audience: str) -> list[tuple[str, str, np.ndarray]]:
        """(id, question, unit vector) of the approved articles of ``audience``: the published questions."""
        return published.approved_questions(self.store, audience)

    def similar_approved(self, question_vector: Sequence[float] | np.ndarray, audience: str, limit: int = 5,
                         min_similarity: float = 0.0) -> list[tuple[ArticleSummary, float]]:
        """Approved articles of ``audience`` by cosine similarity of their question to ``question_vector``."""
        return published.similar(self.store, question_vector, audience, limit, min_similarity)

    def find_approved_match(self, question_vector: Sequence[float] | np.ndarray, audience: str,
                            index_version: str, current_hashes: CurrentHashes,
                            same_question: Callable[[str], bool] | None = None,
                            question: str | None = None) -> Article | None:
        """The approved article to serve for this question, or None (see :func:`published.find_match`);
        ``same_question(stored question)`` can refuse an article asked about something clinically different
        (app.http.reviewing passes :func:`app.query.entities.clinical_signature` equality)."""
        return published.find_match(self.store, question_vector, audience, index_version, current_hashes,
                                     self.review.match_similarity, same_question,
                                     None if question is None else question_key(question))

    def recheck(self, current_hashes: CurrentHashes) -> list[str]:
        """Move approved articles whose cited passages changed or vanished to needs_re_review; their ids."""
        return published.recheck(self.store, current_hashes, self._now)

    def purge_expired(self, now: datetime | None = None) -> list[str]:
        """Delete articles nobody reviewed within ``review.retention_days``; their ids."""
        return published.purge_expired(self.store, self.review.retention_days, now or self._now())


def _row(session: Any, article_id: str) -> ArticleRow:
    check_id(article_id)
    row = session.get(ArticleRow, article_id)
    if row is None:
        raise ArticleNotFoundError(article_id)
    return row
