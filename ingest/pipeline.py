"""Incremental ingest: files -> documents -> chunks -> vectors + BM25 -> an atomically written index version.

Unchanged documents (same content hash, same model, same chunking) reuse their chunks and vectors; new and changed
ones are chunked and embedded; documents whose file lies under an input path but was not seen this run are removed.
Documents from other paths are kept. A file that fails to load is reported and its earlier documents are kept.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from pydantic import BaseModel, Field
from tqdm import tqdm

from index.embed_cache import EmbeddingCache
from index.embedding import Embedder, get_embedder
from index.lexical import build_lexical_index
from index.manifest import DocumentEntry, Manifest
from core.models import Chunk, Document, DocumentMeta
from ingest.settings import IngestConfig
from index.storage import IndexLoadError, LoadedIndex, index_exists, open_index, write_index
from index.sentence_vectors import SentenceVectors, encode_unique, mean_by_chunk, offsets_for, sentence_texts
from index.store import ChunkStore
from core.contracts import INDEX_FORMAT_VERSION
from ingest.chunker import Chunker
from ingest.inputs import collect_inputs, in_scope
from ingest.loaders import LoadError, load_path
from ingest.sections import detect_pdf_headings

log = logging.getLogger(__name__)


class FileFailure(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    """Summary of one ``medcite ingest`` run."""

    index_dir: str
    files: int = 0
    documents: int = Field(0, description="Documents in the index after the run.")
    pages: int = 0
    chunks: int = Field(0, description="Chunks in the index after the run.")
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded_chunks: int = 0
    failures: list[FileFailure] = Field(default_factory=list)
    full_rebuild: bool = False
    rebuild_reason: str = ""
    written: bool = Field(False, description="False when nothing changed and the index was left as it was.")
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.embedded_chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """False only when inputs existed and none could be ingested."""
        return not (self.files and len(self.failures) >= self.files)


class NothingToIngestError(RuntimeError):
    """No input file produced a document and there is no earlier index content to keep."""

    def __init__(self, message: str, failures: list[FileFailure] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


def _load_documents(paths: list[Path], report: IngestReport, progress: bool) -> list[Document]:
    inputs = collect_inputs(paths)
    report.files = len(inputs)
    docs: list[Document] = []
    owner: dict[str, str] = {}
    for item in tqdm(inputs, desc="files", unit="file", disable=not progress):
        try:
            loaded = load_path(item.path, item.defaults or None)
        except LoadError as exc:
            report.failures.append(FileFailure(path=str(item.path), reason=str(exc)))
            continue
        except Exception as exc:  # a loader bug must not stop the other files
            report.failures.append(FileFailure(path=str(item.path), reason=f"unexpected error: {exc!r}"))
            continue
        if not loaded:
            report.failures.append(FileFailure(path=str(item.path), reason="no text found"))
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


def _open_previous(settings: IngestConfig, root: Path, embedder: Embedder,
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


def ingest(paths: list[Path], settings: IngestConfig, *, index_dir: Path | None = None, rebuild: bool = False,
           progress: bool = True) -> IngestReport:
    """Ingest ``paths`` into the index at ``index_dir`` (default ``settings.paths.index_dir``)."""
    t0 = time.perf_counter()
    root = index_dir or settings.paths.index_dir
    report = IngestReport(index_dir=str(root))
    embedder = get_embedder(settings.embedding)
    docs = _load_documents(paths, report, progress)
    seed = None
    if rebuild:
        report.full_rebuild, report.rebuild_reason = True, "--rebuild"
        old = None
    else:
        old, seed = _open_previous(settings, root, embedder, report)

    failed_files = {f.path for f in report.failures}
    metas: dict[str, DocumentMeta] = {}
    entries: dict[str, DocumentEntry] = {}
    kept_chunks: list[list[Chunk]] = []
    kept_rows: list[np.ndarray] = []
    todo: list[Document] = []
    seen: set[str] = set()
    for doc in docs:
        seen.add(doc.doc_id)
        h = doc.content_hash()
        prev = old.manifest.documents.get(doc.doc_id) if old else None
        if old and prev and prev.content_hash == h:
            rows = old.store.rows_of_document(doc.doc_id)
            kept_chunks.append([old.store.chunks[r] for r in rows])
            kept_rows.append(np.asarray(rows, dtype=np.int64))
            metas[doc.doc_id] = old.store.documents[doc.doc_id]
            entries[doc.doc_id] = prev
            report.unchanged += 1
        else:
            report.updated += bool(prev)
            report.new += not prev
            todo.append(doc)
    if old:  # documents not seen this run: keep unless their file lies under an input path and was not a failure
        for doc_id, entry in old.manifest.documents.items():
            if doc_id in seen:
                continue
            if in_scope(entry.source_path, paths) and entry.source_path not in failed_files:
                report.removed += 1
                continue
            rows = old.store.rows_of_document(doc_id)
            kept_chunks.append([old.store.chunks[r] for r in rows])
            kept_rows.append(np.asarray(rows, dtype=np.int64))
            metas[doc_id], entries[doc_id] = old.store.documents[doc_id], entry

    if old and not todo and not report.removed:
        report.documents, report.chunks = len(old.manifest.documents), len(old.store)
        report.pages = old.manifest.counts.get("pages", 0)
        report.seconds = time.perf_counter() - t0
        return report

    chunker = Chunker(settings.chunking, embedder.count_tokens)
    new_chunks: list[Chunk] = []
    for doc in tqdm(todo, desc="chunks", unit="doc", disable=not progress):
        chunks = chunker.chunk(doc)
        if not chunks:
            report.failures.append(FileFailure(path=doc.meta.source_path, reason=f"{doc.doc_id}: no text to index"))
            continue
        new_chunks.extend(chunks)
        metas[doc.doc_id] = doc.meta
        entries[doc.doc_id] = DocumentEntry(content_hash=doc.content_hash(), n_chunks=len(chunks), title=doc.meta.title,
                                            source_path=doc.meta.source_path, pages=len(doc.pages))

    t_embed = time.perf_counter()
    encode = _cached_encoder(settings, embedder, progress, seed)
    sent_texts = sentence_texts(new_chunks, [metas[c.doc_id].topic for c in new_chunks])
    sent32 = encode(sent_texts)
    if settings.index.chunk_vectors == "sentence-mean":
        new_vectors = mean_by_chunk(sent32, offsets_for(new_chunks), embedder.info.dimension)
    else:
        new_vectors = encode([c.embed_text(metas[c.doc_id].topic) for c in new_chunks])
    new_sent = sent32.astype(np.float16)
    report.embed_seconds = time.perf_counter() - t_embed
    report.embedded_chunks = len(new_chunks)

    chunks = [c for group in kept_chunks for c in group] + new_chunks
    if not chunks:
        raise NothingToIngestError("nothing to index: no input produced any text" +
                                   (f" ({len(report.failures)} file(s) failed)" if report.failures else ""),
                                   report.failures)
    parts, sent_parts = [], []
    if kept_rows and old is not None:
        rows = np.concatenate(kept_rows)
        parts.append(np.asarray(old.raw_vectors()[rows], dtype=np.float32))
        sent_parts.append(_old_sentence_vectors(old, rows, encode, kept_chunks, metas))
    parts.append(new_vectors.astype(np.float32, copy=False))
    sent_parts.append(new_sent.reshape(-1, new_vectors.shape[1]) if len(new_sent) else
                      np.zeros((0, new_vectors.shape[1]), dtype=np.float16))
    vectors = np.concatenate(parts) if len(parts) > 1 else parts[0]
    sentences = SentenceVectors(np.concatenate(sent_parts), offsets_for(chunks))

    store = ChunkStore({d: metas[d] for d in entries}, chunks)
    lexical = build_lexical_index([c.embed_text(metas[c.doc_id].topic) for c in chunks], settings.index)
    manifest = _manifest(settings, embedder, entries, len(chunks))
    write_index(root, manifest, store, vectors, settings.index, lexical=lexical, extra=sentences.save)
    report.written = True
    report.documents, report.chunks, report.pages = len(entries), len(chunks), manifest.counts["pages"]
    report.seconds = time.perf_counter() - t0
    return report


def _old_sentence_vectors(old: LoadedIndex, rows: np.ndarray, encode: Callable[[list[str]], np.ndarray],
                          kept_chunks: list[list[Chunk]], metas: dict[str, DocumentMeta]) -> np.ndarray:
    """Sentence vectors of kept chunks from the previous version (embedded now if it had none)."""
    previous = SentenceVectors.load(old.path)
    if previous is not None:
        return previous.gather(rows.tolist())
    chunks = [c for group in kept_chunks for c in group]
    texts = sentence_texts(chunks, [metas[c.doc_id].topic for c in chunks])
    return encode(texts).astype(np.float16)


def open_cache(settings: IngestConfig, embedder: Embedder) -> EmbeddingCache:
    """The persistent embedding cache of ``embedder``'s model under ``<data_dir>/cache/embeddings``."""
    return EmbeddingCache(settings.paths.data_dir / "cache" / "embeddings",
                          f"{embedder.info.name}-{embedder.info.fingerprint}".replace("/", "_"), embedder.info.dimension)


def seed_cache(cache: EmbeddingCache, index: LoadedIndex) -> int:
    """Put an index's stored sentence vectors into the cache (a rebuild then re-embeds only new sentences)."""
    vectors = SentenceVectors.load(index.path)
    if vectors is None:
        return 0
    store = index.store
    texts = sentence_texts(store.chunks, [store.documents[c.doc_id].topic for c in store.chunks])
    if len(texts) != len(vectors.vectors):
        return 0
    return cache.add(texts, vectors.vectors)


def _cached_encoder(settings: IngestConfig, embedder: Embedder, progress: bool,
                    seed: LoadedIndex | None = None) -> Callable[[list[str]], np.ndarray]:
    """texts -> float16-rounded unit vectors, through the persistent embedding cache when one is configured
    (seeded with ``seed``'s sentence vectors when the previous index could not be reused as it was)."""
    if not settings.embedding.cache:
        return lambda texts: encode_unique(texts, embedder.encode).astype(np.float16).astype(np.float32)
    cache = open_cache(settings, embedder)
    if seed is not None:
        added = seed_cache(cache, seed)
        log.info("embedding cache seeded with %d sentence vectors of %s", added, seed.path)

    def encode(texts: list[str]) -> np.ndarray:
        with tqdm(total=0, desc="embedding", unit="text", disable=not progress) as bar:
            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return cache.encode(texts, embedder.encode, progress=advance)

    return encode


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
