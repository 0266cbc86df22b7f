"""Structured JSON request logs and the catch-all error response.

One log line per request on the ``medcite.request`` logger: request id, method, route, status, duration and the
stage timings the query side recorded with :func:`app.query.timings.record_timings`. Question text is logged only when
``SecuritySettings.log_questions`` is on (``MEDCITE_LOG_QUESTIONS=true``). An unhandled exception is logged with
its traceback and answered with a JSON 500 naming the request id -- never with a stack trace.

>>> fmt = JsonFormatter()
>>> rec = logging.LogRecord("medcite.request", logging.INFO, __file__, 1, "request", None, None)
>>> rec.fields = {"status": 200}
>>> json.loads(fmt.format(rec))["status"]
200
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any

from app.query.timings import collect_timings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import error_body
from app.http.security import send_json

log = logging.getLogger("medcite.request")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_QUESTION_ROUTES = ("/v1/answer", "/v1/search")
_LOGGED_BODY_BYTES = 64 * 1024

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("medcite_request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
            "pid": record.process,
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            out["error"] = "".join(traceback.format_exception(*record.exc_info)).strip()
        return json.dumps(out, default=str)


#: Libraries whose warnings would otherwise reach stderr as plain text (Python's last-resort handler): the MCP SDK.
LIBRARY_LOGGERS = ("mcp", "mcp_types", "sse_starlette")


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send ``medcite.*`` logs, and the warnings of :data:`LIBRARY_LOGGERS`, to stderr as JSON lines
    (idempotent), so the log stays one JSON object per line."""
    root = logging.getLogger("medcite")
    handler = next((h for h in root.handlers if isinstance(h.formatter, JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if handler not in library.handlers:
            library.addHandler(handler)
        library.propagate = False


class RequestLogMiddleware:
    """Assigns the request id, logs one JSON line per request and turns crashes into a JSON 500."""

    def __init__(self, app: ASGIApp, log_questions: bool = False) -> None:
        self.app = app
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        with collect_timings() as stages:
            token_id = _request_id.set(request_id)
            status, started, body = 500, False, bytearray()
            t0 = time.perf_counter()
            capture = self.log_questions and scope["path"] in _QUESTION_ROUTES

            async def logging_receive() -> Message:
                message = await receive()
                if capture and message["type"] == "http.request" and len(body) < _LOGGED_BODY_BYTES:
                    body.extend(message.get("body", b"")[: _LOGGED_BODY_BYTES - len(body)])
                return message

            async def logging_send(message: Message) -> None:
                nonlocal status, started
                if message["type"] == "http.response.start":
                    started, status = True, message["status"]
                    message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", request_id.encode())]
                await send(message)

            failed = False
            try:
                await self.app(scope, logging_receive, logging_send)
            except Exception:
                failed = True
                log.error("unhandled error", exc_info=True, extra={"fields": {"request_id": request_id}})
                if not started:
                    await send_json(send, 500, error_body(scope["path"], 500, "internal error; the request id is "
                                                          "in the server log", request_id=request_id),
                                    {"x-request-id": request_id})
                status = 500
            finally:
                _request_id.reset(token_id)
        fields: dict[str, Any] = {
            "request_id": request_id, "method": scope["method"], "route": _route(scope), "status": status,
            "duration_ms": round((time.perf_counter() - t0) * 1000, 2),
        }
        if stages:
            fields["stages_ms"] = stages
        if capture and body:
            fields["question"] = _question(bytes(body))
        log.log(_level(fields["route"], status, failed), "request", extra={"fields": fields})


def _level(route: str, status: int, failed: bool) -> int:
    """A request line's level: a crash or 5xx is an error, but 503 means "not ready / busy" (a warning), and a
    readiness probe's 503 is its normal answer while an index loads or builds (once a second: info).

    >>> [logging.getLevelName(_level(r, s, False)) for r, s in [("/readyz", 503), ("/v1/answer", 503),
    ...                                                          ("/v1/answer", 500), ("/v1/answer", 200)]]
    ['INFO', 'WARNING', 'ERROR', 'INFO']
    """
    if failed or (status >= 500 and status != 503):
        return logging.ERROR
    if status == 503:
        return logging.INFO if route == "/readyz" else logging.WARNING
    return logging.INFO


def _route(scope: Scope) -> str:
    """The matched route template (``/v1/jobs/{job_id}``) when routing happened, else the path."""
    route = scope.get("route")
    return getattr(route, "path", None) or scope["path"]


def _question(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("question", data.get("query"))
        return value[:2000] if isinstance(value, str) else None
    return None
