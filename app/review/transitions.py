"""Applying one status change inside the caller's transaction: the optimistic-lock UPDATE plus the history row.

The UPDATE matches ``id`` AND the ``version`` the caller read, and increments the version; when it matches no
row, another review won in between and :class:`~app.review.errors.ConflictError` names the state that won. The
caller's transaction holds both statements, so a failure anywhere leaves the previous state and no event.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.review.errors import ArticleNotFoundError, ConflictError
from app.review.tables import ArticleRow, EventRow
from app.review.workflow import Status


def new_event(article_id: str, from_status: Status | None, to: Status, reviewer: str, note: str,
              at: datetime) -> EventRow:
    """The history row of a status change (a separate function so tests can make it fail mid-transition)."""
    return EventRow(article_id=article_id, from_status=from_status.value if from_status else None,
                    to_status=to.value, reviewer=reviewer, at=at, note=note)


def apply_transition(session: Session, article_id: str, from_status: Status, from_version: int, to: Status,
                     reviewer: str, note: str, now: datetime) -> int:
    """Move the article from ``from_status``/``from_version`` to ``to``; returns the new version.

    Legality is the caller's check (:func:`app.review.workflow.is_allowed`); this only guards against a
    concurrent change.
    """
    values: dict[str, object] = {"status": to.value, "version": ArticleRow.version + 1, "updated_at": now}
    if to is Status.approved:
        values.update(last_approved_by=reviewer, last_approved_at=now)
    result = session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id, ArticleRow.version == from_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        winner = session.execute(
            select(ArticleRow.status, ArticleRow.version).where(ArticleRow.id == article_id)
        ).one_or_none()
        if winner is None:
            raise ArticleNotFoundError(article_id)
        raise ConflictError(article_id, Status(winner.status), winner.version, from_version)
    session.add(new_event(article_id, from_status, to, reviewer, note, now))
    session.flush()
    return from_version + 1
