"""Uploaded documents on disk: ``DATA_DIR/uploads/<sha256>.<ext>`` plus a ``<sha256>.json`` metadata sidecar.

The client's file name is kept only as metadata, never used in a path. The directory's ``manifest.json`` (rewritten
atomically from the sidecars) makes it a corpus directory for :func:`ingest.pipeline.ingest`, which then reads each
file with its metadata. New files wait in ``.staging/`` until their parse check passed.

>>> upload_suffix(b"%PDF-1.7 ...", "../../etc/passwd", None)
'.pdf'
>>> upload_suffix(b"# Title", "notes.MD", None), upload_suffix(b"hi", "x", "text/plain; charset=utf-8")
('.md', '.txt')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from core.fileio import atomic_write_bytes
from ingest.inputs import MANIFEST_NAME

SUFFIXES = {".pdf": ".pdf", ".html": ".html", ".htm": ".html", ".md": ".md", ".markdown": ".md", ".txt": ".txt",
            ".text": ".txt"}
CONTENT_TYPES = {"application/pdf": ".pdf", "text/html": ".html", "text/markdown": ".md", "text/plain": ".txt"}
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class UnsupportedUpload(ValueError):
    """The upload is not a PDF, HTML, Markdown or text file (or is compressed)."""


class UploadRecord(BaseModel):
    doc_id: str
    sha256: str
    file: str = Field(description="Stored file name (content hash + extension).")
    original_name: str = Field("", description="The client's file name (information only).")
    size: int
    uploaded: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    metadata: dict[str, Any] = Field(default_factory=dict, description="DocumentMeta fields for the loader.")


def upload_suffix(data: bytes, filename: str | None, content_type: str | None) -> str:
    """The stored extension, from the content (PDF), else the client's extension, else the content type.

    Content that starts with ``%PDF-`` (after white space, a BOM or binary junk) is a PDF; a text file that
    only mentions ``%PDF-`` keeps its own extension.
    """
    from ingest.loaders.sniff import starts_like_pdf  # same rule as the ingest sniffer

    if data[:2] == b"\x1f\x8b":
        raise UnsupportedUpload("compressed (gzip) uploads are not accepted; upload the document itself")
    if starts_like_pdf(data[:1024]):
        return ".pdf"
    suffix = os.path.splitext(filename or "")[1].lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in CONTENT_TYPES:
        return CONTENT_TYPES[kind]
    raise UnsupportedUpload("unsupported file type; upload a PDF, HTML, Markdown (.md) or text (.txt) file")


def doc_id_for(sha256: str) -> str:
    return f"upload-{sha256[:16]}"


class UploadStore:
    """The uploads directory (create it with :meth:`ensure`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging = self.root / ".staging"

    def ensure(self) -> "UploadStore":
        self.staging.mkdir(parents=True, exist_ok=True)
        if not (self.root / MANIFEST_NAME).is_file():
            self.write_manifest()
        return self

    def stage(self, data: bytes, suffix: str) -> tuple[str, Path]:
        """Write ``data`` to the staging area; returns (sha256, staged path)."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.staging / f"{sha}{suffix}"
        atomic_write_bytes(path, data)
        return sha, path

    def commit(self, staged: Path, record: UploadRecord) -> None:
        """Move a checked file into place, write its sidecar and the manifest."""
        os.replace(staged, self.root / record.file)
        atomic_write_bytes(self.root / f"{record.sha256}.json", record.model_dump_json(indent=1).encode())
        self.write_manifest()

    def records(self) -> list[UploadRecord]:
        out = []
        for side in sorted(self.root.glob("*.json")):
            if _SHA_RE.match(side.stem):
                try:
                    record = UploadRecord.model_validate_json(side.read_bytes())
                except ValueError:
                    continue
                if (self.root / record.file).is_file():
                    out.append(record)
        return out

    def find(self, doc_id: str) -> UploadRecord | None:
        return next((r for r in self.records() if r.doc_id == doc_id), None)

    def remove(self, record: UploadRecord) -> None:
        (self.root / record.file).unlink(missing_ok=True)
        (self.root / f"{record.sha256}.json").unlink(missing_ok=True)
        self.write_manifest()

    def write_manifest(self) -> None:
        entries = [{"path": r.file, "metadata": r.metadata} for r in self.records()]
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.root / MANIFEST_NAME, json.dumps(entries, indent=1).encode())
