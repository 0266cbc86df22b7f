"""Ingest planning: which documents of a run are reused from the previous index version, which are (re)built and
which are removed.

Unchanged documents (same content hash, same model, same chunking) keep their chunks and vectors; new and changed
ones are to be chunked and embedded; documents whose file lies under an input path but was not seen this run are
removed. Documents from other paths are kept, and so are the documents of a file that failed to load this run.

>>> from core.models import Document, DocumentMeta
>>> doc = Document(meta=DocumentMeta(doc_id="d1", title="Asthma"), text="Use a spacer.")
>>> report = IngestReport(index_dir="x")
>>> plan = plan_ingest([doc], None, [], report)
>>> [d.doc_id for d in plan.todo], report.new, plan.unchanged(None)
(['d1'], 1, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.models import Chunk, Document, DocumentMeta
from index.embedding import Embedder
from index.manifest import DocumentEntry
from index.storage import IndexLoadError, LoadedIndex, index_exists, open_index
from ingest.inputs import in_scope
from ingest.report import IngestReport
from ingest.settings import IngestConfig


@dataclass
class Plan:
    """What one ingest run does; ``metas``/``entries`` already hold every kept document."""

    metas: dict[str, DocumentMeta] = field(default_factory=dict)
    entries: dict[str, DocumentEntry] = field(default_factory=dict)
    kept_chunks: list[Chunk] = field(default_factory=list)
    kept_rows: list[int] = field(default_factory=list)  # rows of ``kept_chunks`` in the previous version
    todo: list[Document] = field(default_factory=list)
    removed: int = 0

    def unchanged(self, old: LoadedIndex | None, dense: bool = True) -> bool:
        """Whether the run changes nothing in ``old`` (then nothing is written): same documents, and vectors
        already there when the run wants them."""
        return old is not None and not self.todo and not self.removed and (old.dense or not dense)

    def keep(self, old: LoadedIndex, doc_id: str, entry: DocumentEntry) -> None:
        rows = old.store.rows_of_document(doc_id)
        self.kept_chunks.extend(old.store.chunks[r] for r in rows)
        self.kept_rows.extend(rows)
        self.metas[doc_id], self.entries[doc_id] = old.store.documents[doc_id], entry

    def kept_row_array(self) -> np.ndarray:
        return np.asarray(self.kept_rows, dtype=np.int64)


def open_previous(settings: IngestConfig, root: Path, embedder: Embedder,
                  report: IngestReport) -> tuple[LoadedIndex | None, LoadedIndex | None]:
    """(previous index to reuse documents from, or None; an index whose sentence vectors can seed the cache)."""
    if not index_exists(root):
        report.full_rebuild, report.rebuild_reason = True, "no index yet"
        return None, None
    try:
        old = open_index(root, settings.index, expect_model=embedder.info)
    except IndexLoadError as exc:
        report.full_rebuild, report.rebuild_reason = True, f"previous index unusable: {exc}"
        return None, None
    if (old.manifest.chunking != settings.chunking.model_dump() | {"chunk_vectors": settings.index.chunk_vectors}
            or old.manifest.faiss_factory != settings.index.faiss_factory):
        report.full_rebuild, report.rebuild_reason = True, "chunking or index settings changed"
        return None, old
    return old, None


def plan_ingest(docs: list[Document], old: LoadedIndex | None, paths: list[Path], report: IngestReport) -> Plan:
    """Sort ``docs`` (loaded from ``paths``) against ``old`` into kept, to-do and removed; counts go to ``report``."""
    failed_files = {f.path for f in report.failures}
    plan = Plan()
    seen: set[str] = set()
    for doc in docs:
        seen.add(doc.doc_id)
        prev = old.manifest.documents.get(doc.doc_id) if old else None
        if old and prev and prev.content_hash == doc.content_hash():
            plan.keep(old, doc.doc_id, prev)
            report.unchanged += 1
        else:
            report.updated += bool(prev)
            report.new += not prev
            plan.todo.append(doc)
    if old:  # documents not seen this run: keep unless their file lies under an input path and was not a failure
        for doc_id, entry in old.manifest.documents.items():
            if doc_id in seen:
                continue
            if in_scope(entry.source_path, paths) and entry.source_path not in failed_files:
                plan.removed += 1
                continue
            plan.keep(old, doc_id, entry)
    report.removed = plan.removed
    return plan
