"""Suite runs, comparisons, reports and the CLI against a scripted fake backend (no model, no index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.query.schemas import Answer, Reference, Section, Statement
from evals import answers, retrieval, suites
from evals import datasets as ds
from evals.backends import AnswerOutcome, SearchOutcome
from evals.cli import register
from evals.report import RunHeader, write_report
from evals.runner import RunConfig
from core.models import DocType


class FakeBackend:
    """bm25 ranks gold passages first; dense second (after a distractor); hybrid returns chunks of the gold twice."""

    kind = "fake"

    def __init__(self, gold: dict[str, list[str]]) -> None:
        self.gold = gold
        self.calls: list[tuple[str, str]] = []

    def describe(self) -> dict:
        return {"backend": "fake", "model": {"name": "fake-model", "dimension": 3, "fingerprint": "f"}}

    def unavailable(self, retriever: str) -> str | None:
        return "no reranker configured" if retriever == "hybrid+rerank" else None

    def search(self, query: str, k: int, retriever: str) -> SearchOutcome:
        self.calls.append((query, retriever))
        gold = self.gold.get(query, [])
        if retriever == "bm25":
            ids = gold + ["DISTRACTOR_Sec1"]
        elif retriever == "dense":
            ids = ["DISTRACTOR_Sec1"] + gold
        else:  # two chunks of the same passage: the passage ranks at its first chunk
            ids = [g for g in gold for _ in range(2)] + ["DISTRACTOR_Sec1"]
        return SearchOutcome(doc_ids=ids[:k], latency_ms=2.0 if retriever == "bm25" else 4.0)

    def answer(self, question: str, audience: str) -> AnswerOutcome:
        passage = "Gout is treated with colchicine. It lowers pain."
        if "zorb" in question or "rocket" in question:
            answer = Answer(question=question, resolved_question=question, audience=audience, abstained=True,
                            disclaimer="Not medical advice.")
        else:
            answer = Answer(
                question=question, resolved_question=question, audience=audience, disclaimer="Not medical advice.",
                bottom_line=Statement(text="Gout is treated with colchicine.", citations=[1], chunk_id="g#0"),
                sections=[Section(heading="Treatment", statements=[
                    Statement(text="It lowers pain.", citations=[1], chunk_id="g#0"),
                    Statement(text="It cures gout forever.", citations=[1], chunk_id="g#0")])],
                references=[Reference(n=1, type=DocType.patient_information, title="Gout", chunk_id="g#0",
                                      doc_id="g", passage=passage)])
        return AnswerOutcome(answer=answer, latency_ms=10.0)

    def close(self) -> None:
        pass


@pytest.fixture
def medquad(data_dir: Path) -> suites.RetrievalSuite:
    return suites.medquad_suite(ds.data_file(data_dir, "medquad_questions"),
                                ds.data_file(data_dir, "medquad_passages"), None)


def _backend(suite: suites.RetrievalSuite) -> FakeBackend:
    return FakeBackend({q.text: list(q.gains) for qs in suite.variants.values() for q in qs})


def test_evaluate_scores_every_retriever_on_the_same_queries(medquad):
    backend = _backend(medquad)
    result = retrieval.evaluate(medquad, backend, ["bm25", "dense", "hybrid", "hybrid+rerank"], progress=False)
    assert result.retrievers == ["bm25", "dense", "hybrid"]
    assert result.skipped == {"hybrid+rerank": "no reranker configured"}
    by = {a.retriever: a for a in result.aggregates}
    n = len(medquad.variants["question"])
    assert all(a.n == n for a in by.values())
    assert by["bm25"].metrics["passage MRR@10"].mean == 1.0
    assert by["dense"].metrics["passage MRR@10"].mean == 0.5
    assert by["dense"].metrics["passage R@1"].mean == 0.0 and by["dense"].metrics["passage R@5"].mean == 1.0
    assert by["hybrid"].metrics["passage MRR@10"].mean == 1.0  # duplicate chunks collapse to one passage
    assert by["bm25"].metrics["page R@1"].mean == 1.0
    assert by["bm25"].latency_p50_ms == 2.0 and by["dense"].latency_p95_ms == 4.0
    assert by["dense"].curve[0] == 0.0 and by["dense"].curve[1] == 1.0  # recall@1, recall@2
    queries = [q for q, _ in backend.calls if _ == "bm25"]
    assert queries[1:] == [q.text for q in medquad.variants["question"]]  # first call is the warm-up
    rows = [r for r in result.rows if r.retriever == "hybrid"]
    assert rows[0].top == [rows[0].top[0], "DISTRACTOR_Sec1"]


def test_comparisons_say_which_retriever_is_better(medquad):
    result = retrieval.evaluate(medquad, _backend(medquad), ["bm25", "dense", "hybrid"], progress=False)
    verdicts = {(c.retriever, c.baseline, c.metric): c.verdict for c in result.comparisons}
    assert verdicts[("dense", "bm25", "passage MRR@10")] == "worse"
    assert verdicts[("hybrid", "dense", "passage MRR@10")] == "better"
    assert verdicts[("hybrid", "bm25", "passage MRR@10")] == "no significant difference"
    assert ("bm25", "dense", "passage MRR@10") not in verdicts


def _header(suite: str) -> RunHeader:
    return RunHeader(suite=suite, command="medcite eval x", backend={"backend": "fake", "model": {"name": "m"}},
                     data_files=["q.jsonl"], limit=None)


def test_retrieval_report_files(medquad, tmp_path: Path):
    result = retrieval.evaluate(medquad, _backend(medquad), ["bm25", "dense", "hybrid", "hybrid+rerank"],
                                progress=False)
    paths = write_report(result, _header("medquad"), tmp_path / "out")
    text = paths["markdown"].read_text()
    assert "| bm25 | 1.000 [1.000, 1.000]" in text and "`medcite eval x`" in text
    assert "**hybrid does not beat bm25 on passage nDCG@10**" in text
    assert "- **hybrid+rerank**: no reranker configured" in text
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads(paths["json"].read_text())
    assert payload["header"]["backend"]["model"]["name"] == "m"
    assert len(payload["result"]["rows"]) == 3 * len(medquad.variants["question"])
    agg = payload["result"]["aggregates"][0]["metrics"]["passage R@10"]
    assert set(agg) == {"mean", "lo", "hi", "n"}


def test_answers_suite_scores_and_aggregates(data_dir: Path, tmp_path: Path):
    items = answers.in_corpus_items({"liveqa": ds.data_file(data_dir, "liveqa")}, None, None)
    items += answers.out_of_corpus_items(limit=2)
    result = answers.evaluate(items, FakeBackend({}), progress=False)
    groups = {g.group: g for g in result.groups}
    live = groups["liveqa"]
    assert live.answered.mean == 1.0 and live.statements == 3 and live.supported_statements == 2
    assert live.support_rate.mean == pytest.approx(2 / 3) and live.refs_consistent.mean == 1.0
    assert live.disclaimer_present.mean == 1.0 and 0 < live.rouge_l.mean < 1 and live.token_f1.mean > 0.3
    out = groups["out-of-corpus (all)"]
    assert out.n == 4 and out.answered.mean == 0.25  # two "rocket" questions and "zorblaxin" abstain
    assert groups["in-corpus (all)"].n == 1
    paths = write_report(result, _header("answers"), tmp_path / "answers")
    text = paths["markdown"].read_text()
    assert "| liveqa | 1 | 1.000 [1.000, 1.000]" in text and "Out-of-corpus questions that were answered" in text
    assert "plot" not in paths


def test_run_config_validation():
    assert RunConfig(suite="liveqa", retrievers=["hybrid", "dense", "hybrid"]).retrievers == ["bm25", "hybrid", "dense"]
    with pytest.raises(ValueError, match="unknown retriever"):
        RunConfig(suite="liveqa", retrievers=["splade"])


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


def test_cli_rejects_bad_input_with_clear_messages(tmp_path: Path, data_dir: Path):
    runner = CliRunner()
    result = runner.invoke(_cli(), ["eval", "nosuch"])
    assert result.exit_code == 2 and "unknown suite 'nosuch'" in result.output
    result = runner.invoke(_cli(), ["eval", "medquad", "--retrievers", "bm25,splade"])
    assert result.exit_code == 2 and "unknown retriever(s) ['splade']" in result.output
    missing = tmp_path / "no-index"
    result = runner.invoke(_cli(), ["eval", "medquad", "--index", str(missing), "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and f"no index at {missing}" in result.output
    result = runner.invoke(_cli(), ["eval", "liveqa", "--data", str(tmp_path / "nope.jsonl"), "--endpoint",
                                    "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "error" in result.output


def _remote(handler) -> "RemoteBackend":
    import httpx

    from evals.backends import RemoteBackend

    return RemoteBackend("http://svc", transport=httpx.MockTransport(handler), ready_timeout=0)


def test_remote_backend_speaks_the_contract_and_reports_errors():
    import httpx

    from evals.backends import RetrieverUnavailable
    from evals.errors import EvalError

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"ready": True, "model": "m1"})
        if request.method == "GET":
            return httpx.Response(404)
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if body.get("retriever") == "hybrid+rerank":
            return httpx.Response(400, json={"detail": "needs a reranker"})
        if body.get("query") == "boom":
            return httpx.Response(500, text="internal error")
        return httpx.Response(200, json={"passages": [{"doc_id": "a"}, {"doc_id": "a"}, {"doc_id": "b"}]})

    backend = _remote(handler)
    assert backend.describe()["model"] == {"name": "m1"}
    assert backend.search("x" * 3000, 5, "bm25").doc_ids == ["a", "a", "b"]
    assert seen[-1] == ("/v1/search", {"query": "x" * 2000, "top_k": 5, "retriever": "bm25"})  # clipped like the API
    assert backend.unavailable("hybrid+rerank") == "hybrid+rerank: needs a reranker"
    assert backend.unavailable("dense") is None
    with pytest.raises(RetrieverUnavailable):
        backend.search("q", 5, "hybrid+rerank")
    with pytest.raises(EvalError, match="returned HTTP 500: internal error"):
        backend.search("boom", 5, "bm25")
    with pytest.raises(EvalError, match="response is not an Answer"):
        backend.answer("q", "clinician")


def test_remote_backend_not_ready_is_a_clear_error():
    import httpx

    from evals.errors import EvalError

    with pytest.raises(EvalError, match="is not ready: HTTP 503 RuntimeError: index missing"):
        _remote(lambda request: httpx.Response(503, json={"ready": False, "reason": "RuntimeError: index missing"}))
    with pytest.raises(EvalError, match="is not ready: HTTP 503 loading"):  # still loading after the wait
        _remote(lambda request: httpx.Response(503, json={"ready": False, "reason": "loading"}))


def test_remote_backend_waits_out_rate_limits_and_sends_the_key(monkeypatch):
    import httpx

    from evals import backends
    from evals.backends import RemoteBackend
    from evals.errors import EvalError

    sleeps: list[float] = []
    monkeypatch.setattr(backends.time, "sleep", sleeps.append)
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"}, json={"detail": "rate limit"}),
                    httpx.Response(503, json={"detail": "busy"}),
                    httpx.Response(200, json={"passages": [{"doc_id": "a"}]})])
    keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("authorization"))
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"ready": True})
        return next(answers)

    backend = RemoteBackend("http://svc", api_key="k1", transport=httpx.MockTransport(handler))
    assert backend.search("q", 3, "bm25").doc_ids == ["a"]
    assert sleeps == [2.0, 1.0] and backend.waited_s == 3.0
    assert set(keys) == {"Bearer k1"}
    denied = RemoteBackend("http://svc", transport=httpx.MockTransport(
        lambda r: httpx.Response(200, json={}) if r.url.path == "/readyz" else httpx.Response(401)))
    with pytest.raises(EvalError, match="needs a query key"):
        denied.search("q", 3, "bm25")
