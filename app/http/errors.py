"""One error contract per API.

* The native API (``/v1/answer``, ``/v1/search``, ``/v1/documents``, admin, ops...) answers every error as
  ``{"error": {"type", "message", "request_id"[, "details"]}}`` -- validation (422), request errors (400, from
  :class:`app.query.errors.RequestError`), auth (401/403), limits (413/429), unknown ids (404), conflicts (409),
  loading (503) and faults (500, with the request id to find the traceback in the server log).
* The OpenAI-compatible routes (``/v1/chat/*``, ``/v1/models``) answer in OpenAI's shape
  ``{"error": {"message", "type", "param", "code"}}``, including the security layer's 401/403/413/429.

>>> error_body("/v1/answer", 429, "rate limit exceeded", request_id="r1")
{'error': {'type': 'rate_limited', 'message': 'rate limit exceeded', 'request_id': 'r1'}}
>>> error_body("/v1/chat/completions", 401, "an API key is required")["error"]["type"]
'invalid_request_error'
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.query.errors import RequestError

#: Error type of each status in the native envelope.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
    429: "rate_limited", 500: "internal_error", 503: "unavailable",
}
#: OpenAI's error ``code`` for the statuses the security layer answers.
OPENAI_CODES = {401: "invalid_api_key", 403: "invalid_api_key", 413: "request_too_large", 429: "rate_limit_exceeded"}
OPENAI_PREFIXES = ("/v1/chat/", "/v1/models")


def is_openai_route(path: str) -> bool:
    return path.startswith(OPENAI_PREFIXES) or path == "/v1/models"


def error_body(path: str, status: int, message: str, *, request_id: str | None = None,
               details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The error body for ``path`` (OpenAI's shape on the chat routes, the native envelope elsewhere)."""
    if is_openai_route(path):
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": OPENAI_CODES.get(status)}}
    error: dict[str, Any] = {"type": ERROR_TYPES.get(status, "error"), "message": message}
    if request_id:
        error["request_id"] = request_id
    if details:
        error["details"] = details
    return {"error": error}


def _request_id(request: Request) -> str | None:
    from app.http.logs import current_request_id

    rid = current_request_id()
    return None if rid == "-" else rid


def error_response(request: Request, status: int, message: str, *, headers: dict[str, str] | None = None,
                   details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = error_body(request.url.path, status, message, request_id=_request_id(request), details=details)
    return JSONResponse(status_code=status, content=body, headers=headers)


def validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A readable message naming each bad field, and details that never echo the (possibly 50 kB) input."""
    problems, details = [], []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
        details.append({"loc": list(err.get("loc", ())), "msg": msg, "type": err.get("type")})
    return "; ".join(problems), details


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers of the native envelope (the chat routes answer through their own route class)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = validation_message(exc)
        return error_response(request, 422, message, details=details)

    @app.exception_handler(RequestError)
    async def _bad_request(request: Request, exc: RequestError) -> JSONResponse:
        return error_response(request, 400, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:  # logged by the request-log middleware
        return error_response(request, 500, f"internal error ({type(exc).__name__}); the request id is in the "
                                            "server log")
