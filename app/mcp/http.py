"""The MCP tools over streamable HTTP inside the FastAPI service, at :data:`MCP_PATH` (``/v1/mcp``).

Stateless and with JSON responses: every MCP message is one POST answered on its own, no session lives in a
process, so any worker process can answer any request. Being under ``/v1/`` the endpoint gets what every query
route gets (query keys when ``MEDCITE_QUERY_KEYS`` is set, rate limits, the body limit, request logs without
question text, metrics). With the service bound to a loopback address the SDK also checks ``Host`` and
``Origin`` (DNS-rebinding protection).

Only POST carries MCP messages: ``GET`` (a stream for server-initiated messages) and ``DELETE`` (ending a session)
have no meaning without sessions and get 405 at once, as the MCP transport allows -- an open ``GET`` stream would
otherwise hold a connection and a task forever (nothing is ever sent on it).

The session manager runs inside the app's lifespan (:meth:`McpEndpoint.lifespan`, entered by the factory); a fresh
one per lifespan, so an app can be started more than once (tests).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Protocol

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.mcp.server import build_server, not_ready
from app.query.pipeline import AnswerPipeline

MCP_PATH = "/v1/mcp"


class PipelineHolder(Protocol):
    pipeline: AnswerPipeline | None
    error: str | None


class McpEndpoint:
    """ASGI endpoint delegating to the SDK's streamable-HTTP session manager while the app runs."""

    def __init__(self, state: PipelineHolder, host: str = "127.0.0.1", max_body_bytes: int = 1024 * 1024) -> None:
        self.state = state
        self.host = host
        self.max_body_bytes = max_body_bytes
        self.server = build_server(self._pipeline)
        self._manager: Any = None

    def _pipeline(self) -> AnswerPipeline:
        pipeline = self.state.pipeline
        if pipeline is None:
            raise not_ready(self.state.error)
        return pipeline

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                        host=self.host, max_request_body_size=self.max_body_bytes)
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._manager
        if scope.get("method") in ("GET", "DELETE"):
            await _error(send, 405, "this MCP endpoint is stateless: POST JSON-RPC messages to it (no server-sent "
                         "event stream, no sessions)", [(b"allow", b"POST")])
            return
        if manager is None:  # the app was served without its lifespan
            await _error(send, 503, "the MCP endpoint is not running")
            return
        await manager.handle_request(scope, receive, send)


async def _error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def install_mcp(app: Any, state: PipelineHolder, host: str, max_body_bytes: int) -> McpEndpoint:
    """Route :data:`MCP_PATH` (every method) of ``app`` to a new endpoint; the caller enters its lifespan."""
    endpoint = McpEndpoint(state, host=host, max_body_bytes=max_body_bytes)
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint, name="mcp"))
    return endpoint
