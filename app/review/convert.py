"""ORM rows -> the service's pydantic models."""

from __future__ import annotations

from typing import Any

from app.review.models import Article, ArticleSummary, Feedback, ReviewEvent
from app.review.tables import ArticleRow, EventRow, FeedbackRow
from app.review.workflow import Status
from app.query.schemas import Answer

#: Columns of an :class:`ArticleSummary` (lists never load answers or vectors).
SUMMARY_COLUMNS = (
    ArticleRow.id, ArticleRow.question, ArticleRow.audience, ArticleRow.status, ArticleRow.version,
    ArticleRow.views, ArticleRow.index_version, ArticleRow.created_at, ArticleRow.updated_at,
    ArticleRow.last_approved_by, ArticleRow.last_approved_at,
)


def _summary_fields(values: Any) -> dict[str, Any]:
    approved = values.status == Status.approved.value
    return {
        "id": values.id, "question": values.question, "audience": values.audience, "status": values.status,
        "version": values.version, "views": values.views, "index_version": values.index_version,
        "created_at": values.created_at, "updated_at": values.updated_at,
        "approved_by": values.last_approved_by if approved else None,
        "approved_at": values.last_approved_at if approved else None,
    }


def summary(values: Any) -> ArticleSummary:
    """From an :class:`ArticleRow` or a result row of :data:`SUMMARY_COLUMNS`."""
    return ArticleSummary(**_summary_fields(values))


def article(row: ArticleRow) -> Article:
    return Article(
        **_summary_fields(row), answer=Answer.model_validate(row.answer), cited=dict(row.cited),
        has_vector=row.question_vector is not None,
    )


def event(row: EventRow) -> ReviewEvent:
    return ReviewEvent(article_id=row.article_id, from_status=Status(row.from_status) if row.from_status else None,
                       to_status=Status(row.to_status), reviewer=row.reviewer, at=row.at, note=row.note)


def feedback(row: FeedbackRow) -> Feedback:
    return Feedback.model_validate({"id": row.id, "article_id": row.article_id, "kind": row.kind,
                                    "statement_index": row.statement_index, "reason": row.reason, "note": row.note,
                                    "at": row.at})


def statement_count(answer_json: dict[str, Any]) -> int:
    """Statements feedback can point at (bottom line + sections), counted on the stored JSON."""
    bottom = 1 if answer_json.get("bottom_line") else 0
    return bottom + sum(len(s.get("statements", [])) for s in answer_json.get("sections", []))
