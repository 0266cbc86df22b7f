"""Checks of the service's inputs: each failure is an :class:`InvalidInputError` (or not-found) naming the problem."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from pydantic import ValidationError

from app.review.content import (
    ARTICLE_ID_RE,
    CHUNK_HASH_RE,
    check_text,
    cited_chunk_ids,
    encode_vector,
    new_article_id,
    question_key,
)
from app.review.errors import ArticleNotFoundError, InvalidInputError
from app.review.workflow import Status
from app.query.schemas import Answer
from core.contracts import MAX_QUESTION_CHARS


def check_id(article_id: str) -> None:
    if not isinstance(article_id, str) or not ARTICLE_ID_RE.match(article_id):
        raise ArticleNotFoundError(str(article_id)[:40])


def checked_status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise InvalidInputError(f"unknown status {str(value)[:40]!r}; statuses: "
                                f"{', '.join(s.value for s in Status)}") from None


def checked_text(value: str, what: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"{what} is empty")
    if len(value) > limit:
        raise InvalidInputError(f"{what} is {len(value)} characters; the limit is {limit}")
    try:
        return check_text(value, what)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "feedback"
    return f"{where}: {err['msg']}"


def checked_article(question: str, audience: str, answer: Answer, index_version: str, cited: dict[str, str],
                     question_vector: Sequence[float] | np.ndarray | None) -> dict[str, Any]:
    """The column values of a new article, or InvalidInputError naming the first problem."""
    question = checked_text(question, "question", MAX_QUESTION_CHARS, required=True)
    if audience not in ("clinician", "patient"):
        raise InvalidInputError(f"unknown audience {str(audience)[:40]!r}; use 'clinician' or 'patient'")
    if not isinstance(answer, Answer):
        raise InvalidInputError("answer must be an app.query.schemas.Answer")
    if answer.audience != audience:
        raise InvalidInputError(f"the answer was made for {answer.audience!r}, not {audience!r}")
    index_version = checked_text(index_version, "index_version", 200, required=True)
    if not isinstance(cited, dict) or not all(isinstance(k, str) and k for k in cited):
        raise InvalidInputError("cited must map chunk ids to content hashes")
    bad = [k for k, v in cited.items() if not isinstance(v, str) or not CHUNK_HASH_RE.match(v)]
    if bad:
        raise InvalidInputError(f"cited hash of {bad[0]!r} is not 16 lowercase hex characters (chunk_hash(text))")
    missing = [c for c in cited_chunk_ids(answer) if c not in cited]
    if missing:
        raise InvalidInputError(f"cited lacks the hash of {len(missing)} cited chunk(s): {', '.join(missing[:5])}")
    vector = None if question_vector is None else checked_vector(question_vector)
    stored = answer.model_copy(update={"trace": None}).model_dump(mode="json")
    return {"id": new_article_id(), "question": question, "audience": audience, "answer": stored,
            "index_version": index_version, "cited": dict(cited), "question_vector": vector,
            "question_key": question_key(question)}


def checked_vector(vector: Sequence[float] | np.ndarray) -> bytes:
    """The stored form (:func:`~app.review.content.encode_vector`) of a question vector, or InvalidInputError."""
    try:
        return encode_vector(vector)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"question_vector: {exc}") from None
