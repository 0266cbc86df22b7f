"""Admin API: upload and delete documents, rebuild the index, follow background jobs.

All routes need an admin key (``Authorization: Bearer KEY``, see :mod:`app.security`). Changes run as jobs on one
worker thread (:mod:`app.jobs`): the upload is parsed in a child process with a time limit, stored by content hash
(:mod:`app.uploads`), then the corpus directory and the uploads directory are ingested incrementally into the served
index; the new version is opened and swapped in with one assignment, so requests already running finish on the old
pipeline and no query fails during the change.

Bundled corpus documents cannot be deleted through the API (409): they come back on the next reindex of the corpus
directory; remove them from ``corpus/manifest.json`` instead.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from app.jobs import FileError, Job, JobFailed, JobQueue, check_upload, run_ingest
from app.pipeline import AnswerPipeline
from app.uploads import UnsupportedUpload, UploadRecord, UploadStore, doc_id_for, upload_suffix
from index.models import DocType
from index.settings import Settings
from index.storage import open_index
from app.security import admin_guard


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
    """The admin operations behind the routes (also usable without HTTP)."""

    def __init__(self, settings: Settings, state: PipelineHolder, jobs: JobQueue | None = None) -> None:
        self.settings = settings
        self.state = state
        self.jobs = jobs or JobQueue()
        self.uploads = UploadStore(settings.paths.data_dir / "uploads")

    def input_paths(self) -> list[Path]:
        corpus = self.settings.paths.corpus_dir
        return ([corpus] if corpus.is_dir() else []) + [self.uploads.ensure().root]

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
        """Open the current index version and make it the served pipeline (one atomic assignment)."""
        old = self.state.pipeline
        if old is None:
            new = AnswerPipeline.from_settings(self.settings)
        else:
            index = open_index(self.settings.paths.index_dir, self.settings.index, expect_model=old.embedder.info)
            new = AnswerPipeline(index, old.embedder, old.settings, old.bank)
        self.state.pipeline, self.state.error = new, None

    def upload_job(self, staged: Path, record: UploadRecord) -> Any:
        def run(job: Job) -> None:
            t = time.perf_counter()
            result = check_upload(staged, record.metadata, self.settings)
            job.timings_ms["parse_check"] = round((time.perf_counter() - t) * 1000, 1)
            if not result.ok:
                staged.unlink(missing_ok=True)
                job.errors.append(FileError(file=record.original_name or record.file, reason=result.reason))
                raise JobFailed(f"the file was rejected: {result.reason}")
            self.uploads.commit(staged, record)
            self.reindex(job)

        return run

    def delete_job(self, record: UploadRecord) -> Any:
        def run(job: Job) -> None:
            self.uploads.remove(record)
            self.reindex(job)

        return run


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
        job = admin.jobs.submit("upload", admin.upload_job(staged, record), doc_id=record.doc_id)
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
        job = admin.jobs.submit("delete", admin.delete_job(record), doc_id=doc_id)
        return accepted(job, record)

    @router.post("/reindex", status_code=202, response_model=JobAccepted)
    def reindex() -> JobAccepted:
        return accepted(admin.jobs.submit("reindex", admin.reindex))

    @router.get("/jobs/{job_id}", response_model=Job, responses={404: {"description": "Unknown job."}})
    def job_status(job_id: str) -> Job:
        job = admin.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, detail=f"no job {job_id!r} (unknown or expired)")
        return job

    return router


def install_admin(app: Any, settings: Settings) -> APIRouter:
    """Mount the admin routes on an app made by :func:`app.api.create_app`."""
    router = admin_router(settings, app.state.medcite)
    app.include_router(router)
    app.state.admin = router.admin  # type: ignore[attr-defined]
    return router
