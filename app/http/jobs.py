"""Background jobs: one worker thread runs admin jobs in order; parsing and ingestion run in subprocesses.

A job is ``queued`` -> ``running`` -> ``done`` or ``failed`` (with per-file errors). With a ``store`` directory every
job is also a JSON file there, rewritten atomically at each change, so its status survives a restart (and other
worker processes can read it); :meth:`JobQueue.unfinished` lists the jobs a crash interrupted so the owner can
resume them (see ``app.http.admin.Admin.recover``). Parsing one uploaded file
(:func:`check_upload`) and the whole ingest (:func:`run_ingest`) run in ``python -m ingest.worker`` child processes
with time limits; a child that overruns is killed (SIGKILL), which the index tolerates (atomic versions), so a
spinning PDF can never hang the server.

>>> q = JobQueue()
>>> job = q.submit("reindex", lambda job: job.note("nothing to do"))
>>> q.wait(job.id, timeout=5).status
'done'
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from pydantic import BaseModel, Field

from app.settings import Settings
from core.fileio import atomic_write_text
from index.storage import cleanup_stale, pid_alive
from ingest.pipeline import IngestReport
from ingest.worker import CheckResult

log = logging.getLogger("medcite.jobs")
_JOB_ID = re.compile(r"^[0-9a-f]{8,32}$")
#: Prefix of the per-job temporary directories (under ``<data_dir>/tmp``; stale ones are removed at start-up).
JOB_TMP_PREFIX = "medcite-job-"
#: Lock file in the index directory held while a job's ingest runs (:func:`build_lock`).
BUILD_LOCK = ".build.lock"
REPO_ROOT = Path(__file__).resolve().parents[2]
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
    resumed: bool = Field(False, description="A server restart interrupted the job and it ran again.")
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def note(self, message: str) -> None:
        self.message = f"resumed after a server restart; {message}" if self.resumed else message


class JobFailed(Exception):
    """Ends a job as ``failed`` with this message (and any errors already recorded)."""


class JobQueue:
    """Runs submitted jobs one at a time on a daemon thread, keeping the last ``keep`` jobs for status queries.

    ``store``: a directory holding ``<id>.json`` per job (the job and the inputs needed to run it again).
    """

    def __init__(self, keep: int = 500, store: Path | None = None) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._inputs: dict[str, dict[str, Any]] = {}
        self._queue: queue.Queue[tuple[Job, Callable[[Job], None]]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition(self._lock)
        self.keep = keep
        self.store = Path(store) if store is not None else None

    def submit(self, kind: JobKind, action: Callable[[Job], None], doc_id: str | None = None,
               inputs: dict[str, Any] | None = None, job: Job | None = None) -> Job:
        """Queue ``action``; ``inputs`` (JSON) are persisted so the job can be rebuilt after a crash; pass ``job``
        to run an interrupted job again under its own id."""
        job = job or Job(id=secrets.token_hex(8), kind=kind, doc_id=doc_id)
        job.status, job.started, job.finished = "queued", None, None
        with self._lock:
            self._jobs[job.id] = job
            self._inputs[job.id] = dict(inputs or {})
            self._jobs.move_to_end(job.id)
            while len(self._jobs) > self.keep:
                old, _ = self._jobs.popitem(last=False)
                self._inputs.pop(old, None)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, daemon=True, name="medcite-jobs")
                self._thread.start()
        self._save(job)
        self._queue.put((job, action))
        return job.model_copy()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return job.model_copy(deep=True)
        record = self._load(job_id)
        if record is None:
            return None
        job = record[0]
        owner = self._owner(job_id)
        if job.status in ("queued", "running") and owner not in (None, os.getpid()) and not pid_alive(owner):
            # another worker process ran it and was killed (SIGKILL, OOM): say so instead of "running" forever
            self.fail_stored(job, f"interrupted: the worker process that ran this job (pid {owner}) died; "
                                  "nothing was changed by it unless the index version moved -- submit it again")
        return job

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

    def staged_in_use(self) -> set[str]:
        """Staged file names of the jobs this queue holds that have not finished."""
        with self._lock:
            return {str(self._inputs[i]["staged"]) for i, job in self._jobs.items()
                    if job.status in ("queued", "running") and self._inputs.get(i, {}).get("staged")}

    def unfinished(self) -> list[tuple[Job, dict[str, Any]]]:
        """Stored jobs left ``queued`` or ``running`` by a process that died (oldest first)."""
        if self.store is None or not self.store.is_dir():
            return []
        out = []
        for path in self.store.glob("*.json"):
            record = self._load(path.stem)
            if record and record[0].status in ("queued", "running") and record[0].id not in self._jobs:
                out.append(record)
        return sorted(out, key=lambda r: r[0].created)

    def fail_stored(self, job: Job, message: str) -> None:
        """Mark a stored (interrupted) job failed without running it."""
        job.status, job.message, job.finished = "failed", message, datetime.now(timezone.utc)
        self._save(job)

    def _save(self, job: Job) -> None:
        if self.store is None:
            return
        with self._lock:
            inputs = self._inputs.get(job.id, {})
            body = json.dumps({"job": job.model_dump(mode="json"), "inputs": inputs, "pid": os.getpid()})
        atomic_write_text(self.store / f"{job.id}.json", body, fsync=False)
        self._prune_store()

    def _prune_store(self) -> None:
        files = sorted(self.store.glob("*.json"), key=lambda p: p.stat().st_mtime) if self.store else []
        for path in files[: max(0, len(files) - self.keep)]:
            path.unlink(missing_ok=True)

    def _load(self, job_id: str) -> tuple[Job, dict[str, Any]] | None:
        if self.store is None or not _JOB_ID.match(job_id):
            return None
        try:
            raw = json.loads((self.store / f"{job_id}.json").read_text(encoding="utf-8"))
            return Job.model_validate(raw["job"]), dict(raw.get("inputs") or {})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _owner(self, job_id: str) -> int | None:
        """The process id that last wrote the stored job (None when unknown)."""
        try:
            pid = json.loads((self.store / f"{job_id}.json").read_text(encoding="utf-8")).get("pid")  # type: ignore[operator]
        except (OSError, ValueError, AttributeError, TypeError):
            return None
        return pid if isinstance(pid, int) and pid > 0 else None

    def _work(self) -> None:
        while True:
            job, action = self._queue.get()
            t0 = time.perf_counter()
            job.status, job.started = "running", datetime.now(timezone.utc)
            self._save(job)
            try:
                action(job)
                status = "done"
            except JobFailed as exc:
                job.message, status = str(exc), "failed"
            except Exception as exc:  # reported in the job, never raised into the server
                log.exception("job %s failed", job.id)
                job.message, status = f"internal error: {type(exc).__name__}: {exc}", "failed"
            job.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
            job.status, job.finished = status, datetime.now(timezone.utc)
            self._save(job)
            with self._done:
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


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold the index's build lock: one ingest of ``root`` at a time across processes (several worker processes
    of one server), so an ingest that starts after another sees every file committed before it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / BUILD_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_ingest(paths: list[Path], settings: Settings, *, dense: bool = True, progress: Path | None = None,
               stage: str = "", timeout: float | None = None) -> IngestReport:
    """Ingest ``paths`` into ``settings.paths.index_dir`` in a child process with the ingest time limit
    (``timeout`` overrides it); ``dense=False`` writes a lexical-only version, ``progress`` names the file the
    child keeps up to date (:mod:`ingest.progress`) under the stage name ``stage``."""
    root = settings.paths.index_dir
    tmp_root = settings.paths.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{JOB_TMP_PREFIX}{os.getpid()}-", dir=tmp_root))
    try:
        settings_file, report_file = work / "settings.json", work / "report.json"
        # no keys or database URLs on disk: the child takes those sections from its environment
        settings_file.write_text(settings.ingest_settings().model_dump_json(), encoding="utf-8")
        try:
            with build_lock(root):  # another worker process's job builds first; this one then sees its files
                extra = ([] if dense else ["--lexical-only"]) + ([] if progress is None else
                                                                 ["--progress", str(progress), "--stage", stage])
                done = _run_child(["ingest", "--settings", str(settings_file), "--report", str(report_file),
                                   *extra, *map(str, paths)], timeout or settings.security.ingest_timeout_s,
                                  "the ingest")
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
        shutil.rmtree(work, ignore_errors=True)


def cleanup_job_tmp(data_dir: Path) -> list[Path]:
    """Remove per-job temporary directories left by processes that died (the pid is in the name)."""
    removed = []
    for path in (Path(data_dir) / "tmp").glob(f"{JOB_TMP_PREFIX}*"):
        pid = path.name[len(JOB_TMP_PREFIX):].split("-", 1)[0]
        if not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
