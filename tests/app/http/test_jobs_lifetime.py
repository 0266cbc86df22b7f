"""Ingest children must not outlive the server that started them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has already died


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_child_is_killed_when_the_server_process_dies(tmp_path):
    parent_code = (
        "import subprocess, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from app.http.jobs import _die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], preexec_fn=_die_with_parent)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(child_pid)
    if alive:
        os.kill(child_pid, 9)
    assert not alive, "the ingest child outlived its server"


def test_a_job_of_a_killed_worker_process_reads_failed_not_running(tmp_path):
    """Issue 22 item 7: a worker SIGKILLed mid-upload left its job 'running' for every other worker until a full
    restart; a stored job whose writing process is gone now reads as failed, saying why."""
    import json
    import subprocess
    import sys

    from app.http.jobs import Job, JobQueue

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = tmp_path / "jobs"
    store.mkdir()
    job = Job(id="0123456789abcdef", kind="upload", status="running")
    (store / f"{job.id}.json").write_text(json.dumps({"job": job.model_dump(mode="json"), "inputs": {},
                                                      "pid": dead.pid}))
    other = JobQueue(store=store)
    seen = other.get(job.id)
    assert seen is not None and seen.status == "failed" and f"pid {dead.pid}" in seen.message
    assert JobQueue(store=store).get(job.id).status == "failed"  # written back: every worker reads the same
    alive = Job(id="fedcba9876543210", kind="upload", status="running")
    (store / f"{alive.id}.json").write_text(json.dumps({"job": alive.model_dump(mode="json"), "inputs": {},
                                                        "pid": os.getppid()}))
    assert other.get(alive.id).status == "running"  # its process is alive: left alone
