"""The FastAPI application: :func:`create_app` wires state, lifespan, error handlers, middleware and the
module-level routers (query, chat, admin, ops, web).

The index and model load once, in a background thread started by the lifespan: ``/healthz`` answers at once,
``/readyz`` and the query routes answer 503 until loading is done (or failed, with the reason).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI

from app.http.admin import Admin
from app.http.errors import install_error_handlers
from app.http.limits import Limits
from app.http.logs import RequestLogMiddleware
from app.http.metrics import install_metrics
from app.http.refresh import IndexRefresher
from app.http.reviewing import ReviewDesk
from app.http.routers import admin, chat, ops, query, review, web
from app.http.security import install_security
from app.http.state import ServiceState
from app.query.pipeline import AnswerPipeline
from app.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.medcite
    if state.pipeline is None:
        threading.Thread(target=state.load, daemon=True, name="medcite-load").start()
    else:
        state.recover()
        state.build_if_configured()
    refresher = IndexRefresher(state).start() if state.settings.server.index_poll_seconds > 0 else None
    async with AsyncExitStack() as stack:
        if app.state.mcp is not None:  # the MCP session manager runs while the app runs
            await stack.enter_async_context(app.state.mcp.lifespan())
        yield
    if refresher is not None:
        refresher.stop()


def create_app(settings: Settings, pipeline: AnswerPipeline | None = None, limits: Limits | None = None) -> FastAPI:
    """Build the app; pass ``pipeline`` to serve an already loaded one (tests, benchmarks) and ``limits`` for
    rate-limit buckets shared with other worker processes (:func:`app.http.limits.shared_limits`)."""
    app = FastAPI(title="medcite", version="0.1.0", lifespan=lifespan,
                  description="Cited answers from medical guidelines, fully offline.")
    state = ServiceState(settings, pipeline)
    state.admin = Admin(settings, state)
    app.state.medcite = state
    app.state.admin = state.admin  # for tests and scripts
    app.state.review_desk = ReviewDesk(settings)  # stored answers and their review (issue 14)
    state.admin.on_swap.append(app.state.review_desk.after_swap)  # re-review when cited passages change
    install_error_handlers(app)
    for module in (query, chat, admin, ops):
        app.include_router(module.router)
    app.state.mcp = _install_mcp(app, state, settings)  # MCP tools over streamable HTTP at /v1/mcp
    review.install(app)  # articles, reviewer workflow, feedback, queue; /a/{id} and /review pages
    web.install(app)  # the page at / and its assets
    install_security(app, settings.security, settings.review.reviewer_keys.values(),  # keys, limits, headers, CORS
                     limits)
    app.add_middleware(RequestLogMiddleware, log_questions=settings.security.log_questions)
    if settings.server.metrics:
        install_metrics(app)  # GET /metrics; its middleware is the outermost (counts what clients got)
    return app


def _install_mcp(app: FastAPI, state: ServiceState, settings: Settings) -> Any:
    """The MCP endpoint, or None when it is switched off or the ``mcp`` extra is not installed."""
    if not settings.server.mcp:
        return None
    try:
        from app.mcp.http import install_mcp
    except ImportError as exc:
        logging.getLogger("medcite.api").info("no MCP endpoint: %s", exc)
        return None
    return install_mcp(app, state, settings.server.host, settings.security.max_body_bytes)
