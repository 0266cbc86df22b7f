"""FastAPI dependencies: the service state, the ready pipeline, the admin operations, the review desk.

Routers are module-level and read everything through these (``Depends(ready_pipeline)``), so one router module
serves any app the factory builds.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from app.http.admin import Admin
from app.http.reviewing import ReviewDesk
from app.http.state import ServiceState
from app.query.pipeline import AnswerPipeline
from app.settings import Settings


def service_state(request: Request) -> ServiceState:
    return request.app.state.medcite


def app_settings(state: ServiceState = Depends(service_state)) -> Settings:
    return state.settings


def ready_pipeline(state: ServiceState = Depends(service_state)) -> AnswerPipeline:
    """The served pipeline; 503 while the index and model load (or when loading failed, with the reason)."""
    if state.pipeline is None:
        raise HTTPException(503, detail=state.error or "the index and model are still loading; retry in a few seconds",
                            headers={"Retry-After": "5"})
    return state.pipeline


def loaded_pipeline(state: ServiceState = Depends(service_state)) -> AnswerPipeline | None:
    """The served pipeline, or None while loading (routes that work without one)."""
    return state.pipeline


def review_desk(request: Request) -> ReviewDesk:
    """The review side of answering (:class:`app.http.reviewing.ReviewDesk`), one per app."""
    return request.app.state.review_desk


def admin_ops(state: ServiceState = Depends(service_state)) -> Admin:
    assert state.admin is not None, "the app factory always creates the admin operations"
    return state.admin
