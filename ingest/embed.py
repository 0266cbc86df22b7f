"""The embedding stage of ingest: sentence vectors of new chunks through the persistent embedding cache, chunk
vectors from them, and the vectors of kept chunks taken from the previous index version.

Sentence vectors are rounded to float16 (how they are stored); a chunk's vector is the normalised mean of its
sentence vectors (``index.chunk_vectors = "sentence-mean"``) or a separate encode of the whole chunk text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from core.models import Chunk, DocumentMeta
from index.embed_cache import EmbeddingCache
from index.embedding import Embedder
from index.sentence_vectors import SentenceVectors, encode_unique, mean_by_chunk, offsets_for, sentence_texts
from index.storage import LoadedIndex
from ingest.settings import IngestConfig

log = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]


@dataclass
class Embedded:
    """Row-aligned chunk vectors (float32) and the sentence vectors of those chunks."""

    vectors: np.ndarray
    sentences: SentenceVectors


def open_cache(settings: IngestConfig, embedder: Embedder) -> EmbeddingCache:
    """The persistent embedding cache of ``embedder``'s model under ``<data_dir>/cache/embeddings``."""
    return EmbeddingCache(settings.paths.data_dir / "cache" / "embeddings",
                          f"{embedder.info.name}-{embedder.info.fingerprint}".replace("/", "_"), embedder.info.dimension,
                          slice_size=settings.embedding.cache_slice)


def seed_cache(cache: EmbeddingCache, index: LoadedIndex) -> int:
    """Put an index's stored sentence vectors into the cache (a rebuild then re-embeds only new sentences)."""
    vectors = SentenceVectors.load(index.path)
    if vectors is None:
        return 0
    store = index.store
    texts = sentence_texts(store.chunks, [store.documents[d].topic for d in store.doc_ids])
    if len(texts) != len(vectors.vectors):
        return 0
    return cache.add(texts, vectors.vectors)


def cached_encoder(settings: IngestConfig, embedder: Embedder, progress: bool,
                   seed: LoadedIndex | None = None, on_progress: Callable[[int, int], None] | None = None) -> Encode:
    """texts -> float16-rounded unit vectors, through the persistent embedding cache when one is configured
    (seeded with ``seed``'s sentence vectors when the previous index could not be reused as it was);
    ``on_progress(done, total)`` counts the new texts encoded."""
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
                if on_progress is not None:
                    on_progress(done, total)

            return cache.encode(texts, embedder.encode, progress=advance)

    return encode


def embed_chunks(chunks: list[Chunk], metas: dict[str, DocumentMeta], encode: Encode, dimension: int,
                 chunk_vectors: str) -> tuple[np.ndarray, np.ndarray]:
    """(chunk vectors float32, sentence vectors float16) of ``chunks``."""
    sent32 = encode(sentence_texts(chunks, [metas[c.doc_id].topic for c in chunks]))
    if chunk_vectors == "sentence-mean":
        vectors = mean_by_chunk(sent32, offsets_for(chunks), dimension)
    else:
        vectors = encode([c.embed_text(metas[c.doc_id].topic) for c in chunks])
    return vectors.astype(np.float32, copy=False), sent32.astype(np.float16).reshape(-1, dimension)


def combine(old: LoadedIndex | None, kept: list[Chunk], kept_rows: np.ndarray, new: list[Chunk],
            new_vectors: tuple[np.ndarray, np.ndarray], encode: Encode, metas: dict[str, DocumentMeta]) -> Embedded:
    """Vectors of ``kept + new`` chunks in that order: kept ones from ``old``, new ones as embedded."""
    vectors, sentences = [], []
    if kept and old is not None:
        vectors.append(np.asarray(old.raw_vectors()[kept_rows], dtype=np.float32))
        previous = SentenceVectors.load(old.path)
        if previous is not None:
            sentences.append(previous.gather(kept_rows.tolist()))
        else:  # the previous version has no sentence vectors: embed the kept chunks' sentences now
            sentences.append(encode(sentence_texts(kept, [metas[c.doc_id].topic for c in kept])).astype(np.float16))
    vectors.append(new_vectors[0])
    sentences.append(new_vectors[1])
    return Embedded(np.concatenate(vectors), SentenceVectors(np.concatenate(sentences), offsets_for(kept + new)))
