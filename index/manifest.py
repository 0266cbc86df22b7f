"""The index manifest: what an index version was built from and with (``manifest.json``).

``corpus_hash`` is derived from the documents (sorted ``(doc_id, content_hash)`` pairs, see
:func:`corpus_hash`) and filled in when left empty.

>>> from datetime import datetime, timezone
>>> m = Manifest(created=datetime(2025, 1, 1, tzinfo=timezone.utc),
...              model=ModelInfo(name="m", dimension=4, max_seq_length=128, fingerprint="ab"),
...              faiss_factory="Flat", vector_backend="faiss",
...              documents={"d1": DocumentEntry(content_hash="h1", n_chunks=2, title="T", source_path="t.md")})
>>> m.corpus_hash == corpus_hash(m.documents), m.format_version
(True, 2)
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, Field, model_validator

from core.contracts import INDEX_FORMAT_VERSION
from index.embedding import ModelInfo

__all__ = ["DocumentEntry", "Manifest", "ModelInfo", "corpus_hash"]


class DocumentEntry(BaseModel):
    """Per-document record used for incremental re-ingest (unchanged hash = reuse chunks and vectors)."""

    content_hash: str
    n_chunks: int = Field(ge=0)
    title: str
    source_path: str
    pages: int = Field(0, ge=0)


def corpus_hash(documents: Mapping[str, DocumentEntry]) -> str:
    """Order-independent hash over ``(doc_id, content_hash)`` of every document."""
    digest = hashlib.sha256()
    for doc_id in sorted(documents):
        digest.update(f"{doc_id}\t{documents[doc_id].content_hash}\n".encode("utf-8"))
    return digest.hexdigest()[:32]


class Manifest(BaseModel):
    """Description of one index version; ``counts`` holds ``documents``, ``chunks`` and ``pages``."""

    format_version: int = INDEX_FORMAT_VERSION
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    model: ModelInfo
    faiss_factory: str
    vector_backend: str
    lexical_backend: str = "bm25s"
    dense: bool = Field(True, description="False for a lexical-only version (the first stage of a first build): "
                        "chunks and the lexical index, no vectors yet.")
    chunking: dict[str, Any] = Field(default_factory=dict, description="ChunkSettings dump.")
    counts: dict[str, int] = Field(default_factory=dict)
    documents: dict[str, DocumentEntry] = Field(default_factory=dict)
    corpus_hash: str = ""

    @model_validator(mode="after")
    def _fill_corpus_hash(self) -> Manifest:
        if not self.corpus_hash:
            self.corpus_hash = corpus_hash(self.documents)
        return self

    def save(self, path: Path) -> None:
        """Write the manifest as indented JSON to ``path``."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest; raises ``FileNotFoundError`` or pydantic's ``ValidationError`` (a ``ValueError``)."""
        return cls.model_validate_json(path.read_bytes())
