"""Review routes (issue 14): stored answers ("articles"), the reviewer workflow, readers' feedback, the queue.

* ``GET /v1/review/policy`` -- what this server stores (the page shows "Keep this answer" only for ``opt_in``).
* ``POST /v1/articles`` -- "keep this answer": answers the request and stores it as a ``submitted`` article (201,
  ``Location: /a/{id}``); 200 with the published article when an approved one matches; 403 when storing is off.
* ``GET /v1/articles/{id}`` -- the article (status, reviewer, dates, the answer); counts a view unless a reviewer
  reads it (one per reader address and hour, remembered in memory only). Its id (72 random bits) is what lets anyone read it: only the user who kept it and reviewers know it.
* ``POST /v1/articles/{id}/feedback`` -- a rating (helpful / not helpful) or a problem report on a statement
  (wrong / outdated / unsupported).
* Reviewer routes, with ``Authorization: Bearer <reviewer key>`` (``MEDCITE_REVIEWER_KEYS``; the reviewer is the
  key's name; admin keys are not reviewer keys): ``POST /v1/articles/{id}/review`` ``{to, note, expected_version,
  question}`` (``question``: the published wording, edited or redacted, when approving),
  ``GET /v1/articles/{id}/history``, ``GET /v1/articles/{id}/feedback``, ``GET /v1/review/queue``.
* Pages: ``/a/{id}`` (an article) and ``/review`` (the reviewer view) serve the page, which fetches the rest.

Errors use the native envelope: 404 unknown id, 409 illegal transition or concurrent review (``details`` name the
current status, version and the allowed next statuses), 422 bad input, 503 when the database is locked or cannot
be used (without server paths; the details go to the server log).
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from app.http.deps import loaded_pipeline, ready_pipeline, review_desk
from app.http.errors import error_response
from app.http.reviewing import ReviewDesk, article_answer, index_key
from app.http.routers.web import STATIC_DIR
from app.http.security import bearer_scheme
from app.query.pipeline import AnswerPipeline
from app.query.schemas import Answer, AnswerRequest
from app.review import (
    Article,
    ArticleNotFoundError,
    DatabaseLockedError,
    DriverMissingError,
    Feedback,
    InvalidInputError,
    ReviewEvent,
    ReviewStoreError,
    SchemaError,
    Status,
    StorageDisabledError,
    StorageFullError,
    TransitionRejected,
    allowed_next,
    current_hashes,
)
from app.review.models import MAX_NOTE_CHARS, ArticleSummary, FeedbackIn
from core.contracts import MAX_QUESTION_CHARS
from core.models import Audience

log = logging.getLogger("medcite.review")
router = APIRouter(tags=["review"])
pages = APIRouter(include_in_schema=False)
REVIEWER_RESPONSES = {401: {"description": "No reviewer key."}, 403: {"description": "Not a reviewer key."}}


# ---------------------------------------------------------------------------------------------- models
class ReviewPolicy(BaseModel):
    store_answers: str = Field(description="'off' (nothing stored), 'opt_in' (POST /v1/articles keeps an answer) or "
                               "'all' (every answer is stored).")
    keep_url: str | None = Field(description="Where to POST an AnswerRequest to keep its answer (None when off).")
    reviewers: bool = Field(description="Whether reviewer keys are configured.")


class ArticleView(BaseModel):
    """An article as clients see it: its review state and the answer with its current review line."""

    id: str
    url: str = Field(description="The article's page: /a/{id}.")
    question: str
    audience: Audience
    status: Status
    label: str = Field(description="Status as readers see it, e.g. 'Needs re-review'.")
    review_line: str = Field(description="'Approved by <reviewer> on <date>', or the pending-review notice.")
    version: int = Field(description="Send it back as expected_version with a review (optimistic lock).")
    allowed_next: list[Status] = Field(description="Statuses a reviewer may move it to now.")
    views: int
    index_version: str
    created_at: datetime
    updated_at: datetime = Field(description="Last updated (UTC).")
    approved_by: str | None = None
    approved_at: datetime | None = None
    answer: Answer


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Status = Field(description="Target status (see allowed_next).")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description="Why: kept in the history.")
    expected_version: int | None = Field(None, ge=1, description="The version the reviewer saw; a review of an "
                                         "article changed since is refused with 409.")
    question: str | None = Field(None, min_length=1, max_length=MAX_QUESTION_CHARS,
                                 description="Only with to='approved': the question as it is published (shown to "
                                 "everyone as a related question and on the article) -- edit or redact names, record "
                                 "numbers and other patient details; it replaces the stored question.")


class QueueEntry(BaseModel):
    article: ArticleSummary
    label: str
    allowed_next: list[Status]
    reports: int = Field(description="Problem reports.")
    helpful: int
    not_helpful: int


def _summary_view(summary: ArticleSummary) -> dict:
    return {"label": summary.label, "allowed_next": list(allowed_next(summary.status))}


def article_view(article: Article) -> ArticleView:
    fields = article.model_dump(include=set(ArticleSummary.model_fields))
    return ArticleView(**fields, url=f"/a/{article.id}", review_line=article.review_line,
                       answer=article_answer(article), **_summary_view(article))


# ---------------------------------------------------------------------------------------------- identity
def require_reviewer(credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
                     desk: ReviewDesk = Depends(review_desk)) -> str:
    """The reviewer's name (the key's name); 401 without a key, 403 with a key that is not a reviewer's."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, detail="a reviewer key is required: send 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not desk.settings.review.reviewer_keys:
        raise HTTPException(403, detail="the review API is disabled: no reviewer keys are configured "
                                        "(set MEDCITE_REVIEWER_KEYS)")
    reviewer = desk.service.reviewer_for_key(credentials.credentials)
    if reviewer is None:
        raise HTTPException(403, detail="the key is not a reviewer key (admin and query keys cannot review)")
    return reviewer


def _in_use(desk: ReviewDesk, article_id: str) -> None:
    """404 at once when the store is not in use (nothing is created on disk for a stray request)."""
    if not desk.in_use():
        raise ArticleNotFoundError(article_id[:40])


def _fresh(desk: ReviewDesk, pipeline: AnswerPipeline | None) -> None:
    """Re-review check before showing review state (a no-op unless the served index changed)."""
    desk.housekeeping(pipeline)


# ---------------------------------------------------------------------------------------------- routes
@router.get("/v1/review/policy", response_model=ReviewPolicy, summary="What this server stores")
def policy(desk: ReviewDesk = Depends(review_desk)) -> ReviewPolicy:
    mode = desk.settings.review.store_answers
    return ReviewPolicy(store_answers=mode, keep_url=None if mode == "off" else "/v1/articles",
                        reviewers=bool(desk.settings.review.reviewer_keys))


@router.post("/v1/articles", response_model=Answer, status_code=201, summary="Keep this answer (store it for review)",
             responses={200: {"description": "A published article matched: it is the answer."},
                        403: {"description": "This server does not store answers."}})
def keep_answer(request: AnswerRequest, desk: ReviewDesk = Depends(review_desk),
                pipe: AnswerPipeline = Depends(ready_pipeline)) -> JSONResponse:
    answer = desk.keep(pipe, request)
    assert answer.review is not None
    status = 200 if answer.review.served_from_article else 201
    return JSONResponse(answer.model_dump(mode="json"), status_code=status,
                        headers={"Location": answer.review.url})


@router.get("/v1/articles/{article_id}", response_model=ArticleView, summary="An article",
            responses={404: {"description": "Unknown article."}})
def get_article(article_id: str, http: Request, desk: ReviewDesk = Depends(review_desk),
                credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
                pipe: AnswerPipeline | None = Depends(loaded_pipeline)) -> ArticleView:
    _in_use(desk, article_id)
    _fresh(desk, pipe)
    article = desk.service.get(article_id)
    reader = "ip:" + (http.client.host if http.client else "unknown")
    if not (credentials and desk.service.reviewer_for_key(credentials.credentials)) and \
            desk.views.first_view(article_id, reader):  # one view per reader and hour
        article = article.model_copy(update={"views": desk.service.record_view(article_id)})
    return article_view(article)


@router.post("/v1/articles/{article_id}/feedback", response_model=Feedback, status_code=201,
             summary="Rate an answer or report a problem with a statement")
def add_feedback(article_id: str, body: FeedbackIn, desk: ReviewDesk = Depends(review_desk)) -> Feedback:
    _in_use(desk, article_id)
    return desk.service.add_feedback(article_id, body.kind, body.statement_index, body.reason, body.note)


@router.post("/v1/articles/{article_id}/review", response_model=ArticleView, summary="Move an article in the "
             "review workflow (reviewers)", responses={**REVIEWER_RESPONSES, 409: {"description": "Illegal "
                                                       "transition, or another review changed it first."}})
def review_article(article_id: str, body: ReviewRequest, reviewer: str = Depends(require_reviewer),
                   desk: ReviewDesk = Depends(review_desk),
                   pipe: AnswerPipeline | None = Depends(loaded_pipeline)) -> ArticleView:
    _in_use(desk, article_id)
    _fresh(desk, pipe)  # an approval must not resurrect passages that changed meanwhile
    vector = None
    if body.question is not None and pipe is not None:
        vector = pipe.embedder.encode_query(body.question)
    article = desk.service.transition(article_id, body.to, reviewer, body.note, body.expected_version,
                                      question=body.question, question_vector=vector)
    if article.status is Status.approved and pipe is not None and article.index_version != index_key(pipe):
        # approved on an older index version: if a cited passage changed since, it goes to needs_re_review now
        if article_id in desk.service.recheck(current_hashes(pipe.index.store)):
            article = desk.service.get(article_id)
    return article_view(article)


@router.get("/v1/articles/{article_id}/history", response_model=list[ReviewEvent], responses=REVIEWER_RESPONSES,
            summary="Every status change of an article (reviewers)")
def history(article_id: str, reviewer: str = Depends(require_reviewer),
            desk: ReviewDesk = Depends(review_desk)) -> list[ReviewEvent]:
    _in_use(desk, article_id)
    return desk.service.history(article_id)


@router.get("/v1/articles/{article_id}/feedback", response_model=list[Feedback], responses=REVIEWER_RESPONSES,
            summary="Readers' feedback on an article (reviewers)")
def feedback(article_id: str, reviewer: str = Depends(require_reviewer),
             desk: ReviewDesk = Depends(review_desk)) -> list[Feedback]:
    _in_use(desk, article_id)
    return desk.service.feedback(article_id)


@router.get("/v1/review/queue", response_model=list[QueueEntry], responses=REVIEWER_RESPONSES,
            summary="Articles waiting for a reviewer: most reports first, then most views (reviewers)")
def queue(limit: int = Query(50, ge=1, le=1000), reviewer: str = Depends(require_reviewer),
          desk: ReviewDesk = Depends(review_desk),
          pipe: AnswerPipeline | None = Depends(loaded_pipeline)) -> list[QueueEntry]:
    if not desk.in_use():
        return []
    _fresh(desk, pipe)
    return [QueueEntry(article=item.article, reports=item.reports, helpful=item.helpful,
                       not_helpful=item.not_helpful, **_summary_view(item.article))
            for item in desk.service.queue(limit)]


# ---------------------------------------------------------------------------------------------- pages
def _page(status: int = 200) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", status_code=status, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


@pages.get("/a/{article_id}")
def article_page(article_id: str, desk: ReviewDesk = Depends(review_desk)) -> FileResponse:
    """The page, which renders the article (404 status for an unknown id; the page then says so)."""
    if not desk.in_use():
        return _page(404)
    try:
        desk.service.get(article_id)
    except ArticleNotFoundError:
        return _page(404)
    except ReviewStoreError:
        return _page(503)
    return _page()


@pages.get("/review")
def reviewer_page() -> FileResponse:
    """The page in its reviewer view (enter a reviewer key, work through the queue)."""
    return _page()


# ---------------------------------------------------------------------------------------------- errors
def _store_message(exc: ReviewStoreError) -> str:
    """What a client may read about a database fault: the problem, never a server path or URL.

    >>> _store_message(DatabaseLockedError("/srv/var/review.db", "locked"))
    'the review database is locked by another connection or process; retry in a few seconds'
    >>> _store_message(ReviewStoreError("/srv/r.db", "its directory /srv does not exist"))
    'the review database cannot be used: see the server log'
    >>> _store_message(ReviewStoreError("/srv/r.db", "the database is read-only"))
    'the review database cannot be used: the database is read-only'
    """
    if isinstance(exc, DatabaseLockedError):
        return "the review database is locked by another connection or process; retry in a few seconds"
    if isinstance(exc, DriverMissingError):
        return "the review database driver is not installed on this server (see the server log)"
    if isinstance(exc, SchemaError):
        return "the review database schema cannot be used by this medcite (see the server log)"
    problem = exc.problem if "/" not in exc.problem and "\\" not in exc.problem else "see the server log"
    return f"the review database cannot be used: {problem}"


def install(app: FastAPI) -> None:
    """Include the routes and pages, and map the review store's errors onto the native error envelope."""
    app.include_router(router)
    app.include_router(pages)

    @app.exception_handler(ArticleNotFoundError)
    async def _not_found(request: Request, exc: ArticleNotFoundError) -> JSONResponse:
        return error_response(request, 404, f"no article {exc.article_id!r} (unknown, or deleted by retention)")

    @app.exception_handler(TransitionRejected)
    async def _rejected(request: Request, exc: TransitionRejected) -> JSONResponse:
        return error_response(request, 409, str(exc), details=[{
            "article_id": exc.article_id, "status": exc.current.value, "version": exc.version,
            "allowed": exc.allowed_names}])

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return error_response(request, 422, str(exc))

    @app.exception_handler(StorageDisabledError)
    async def _disabled(request: Request, exc: StorageDisabledError) -> JSONResponse:
        return error_response(request, 403, str(exc))

    @app.exception_handler(StorageFullError)
    async def _full(request: Request, exc: StorageFullError) -> JSONResponse:
        return error_response(request, 503, str(exc), headers={"Retry-After": "3600"})

    @app.exception_handler(ReviewStoreError)
    async def _store(request: Request, exc: ReviewStoreError) -> JSONResponse:
        log.error("review database fault: %s", exc)
        headers = {"Retry-After": "5"} if isinstance(exc, DatabaseLockedError) else None
        return error_response(request, 503, _store_message(exc), headers=headers)
