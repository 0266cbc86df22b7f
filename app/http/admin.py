"""Admin API: upload and delete documents, rebuild the index, follow background jobs.

All routes need an admin key (``Authorization: Bearer KEY``, see :mod:`app.http.security`). Changes run as jobs on one
worker thread (:mod:`app.http.jobs`): the upload is parsed in a child process with a time limit, stored by content hash
(:mod:`app.http.uploads`), then the corpus directory and the uploads directory are ingested incrementally into the served
index; the new version is opened and swapped in with one assignment, so requests already running finish on the old
pipeline and no query fails during the change.

Bundled corpus documents cannot be deleted through the API (409): they come back on the next reindex of the corpus
directory; remove them from ``corpus/manifest.json`` instead.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from pydantic import BaseModel

from app.query.escaping import safe_url
from app.http.jobs import FileError, Job, JobFailed, JobQueue, check_upload, cleanup_job_tmp, run_ingest
from app.query.pipeline import AnswerPipeline
from app.http.uploads import UnsupportedUpload, UploadRecord, UploadStore, doc_id_for, upload_suffix
from core.models import DocType
from app.settings import Settings
from index.storage import IndexLoadError, open_index, set_current
from app.http.security import admin_guard


log = logging.getLogger("medcite.admin")


class PipelineHolder(Protocol):
    pipeline: AnswerPipeline | None
    error: str | None


class JobAccepted(BaseModel):
    job_id: str
    status: str
    status_url: str
    doc_id: str | None = None
    sha256: str | None = None


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
                new = AnswerPipeline.from_settings(self.settings)
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


def admin_router(settings: Settings, state: PipelineHolder, jobs: JobQueue | None = None) -> APIRouter:
    """The admin routes, bound to the app's pipeline holder."""
    admin = Admin(settings, state, jobs)
    router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(admin_guard(settings.security))],
                       responses={401: {"description": "No API key."}, 403: {"description": "Wrong API key."}})
    router.admin = admin  # type: ignore[attr-defined]  # for tests and scripts

    def accepted(job: Job, record: UploadRecord | None = None) -> JobAccepted:
        return JobAccepted(job_id=job.id, status=job.status, status_url=f"/v1/jobs/{job.id}",
                           doc_id=record.doc_id if record else job.doc_id,
                           sha256=record.sha256 if record else None)

    @router.post("/documents", status_code=202, response_model=JobAccepted,
                 responses={413: {"description": "File too large."}, 415: {"description": "Unsupported type."}})
    async def upload_document(
        file: UploadFile = File(..., description="PDF, HTML, Markdown or plain-text document."),
        title: str | None = Form(None, max_length=300, description="Document title (default: from the file)."),
        issuer: str | None = Form(None, max_length=200, description="Publishing body, e.g. CDC."),
        year: int | None = Form(None, ge=1800, le=2100, description="Publication year."),
        type: DocType | None = Form(None, description="Reference type."),
        audience: Literal["clinician", "patient"] | None = Form(None, description="Intended readers."),
        url: str | None = Form(None, max_length=2000, pattern=r"^https?://\S+$", description="Canonical link."),
    ) -> JobAccepted:
        if url is not None and url.strip() and safe_url(url.strip()) is None:
            raise HTTPException(422, detail="url: not a plain http(s) URL (no spaces, quotes, angle brackets, "
                                            "brackets or backslashes; a host is required)")
        limit = settings.security.max_upload_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, detail=f"file too large (limit {limit} bytes)")
        if not data.strip():
            raise HTTPException(400, detail="the file is empty")
        try:
            suffix = upload_suffix(data, file.filename, file.content_type)
        except UnsupportedUpload as exc:
            raise HTTPException(415, detail=str(exc)) from None
        sha, staged = admin.uploads.ensure().stage(data, suffix)
        fields = {"title": title, "issuer": issuer, "year": year, "type": type.value if type else None,
                  "audience": audience, "url": url}
        meta = {"doc_id": doc_id_for(sha), **{k: v.strip() if isinstance(v, str) else v
                                              for k, v in fields.items() if v not in (None, "")}}
        record = UploadRecord(doc_id=meta["doc_id"], sha256=sha, file=f"{sha}{suffix}",
                              original_name=(file.filename or "")[:255], size=len(data), metadata=meta)
        job = admin.submit_upload(staged, record)
        return accepted(job, record)

    @router.delete("/documents/{doc_id}", status_code=202, response_model=JobAccepted,
                   responses={404: {"description": "Unknown document."},
                              409: {"description": "A bundled corpus document."}})
    def delete_document(doc_id: str) -> JobAccepted:
        record = admin.uploads.find(doc_id)
        if record is None:
            pipe = state.pipeline
            if pipe is not None and doc_id in pipe.index.store.documents:
                raise HTTPException(409, detail=f"{doc_id!r} is a bundled corpus document, not an upload; only "
                                                "uploaded documents can be deleted (remove it from the corpus "
                                                "manifest and reindex instead)")
            raise HTTPException(404, detail=f"no uploaded document {doc_id!r}")
        job = admin.submit_delete(record)
        return accepted(job, record)

    @router.post("/reindex", status_code=202, response_model=JobAccepted)
    def reindex() -> JobAccepted:
        return accepted(admin.submit_reindex())

    @router.get("/jobs/{job_id}", response_model=Job, responses={404: {"description": "Unknown job."}})
    def job_status(job_id: str) -> Job:
        job = admin.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, detail=f"no job {job_id!r} (unknown or expired)")
        return job

    return router


def install_admin(app: Any, settings: Settings) -> APIRouter:
    """Mount the admin routes on an app made by :func:`app.http.factory.create_app`."""
    router = admin_router(settings, app.state.medcite)
    app.include_router(router)
    app.state.admin = router.admin  # type: ignore[attr-defined]
    return router
