"""``medcite serve --workers 2`` as a real process tree: both workers share the supervisor's loaded index (their
private memory is a small part of what they map), an upload swapped in by the worker that ran the job is served
by every worker, a killed worker is started again, and SIGTERM stops them all. Uploads ingest with the real
model in a child process, so this is slow."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.settings import Settings

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
KEY = "workers-admin-key"
CORPUS = {
    "gout.md": "# Gout\n\nGout is treated with colchicine or NSAIDs during a flare. Urate-lowering therapy with "
               "allopurinol prevents recurrent attacks. Patients should limit alcohol and purine-rich food.\n",
    "asthma.md": "# Asthma inhalers\n\nAn inhaled corticosteroid controls asthma. A spacer improves delivery of the "
                 "inhaled medicine. Rinse the mouth after each corticosteroid dose.\n",
}
UPLOAD = (b"# Tick bites\n\nRemove an attached tick with fine-tipped tweezers by pulling upward with steady pressure. "
          b"Clean the bite area with alcohol afterwards. Watch for an expanding red rash over the next month.\n")


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def private_and_rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return fields["Private_Clean"] + fields["Private_Dirty"], fields["Rss"]


def served_versions(url: str) -> dict[str, str]:
    """pid -> the index version that worker serves, from the multiprocess metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out = {}
    for labels in re.findall(r"^medcite_index_info\{([^}]*)\} 1\.0$", text, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out[fields["pid"]] = fields["version"]
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("workers")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings()
    settings.paths.data_dir = root / "var"
    settings.paths.index_dir = root / "var" / "index"
    assert ingest([corpus], settings, progress=False).written
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCITE_PATHS__INDEX_DIR=str(settings.paths.index_dir),
               MEDCITE_PATHS__DATA_DIR=str(settings.paths.data_dir), MEDCITE_PATHS__CORPUS_DIR=str(corpus),
               MEDCITE_PATHS__QUESTION_BANK=str(root / "no-bank.jsonl"), MEDCITE_ADMIN_KEYS=KEY,
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="0", MEDCITE_SERVER__INDEX_POLL_SECONDS="0.5",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    log = (root / "stderr.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2",
                             "--no-build"],  # swaps by upload jobs only: a background build would index the upload first
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (root / "stderr.log").read_text()
            assert time.monotonic() < deadline, "medcite serve --workers 2 did not become ready"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200 and len(children(proc.pid)) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        log.close()


def test_workers_share_the_supervisors_index_memory(server):
    proc, url = server
    for _ in range(20):
        assert httpx.post(f"{url}/v1/search", json={"query": "gout flare", "top_k": 3}).status_code == 200
    for pid in children(proc.pid):
        private, rss = private_and_rss_mb(pid)
        assert private < 0.5 * rss, (pid, private, rss)  # most of what a worker maps is shared with the others


def test_a_swap_through_one_worker_reaches_every_worker(server):
    proc, url = server
    workers = {str(pid) for pid in children(proc.pid)}
    for _ in range(10):  # every worker serves at least once, so each reports its version
        httpx.get(f"{url}/readyz", headers={"Connection": "close"})
    before = served_versions(url)
    headers = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(f"{url}/v1/documents", headers=headers, files={"file": ("tick.md", UPLOAD, "text/markdown")})
    assert r.status_code == 202, r.text
    job_url = r.json()["status_url"]
    deadline = time.monotonic() + 240
    while (job := httpx.get(f"{url}{job_url}" if job_url.startswith("/") else job_url, headers=headers).json())[
            "status"] not in ("done", "failed"):  # any worker reads the job's file
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["status"] == "done" and job["index_swapped"], job
    new_version = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        versions = served_versions(url)
        fresh = {v for v in versions.values() if v not in before.values()}
        if workers <= set(versions) and len(fresh) == 1 and set(versions.values()) == fresh:
            new_version = fresh.pop()
            break
        time.sleep(0.5)
    assert new_version, (before, served_versions(url), workers)
    for _ in range(12):  # fresh connections land on either worker: all of them find the new document
        r = httpx.post(f"{url}/v1/search", json={"query": "tick bite tweezers", "top_k": 1},
                       headers={"Connection": "close"})
        assert r.status_code == 200 and r.json()["passages"][0]["title"] == "Tick bites", r.text


def test_a_killed_worker_is_replaced_and_sigterm_stops_all(server):
    proc, url = server
    first = children(proc.pid)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = children(proc.pid)
        if len(now) == 2 and first[0] not in now:
            break
        time.sleep(0.2)
    assert len(now) == 2 and first[0] not in now, now
    assert httpx.get(f"{url}/readyz", headers={"Connection": "close"}).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    for pid in now:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
