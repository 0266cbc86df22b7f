"""Auth, limits, headers, CORS and logs of the HTTP app (no model: the pipeline stays unloaded -> 503 past guards)."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from app.http.factory import create_app
from app.http.security import KeyRing, TokenBucket
from app.settings import Settings
ADMIN = {"Authorization": "Bearer admin-key-1"}


def make_client(tmp_path, **security) -> TestClient:
    settings = Settings()
    settings.paths.data_dir = tmp_path
    settings.paths.index_dir = tmp_path / "index"
    settings.paths.corpus_dir = tmp_path / "no-corpus"
    security.setdefault("admin_keys", ["admin-key-1", "admin-key-2"])
    settings.security = settings.security.model_copy(update=security)
    app = create_app(settings, pipeline=None)
    app.state.medcite.error = "test: no index"  # no load thread runs without the lifespan; routes answer 503
    return TestClient(app, raise_server_exceptions=False)


def test_keyring_constant_time_check_accepts_only_configured_keys():
    ring = KeyRing(["alpha", "beta"])
    assert ring.check("alpha") and ring.check("beta")
    assert not ring.check("alph") and not ring.check("") and not ring.check("alphaa")
    assert not KeyRing([]).check("alpha")


def test_admin_routes_need_a_key(tmp_path):
    client = make_client(tmp_path)
    for method, path in [("post", "/v1/reindex"), ("get", "/v1/jobs/abc"), ("delete", "/v1/documents/x")]:
        r = client.request(method, path)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        r = client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 403, (path, r.text)
    assert client.get("/v1/jobs/abc", headers=ADMIN).status_code == 404  # past the guard
    assert client.get("/v1/jobs/abc", headers={"Authorization": "Bearer admin-key-2"}).status_code == 404
    assert client.post("/v1/documents", headers={"Authorization": "Basic admin-key-1"}).status_code == 401


def test_admin_api_disabled_without_configured_keys(tmp_path):
    client = make_client(tmp_path, admin_keys=[])
    r = client.post("/v1/reindex", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403 and "MEDCITE_ADMIN_KEYS" in r.json()["error"]["message"]


def test_admin_keys_come_from_environment(monkeypatch):
    monkeypatch.setenv("MEDCITE_ADMIN_KEYS", "k1, k2,,")
    monkeypatch.setenv("MEDCITE_LOG_QUESTIONS", "true")
    s = Settings()
    assert s.security.admin_keys == ["k1", "k2"] and s.security.log_questions
    assert "k1" not in repr(s.security)


def test_query_routes_open_by_default_and_keyed_when_configured(tmp_path):
    open_client = make_client(tmp_path)
    assert open_client.post("/v1/answer", json={"question": "x"}).status_code == 503
    keyed = make_client(tmp_path, query_keys=["q-key"])
    assert keyed.post("/v1/answer", json={"question": "x"}).status_code == 401
    assert keyed.post("/v1/answer", json={"question": "x"}, headers={"Authorization": "Bearer no"}).status_code == 403
    assert keyed.post("/v1/answer", json={"question": "x"}, headers={"Authorization": "Bearer q-key"}).status_code == 503
    assert keyed.get("/v1/documents", headers=ADMIN).status_code == 503  # admin keys work for queries too
    assert keyed.get("/healthz").status_code == 200


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    client = make_client(tmp_path, rate_limit_per_minute=60, rate_limit_burst=3)
    codes = [client.get("/v1/documents").status_code for _ in range(5)]
    assert codes[:3] == [503, 503, 503] and codes[3:] == [429, 429]
    r = client.get("/v1/documents")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert client.get("/healthz").status_code == 200  # ops routes are not limited
    # another client (by API key) has its own bucket
    assert client.get("/v1/documents", headers=ADMIN).status_code == 503


def test_token_bucket_refills_over_time():
    now = [0.0]
    bucket = TokenBucket(60, 1, clock=lambda: now[0])
    assert bucket.take("a") == 0.0
    assert bucket.take("a") == pytest.approx(1.0)
    now[0] = 1.0
    assert bucket.take("a") == 0.0


def test_body_size_limit_with_and_without_content_length(tmp_path):
    client = make_client(tmp_path, max_body_bytes=2048)
    big = json.dumps({"question": "x" * 5000})
    r = client.post("/v1/answer", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    chunks = (part.encode() for part in [big[:1500], big[1500:]])  # no content-length: chunked transfer
    r = client.post("/v1/answer", content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    ok = client.post("/v1/answer", json={"question": "short"})
    assert ok.status_code == 503


def test_upload_size_limit(tmp_path):
    client = make_client(tmp_path, max_upload_bytes=1000)
    r = client.post("/v1/documents", headers=ADMIN, files={"file": ("a.txt", b"word " * 1000, "text/plain")})
    assert r.status_code == 413


def test_security_headers_and_request_id(tmp_path):
    client = make_client(tmp_path)
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\x01"}).headers["x-request-id"] != "bad id\x01"
    assert client.get("/v1/documents").headers["cache-control"] == "no-store"


def test_cors_same_origin_by_default_and_configurable(tmp_path):
    default = make_client(tmp_path)
    r = default.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    configured = make_client(tmp_path, cors_origins=["https://ui.example"])
    r = configured.options("/v1/answer", headers={"Origin": "https://ui.example",
                                                  "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ui.example"
    r = configured.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_crash_gives_json_500_with_request_id_and_no_traceback(tmp_path, caplog):
    client = make_client(tmp_path)

    @client.app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.INFO, logger="medcite.request"):
        r = client.get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["error"]["request_id"] == r.headers["x-request-id"]
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("secret internal detail" in str(rec.exc_info) for rec in caplog.records if rec.exc_info)


def test_a_readiness_probe_while_loading_is_not_logged_as_an_error(tmp_path, caplog):
    """/readyz answers 503 once a second while a first build runs; that used to fill the log with errors."""
    client = make_client(tmp_path)

    @client.app.get("/boom2")
    def boom() -> None:
        raise RuntimeError("crash")

    with caplog.at_level(logging.INFO, logger="medcite.request"):
        assert client.get("/readyz").status_code == 503
        assert client.post("/v1/answer", json={"question": "How is Wilms tumor diagnosed?"}).status_code == 503
        assert client.get("/boom2").status_code == 500
    levels = {rec.fields["route"]: rec.levelno for rec in caplog.records
              if rec.name == "medcite.request" and "route" in getattr(rec, "fields", {})}
    assert levels == {"/readyz": logging.INFO, "/v1/answer": logging.WARNING, "/boom2": logging.ERROR}


def _request_lines(caplog) -> list[dict]:
    return [rec.fields for rec in caplog.records if rec.name == "medcite.request" and hasattr(rec, "fields")]


@pytest.mark.parametrize("log_questions", [False, True])
def test_logs_are_structured_and_hide_questions_by_default(tmp_path, caplog, log_questions):
    client = make_client(tmp_path, log_questions=log_questions)
    with caplog.at_level(logging.INFO, logger="medcite.request"):
        client.post("/v1/answer", json={"question": "my private question about Wilms tumor"})
    [line] = [f for f in _request_lines(caplog) if f.get("route") == "/v1/answer"]
    assert line["status"] == 503 and line["method"] == "POST" and len(line["request_id"]) >= 8
    assert "duration_ms" in line
    text = json.dumps(line)
    assert ("private question" in text) is log_questions


def test_random_bearer_tokens_share_their_senders_bucket(tmp_path):
    """An unverified token is not an identity: 200 random tokens used to get 200 buckets."""
    client = make_client(tmp_path, rate_limit_per_minute=60, rate_limit_burst=3)
    codes = [client.get("/v1/documents", headers={"Authorization": f"Bearer random-{i}"}).status_code
             for i in range(6)]
    assert codes[:3] == [503, 503, 503] and set(codes[3:]) == {429}
    assert client.get("/v1/documents", headers=ADMIN).status_code == 503  # a verified key has its own bucket


def test_failed_authentication_is_rate_limited(tmp_path):
    """Wrong admin keys used to be answered 403 forever: unlimited guessing."""
    client = make_client(tmp_path, auth_failures_per_minute=5)
    codes = [client.post("/v1/reindex", headers={"Authorization": f"Bearer guess-{i}"}).status_code
             for i in range(8)]
    assert codes[:5] == [403] * 5 and set(codes[5:]) == {429}
    locked = client.post("/v1/reindex", headers=ADMIN)  # even the right key waits: a lockout gives nothing away
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    keyed = make_client(tmp_path, query_keys=["q-key"], auth_failures_per_minute=2)
    codes = [keyed.post("/v1/answer", json={"question": "x"}, headers={"Authorization": "Bearer no"}).status_code
             for _ in range(3)]
    assert codes == [403, 403, 429]


@pytest.mark.parametrize("headers, status", [({}, 401), ({"authorization": "Bearer wrong"}, 403)])
def test_admin_key_is_checked_before_the_body_is_read(headers, status):
    """A 49 MB upload without a key used to be read in full before the 401."""
    import asyncio

    from app.http.security import GuardMiddleware
    from app.http.settings import SecuritySettings
    async def app(scope, receive, send):  # pragma: no cover - must not be reached
        raise AssertionError("the app ran without a valid admin key")

    async def receive():
        raise AssertionError("the body was read before the key was checked")

    sent = []

    async def send(message):
        sent.append(message)

    guard = GuardMiddleware(app, SecuritySettings(admin_keys=["k"]))
    scope = {"type": "http", "method": "POST", "path": "/v1/documents", "client": ("10.0.0.9", 5),
             "headers": [(k.encode(), v.encode()) for k, v in
                         {**headers, "content-length": str(49 * 1024 * 1024)}.items()]}
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == status
