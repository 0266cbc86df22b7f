"""The MCP server driven by the official SDK's own client against the real server: over stdio (a spawned
``medcite mcp`` on the small test index) and over streamable HTTP (the FastAPI app served by uvicorn on a free
port, ``/v1/mcp``). Tools return the structured answer with its citations plus readable text; limits and
privacy are the HTTP API's."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

mcp = pytest.importorskip("mcp", reason="the MCP SDK is not installed (pip install 'medcite[mcp]')")
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from core.contracts import CITATION_RE, DISCLAIMERS  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
QUESTION = "How is Wilms tumor diagnosed?"
SECRET = "my patient Zelda Quimby aged 44 has a flank mass: how is Wilms tumor diagnosed?"


def _env(settings, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "MEDCITE_PATHS__INDEX_DIR": str(settings.paths.index_dir),
            "MEDCITE_PATHS__DATA_DIR": str(data_dir), "MEDCITE_PATHS__QUESTION_BANK": str(settings.paths.question_bank),
            "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


async def _exercise(client: Client) -> dict:
    """Call every tool the way an agent would; returns what came back."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    await client.call_tool("answer", {"question": SECRET})  # for the privacy check only
    answer = await client.call_tool("answer", {"question": QUESTION})
    doc_id = answer.structured_content["references"][0]["doc_id"]
    follow = await client.call_tool("answer", {"question": "How is it treated?", "turns": [
        {"question": QUESTION, "answer": answer.content[0].text,
         "cited_chunk_ids": [r["chunk_id"] for r in answer.structured_content["references"]]}]})
    search = await client.call_tool("search", {"query": "Wilms tumor", "k": 3, "retriever": "bm25"})
    document = await client.call_tool("get_document", {"doc_id": doc_id})
    missing = await client.call_tool("get_document", {"doc_id": "no-such-document"})
    too_long = await client.call_tool("answer", {"question": "x" * 2001})
    return {"tools": tools, "answer": answer, "follow": follow, "search": search, "document": document,
            "missing": missing, "too_long": too_long}


def _check(out: dict) -> None:
    assert set(out["tools"]) == {"answer", "search", "get_document"}
    assert out["tools"]["answer"].output_schema["title"] == "Answer"
    assert out["tools"]["answer"].annotations.read_only_hint is True

    answer = out["answer"]
    assert not answer.is_error
    data = answer.structured_content
    assert not data["abstained"] and data["bottom_line"]["citations"], data
    assert data["disclaimer"] == DISCLAIMERS["clinician"]
    numbers = {r["n"] for r in data["references"]}
    cited = {n for s in data["sections"] for st in s["statements"] for n in st["citations"]}
    assert cited and cited <= numbers  # every citation points into the numbered references
    assert any("wilms" in r["title"].lower() for r in data["references"])
    text = answer.content[0].text  # the readable Markdown: citations, references, disclaimer
    assert CITATION_RE.search(text) and "References" in text and DISCLAIMERS["clinician"][:40] in text

    follow = out["follow"].structured_content
    assert "wilms" in follow["resolved_question"].lower(), follow["resolved_question"]  # the turns kept the topic

    search = out["search"].structured_content
    assert search["retriever"] == "bm25" and len(search["passages"]) == 3
    assert search["passages"][0]["rank"] == 1 and "Wilms" in out["search"].content[0].text

    document = out["document"].structured_content
    assert document["doc_id"] == data["references"][0]["doc_id"] and document["sections"]
    assert "source_path" not in document
    chunk_ids = {c for s in document["sections"] for c in s["chunk_ids"]}
    assert data["references"][0]["chunk_id"] in chunk_ids  # the cited chunk is in the document's text

    assert out["missing"].is_error and "no document with id 'no-such-document'" in out["missing"].content[0].text
    assert out["too_long"].is_error and "2000" in out["too_long"].content[0].text


def test_stdio_server_answers_through_the_sdk_client(small_settings, tmp_path):
    """``medcite mcp`` spawned as a subprocess, driven over stdio; its stderr carries no question text."""
    stderr = tmp_path / "stderr.log"
    params = StdioServerParameters(command=sys.executable, args=["-m", "app.cli", "mcp"], cwd=str(REPO),
                                   env=_env(small_settings, tmp_path / "var"))

    async def run() -> dict:
        with stderr.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=180) as client:
                return await _exercise(client)

    out = asyncio.run(run())
    _check(out)
    log = stderr.read_text(errors="replace")
    assert "Zelda" not in log and "flank mass" not in log, log[-2000:]


@contextmanager
def _uvicorn(app) -> Iterator[str]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True, name="mcp-test-server")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def http_app(small_settings, tmp_path_factory):
    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline

    settings = small_settings.model_copy(deep=True)
    settings.paths.data_dir = tmp_path_factory.mktemp("mcp-http-var")
    settings.security = settings.security.model_copy(update={"query_keys": ["mcp-query-key"]})
    return create_app(settings, pipeline=AnswerPipeline.from_settings(small_settings))


def test_streamable_http_endpoint_answers_through_the_sdk_client(http_app, caplog):
    import httpx2

    caplog.set_level(logging.DEBUG)
    with _uvicorn(http_app) as url:
        async def run() -> dict:
            headers = {"Authorization": "Bearer mcp-query-key"}
            async with httpx2.AsyncClient(headers=headers, timeout=120, trust_env=False) as http:
                from mcp.client.streamable_http import streamable_http_client

                async with Client(streamable_http_client(f"{url}/v1/mcp", http_client=http)) as client:
                    return await _exercise(client)

        out = asyncio.run(run())
        import httpx

        refused = httpx.post(f"{url}/v1/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, trust_env=False)
        # issue 22 item 7: a GET stream stayed open forever (one connection and task each, no cap)
        stream = httpx.get(f"{url}/v1/mcp", headers={"Authorization": "Bearer mcp-query-key",
                                                     "Accept": "text/event-stream"}, trust_env=False, timeout=10)
        metrics = httpx.get(f"{url}/metrics", trust_env=False).text
    _check(out)
    assert refused.status_code == 401  # the query keys guard /v1/mcp like every /v1 route
    assert stream.status_code == 405 and stream.headers["allow"] == "POST" and "stateless" in stream.text
    assert 'route="/v1/mcp"' in metrics and 'status="401"' in metrics
    assert 'medcite_stage_duration_seconds_count{operation="answer",stage="total"}' in metrics  # MCP answers count
    logged = "\n".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert "Zelda" not in logged and "flank mass" not in logged


def test_missing_sdk_gives_a_clear_error(tmp_path):
    """Without the optional extra, importing the MCP server says what to install (and `medcite mcp` prints it)."""
    import subprocess

    blocker = tmp_path / "mcp" / "__init__.py"
    blocker.parent.mkdir()
    blocker.write_text("raise ImportError('No module named mcp')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "mcp"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "pip install 'medcite[mcp]'" in proc.stderr and "Traceback" not in proc.stderr


def test_sdk_warnings_reach_the_log_as_json_lines(tmp_path):
    """Issue 22 item 7: the MCP library wrote plain-text lines into medcite's JSON log (Python's last-resort
    handler printed its warnings after the SDK's own handler was removed)."""
    import json
    import subprocess

    script = (
        "import logging\n"
        "from app.http.logs import configure_json_logging\n"
        "from app.mcp.server import build_server\n"
        "configure_json_logging()\n"
        "build_server(lambda: None)\n"
        "logging.getLogger('mcp.server.streamable_http').warning('Session %s not found', 'abc')\n"
        "logging.getLogger('medcite.api').warning('medcite says hello')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert [(r["logger"], r["message"]) for r in records] == [
        ("mcp.server.streamable_http", "Session abc not found"), ("medcite.api", "medcite says hello")]
