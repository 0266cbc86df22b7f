"""Pydantic results of the review service (never ORM objects) and the feedback input model."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.review.content import check_text
from app.review.workflow import Status
from app.query.schemas import Answer
from core.contracts import APPROVED_TEMPLATE, PENDING_REVIEW_NOTICE, REVIEW_STATUS_LABELS
from core.models import Audience

FeedbackKind = Literal["helpful", "not_helpful", "report"]
ReportReason = Literal["wrong", "outdated", "unsupported"]
MAX_NOTE_CHARS = 2000


class ArticleSummary(BaseModel):
    """An article without its answer: what lists (queue, approved, related questions) need."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable id: 'a-' + 12 URL-safe characters; the page is /a/{id}.")
    question: str
    audience: Audience
    status: Status
    version: int = Field(description="Optimistic-lock counter: +1 on every status change.")
    views: int
    index_version: str = Field(description="Index version the answer was made on.")
    created_at: datetime = Field(description="UTC.")
    updated_at: datetime = Field(description="UTC; last status change (views do not count).")
    approved_by: str | None = Field(None, description="Reviewer who approved it (only while status is approved).")
    approved_at: datetime | None = Field(None, description="When (UTC; only while status is approved).")

    @property
    def label(self) -> str:
        """The status as readers see it, e.g. 'Under review'."""
        return REVIEW_STATUS_LABELS[self.status.value]

    @property
    def review_line(self) -> str:
        """'Approved by {reviewer} on {date}' when approved, else the pending-review notice.

        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
        >>> a = ArticleSummary(id="a-AAAAAAAAAAAA", question="q", audience="clinician", status="approved",
        ...     version=3, views=0, index_version="v1", created_at=t, updated_at=t, approved_by="Dr Lee",
        ...     approved_at=t)
        >>> a.review_line
        'Approved by Dr Lee on 2026-03-01'
        >>> a.model_copy(update={"status": Status.needs_re_review}).review_line == PENDING_REVIEW_NOTICE
        True
        """
        if self.status is Status.approved and self.approved_by and self.approved_at:
            return APPROVED_TEMPLATE.format(reviewer=self.approved_by, date=self.approved_at.date().isoformat())
        return PENDING_REVIEW_NOTICE


class Article(ArticleSummary):
    """A stored answer with its review state."""

    answer: Answer = Field(description="The structured answer as it was given (without the debug trace).")
    cited: dict[str, str] = Field(description="Cited chunk id -> content hash of its text when answered.")
    has_vector: bool = Field(description="Whether a question vector is stored (needed for matching).")

    def summary(self) -> ArticleSummary:
        return ArticleSummary.model_validate(self.model_dump(include=set(ArticleSummary.model_fields)))


class QueueItem(BaseModel):
    """An article waiting for a reviewer, with the numbers that order the queue."""

    article: ArticleSummary
    reports: int = Field(description="Problem reports (feedback kind 'report').")
    helpful: int
    not_helpful: int


class ReviewEvent(BaseModel):
    """One status change, kept as history (creation is the first event, from None to 'submitted')."""

    article_id: str
    from_status: Status | None
    to_status: Status
    reviewer: str = Field(description="Reviewer name; 'system' for automatic changes.")
    at: datetime = Field(description="UTC.")
    note: str


class FeedbackIn(BaseModel):
    """A reader's feedback on an article, validated before it is stored."""

    model_config = ConfigDict(extra="forbid")

    kind: FeedbackKind
    statement_index: int | None = Field(
        None, ge=0, description="Statement it is about (0 = bottom line if any, then sections in order); None = the "
        "whole answer.",
    )
    reason: ReportReason | None = Field(None, description="Required for kind 'report', refused otherwise.")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description="Free text.")

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str) -> str:
        return check_text(value, "note")

    @model_validator(mode="after")
    def _reason_only_for_reports(self) -> "FeedbackIn":
        if self.kind == "report" and self.reason is None:
            raise ValueError("a report needs a reason: wrong, outdated or unsupported")
        if self.kind != "report" and self.reason is not None:
            raise ValueError(f"feedback of kind {self.kind!r} takes no reason (only reports do)")
        return self


class Feedback(FeedbackIn):
    """Stored feedback."""

    id: int
    article_id: str
    at: datetime = Field(description="UTC.")
