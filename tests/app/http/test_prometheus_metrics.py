"""``GET /metrics``: Prometheus text that a parser reads, requests by route template and status, stage latency
histograms, abstentions, index version and size, build progress -- and no question text in any label."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.http.metrics import set_build_progress

SECRET = "My neighbour's daughter, aged 4, has a flank mass: how is Wilms tumor diagnosed?"


@pytest.fixture(scope="module")
def client(small_settings, tmp_path_factory):
    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline

    settings = small_settings.model_copy(deep=True)
    settings.paths.data_dir = tmp_path_factory.mktemp("metrics-var")
    app = create_app(settings, pipeline=AnswerPipeline.from_settings(small_settings))
    return TestClient(app, raise_server_exceptions=False)


def scrape(client: TestClient) -> tuple[str, dict[tuple[str, tuple], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):  # the official parser accepts it
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return response.text, samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_stages_abstentions_and_index(client):
    _, before = scrape(client)
    assert client.post("/v1/answer", json={"question": SECRET}).status_code == 200
    abstained = client.post("/v1/answer", json={"question": "What is the usual dose of zorblaxin for adults?"})
    assert abstained.status_code == 200 and abstained.json()["abstained"]
    assert client.post("/v1/search", json={"query": "asthma inhaler"}).status_code == 200
    assert client.get("/v1/jobs/0123456789abcdef").status_code == 401  # refused before routing: still by template
    assert client.get("/no/such/page").status_code == 404
    text, after = scrape(client)

    def delta(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("medcite_http_requests_total", method="POST", route="/v1/answer", status="200") == 2
    assert delta("medcite_http_requests_total", method="GET", route="/v1/jobs/{job_id}", status="401") == 1
    assert delta("medcite_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("medcite_http_request_duration_seconds_count", method="POST", route="/v1/search") == 1
    assert delta("medcite_answers_total", audience="clinician", outcome="abstained") == 1
    assert delta("medcite_answers_total", audience="clinician", outcome="answered") == 1
    for stage in ("embed_query", "bm25", "dense", "fusion", "assembly", "related", "total"):
        assert delta("medcite_stage_duration_seconds_count", operation="answer", stage=stage) == 2, stage
    assert delta("medcite_stage_duration_seconds_count", operation="search", stage="bm25") == 1

    pipe = client.app.state.medcite.pipeline
    assert value(after, "medcite_index_documents") == len(pipe.index.store.documents) > 0
    assert value(after, "medcite_index_chunks") == len(pipe.index.store)
    info = {dict(k[1])["version"]: v for k, v in after.items() if k[0] == "medcite_index_info"}
    assert info.get(pipe.index.path.name) == 1.0 and value(after, "medcite_ready") == 1.0
    for word in ("neighbour", "daughter", "flank", "zorblaxin", "asthma", "no/such"):  # no request text in any label
        assert word not in text, word


def test_build_progress_gauges(client):
    set_build_progress("dense", 1200, 48000)
    _, samples = scrape(client)
    assert value(samples, "medcite_build_done", stage="dense") == 1200
    assert value(samples, "medcite_build_total", stage="dense") == 48000
    assert value(samples, "medcite_build_updated_timestamp_seconds") > 0
    with pytest.raises(ValueError, match="short lower-case code name"):
        set_build_progress("How is gout treated?", 1, 2)
