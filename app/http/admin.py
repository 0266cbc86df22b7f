"""Admin operations: upload and delete documents, rebuild the index, follow background jobs (the routes are in
:mod:`app.http.routers.admin`).

Changes run as jobs on one worker thread (:mod:`app.http.jobs`): the upload is parsed in a child process with a time limit, stored by content hash
(:mod:`app.http.uploads`), then the corpus directory and the uploads directory are ingested incrementally into the served
index; the new version is opened and swapped in with one assignment, so requests already running finish on the old
pipeline and no query fails during the change.

"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Protocol


from app.http.jobs import FileError, Job, JobFailed, JobQueue, check_upload, cleanup_job_tmp, run_ingest
from app.query.pipeline import AnswerPipeline
from app.http.uploads import UploadRecord, UploadStore
from app.settings import Settings
from index.storage import IndexLoadError, open_index, set_current


log = logging.getLogger("medcite.admin")


class PipelineHolder(Protocol):
    pipeline: AnswerPipeline | None
    error: str | None


class Admin:
    """The admin operations behind the routes (also usable without HTTP).

    Jobs are persisted under ``<data_dir>/jobs``; :meth:`recover` (run at start-up) resumes the jobs a crash
    interrupted, drops staged files no job will use, removes dead jobs' temporary directories and ingests
    uploads that were stored but never made it into the index.
    """

    def __init__(self, settings: Settings, state: PipelineHolder, jobs: JobQueue | None = None) -> None:
        self.settings = settings
        self.state = state
        self.jobs = jobs or JobQueue(store=settings.paths.data_dir / "jobs")
        self.uploads = UploadStore(settings.paths.data_dir / "uploads")
        self._started = time.time()  # recovery never touches files staged by this process
        #: Called with the new pipeline after every swap (the review desk rechecks approved articles); must not raise.
        self.on_swap: list[Callable[[AnswerPipeline], None]] = []

    def input_paths(self) -> list[Path]:
        corpus = self.settings.paths.corpus_dir
        return ([corpus] if corpus.is_dir() else []) + [self.uploads.ensure().root]

    # ------------------------------------------------------------------ submitting
    def submit_upload(self, staged: Path, record: UploadRecord) -> Job:
        inputs = {"staged": staged.name, "record": record.model_dump(mode="json")}
        return self.jobs.submit("upload", self.action("upload", inputs), doc_id=record.doc_id, inputs=inputs)

    def submit_delete(self, record: UploadRecord) -> Job:
        inputs = {"record": record.model_dump(mode="json")}
        return self.jobs.submit("delete", self.action("delete", inputs), doc_id=record.doc_id, inputs=inputs)

    def submit_reindex(self) -> Job:
        return self.jobs.submit("reindex", self.reindex)

    def action(self, kind: str, inputs: dict[str, Any]) -> Callable[[Job], None]:
        """The job body for ``kind`` rebuilt from its persisted ``inputs``."""
        if kind == "reindex":
            return self.reindex
        record = UploadRecord.model_validate(inputs["record"])
        if kind == "delete":
            return lambda job: self._delete(job, record)
        return lambda job: self._upload(job, self.uploads.staging / inputs["staged"], record)

    # ------------------------------------------------------------------ recovery after a crash
    def recover(self) -> list[str]:
        """Resume or fail the jobs a dead process left unfinished; returns the ids of the jobs now queued."""
        self.uploads.ensure()
        cleanup_job_tmp(self.settings.paths.data_dir)
        resumed: list[str] = []
        needed: set[str] = set()
        for job, inputs in self.jobs.unfinished():
            staged = inputs.get("staged")
            if job.kind == "upload" and not (self.uploads.staging / str(staged)).is_file():
                record = UploadRecord.model_validate(inputs["record"])
                if (self.uploads.root / record.file).is_file():  # stored before the crash: finish its ingest
                    job.resumed = True
                    job.note("the upload was stored, ingesting it now")
                    self.jobs.submit("upload", self.reindex, doc_id=job.doc_id, inputs=inputs, job=job)
                    resumed.append(job.id)
                else:
                    self.jobs.fail_stored(job, "interrupted by a server restart before the file was stored; "
                                               "upload it again")
                continue
            if staged:
                needed.add(str(staged))
            job.resumed = True
            job.note("running it again")
            self.jobs.submit(job.kind, self.action(job.kind, inputs), doc_id=job.doc_id, inputs=inputs, job=job)
            resumed.append(job.id)
        needed |= self.jobs.staged_in_use()  # jobs this process accepted meanwhile keep their files
        for path in self.uploads.staging.glob("*"):  # staged by a job that no longer exists
            if path.name not in needed and path.stat().st_mtime < self._started:
                path.unlink(missing_ok=True)
        if not resumed and self._uploads_missing_from_index():
            job = self.submit_reindex()
            resumed.append(job.id)
            log.warning("stored uploads were missing from the index: reindex job %s", job.id)
        return resumed

    def _uploads_missing_from_index(self) -> bool:
        store = getattr(getattr(self.state.pipeline, "index", None), "store", None)
        documents = getattr(store, "documents", None)
        if documents is None:
            return False
        return any(record.doc_id not in documents for record in self.uploads.records())

    # ------------------------------------------------------------------ job bodies
    def reindex(self, job: Job) -> None:
        t = time.perf_counter()
        report = run_ingest(self.input_paths(), self.settings)
        job.timings_ms["ingest"] = round((time.perf_counter() - t) * 1000, 1)
        job.errors += [FileError(file=f.path, reason=f.reason) for f in report.failures]
        job.report = report.model_dump(include={"documents", "chunks", "new", "updated", "unchanged", "removed",
                                                "embedded_chunks", "written", "seconds"})
        if report.written or self.state.pipeline is None:
            t = time.perf_counter()
            self.swap()
            job.index_swapped = True
            job.timings_ms["swap"] = round((time.perf_counter() - t) * 1000, 1)
        job.note("index updated" if report.written else "index unchanged")

    def swap(self) -> None:
        """Open the current index version and make it the served pipeline (one atomic assignment).

        If the new version cannot be opened, ``CURRENT`` goes back to the version being served, so a restart
        does not come up on an index that cannot load; the job fails with the reason.
        """
        old = self.state.pipeline
        try:
            if old is None:
                new = AnswerPipeline.from_settings(self.settings, bank=getattr(self.state, "bank", None))
            else:
                index = open_index(self.settings.paths.index_dir, self.settings.index, expect_model=old.embedder.info)
                new = AnswerPipeline(index, old.embedder, old.settings, old.bank)
        except Exception as exc:
            if old is not None:
                try:
                    set_current(self.settings.paths.index_dir, old.index.path.name)
                except IndexLoadError:
                    log.error("could not restore CURRENT to %s", old.index.path.name)
            log.error("the new index version failed to load; kept the previous one", exc_info=True)
            raise JobFailed(f"the new index version failed to load ({type(exc).__name__}); the previous "
                            "version stays current") from None
        self.state.pipeline, self.state.error = new, None
        for hook in self.on_swap:
            hook(new)

    def _upload(self, job: Job, staged: Path, record: UploadRecord) -> None:
        t = time.perf_counter()
        result = check_upload(staged, record.metadata, self.settings)
        job.timings_ms["parse_check"] = round((time.perf_counter() - t) * 1000, 1)
        if not result.ok:
            staged.unlink(missing_ok=True)
            job.errors.append(FileError(file=record.original_name or record.file, reason=result.reason))
            raise JobFailed(f"the file was rejected: {result.reason}")
        self.uploads.commit(staged, record)
        self.reindex(job)

    def _delete(self, job: Job, record: UploadRecord) -> None:
        self.uploads.remove(record)
        self.reindex(job)
