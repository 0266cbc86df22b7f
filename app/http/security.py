"""Authentication, rate limiting, body-size limits, security headers and CORS.

* Admin routes need ``Authorization: Bearer KEY`` with a key from ``SecuritySettings.admin_keys``
  (``MEDCITE_ADMIN_KEYS``): 401 without a key, 403 with a wrong one. The check runs in :class:`GuardMiddleware`,
  before any body is read (a 49 MB upload without a key is refused at once); :func:`admin_guard` repeats it as a
  FastAPI dependency so the OpenAPI schema shows the scheme. Keys are compared with :func:`hmac.compare_digest`
  against every configured key (no early exit).
* Reviewer routes (:data:`REVIEWER_ROUTES`: the review queue, review transitions, an article's history and
  feedback) need a reviewer key (``ReviewSettings.reviewer_keys``, ``MEDCITE_REVIEWER_KEYS``); admin and query keys
  are not reviewer keys. Checked like admin keys, before any body is read.
* Query routes (every other ``/v1/`` route) need a query, admin or reviewer key only when ``query_keys`` is set
  (a reviewer reads the articles it reviews and asks questions; the web page sends the key its user typed).
* A per-client token bucket answers 429 with ``Retry-After``. The client is the *verified* identity: a valid key,
  else the peer address. An unverified bearer token counts as its sender's address, so random tokens share one
  bucket. Failed authentication (a wrong key on a keyed route) has its own, smaller bucket per address
  (``auth_failures_per_minute``): once it is empty every keyed request from that address gets 429 without its
  key being checked, so keys cannot be guessed at speed.
* The peer address is the TCP peer; ``X-Forwarded-For`` is honoured only from ``trusted_proxies`` (uvicorn's
  proxy-header handling is off otherwise, see :func:`uvicorn_proxy_options`).
* Bodies larger than ``max_body_bytes`` (uploads: ``max_upload_bytes`` + form overhead) get 413, whether or not the
  client sent ``Content-Length``.
* Every response carries security headers; CORS headers only for configured origins (default: same-origin only).

>>> keys = KeyRing(["s3cret"])
>>> keys.check("s3cret"), keys.check("guess"), KeyRing([]).check("s3cret")
(True, False, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

from fastapi import FastAPI
from fastapi.security import HTTPBearer
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.limits import Limits
from app.http.settings import SecuritySettings

#: Extra bytes allowed on top of ``max_upload_bytes`` for the multipart envelope and metadata fields.
UPLOAD_OVERHEAD = 256 * 1024
#: Routes that are admin routes: (method, path prefix); they carry their own key check.
ADMIN_ROUTES = (("POST", "/v1/documents"), ("DELETE", "/v1/documents/"), ("POST", "/v1/reindex"),
                ("GET", "/v1/jobs/"))
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
}
#: Routes of the reviewer role (issue 14): (method, path pattern); they need a reviewer key.
REVIEWER_ROUTES = (("GET", re.compile(r"^/v1/review/queue$")),
                   ("POST", re.compile(r"^/v1/articles/[^/]+/review$")),
                   ("GET", re.compile(r"^/v1/articles/[^/]+/(?:history|feedback)$")))
#: Pages that load their assets from a CDN (FastAPI's docs) keep working without the strict CSP.
CSP_EXEMPT = ("/docs", "/redoc")

bearer_scheme = HTTPBearer(auto_error=False, description="Admin or query API key.")


class KeyRing:
    """A set of API keys checked in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode("utf-8")).digest() for k in keys if k]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def check(self, key: str) -> bool:
        """Whether ``key`` is one of the keys (compares against all of them, constant time each)."""
        given = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(given, digest)
        return found


def is_admin_route(method: str, path: str) -> bool:
    """Whether (method, path) is one of the admin endpoints.

    >>> is_admin_route("POST", "/v1/documents"), is_admin_route("GET", "/v1/documents")
    (True, False)
    """
    return any(method == m and (path == p or (p.endswith("/") and path.startswith(p))) for m, p in ADMIN_ROUTES)


def is_reviewer_route(method: str, path: str) -> bool:
    """Whether (method, path) is a route of the reviewer role.

    >>> is_reviewer_route("GET", "/v1/review/queue"), is_reviewer_route("POST", "/v1/articles/a-x/review")
    (True, True)
    >>> is_reviewer_route("GET", "/v1/articles/a-x"), is_reviewer_route("POST", "/v1/articles/a-x/feedback")
    (False, False)
    """
    return any(method == m and pattern.match(path) for m, pattern in REVIEWER_ROUTES)


def bearer_token(headers: dict[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def send_error(send: Send, path: str, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """Send an error in the envelope of ``path``'s API (OpenAI's shape on the chat routes) from a middleware."""
    from app.http.errors import error_body
    from app.http.logs import current_request_id

    rid = current_request_id()
    await send_json(send, status, error_body(path, status, message, request_id=None if rid == "-" else rid), headers)


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Send a complete JSON response from an ASGI middleware."""
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class TokenBucket:
    """Per-client token buckets: ``rate_per_minute`` sustained, ``burst`` at once (thread-safe, bounded memory).

    >>> b = TokenBucket(60, 2, clock=lambda: 0.0)
    >>> b.take("a"), b.take("a"), b.take("a")
    (0.0, 0.0, 1.0)
    """

    def __init__(self, rate_per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0.0 when a request may go ahead, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def wait_time(self, client: str) -> float:
        """Seconds until ``client`` could take a token (0.0 = now), without taking one."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


class GuardMiddleware:
    """Keys, rate limits and the body-size limit for ``/v1/`` requests (pure ASGI, before any body is read)."""

    def __init__(self, app: ASGIApp, settings: SecuritySettings, reviewer_keys: Iterable[str] = (),
                 limits: Limits | None = None) -> None:
        self.app = app
        self.settings = settings
        self.query_ring = KeyRing(settings.query_keys)
        self.admin_ring = KeyRing(settings.admin_keys)
        self.reviewer_ring = KeyRing(list(reviewer_keys))
        if limits is None:  # one process: its own buckets (workers share theirs: app.http.limits)
            per_minute, failures = settings.rate_limit_per_minute, settings.auth_failures_per_minute
            limits = Limits(TokenBucket(per_minute, settings.rate_limit_burst) if per_minute else None,
                            TokenBucket(failures, failures) if failures else None)
        self.bucket, self.failures = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        token = bearer_token(headers)
        method, path = scope["method"], scope["path"]
        peer = "ip:" + (scope.get("client") or ("unknown", 0))[0]
        admin = is_admin_route(method, path)
        role = "admin" if admin else "reviewer" if is_reviewer_route(method, path) else "query"
        keyed = role != "query" or (bool(self.query_ring) and method != "OPTIONS")
        verified = False
        if keyed:
            denied = self._authenticate(role, token, peer)
            if denied is not None:
                await send_error(send, path, *denied)
                return
            verified = True
        elif token is not None and self._any_ring(token):
            verified = True
        if self.bucket is not None:
            client = "key:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:16] \
                if verified and token else peer
            wait = self.bucket.take(client)
            if wait > 0:
                await send_error(send, path, 429, f"rate limit exceeded; retry in {math.ceil(wait)} s",
                                {"retry-after": str(math.ceil(wait))})
                return
        limit = self.settings.max_body_bytes
        if admin and method == "POST" and path == "/v1/documents":
            limit = self.settings.max_upload_bytes + UPLOAD_OVERHEAD
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_error(send, path, 413, f"request body too large (limit {limit} bytes)")
            return
        await _run_limited(self.app, scope, receive, send, limit, path)

    def _any_ring(self, token: str) -> bool:
        """Whether ``token`` is a query, admin or reviewer key (each ring checked, no early exit)."""
        found = [ring.check(token) for ring in (self.query_ring, self.admin_ring, self.reviewer_ring)]
        return any(found)

    def _authenticate(self, role: str, token: str | None,
                      peer: str) -> tuple[int, str, dict[str, str]] | None:
        """None when the key is good for this route's role (admin, reviewer, query), else (status, message,
        headers) of the refusal."""
        admin = role == "admin"
        if self.failures is not None:
            locked = self.failures.wait_time(peer)
            if locked > 0:
                return 429, f"too many failed authentication attempts; retry in {math.ceil(locked)} s", \
                    {"retry-after": str(math.ceil(locked))}
        what = {"admin": "an admin API key", "reviewer": "a reviewer key"}.get(role, "an API key")
        if token is None:
            return 401, f"{what} is required: send 'Authorization: Bearer KEY'", {"www-authenticate": "Bearer"}
        if admin and not self.admin_ring:
            return 403, "the admin API is disabled: no admin keys are configured (set MEDCITE_ADMIN_KEYS)", {}
        if role == "reviewer" and not self.reviewer_ring:
            return 403, "the review API is disabled: no reviewer keys are configured (set MEDCITE_REVIEWER_KEYS)", {}
        if role == "reviewer":
            good = self.reviewer_ring.check(token)
        elif admin:
            good = self.admin_ring.check(token)
        else:
            good = self._any_ring(token)
        if good:
            return None
        if self.failures is not None:
            self.failures.take(peer)
        refusal = {"admin": "the API key is not valid for the admin API",
                   "reviewer": "the key is not a reviewer key (admin and query keys cannot review)"}
        return 403, refusal.get(role, "the API key is not valid"), {}


class BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes its limit; the response becomes a 413."""


async def _run_limited(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int, path: str) -> None:
    """Run ``app`` counting body bytes; past ``limit`` the body read fails and whatever the app answers
    (a 400 from the body parser, or an exception) is replaced by a 413."""
    seen, exceeded, started = 0, False, False
    too_large = f"request body too large (limit {limit} bytes)"

    async def counting_receive() -> Message:
        nonlocal seen, exceeded
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                exceeded = True
                raise BodyTooLarge(too_large)
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if exceeded:
            if message["type"] == "http.response.start" and not started:
                started = True
                await send_error(send, path, 413, too_large)
            return
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counting_receive, guarded_send)
    except BodyTooLarge:
        if not started:
            await send_error(send, path, 413, too_large)


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` (and ``Cache-Control: no-store`` on API routes) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                 if not (k == "content-security-policy" and path.startswith(CSP_EXEMPT))]
        if path.startswith("/v1/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def uvicorn_proxy_options(settings: SecuritySettings) -> dict[str, Any]:
    """uvicorn options for client addresses: ``X-Forwarded-For`` only from configured proxies.

    uvicorn trusts the header from 127.0.0.1 by default, which lets any local client pick its identity (and its
    rate-limit bucket); medcite turns that off unless ``trusted_proxies`` lists the proxy addresses.

    >>> uvicorn_proxy_options(SecuritySettings(trusted_proxies=[]))
    {'proxy_headers': False}
    >>> uvicorn_proxy_options(SecuritySettings(trusted_proxies=["10.0.0.2"]))
    {'proxy_headers': True, 'forwarded_allow_ips': '10.0.0.2'}
    """
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


def install_security(app: FastAPI, settings: SecuritySettings, reviewer_keys: Iterable[str] = (),
                     limits: Limits | None = None) -> None:
    """Add CORS (only for configured origins), the guard and security headers to ``app``; ``limits``: buckets
    shared with other worker processes (default: this app's own).

    Middleware added later runs first: headers wrap everything, CORS answers pre-flights before the guard.
    """
    app.add_middleware(GuardMiddleware, settings=settings, reviewer_keys=list(reviewer_keys), limits=limits)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["authorization", "content-type", "x-request-id"],
                           expose_headers=["x-request-id", "retry-after"], max_age=600)
    app.add_middleware(SecurityHeadersMiddleware)
