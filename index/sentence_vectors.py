"""Per-sentence embeddings, row-aligned with the chunk store, so answers can score single sentences fast.

Sentence ``j`` of chunk row ``i`` is row ``offsets[i] + j`` of the matrix (float16 on disk; half the size, and
cosine similarities change by < 1e-3). Sentences are embedded as "Title -- sentence" so they keep their topic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from core.contracts import EMBED_SEPARATOR
from core.models import Chunk

#: Sentences are embedded from at most this many characters (about 128 word-pieces): long list-like "sentences"
#: cost quadratic attention time and are trimmed in answers anyway.
MAX_SENTENCE_CHARS = 600
VECTORS_FILE = "sentence_vectors.npy"
OFFSETS_FILE = "sentence_offsets.npy"


def sentence_texts(chunks: Sequence[Chunk], titles: Sequence[str]) -> list[str]:
    """The text embedded for every sentence of ``chunks``, in row order."""
    out: list[str] = []
    for chunk, title in zip(chunks, titles):
        prefix = f"{title.strip()}{EMBED_SEPARATOR}" if title.strip() else ""
        out.extend(prefix + s.text[:MAX_SENTENCE_CHARS] for s in chunk.sentences)
    return out


def offsets_for(chunks: Sequence[Chunk]) -> np.ndarray:
    counts = np.fromiter((len(c.sentences) for c in chunks), dtype=np.int64, count=len(chunks))
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def encode_unique(texts: list[str], encode) -> np.ndarray:
    """Encode ``texts`` once per distinct string (overlapping chunks repeat sentences)."""
    index: dict[str, int] = {}
    order = [index.setdefault(t, len(index)) for t in texts]
    unique = list(index)
    vecs = encode(unique) if unique else np.zeros((0, 0), dtype=np.float32)
    return vecs[np.asarray(order, dtype=np.int64)] if texts else vecs


def mean_by_chunk(sentence_vectors: np.ndarray, offsets: np.ndarray, dim: int) -> np.ndarray:
    """Chunk vectors as the L2-normalised mean of their sentence vectors.

    >>> v = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    >>> [[round(float(x), 3) for x in row] for row in mean_by_chunk(v, np.array([0, 2, 3]), 2)]
    [[0.707, 0.707], [1.0, 0.0]]
    """
    n = len(offsets) - 1
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    owner = np.repeat(np.arange(n), np.diff(offsets))
    sums = np.zeros((n, dim), dtype=np.float64)
    np.add.at(sums, owner, sentence_vectors.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


class SentenceVectors:
    """Sentence embedding matrix plus chunk offsets."""

    def __init__(self, vectors: np.ndarray, offsets: np.ndarray) -> None:
        if len(offsets) == 0 or int(offsets[-1]) != len(vectors):
            raise ValueError(f"sentence offsets end at {offsets[-1] if len(offsets) else None}, "
                             f"but there are {len(vectors)} sentence vectors")
        self.vectors = vectors
        self.offsets = offsets

    def __len__(self) -> int:
        """Number of chunks covered."""
        return len(self.offsets) - 1

    def for_row(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors[self.offsets[row] : self.offsets[row + 1]], dtype=np.float32)

    def gather(self, rows: Sequence[int]) -> np.ndarray:
        """Vectors of the sentences of ``rows`` concatenated in that order (for incremental re-use)."""
        parts = [self.vectors[self.offsets[r] : self.offsets[r + 1]] for r in rows]
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        return np.concatenate(parts).astype(np.float16) if parts else np.zeros((0, dim), dtype=np.float16)

    def save(self, directory: Path) -> None:
        np.save(directory / VECTORS_FILE, np.asarray(self.vectors, dtype=np.float16))
        np.save(directory / OFFSETS_FILE, self.offsets.astype(np.int64))

    @classmethod
    def load(cls, directory: Path) -> "SentenceVectors | None":
        """The saved matrix (memory-mapped), or None for an index built without sentence vectors."""
        if not (directory / VECTORS_FILE).is_file():
            return None
        return cls(np.load(directory / VECTORS_FILE, mmap_mode="r"), np.load(directory / OFFSETS_FILE))
