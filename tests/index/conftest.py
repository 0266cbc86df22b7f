"""Fixtures for the index tests: tiny chunk stores, unit vectors and manifests built in memory."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from index.embedding import ModelInfo
from index.manifest import DocumentEntry, Manifest
from core.models import Chunk, DocumentMeta, Sentence
from index.store import ChunkStore

DIM = 8


def build_chunk(doc_id: str, ordinal: int, sentences: list[str]) -> Chunk:
    text = " ".join(sentences)
    spans, pos = [], 0
    for s in sentences:
        spans.append(Sentence(start=pos, end=pos + len(s), text=s))
        pos += len(s) + 1
    return Chunk(
        chunk_id=f"{doc_id}#{ordinal}",
        doc_id=doc_id,
        ordinal=ordinal,
        text=text,
        section_path=["Treatment"],
        pages=[1],
        start=0,
        end=len(text),
        sentences=spans,
    )


TEXTS = {
    "asthma": ["Inhaled corticosteroids control persistent asthma.", "Use a spacer with the inhaler."],
    "diabetes": ["Metformin 500mg twice daily is first-line for type 2 diabetes.", "Check HbA1c every 3 months."],
    "covid": ["COVID-19 vaccination lowers the risk of severe disease.", "Boosters are advised for adults."],
}


@pytest.fixture
def tiny_store() -> ChunkStore:
    """Three documents with two chunks each (rows 0-5, in TEXTS order)."""
    documents = {d: DocumentMeta(doc_id=d, title=d.capitalize(), issuer="CDC", year=2024) for d in TEXTS}
    chunks = [build_chunk(d, i, [s]) for d, sents in TEXTS.items() for i, s in enumerate(sents)]
    return ChunkStore(documents, chunks)


@pytest.fixture
def unit_vectors() -> Callable[[int], np.ndarray]:
    def make(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
        x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return make


def model_info(fingerprint: str = "f00d", dimension: int = DIM) -> ModelInfo:
    return ModelInfo(name="tiny-test-model", dimension=dimension, max_seq_length=128, fingerprint=fingerprint)


def manifest_for(store: ChunkStore, fingerprint: str = "f00d") -> Manifest:
    entries = {
        d: DocumentEntry(
            content_hash=f"h-{d}", n_chunks=len(store.rows_of_document(d)), title=m.title, source_path=f"{d}.md"
        )
        for d, m in store.documents.items()
    }
    return Manifest(
        model=model_info(fingerprint),
        faiss_factory="Flat",
        vector_backend="faiss",
        chunking={"max_tokens": 220},
        counts={"documents": len(entries), "chunks": len(store), "pages": 0},
        documents=entries,
    )


@pytest.fixture
def make_manifest() -> Callable[..., Manifest]:
    """``make_manifest(store, fingerprint="f00d")``: a manifest matching ``store`` for the tiny test model."""
    return manifest_for


@pytest.fixture
def make_model_info() -> Callable[..., ModelInfo]:
    """``make_model_info(fingerprint="f00d", dimension=8)``."""
    return model_info


@pytest.fixture
def make_chunk() -> Callable[[str, int, list[str]], Chunk]:
    """``make_chunk(doc_id, ordinal, sentences)``: a chunk whose text joins the sentences."""
    return build_chunk
