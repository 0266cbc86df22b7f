"""Seed a new eval index with documents it shares with an existing index, so ``ingest()`` re-uses them.

An eval corpus often contains documents other indexes already hold with the same text and metadata (the BioASQ
corpus holds all MedQuAD passages of the default index and every document of the PubMedQA corpus).
Before the first ingest of an eval corpus, the shared documents' chunks, vectors and sentence vectors are copied
into the empty eval index; ingest() then finds them unchanged (same content hash, model and chunking) and embeds
only the rest. The result equals a from-scratch build; seeding only saves embedding time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from index.embedding import get_embedder
from index.manifest import Manifest
from index.sentence_vectors import SentenceVectors, offsets_for
from app.settings import Settings
from index.storage import IndexLoadError, LoadedIndex, index_exists, open_index, write_index
from index.store import ChunkStore


def _open(root: Path, settings: Settings) -> LoadedIndex | None:
    """The index at ``root`` if it exists and was built with the configured embedding model."""
    if not index_exists(root):
        return None
    try:
        return open_index(root, settings.index, expect_model=get_embedder(settings.embedding).info)
    except IndexLoadError:
        return None


def seed_index(target: Path, doc_ids: set[str], sources: Iterable[Path], settings: Settings,
               source_path: str) -> dict[str, int]:
    """Write a first version of ``target`` holding the documents of ``doc_ids`` found in the ``sources``.

    Each document is taken from the first source that holds it; sources must share the embedding model and the
    build parameters (chunking, FAISS factory) of the first one. The seed records those parameters, and ingest()
    itself decides whether they match the current settings (if not, it rebuilds: correct, only slower). Does nothing when ``target`` already has an index or no source shares a document. Seeded documents get
    ``source_path`` (the eval corpus file), so later ingests of that file manage them like their own.
    Returns the number of documents taken from each source root (empty when nothing was seeded).
    """
    if index_exists(target):
        return {}
    taken: set[str] = set()
    parts: list[tuple[LoadedIndex, list[str]]] = []
    for root in sources:
        loaded = _open(Path(root), settings)
        if loaded is None:
            continue
        if parts and (loaded.manifest.chunking, loaded.manifest.faiss_factory) != (
                parts[0][0].manifest.chunking, parts[0][0].manifest.faiss_factory):
            continue
        shared = [d for d in loaded.manifest.documents if d in doc_ids and d not in taken]
        if shared:
            taken.update(shared)
            parts.append((loaded, shared))
    if not parts:
        return {}
    metas, entries, chunks, vectors, sentences = {}, {}, [], [], []
    with_sentences = all(SentenceVectors.load(src.path) is not None for src, _ in parts)
    for src, shared in parts:
        rows = [r for d in shared for r in src.store.rows_of_document(d)]
        chunks += [src.store.chunks[r] for r in rows]
        metas.update({d: src.store.documents[d].model_copy(update={"source_path": source_path}) for d in shared})
        entries.update({d: src.manifest.documents[d].model_copy(update={"source_path": source_path}) for d in shared})
        vectors.append(np.asarray(src.raw_vectors()[np.asarray(rows, dtype=np.int64)], dtype=np.float32))
        if with_sentences:
            sentences.append(SentenceVectors.load(src.path).gather(rows))
    first = parts[0][0].manifest
    manifest = Manifest(model=first.model, faiss_factory=first.faiss_factory, vector_backend=first.vector_backend,
                        chunking=dict(first.chunking), documents=entries)
    extra = SentenceVectors(np.concatenate(sentences), offsets_for(chunks)).save if with_sentences else None
    write_index(Path(target), manifest, ChunkStore(metas, chunks), np.concatenate(vectors), settings.index,
                extra=extra)
    return {str(src.root): len(shared) for src, shared in parts}
