"""Errors of the review store, each naming the problem (the HTTP layer maps them to status codes).

- :class:`ReviewStoreError` (503-style): the database cannot be used -- locked, missing, unwritable, not a
  database, unreachable, driver missing, schema from a newer medcite.
- :class:`ArticleNotFoundError` (404): no article with that id.
- :class:`TransitionRejected` (409): :class:`IllegalTransitionError` or :class:`ConflictError`; both carry the
  article's current status, version and the statuses allowed from it.
- :class:`InvalidInputError` (422): bad question, audience, cited hashes, vector or feedback.
- :class:`StorageDisabledError`: ``review.store_answers`` does not allow storing this answer.
- :class:`StorageFullError` (503-style): ``review.max_unreviewed`` articles already wait for a reviewer.

>>> e = IllegalTransitionError("a-xyz", Status.submitted, Status.approved, version=1)
>>> str(e)
"article a-xyz is 'submitted': it cannot move to 'approved'; allowed next: under_review"
>>> [s.value for s in e.allowed]
['under_review']
"""

from __future__ import annotations

from app.review.workflow import Status, allowed_next


class ReviewError(Exception):
    """Base class of every error raised by :mod:`app.review`."""


class ReviewStoreError(ReviewError):
    """The review database cannot be used; ``where`` is the SQLite path or the URL without its password."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"review database {where}: {problem}")


class DatabaseLockedError(ReviewStoreError):
    """Another process holds the SQLite write lock for longer than ``review.busy_timeout_s``."""


class DatabaseUnavailableError(ReviewStoreError):
    """The file cannot be opened or written, is not a database, or the server cannot be reached."""


class DriverMissingError(ReviewStoreError, ImportError):
    """A PostgreSQL URL is configured but psycopg is not installed."""


class SchemaError(ReviewStoreError):
    """The database schema cannot be brought to this medcite's revision (e.g. it is from a newer medcite)."""


class ArticleNotFoundError(ReviewError, LookupError):
    """No article has this id (it never existed, or retention purged it)."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"no article {article_id!r}")


class TransitionRejected(ReviewError):
    """A status change was refused; ``current``/``version`` are the article's state now, ``allowed`` its next steps."""

    def __init__(self, article_id: str, current: Status, version: int, message: str) -> None:
        self.article_id = article_id
        self.current = current
        self.version = version
        self.allowed: tuple[Status, ...] = allowed_next(current)
        super().__init__(message)

    @property
    def allowed_names(self) -> list[str]:
        return [s.value for s in self.allowed]


class IllegalTransitionError(TransitionRejected):
    """The workflow table (:data:`app.review.workflow.TRANSITIONS`) has no edge from the current status to ``to``."""

    def __init__(self, article_id: str, current: Status, to: Status, version: int) -> None:
        self.to = to
        allowed = ", ".join(s.value for s in allowed_next(current)) or "none"
        super().__init__(
            article_id, current, version,
            f"article {article_id} is {current.value!r}: it cannot move to {to.value!r}; allowed next: {allowed}",
        )


class ConflictError(TransitionRejected):
    """Another review changed the article first (optimistic lock): the state that won is ``current``/``version``."""

    def __init__(self, article_id: str, current: Status, version: int, expected_version: int) -> None:
        self.expected_version = expected_version
        allowed = ", ".join(s.value for s in allowed_next(current)) or "none"
        super().__init__(
            article_id, current, version,
            f"article {article_id} was changed by another review: expected version {expected_version}, it is now "
            f"{current.value!r} at version {version}; allowed next: {allowed}",
        )


class InvalidInputError(ReviewError, ValueError):
    """Input that the store refuses, with the field and the problem."""


class StorageDisabledError(ReviewError):
    """Storing this answer is not allowed by ``review.store_answers``."""


class StorageFullError(ReviewError):
    """``review.max_unreviewed`` stored articles already wait for a reviewer: nothing more is stored until reviewers
    or retention make room."""
