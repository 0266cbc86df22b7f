"""Background jobs: one worker thread runs admin jobs in order; parsing and ingestion run in subprocesses.

A job is ``queued`` -> ``running`` -> ``done`` or ``failed`` (with per-file errors). Parsing one uploaded file
(:func:`check_upload`) and the whole ingest (:func:`run_ingest`) run in ``python -m ingest.worker`` child processes
with time limits; a child that overruns is killed (SIGKILL), which the index tolerates (atomic versions), so a
spinning PDF can never hang the server.

>>> q = JobQueue()
>>> job = q.submit("reindex", lambda job: job.note("nothing to do"))
>>> q.wait(job.id, timeout=5).status
'done'
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from index.settings import Settings
from index.storage import cleanup_stale
from ingest.pipeline import IngestReport
from ingest.worker import CheckResult

log = logging.getLogger("medcite.jobs")
REPO_ROOT = Path(__file__).resolve().parents[1]
JobKind = Literal["upload", "delete", "reindex"]
JobStatus = Literal["queued", "running", "done", "failed"]


class FileError(BaseModel):
    file: str = Field(description="The file (client file name for uploads, path for corpus files).")
    reason: str


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus = "queued"
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    started: datetime | None = None
    finished: datetime | None = None
    doc_id: str | None = Field(None, description="Document the job uploads or deletes.")
    message: str = ""
    errors: list[FileError] = Field(default_factory=list, description="Per-file errors.")
    report: dict[str, Any] | None = Field(None, description="Ingest summary (documents, chunks, new, removed...).")
    index_swapped: bool = Field(False, description="Whether a new index version went live.")
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def note(self, message: str) -> None:
        self.message = message


class JobFailed(Exception):
    """Ends a job as ``failed`` with this message (and any errors already recorded)."""


class JobQueue:
    """Runs submitted jobs one at a time on a daemon thread, keeping the last ``keep`` jobs for status queries."""

    def __init__(self, keep: int = 500) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue[tuple[Job, Callable[[Job], None]]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition(self._lock)
        self.keep = keep

    def submit(self, kind: JobKind, action: Callable[[Job], None], doc_id: str | None = None) -> Job:
        job = Job(id=secrets.token_hex(8), kind=kind, doc_id=doc_id)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, daemon=True, name="medcite-jobs")
                self._thread.start()
        self._queue.put((job, action))
        return job.model_copy()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def wait(self, job_id: str, timeout: float = 60.0) -> Job | None:
        """Block until the job has finished (tests and scripts)."""
        deadline = time.monotonic() + timeout
        with self._done:
            while (job := self._jobs.get(job_id)) is not None and job.status in ("queued", "running"):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left)
            return job.model_copy(deep=True) if job else None

    def _work(self) -> None:
        while True:
            job, action = self._queue.get()
            t0 = time.perf_counter()
            job.status, job.started = "running", datetime.now(timezone.utc)
            try:
                action(job)
                status = "done"
            except JobFailed as exc:
                job.message, status = str(exc), "failed"
            except Exception as exc:  # reported in the job, never raised into the server
                log.exception("job %s failed", job.id)
                job.message, status = f"internal error: {type(exc).__name__}: {exc}", "failed"
            job.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
            with self._done:
                job.status, job.finished = status, datetime.now(timezone.utc)
                self._done.notify_all()
            log.info("job finished", extra={"fields": {"job_id": job.id, "kind": job.kind, "status": status,
                                                       "stages_ms": job.timings_ms, "errors": len(job.errors)}})


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _die_with_parent() -> None:
    """In the child (Linux): receive SIGKILL when the server process dies, so no ingest outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux/glibc: the time limit still bounds the child
        pass


def _run_child(args: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ingest.worker ARGS``; on timeout the child is killed and JobFailed raised."""
    proc = subprocess.Popen([sys.executable, "-m", "ingest.worker", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_child_env(), cwd=REPO_ROOT,
                            preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise JobFailed(f"{what} exceeded its time limit of {timeout:g} s and was stopped") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def check_upload(path: Path, meta: dict[str, Any], settings: Settings) -> CheckResult:
    """Parse an uploaded file in a child process with the parse time limit and page/size limits."""
    sec = settings.security
    try:
        done = _run_child(["check", str(path), "--max-pages", str(sec.max_pdf_pages),
                           "--max-chars", str(sec.max_document_chars), "--meta", json.dumps(meta)],
                          sec.parse_timeout_s, "parsing the file")
    except JobFailed as exc:
        return CheckResult(ok=False, reason=str(exc))
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return CheckResult(ok=False, reason=f"the parser failed ({tail[0][:300]}); a decompression bomb or a "
                                            "damaged file?")
    return CheckResult.model_validate_json(done.stdout.strip().splitlines()[-1])


def run_ingest(paths: list[Path], settings: Settings) -> IngestReport:
    """Ingest ``paths`` into ``settings.paths.index_dir`` in a child process with the ingest time limit."""
    root = settings.paths.index_dir
    work = Path(tempfile.mkdtemp(prefix="medcite-job-"))
    try:
        settings_file, report_file = work / "settings.json", work / "report.json"
        settings_file.write_text(settings.model_dump_json(exclude={"security"}), encoding="utf-8")
        try:
            done = _run_child(["ingest", "--settings", str(settings_file), "--report", str(report_file),
                               *map(str, paths)], settings.security.ingest_timeout_s, "the ingest")
        finally:
            cleanup_stale(root)
        if not report_file.is_file():
            tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            raise JobFailed(f"the ingest failed: {tail[0][:500]}")
        data = json.loads(report_file.read_text(encoding="utf-8"))
        if "error" in data:
            raise JobFailed(f"the ingest failed: {data['error']}")
        return IngestReport.model_validate(data)
    finally:
        for file in work.iterdir():
            file.unlink(missing_ok=True)
        work.rmdir()
