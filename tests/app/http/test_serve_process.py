"""The real ``medcite serve`` process: JSON request logs on stderr without question text, and client identity from
the TCP peer, not from a forged ``X-Forwarded-For`` (issue 9, findings 5 and 9; issue 11, item 4)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
SECRET = "my patient Zelda Quimby aged 44 has a flank mass"


@pytest.fixture(scope="module")
def server(small_settings, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = tmp_path_factory.mktemp("serve") / "stderr.log"
    env = dict(os.environ, MEDCITE_PATHS__INDEX_DIR=str(small_settings.paths.index_dir),
               MEDCITE_PATHS__DATA_DIR=str(log_path.parent / "var"),
               MEDCITE_PATHS__QUESTION_BANK=str(small_settings.paths.question_bank),
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="60", MEDCITE_SECURITY__RATE_LIMIT_BURST="5",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    env.pop("MEDCITE_LOG_QUESTIONS", None)
    with log_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.3)
        else:
            pytest.fail("medcite serve did not become ready")
        yield url, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_request_log_is_json_lines_without_question_text(server):
    url, log_path = server
    response = httpx.post(f"{url}/v1/answer", json={"question": SECRET}, headers={"x-request-id": "req-test-1"})
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [r for r in _json_lines(log_path) if r.get("request_id") == "req-test-1"]
        if lines:
            break
        time.sleep(0.1)
    [line] = lines
    assert line["route"] == "/v1/answer" and line["status"] == 200 and line["method"] == "POST"
    assert line["duration_ms"] > 0 and {"embed_query", "assembly", "total"} <= set(line["stages_ms"])
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "Zelda" not in text and "flank mass" not in text  # no question text unless the deployment opts in


def test_forged_forwarded_for_does_not_buy_new_rate_limit_buckets(server):
    url, _ = server
    time.sleep(6)  # let the bucket refill from the other test
    codes = [httpx.get(f"{url}/v1/documents", headers={"x-forwarded-for": f"203.0.113.{i}"}).status_code
             for i in range(12)]
    assert 429 in codes, codes
