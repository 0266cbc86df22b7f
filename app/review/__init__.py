"""Editorial review of stored answers ("articles"): persistence and workflow (issue 14), no HTTP.

- :mod:`~app.review.service`: :class:`ReviewService`, the API the routes and the page call.
- :mod:`~app.review.workflow`: statuses and THE transition table.
- :mod:`~app.review.database`: SQLite (default ``<data_dir>/review.db``) or PostgreSQL, migrated on first use
  by the Alembic scripts in ``migrations/`` (:mod:`~app.review.migrate`).
- :mod:`~app.review.tables` (ORM), :mod:`~app.review.models` (pydantic results), :mod:`~app.review.errors`.
- :mod:`~app.review.published`: approved articles, matching, re-review on index change, retention.

This package depends on :mod:`app.query.schemas` (the ``Answer`` model) and :mod:`index` only; never on FastAPI.
"""

from app.review.content import answer_statements, chunk_hash, cited_chunk_ids, cited_hashes, current_hashes
from app.review.errors import (
    ArticleNotFoundError,
    ConflictError,
    DatabaseLockedError,
    DatabaseUnavailableError,
    DriverMissingError,
    IllegalTransitionError,
    InvalidInputError,
    ReviewError,
    ReviewStoreError,
    SchemaError,
    StorageDisabledError,
    StorageFullError,
    TransitionRejected,
)
from app.review.models import Article, ArticleSummary, Feedback, QueueItem, ReviewEvent
from app.review.service import ReviewService
from app.review.workflow import QUEUE_STATUSES, SYSTEM_REVIEWER, TRANSITIONS, Status, allowed_next, is_allowed

__all__ = [
    "Article", "ArticleNotFoundError", "ArticleSummary", "ConflictError", "DatabaseLockedError",
    "DatabaseUnavailableError", "DriverMissingError", "Feedback", "IllegalTransitionError", "InvalidInputError",
    "QUEUE_STATUSES", "QueueItem", "ReviewError", "ReviewEvent", "ReviewService", "ReviewStoreError",
    "SYSTEM_REVIEWER", "SchemaError", "Status", "StorageDisabledError", "StorageFullError", "TRANSITIONS", "TransitionRejected",
    "allowed_next", "answer_statements", "chunk_hash", "cited_chunk_ids", "cited_hashes", "current_hashes",
    "is_allowed",
]
