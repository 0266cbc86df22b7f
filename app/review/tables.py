"""The review store's tables (SQLAlchemy 2 typed ORM). The schema itself is created by the Alembic migrations in
``migrations/versions``; a test checks that these models and the migrated schema agree.

- ``review_articles``: one stored answer ("article") and its current review state.
- ``review_events``: every status change (history; never updated or deleted except with its article).
- ``review_feedback``: readers' ratings and problem reports.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

STATUSES = ("submitted", "under_review", "approved", "changes_requested", "needs_re_review")
FEEDBACK_KINDS = ("helpful", "not_helpful", "report")
REPORT_REASONS = ("wrong", "outdated", "unsupported")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the review store; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class ArticleRow(Base):
    __tablename__ = "review_articles"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="ck_review_articles_status"),
        CheckConstraint(_in("audience", ("clinician", "patient")), name="ck_review_articles_audience"),
        Index("ix_review_articles_status", "status"),
        Index("ix_review_articles_audience_status", "audience", "status"),
        Index("ix_review_articles_question_key", "audience", "question_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    index_version: Mapped[str] = mapped_column(String(200))
    cited: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    views: Mapped[int] = mapped_column(Integer)
    question_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    question_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_approved_by: Mapped[str | None] = mapped_column(String(200))
    last_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventRow(Base):
    __tablename__ = "review_events"
    __table_args__ = (
        CheckConstraint(_in("to_status", STATUSES), name="ck_review_events_to_status"),
        Index("ix_review_events_article", "article_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("review_articles.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)


class FeedbackRow(Base):
    __tablename__ = "review_feedback"
    __table_args__ = (
        CheckConstraint(_in("kind", FEEDBACK_KINDS), name="ck_review_feedback_kind"),
        CheckConstraint(f"reason IS NULL OR {_in('reason', REPORT_REASONS)}", name="ck_review_feedback_reason"),
        Index("ix_review_feedback_article", "article_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("review_articles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    statement_index: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
