"""Admin routes: upload and delete documents, rebuild the index, follow background jobs.

Every route needs an admin key (``Authorization: Bearer KEY``): checked by the guard middleware before any body is
read, and again by :func:`require_admin` (which also documents the scheme in the OpenAPI schema). The work runs as
jobs (:class:`app.http.admin.Admin`). Bundled corpus documents cannot be deleted through the API (409): they come
back on the next reindex of the corpus directory; remove them from ``corpus/manifest.json`` instead.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Security, UploadFile
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from app.http.admin import Admin
from app.http.deps import admin_ops, app_settings
from app.http.jobs import Job
from app.http.security import KeyRing, bearer_scheme
from app.http.uploads import UnsupportedUpload, UploadRecord, doc_id_for, upload_suffix
from app.query.escaping import safe_url
from app.settings import Settings
from core.models import DocType


async def require_admin(credentials: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
                        settings: Settings = Depends(app_settings)) -> None:
    """401 without a key, 403 with a wrong one or when no admin keys are configured."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, detail="an admin API key is required: send 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})
    ring = KeyRing(settings.security.admin_keys)
    if not ring:
        raise HTTPException(403, detail="the admin API is disabled: no admin keys are configured (set MEDCITE_ADMIN_KEYS)")
    if not ring.check(credentials.credentials):
        raise HTTPException(403, detail="the API key is not valid for the admin API")


router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(require_admin)],
                   responses={401: {"description": "No API key."}, 403: {"description": "Wrong API key."}})


class JobAccepted(BaseModel):
    job_id: str
    status: str
    status_url: str
    doc_id: str | None = None
    sha256: str | None = None


def _accepted(job: Job, record: UploadRecord | None = None) -> JobAccepted:
    return JobAccepted(job_id=job.id, status=job.status, status_url=f"/v1/jobs/{job.id}",
                       doc_id=record.doc_id if record else job.doc_id, sha256=record.sha256 if record else None)


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
    admin: Admin = Depends(admin_ops),
) -> JobAccepted:
    if url is not None and url.strip() and safe_url(url.strip()) is None:
        raise HTTPException(422, detail="url: not a plain http(s) URL (no spaces, quotes, angle brackets, "
                                        "brackets or backslashes; a host is required)")
    limit = admin.settings.security.max_upload_bytes
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
    return _accepted(admin.submit_upload(staged, record), record)


@router.delete("/documents/{doc_id}", status_code=202, response_model=JobAccepted,
               responses={404: {"description": "Unknown document."}, 409: {"description": "A bundled corpus document."}})
def delete_document(doc_id: str, admin: Admin = Depends(admin_ops)) -> JobAccepted:
    record = admin.uploads.find(doc_id)
    if record is None:
        pipe = admin.state.pipeline
        if pipe is not None and doc_id in pipe.index.store.documents:
            raise HTTPException(409, detail=f"{doc_id!r} is a bundled corpus document, not an upload; only uploaded "
                                            "documents can be deleted (remove it from the corpus manifest and "
                                            "reindex instead)")
        raise HTTPException(404, detail=f"no uploaded document {doc_id!r}")
    return _accepted(admin.submit_delete(record), record)


@router.post("/reindex", status_code=202, response_model=JobAccepted)
def reindex(admin: Admin = Depends(admin_ops)) -> JobAccepted:
    return _accepted(admin.submit_reindex())


@router.get("/jobs/{job_id}", response_model=Job, responses={404: {"description": "Unknown job."}})
def job_status(job_id: str, admin: Admin = Depends(admin_ops)) -> Job:
    job = admin.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, detail=f"no job {job_id!r} (unknown or expired)")
    return job
