"""Incremental ingest: files -> documents -> plan -> chunks -> vectors + lexical index -> an atomically written
index version.

Stages, one module each: loading (:mod:`ingest.loaders`), planning what to reuse (:mod:`ingest.plan`), chunking
(:mod:`ingest.chunker`), embedding through the persistent cache (:mod:`ingest.embed`), writing
(:func:`index.storage.write_index`). A file that fails to load is reported and its earlier documents are kept.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from core.contracts import INDEX_FORMAT_VERSION
from core.models import Chunk, Document
from index.bulk_encode import bulk_embedder
from index.embedding import Embedder, get_embedder
from index.lexical import build_lexical_index
from index.manifest import DocumentEntry, Manifest
from index.storage import write_index
from index.store import ChunkStore
from ingest.chunker import Chunker
from ingest.embed import Embedded, cached_encoder, combine, embed_chunks, open_cache, seed_cache
from ingest.inputs import collect_inputs
from ingest.plan import Plan, open_previous, plan_ingest
from ingest.prefetch import load_inputs
from ingest.report import FileFailure, IngestReport, NothingToIngestError, Progress
from ingest.sections import detect_pdf_headings
from ingest.settings import IngestConfig

__all__ = ["FileFailure", "IngestReport", "NothingToIngestError", "ingest", "open_cache", "seed_cache"]

log = logging.getLogger(__name__)


def ingest(paths: list[Path], settings: IngestConfig, *, index_dir: Path | None = None, rebuild: bool = False,
           progress: bool = True, dense: bool = True, on_progress: Progress | None = None) -> IngestReport:
    """Ingest ``paths`` into the index at ``index_dir`` (default ``settings.paths.index_dir``).

    ``dense=False`` writes a lexical-only version (chunks and the lexical index, no vectors): the quick first stage
    of a first build. A later dense run reuses its chunks and embeds them. ``on_progress(stage, done, total)`` is
    told how far the run is: stages ``load`` (files), ``chunk`` (documents), ``embed`` (new sentences), ``write``.
    """
    t0 = time.perf_counter()
    root = index_dir or settings.paths.index_dir
    report = IngestReport(index_dir=str(root), dense=dense)
    tell = on_progress or (lambda stage, done, total: None)
    embedder = get_embedder(settings.embedding)
    docs = _load_documents(paths, report, progress, tell)
    old, seed = (None, None) if rebuild else open_previous(settings, root, embedder, report)
    if rebuild:
        report.full_rebuild, report.rebuild_reason = True, "--rebuild"
    plan = plan_ingest(docs, old, paths, report)
    if plan.unchanged(old, dense):
        assert old is not None
        report.documents, report.chunks = len(old.manifest.documents), len(old.store)
        report.pages = old.manifest.counts.get("pages", 0)
        report.seconds = time.perf_counter() - t0
        return report
    new_chunks = _chunk(plan, settings, embedder, report, progress, tell)
    if not plan.kept_chunks and not new_chunks:
        raise NothingToIngestError("nothing to index: no input produced any text" +
                                   (f" ({len(report.failures)} file(s) failed)" if report.failures else ""),
                                   report.failures)
    embedded = None
    if dense:
        t_embed = time.perf_counter()
        if old is not None and not old.dense:  # chunks kept from a lexical-only version have no vectors yet
            new_chunks, plan.kept_chunks, plan.kept_rows = plan.kept_chunks + new_chunks, [], []
        bulk = bulk_embedder(settings.embedding, sum(len(c.sentences) for c in new_chunks))
        encode = cached_encoder(settings, bulk, progress, seed, lambda done, total: tell("embed", done, total))
        fresh = embed_chunks(new_chunks, plan.metas, encode, embedder.info.dimension, settings.index.chunk_vectors)
        report.embed_seconds = time.perf_counter() - t_embed
        report.embedded_chunks = len(new_chunks)
        embedded = combine(old, plan.kept_chunks, plan.kept_row_array(), new_chunks, fresh, encode, plan.metas)
    tell("write", 0, 1)
    _write(root, plan, plan.kept_chunks + new_chunks, embedded, settings, embedder, report)
    tell("write", 1, 1)
    report.seconds = time.perf_counter() - t0
    return report


def _load_documents(paths: list[Path], report: IngestReport, progress: bool, tell: Progress) -> list[Document]:
    inputs = collect_inputs(paths)
    report.files = len(inputs)
    docs: list[Document] = []
    owner: dict[str, str] = {}
    with tqdm(total=len(inputs), desc="files", unit="file", disable=not progress) as bar:
        def advance(done: int) -> None:
            bar.update(done - bar.n)
            tell("load", done, len(inputs))

        outcomes = load_inputs(inputs, advance)
    for item, (loaded, failure) in zip(inputs, outcomes):
        if failure is not None or not loaded:
            report.failures.append(FileFailure(path=str(item.path), reason=failure or "no text found"))
            continue
        for doc in loaded:
            if doc.doc_id in owner:
                report.failures.append(
                    FileFailure(path=str(item.path), reason=f"duplicate document id {doc.doc_id!r} (also in {owner[doc.doc_id]})")
                )
                continue
            owner[doc.doc_id] = str(item.path)
            docs.append(detect_pdf_headings(doc) if doc.pages and not doc.headings else doc)
    return docs


def _chunk(plan: Plan, settings: IngestConfig, embedder: Embedder, report: IngestReport,
           progress: bool, tell: Progress) -> list[Chunk]:
    """Chunk the plan's to-do documents; each gets its metadata and manifest entry in ``plan``."""
    chunker = Chunker(settings.chunking, embedder.count_tokens)
    new_chunks: list[Chunk] = []
    for number, doc in enumerate(tqdm(plan.todo, desc="chunks", unit="doc", disable=not progress)):
        if number % 50 == 0:
            tell("chunk", number, len(plan.todo))
        chunks = chunker.chunk(doc)
        if not chunks:
            report.failures.append(FileFailure(path=doc.meta.source_path, reason=f"{doc.doc_id}: no text to index"))
            continue
        new_chunks.extend(chunks)
        plan.metas[doc.doc_id] = doc.meta
        plan.entries[doc.doc_id] = DocumentEntry(content_hash=doc.content_hash(), n_chunks=len(chunks),
                                                 title=doc.meta.title, source_path=doc.meta.source_path,
                                                 pages=len(doc.pages))
    return new_chunks


def _write(root: Path, plan: Plan, chunks: list[Chunk], embedded: Embedded | None, settings: IngestConfig,
           embedder: Embedder, report: IngestReport) -> None:
    """Build the lexical index and write the new version (then current); lexical-only without ``embedded``."""
    store = ChunkStore({d: plan.metas[d] for d in plan.entries}, chunks)
    lexical = build_lexical_index([c.embed_text(plan.metas[c.doc_id].topic) for c in chunks], settings.index)
    manifest = _manifest(settings, embedder, plan.entries, len(chunks))
    write_index(root, manifest, store, None if embedded is None else embedded.vectors, settings.index,
                lexical=lexical, extra=None if embedded is None else embedded.sentences.save)
    report.written = True
    report.documents, report.chunks, report.pages = len(plan.entries), len(chunks), manifest.counts["pages"]


def _manifest(settings: IngestConfig, embedder: Embedder, entries: dict[str, DocumentEntry], n_chunks: int) -> Manifest:
    return Manifest(
        format_version=INDEX_FORMAT_VERSION,
        created=datetime.now(timezone.utc),
        model=embedder.info,
        faiss_factory=settings.index.faiss_factory,
        vector_backend=settings.index.vector_backend,
        lexical_backend=settings.index.lexical_backend,
        chunking=settings.chunking.model_dump() | {"chunk_vectors": settings.index.chunk_vectors},
        counts={"documents": len(entries), "chunks": n_chunks, "pages": sum(e.pages for e in entries.values())},
        documents=entries,
    )
