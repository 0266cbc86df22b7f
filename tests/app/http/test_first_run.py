"""A first run of the real ``medcite serve`` on a corpus with no index: it answers from the lexical stage, says the
index is partial, then serves the complete index without a restart; a kill during the dense stage loses nothing
already embedded (issue 12)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from core.contracts import PARTIAL_INDEX_NOTICE
from ingest.progress import read_progress

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(corpus: Path, work: Path, **env_extra: str) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    port = _free_port()
    log = work / f"serve-{port}.log"
    env = dict(os.environ, MEDCITE_PATHS__CORPUS_DIR=str(corpus), MEDCITE_PATHS__INDEX_DIR=str(work / "index"),
               MEDCITE_PATHS__DATA_DIR=str(work / "var"), MEDCITE_PATHS__QUESTION_BANK=str(work / "no-bank.jsonl"),
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="0", MEDCITE_SERVER__INDEX_POLL_SECONDS="0.5",
               MEDCITE_EMBEDDING__ONNX_CACHE_DIR=str(REPO / "var" / "models"), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO), **env_extra)
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _ready(url: str) -> tuple[int, dict]:
    try:
        r = httpx.get(f"{url}/readyz", timeout=5)
        return r.status_code, r.json()
    except (httpx.HTTPError, ValueError):
        return 0, {}


def _wait(url: str, proc: subprocess.Popen, log: Path, until, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        status, body = _ready(url)
        if until(status, body):
            return body
        time.sleep(0.25)
    pytest.fail(f"timed out; last /readyz: {_ready(url)}; log tail: {log.read_text(errors='replace')[-2000:]}")


def test_first_run_answers_from_the_lexical_stage_then_serves_the_full_index(small_corpus, tmp_path):
    with serving(small_corpus, tmp_path, MEDCITE_EMBEDDING__BATCH_SIZE="4") as (url, proc, log):
        # the CURRENT watcher may swap the lexical version in a moment before the builder reports the dense stage
        partial = _wait(url, proc, log, lambda s, b: s == 200 and b.get("partial") is True
                        and (b.get("build") or {}).get("stage") == "dense")
        assert partial["build"]["state"] == "building"
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        answer = httpx.post(f"{url}/v1/answer", json={"question": "What are the symptoms of Wilms tumor?"},
                            timeout=60).json()
        assert answer["index"]["partial"] and answer["index"]["retrievers"] == ["bm25"]
        assert not answer["abstained"] and answer["references"] and answer["disclaimer"]
        chat = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
            "model": "medcite", "messages": [{"role": "user", "content": "What are the symptoms of Wilms tumor?"}]})
        assert PARTIAL_INDEX_NOTICE in chat.json()["choices"][0]["message"]["content"]
        full = _wait(url, proc, log, lambda s, b: s == 200 and b.get("partial") is False
                     and (b.get("build") or {}).get("state") == "done")
        assert full["chunks"] == partial["chunks"] and full["version"] != partial["version"]
        answer = httpx.post(f"{url}/v1/answer", json={"question": "What are the symptoms of Wilms tumor?"},
                            timeout=60).json()
        assert not answer["index"]["partial"] and answer["index"]["retrievers"] == ["bm25", "dense"]


def test_a_kill_during_the_dense_stage_keeps_what_was_embedded(small_corpus, tmp_path):
    slow = {"MEDCITE_EMBEDDING__BATCH_SIZE": "2", "MEDCITE_EMBEDDING__CACHE_SLICE": "128"}
    progress_file = tmp_path / "var" / "build" / "progress.json"
    with serving(small_corpus, tmp_path, **slow) as (url, proc, log):
        first = _wait(url, proc, log, lambda s, b: (b.get("build") or {}).get("step") == "embed"
                      and (b.get("build") or {}).get("done", 0) >= 512)
        total = first["build"]["total"]
        assert total > 1000, first
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its ingest child, mid-stage
        proc.wait(timeout=30)
    assert json.loads(progress_file.read_text())["state"] == "building"  # it never finished
    deadline = time.monotonic() + 10  # the killed ingest child may take a moment to be reaped
    while read_progress(progress_file).state != "interrupted" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert read_progress(progress_file).state == "interrupted"  # its builder is dead: not shown as building
    with serving(small_corpus, tmp_path) as (url, proc, log):
        resumed = _wait(url, proc, log, lambda s, b: ((b.get("build") or {}).get("step") == "embed"
                                                      and b["build"]["pid"] != first["build"]["pid"])
                        or (s == 200 and b.get("partial") is False))
        if resumed.get("build", {}).get("step") == "embed":
            assert resumed["build"]["total"] <= total - 512  # only what the killed run had not embedded yet
        # the builder swaps the complete version in, then writes its final progress: wait for both (as above)
        done = _wait(url, proc, log, lambda s, b: s == 200 and b.get("partial") is False
                     and (b.get("build") or {}).get("state") in ("done", "failed"))
        assert done["build"]["state"] == "done"
