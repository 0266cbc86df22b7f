"""After a crash (kill -9 during an upload's ingest) the next start resumes or fails the interrupted jobs visibly,
ingests uploads that were stored but never indexed, and removes what the dead process left behind (issue 9,
finding 7). No model or index is needed: the ingest child is replaced by a recorder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

import app.http.admin as admin_module
from app.http.admin import Admin
from app.http.jobs import JOB_TMP_PREFIX, Job, JobQueue
from app.http.uploads import UploadRecord, doc_id_for
from app.settings import Settings
from ingest.pipeline import IngestReport


class Holder:
    def __init__(self, doc_ids=()):
        self.error = None
        self.pipeline = SimpleNamespace(index=SimpleNamespace(store=SimpleNamespace(documents=dict.fromkeys(doc_ids))))


@pytest.fixture()
def env(tmp_path, monkeypatch):
    settings = Settings()
    settings.paths.data_dir = tmp_path / "var"
    settings.paths.index_dir = tmp_path / "var" / "index"
    settings.paths.corpus_dir = tmp_path / "no-corpus"
    ingests = []

    def fake_ingest(paths, settings):
        ingests.append([str(p) for p in paths])
        return IngestReport(index_dir=str(settings.paths.index_dir), written=False)

    monkeypatch.setattr(admin_module, "run_ingest", fake_ingest)
    monkeypatch.setattr(admin_module, "check_upload", lambda path, meta, settings: SimpleNamespace(ok=True))
    return settings, ingests


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _crashed_upload(settings: Settings, data: bytes, *, stored: bool) -> tuple[Admin, str, UploadRecord]:
    """What a server killed during an upload job leaves on disk: the job file says 'running'."""
    before = Admin(settings, Holder(), JobQueue(store=settings.paths.data_dir / "jobs"))
    uploads = before.uploads.ensure()
    sha, staged = uploads.stage(data, ".md")
    record = UploadRecord(doc_id=doc_id_for(sha), sha256=sha, file=f"{sha}.md", size=len(data),
                          metadata={"doc_id": doc_id_for(sha)})
    if stored:
        uploads.commit(staged, record)
    job = Job(id="a1b2c3d4e5f60718", kind="upload", doc_id=record.doc_id, status="running")
    inputs = {"staged": staged.name, "record": record.model_dump(mode="json")}
    (settings.paths.data_dir / "jobs").mkdir(parents=True, exist_ok=True)
    (settings.paths.data_dir / "jobs" / f"{job.id}.json").write_text(
        json.dumps({"job": job.model_dump(mode="json"), "inputs": inputs}))
    return before, job.id, record


@pytest.mark.parametrize("stored", [False, True])
def test_interrupted_upload_is_resumed_under_its_own_id(env, stored):
    settings, ingests = env
    _before, job_id, record = _crashed_upload(settings, b"# Tick bites\n\nRemove ticks with tweezers.\n",
                                              stored=stored)
    stray = settings.paths.data_dir / "uploads" / ".staging" / f"{'f' * 64}.md"  # staged for a job that is gone
    stray.write_bytes(b"orphan")
    dead_tmp = settings.paths.data_dir / "tmp" / f"{JOB_TMP_PREFIX}{_dead_pid()}-x1"
    dead_tmp.mkdir(parents=True)
    (dead_tmp / "settings.json").write_text("{}")
    live_tmp = settings.paths.data_dir / "tmp" / f"{JOB_TMP_PREFIX}{os.getpid()}-x2"
    live_tmp.mkdir()

    after = Admin(settings, Holder(), JobQueue(store=settings.paths.data_dir / "jobs"))
    assert after.jobs.get(job_id).status == "running"  # visible (not a 404) before anything happens
    assert after.recover() == [job_id]
    job = after.jobs.wait(job_id, timeout=10)
    assert job.status == "done" and "resumed after a server restart" in job.message
    assert (settings.paths.data_dir / "uploads" / record.file).is_file()  # the upload made it in
    assert record.doc_id in {r.doc_id for r in after.uploads.records()}
    assert len(ingests) == 1
    assert not stray.exists() and not dead_tmp.exists() and live_tmp.exists()
    # a third process sees the finished job on disk
    assert JobQueue(store=settings.paths.data_dir / "jobs").get(job_id).status == "done"


def test_job_that_lost_its_file_fails_visibly(env):
    settings, ingests = env
    before, job_id, _record = _crashed_upload(settings, b"# Note\n\nText.\n", stored=False)
    for path in before.uploads.staging.iterdir():
        path.unlink()
    after = Admin(settings, Holder(), JobQueue(store=settings.paths.data_dir / "jobs"))
    assert after.recover() == []
    job = after.jobs.get(job_id)
    assert job.status == "failed" and "upload it again" in job.message
    assert ingests == []


def test_stored_upload_missing_from_the_index_is_ingested(env):
    settings, ingests = env
    before, job_id, record = _crashed_upload(settings, b"# Gout\n\nColchicine treats flares.\n", stored=True)
    (settings.paths.data_dir / "jobs" / f"{job_id}.json").unlink()  # even without its job record
    after = Admin(settings, Holder(doc_ids=["other-doc"]), JobQueue(store=settings.paths.data_dir / "jobs"))
    [reindex] = after.recover()
    assert after.jobs.wait(reindex, timeout=10).kind == "reindex"
    assert len(ingests) == 1
    indexed = Admin(settings, Holder(doc_ids=[record.doc_id]), JobQueue(store=settings.paths.data_dir / "jobs2"))
    assert indexed.recover() == []  # nothing to do when the index already has it


def test_a_version_that_cannot_load_is_rolled_back_to_the_served_one(env, monkeypatch):
    """CURRENT used to keep naming a new version the server could not open, so a restart never became ready."""
    from app.http.jobs import JobFailed
    from index.storage import CURRENT, IndexCorruptError

    settings, _ = env
    root = settings.paths.index_dir
    served, broken = "v-20260101T000000000000-aaaa", "v-20260102T000000000000-bbbb"
    for name in (served, broken):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    (root / CURRENT).write_text(broken + "\n")
    holder = Holder()
    holder.pipeline.index.path = root / served
    holder.pipeline.embedder = SimpleNamespace(info=None)

    def cannot_open(*args, **kwargs):
        raise IndexCorruptError(root / broken, "cannot load its files")

    monkeypatch.setattr(admin_module, "open_index", cannot_open)
    admin = Admin(settings, holder, JobQueue())
    with pytest.raises(JobFailed, match="previous version stays current"):
        admin.swap()
    assert (root / CURRENT).read_text().strip() == served
    assert holder.pipeline.index.path.name == served  # still serving the old one


def test_recovery_keeps_files_of_jobs_accepted_before_it_ran(env, monkeypatch):
    """Found by scripts/crash_ingest.py: an upload accepted while start-up recovery had not run yet lost its staged
    file to the orphan cleanup ("cannot open file")."""
    import threading

    settings, _ = env
    gate = threading.Event()
    admin = Admin(settings, Holder(), JobQueue(store=settings.paths.data_dir / "jobs"))
    monkeypatch.setattr(admin_module, "check_upload", lambda path, meta, s: gate.wait(10) and SimpleNamespace(
        ok=path.is_file(), reason="" if path.is_file() else "cannot open file"))
    uploads = admin.uploads.ensure()
    sha, staged = uploads.stage(b"# Gout\n\nColchicine treats flares.\n", ".md")
    record = UploadRecord(doc_id=doc_id_for(sha), sha256=sha, file=f"{sha}.md", size=10,
                          metadata={"doc_id": doc_id_for(sha)})
    job = admin.submit_upload(staged, record)
    admin.recover()
    gate.set()
    assert admin.jobs.wait(job.id, timeout=10).status == "done"
