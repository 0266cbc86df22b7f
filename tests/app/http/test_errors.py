"""One error envelope per API (issue 11, item 3): the native routes answer every error as
``{"error": {"type", "message", "request_id"}}``; the OpenAI-compatible routes keep OpenAI's shape, the security
layer's 401/403/413/429 included; a fault is a 500 with the request id, never a 400."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.http.factory import create_app
from app.query.schemas import SearchRequest


def _native(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body  # one envelope: no FastAPI "detail" beside it
    error = body["error"]
    assert {"type", "message", "request_id"} <= set(error) and error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def _openai(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


@pytest.fixture()
def strict(small_settings, pipeline):
    settings = small_settings.model_copy(deep=True)
    settings.security = settings.security.model_copy(update={
        "admin_keys": ["adm"], "query_keys": ["qk"], "rate_limit_per_minute": 60, "rate_limit_burst": 3,
        "max_body_bytes": 4096})
    return TestClient(create_app(settings, pipeline=pipeline), raise_server_exceptions=False)


def test_native_routes_answer_every_error_in_one_envelope(strict):
    key = {"Authorization": "Bearer qk"}
    cases = [
        (strict.post("/v1/answer", json={"question": "x"}), 401, "unauthorized"),
        (strict.post("/v1/answer", json={"question": "x"}, headers={"Authorization": "Bearer no"}), 403, "forbidden"),
        (strict.post("/v1/answer", json={"question": ""}, headers=key), 422, "invalid_request"),
        (strict.post("/v1/search", json={"query": "tb", "retriever": "hybrid+rerank"}, headers=key), 400,
         "invalid_request"),
        (strict.post("/v1/answer", content=b'{"question": "' + b"x" * 5000 + b'"}', headers={
            **key, "content-type": "application/json"}), 413, "payload_too_large"),
        (strict.get("/v1/jobs/abc", headers={"Authorization": "Bearer adm"}), 404, "not_found"),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        assert _native(response)["type"] == kind
    limited = [strict.get("/v1/documents", headers=key).status_code for _ in range(5)]
    assert 429 in limited
    assert _native(strict.get("/v1/documents", headers=key))["type"] == "rate_limited"


def test_chat_routes_keep_openais_shape_for_security_errors(strict):
    body = {"model": "medcite", "messages": [{"role": "user", "content": "How is asthma treated?"}]}
    assert _openai(strict.post("/v1/chat/completions", json=body))["code"] == "invalid_api_key"  # 401
    wrong = strict.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 403 and _openai(wrong)["type"] == "invalid_request_error"
    big = strict.post("/v1/chat/completions", headers={"Authorization": "Bearer qk", "content-type": "application/json"},
                      content=b'{"messages": [{"role": "user", "content": "' + b"y" * 5000 + b'"}]}')
    assert big.status_code == 413 and _openai(big)["code"] == "request_too_large"
    assert _openai(strict.get("/v1/models"))["code"] == "invalid_api_key"


def test_a_fault_is_a_500_with_the_request_id_not_a_400(small_settings, pipeline, monkeypatch):
    app = create_app(small_settings, pipeline=pipeline)

    def broken(request):
        raise ValueError("a bug deep inside, not the client's fault")

    monkeypatch.setattr(pipeline, "search", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/search", json={"query": "asthma"})
    assert response.status_code == 500
    error = _native(response)
    assert error["type"] == "internal_error" and "bug deep inside" not in error["message"]


@pytest.mark.parametrize("retrieval", [
    {"fusion": "convex", "weight_dense": 0.0}, {"fusion": "convex", "convex_alpha": 0.0},
    {"fusion": "convex", "convex_alpha": 1.0}, {"fusion": "rrf", "weight_dense": 0.0},
    {"fusion": "rrf", "weight_bm25": 0.0}, {"fusion": "rrf"},
])
def test_search_works_with_every_fusion_setting(pipeline, retrieval):
    """fusion=convex with weight_dense=0 used to make /v1/search fail with a 400."""
    from app.query.pipeline import AnswerPipeline

    settings = pipeline.settings.model_copy(deep=True)
    settings.retrieval = settings.retrieval.model_copy(update=retrieval)
    pipe = AnswerPipeline(pipeline.index, pipeline.embedder, settings, pipeline.bank)
    for retriever in ("hybrid", "bm25", "dense"):
        response = pipe.search(SearchRequest(query="How is tuberculosis treated?", top_k=3, retriever=retriever))
        assert response.passages, (retrieval, retriever)
