"""HTTP contract of the service over the small real index: validation errors, answer, search, documents, health."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.http.factory import create_app
from core.contracts import DISCLAIMERS


@pytest.fixture(scope="module")
def client(pipeline, small_settings):
    with TestClient(create_app(small_settings, pipeline=pipeline)) as c:
        yield c


@pytest.mark.parametrize("body, needle", [
    ({"question": "   "}, "question is empty"),
    ({"question": "x" * 2001}, "limit is 2000"),
    ({"question": "What is asthma?", "audience": "robot"}, "audience"),
    ({"question": "What is asthma?", "colour": "blue"}, "colour"),
    ({}, "question"),
])
def test_validation_errors_are_clear_4xx(client, body, needle):
    r = client.post("/v1/answer", json=body)
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert needle in message
    assert "x" * 100 not in r.text  # a huge question is not echoed back


def test_fifty_kilobyte_question_is_refused_cleanly(client):
    r = client.post("/v1/answer", json={"question": "why " * 12_500})
    assert r.status_code == 422 and "limit is 2000" in r.json()["error"]["message"]


def test_answer_round_trip(client):
    r = client.post("/v1/answer", json={"question": "What are the symptoms of Wilms tumor?", "debug": True})
    assert r.status_code == 200
    body = r.json()
    assert body["disclaimer"] == DISCLAIMERS["clinician"]
    assert body["bottom_line"]["citations"]
    assert body["references"][0]["n"] == 1
    assert body["trace"]["hits"]


def test_search_and_filters(client):
    r = client.post("/v1/search", json={"query": "tuberculosis symptoms", "top_k": 5})
    assert r.status_code == 200
    passages = r.json()["passages"]
    assert passages and [p["rank"] for p in passages] == list(range(1, len(passages) + 1))
    only_cdc = client.post("/v1/search", json={"query": "tuberculosis", "top_k": 5, "filters": {"issuer": ["CDC"]}})
    assert all("CDC" in p["issuer"] for p in only_cdc.json()["passages"])
    bad = client.post("/v1/search", json={"query": "tb", "retriever": "hybrid+rerank"})
    assert bad.status_code == 400 and "rerank" in bad.text.lower()


def test_documents_health_ready(client):
    docs = client.get("/v1/documents", params={"limit": 5}).json()
    assert docs["total"] > 5 and len(docs["documents"]) == 5
    assert docs["index"]["model"] == "all-MiniLM-L6-v2"
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_configured_limits_below_the_schema_caps_give_400(pipeline, small_settings):
    strict = small_settings.model_copy(deep=True)
    strict.limits.max_question_chars = 40
    strict.limits.max_turns = 1
    from app.query.pipeline import AnswerPipeline

    strict_pipe = AnswerPipeline(pipeline.index, pipeline.embedder, strict, pipeline.bank)
    with TestClient(create_app(strict, pipeline=strict_pipe)) as c:
        long_q = c.post("/v1/answer", json={"question": "What are the symptoms and treatments of Wilms tumor?"})
        assert long_q.status_code == 400 and "limit is 40" in long_q.text
        turns = [{"question": "What is asthma?"}, {"question": "How is it treated?"}]
        many = c.post("/v1/answer", json={"question": "And in children?", "turns": turns})
        assert many.status_code == 400 and "limit is 1" in many.text
        ok = c.post("/v1/answer", json={"question": "What is Wilms tumor?"})
        assert ok.status_code == 200
