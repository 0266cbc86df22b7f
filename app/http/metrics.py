"""Prometheus metrics at ``GET /metrics`` (text exposition format, ``prometheus-client``).

What is counted (no label ever holds question text, a raw path or a client address):

* ``medcite_http_requests_total{method, route, status}`` and ``medcite_http_request_duration_seconds{method,
  route}``: every HTTP request by its route *template* (``/v1/jobs/{job_id}``; ``unmatched`` for paths no route
  serves), including the ones the security layer refuses (401/413/429).
* ``medcite_stage_duration_seconds{operation, stage}``: the query side's stage timings (``embed_query``, ``bm25``,
  ``dense``, ``fusion``, ``assembly``, ``related``, ``total``...) for answers and searches from any front-end (HTTP,
  chat, MCP), recorded through :mod:`app.query.timings`.
* ``medcite_answers_total{audience, outcome}``: answers by outcome (``answered`` / ``abstained``).
* ``medcite_ready``, ``medcite_index_documents``, ``medcite_index_chunks`` and ``medcite_index_info{version,
  format_version, model}`` (value 1): what each serving process serves.
* ``medcite_build_done{stage}``, ``medcite_build_total{stage}``, ``medcite_build_updated_timestamp_seconds``:
  build progress, set by whatever builds with :func:`set_build_progress`.

With several worker processes (:mod:`app.http.workers`) prometheus-client runs in multiprocess mode: each process
writes its values to files under ``PROMETHEUS_MULTIPROC_DIR`` (``<data_dir>/metrics``, emptied at start by the
supervisor before anything imports prometheus-client) and any worker's ``/metrics`` adds them up; the per-process
gauges then carry a ``pid`` label.

>>> route_label({"type": "http", "method": "GET", "path": "/nowhere"}, None)
'unmatched'
>>> set_build_progress("dense", 10, 40)
>>> REGISTRY.get_sample_value("medcite_build_done", {"stage": "dense"})
10.0
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.query.timings import add_listener

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STAGE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Seconds; query stages take 0.1-50 ms, whole requests up to seconds under load.
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("medcite_http_requests", "HTTP requests by method, route template and status.",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("medcite_http_request_duration_seconds", "HTTP request latency by route template.",
                            ["method", "route"], buckets=_REQUEST_BUCKETS)
STAGE_SECONDS = Histogram("medcite_stage_duration_seconds", "Query-side stage latency (answers and searches).",
                          ["operation", "stage"], buckets=_STAGE_BUCKETS)
ANSWERS = Counter("medcite_answers", "Answers by audience and outcome (answered or abstained).",
                  ["audience", "outcome"])
READY = Gauge("medcite_ready", "1 when this process serves a loaded index and model.", multiprocess_mode="liveall")
INDEX_DOCUMENTS = Gauge("medcite_index_documents", "Documents in the served index version.",
                        multiprocess_mode="liveall")
INDEX_CHUNKS = Gauge("medcite_index_chunks", "Chunks in the served index version.", multiprocess_mode="liveall")
INDEX_INFO = Gauge("medcite_index_info", "The served index version (1; 0 for versions served earlier).",
                   ["version", "format_version", "model"], multiprocess_mode="liveall")
BUILD_DONE = Gauge("medcite_build_done", "Items done in a build stage (set_build_progress).", ["stage"],
                   multiprocess_mode="mostrecent")
BUILD_TOTAL = Gauge("medcite_build_total", "Items in a build stage (set_build_progress).", ["stage"],
                    multiprocess_mode="mostrecent")
BUILD_UPDATED = Gauge("medcite_build_updated_timestamp_seconds", "When build progress was last reported.",
                      multiprocess_mode="mostrecent")

router = APIRouter(tags=["ops"])
_served: dict[str, Any] = {"pipeline": None, "info": None}


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def set_build_progress(stage: str, done: int | float, total: int | float) -> None:
    """Report build progress: ``done`` of ``total`` items in ``stage`` (e.g. ``"lexical"``, ``"dense"``).

    Call it from the serving process (any worker) whenever progress changes; ``stage`` is a short code name
    (lower-case letters, digits, ``_``), never text from a document or a user.
    """
    if not _STAGE.match(stage):
        raise ValueError(f"build stage {stage[:40]!r} is not a short lower-case code name")
    BUILD_DONE.labels(stage=stage).set(done)
    BUILD_TOTAL.labels(stage=stage).set(total)
    BUILD_UPDATED.set(time.time())


def observe_pipeline(pipeline: Any) -> None:
    """Set the index gauges for the pipeline this process serves (cheap when it is the one already observed)."""
    if pipeline is _served["pipeline"]:
        return
    _served["pipeline"] = pipeline
    old = _served["info"]
    if pipeline is None:
        READY.set(0)
        return
    try:
        manifest = pipeline.index.manifest
        info = (pipeline.index.path.name, str(manifest.format_version), str(manifest.model.name))
        documents, chunks = len(pipeline.index.store.documents), len(pipeline.index.store)
    except AttributeError:  # a pipeline not read from an index directory (tests)
        READY.set(1)
        return
    if old is not None and old != info:
        if multiprocess():  # label removal is not implemented in multiprocess mode
            INDEX_INFO.labels(*old).set(0)
        else:
            INDEX_INFO.remove(*old)
    INDEX_INFO.labels(*info).set(1)
    INDEX_DOCUMENTS.set(documents)
    INDEX_CHUNKS.set(chunks)
    READY.set(1)
    _served["info"] = info


def _observe_query(operation: str, timings: dict[str, float], outcome: dict[str, str]) -> None:
    op = operation if _STAGE.match(operation) else "other"
    for stage, ms in timings.items():
        if _STAGE.match(stage):
            STAGE_SECONDS.labels(operation=op, stage=stage).observe(max(float(ms), 0.0) / 1000.0)
    if op == "answer" and outcome.get("outcome") in ("answered", "abstained"):
        audience = outcome.get("audience")
        ANSWERS.labels(audience=audience if audience in ("clinician", "patient") else "other",
                       outcome=outcome["outcome"]).inc()


def route_label(scope: Scope, app: Any) -> str:
    """The route template that serves ``scope``: the matched route's, else (a request refused before routing) the
    template whose pattern the path matches, else ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return path
    if app is None:
        return "unmatched"
    patterns = getattr(app.state, "metrics_route_patterns", None)
    if patterns is None:
        patterns = app.state.metrics_route_patterns = route_patterns(app)
    return next((template for pattern, template in patterns if pattern.match(scope["path"])), "unmatched")


def route_patterns(app: Any) -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) for the app's documented routes and its plain routes and mounts, fewest parameters first.

    >>> [t for _, t in route_patterns(type("App", (), {"openapi": lambda self: {"paths": {"/v1/jobs/{job_id}": {},
    ...     "/v1/answer": {}}}, "router": None})())]
    ['/v1/answer', '/v1/jobs/{job_id}']
    """
    try:
        templates = list(app.openapi().get("paths", {}))
    except Exception:  # an app whose schema cannot be built still gets its metrics
        templates = []
    mounts = []
    for route in getattr(getattr(app, "router", None), "routes", ()):
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            (mounts if isinstance(route, Mount) else templates).append(path)
    out = []
    for template in sorted(set(templates), key=lambda t: (t.count("{"), t)):
        regex = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        out.append((re.compile(f"^{regex}$"), template))
    out += [(re.compile(f"^{re.escape(m)}(?:/.*)?$"), m) for m in mounts]
    return out


class MetricsMiddleware:
    """Counts every request by method, route template and status, and times it (outermost: what clients saw)."""

    def __init__(self, app: ASGIApp, root: Any = None) -> None:
        self.app = app
        self.root = root  # the FastAPI app, whose routes name the template of refused (unrouted) requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_label(scope, self.root)
            REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            REQUEST_SECONDS.labels(method=method, route=route).observe(time.perf_counter() - t0)
            state = getattr(getattr(self.root, "state", None), "medcite", None)
            if state is not None:  # a swap since the last request: update the index gauges
                observe_pipeline(state.pipeline)


def install_metrics(app: Any) -> None:
    """Add the middleware and ``GET /metrics`` to ``app``, and listen to the query side's timings."""
    add_listener(_observe_query)
    app.include_router(router)
    app.add_middleware(MetricsMiddleware, root=app)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format; in multiprocess mode the sum over every worker process."""
    state = getattr(request.app.state, "medcite", None)
    if state is not None:
        observe_pipeline(state.pipeline)
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters and histograms stay in the sums); multiprocess mode only."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)
