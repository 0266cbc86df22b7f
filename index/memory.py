"""In-memory backends: a numpy vector store and a pure-Python BM25 index.

They implement :class:`index.vectors.VectorStore` and :class:`index.lexical.LexicalIndex` with nothing but numpy
and the standard library, exactly and simply. They prove that the pipeline needs only the interfaces (the
pipeline tests run on them as well as on FAISS and bm25s), and suit corpora of a few thousand chunks. Select them
with ``MEDCITE_INDEX__VECTOR_BACKEND=memory`` and ``MEDCITE_INDEX__LEXICAL_BACKEND=memory``.

>>> from index.settings import IndexSettings
>>> lexical = MemoryLexicalIndex.build(["asthma inhaler", "inhaler technique for COPD"], IndexSettings())
>>> lexical.search("COPD inhaler", k=2)[1].tolist(), lexical.knows("copd")
([1, 0], True)
>>> vectors = MemoryVectorStore.create(IndexSettings(), dimension=2)
>>> vectors.add(["a", "b"], np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32))
>>> vectors.search(np.array([1.0, 0.0], dtype=np.float32), k=2)
[[('a', 1.0), ('b', 0.6000000238418579)]]
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from index.lexical import idf, tokenize, write_lexical_meta
from index.settings import IndexSettings
from index.vectors import Matches, VectorStore, as_matrix, check_k, checked_ids, write_meta

_VECTORS_FILE, _IDS_FILE, _POSTINGS_FILE = "vectors.npy", "ids.json", "postings.json"


class MemoryVectorStore(VectorStore):
    """Exact inner-product search over a numpy matrix; deletes compact the matrix."""

    backend = "memory"

    def __init__(self, dimension: int, ids: Sequence[str] = (), vectors: np.ndarray | None = None) -> None:
        self._dimension = dimension
        self._ids = list(ids)
        self._vectors = np.zeros((0, dimension), np.float32) if vectors is None else as_matrix(vectors, dimension, "vectors")
        if len(self._ids) != len(self._vectors):
            raise ValueError(f"{len(self._ids)} ids for {len(self._vectors)} vectors")

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[str]:
        return list(self._ids)

    @classmethod
    def create(cls, settings: IndexSettings, dimension: int) -> MemoryVectorStore:
        return cls(dimension)

    @classmethod
    def load(cls, settings: IndexSettings, directory: Path) -> MemoryVectorStore:
        vectors = np.load(directory / _VECTORS_FILE)
        ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
        return cls(int(vectors.shape[1]), ids, vectors)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / _VECTORS_FILE, self._vectors)
        (directory / _IDS_FILE).write_text(json.dumps(self._ids), encoding="utf-8")
        write_meta(directory, self.backend, dimension=self.dimension, ids=len(self))

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        matrix = as_matrix(vectors, self.dimension, "vectors")
        new_ids = checked_ids(ids, len(matrix))
        self.delete(new_ids)
        self._ids.extend(new_ids)
        self._vectors = np.concatenate([self._vectors, matrix])

    def delete(self, ids: Iterable[str]) -> int:
        gone = set(ids)
        keep = [i for i, chunk in enumerate(self._ids) if chunk not in gone]
        removed = len(self._ids) - len(keep)
        if removed:
            self._ids = [self._ids[i] for i in keep]
            self._vectors = self._vectors[keep]
        return removed

    def search(self, queries: np.ndarray, k: int, allowed: Collection[str] | None = None) -> list[Matches]:
        check_k(k)
        matrix = as_matrix(queries, self.dimension, "queries")
        positions = np.arange(len(self._ids))
        if allowed is not None:
            wanted = set(allowed)
            positions = np.asarray([i for i, chunk in enumerate(self._ids) if chunk in wanted], dtype=np.int64)
        scores = matrix @ self._vectors[positions].T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: first added first
        return [[(self._ids[positions[j]], float(scores[q, j])) for j in row] for q, row in enumerate(top.tolist())]


class MemoryLexicalIndex:
    """BM25 (Lucene variant: ``idf * tf / (tf + k1 * (1 - b + b * len / avg_len))``, as bm25s) over row-aligned texts, as Python dicts."""

    backend = "memory"

    def __init__(self, postings: dict[str, dict[int, int]], lengths: list[int], k1: float, b: float) -> None:
        self.postings, self.lengths, self.k1, self.b = postings, lengths, k1, b
        self._avg = (sum(lengths) / len(lengths)) if lengths else 1.0

    def __len__(self) -> int:
        return len(self.lengths)

    def __repr__(self) -> str:
        return f"MemoryLexicalIndex(docs={len(self)}, vocabulary={len(self.postings)})"

    @classmethod
    def build(cls, texts: Sequence[str], settings: IndexSettings) -> MemoryLexicalIndex:
        postings: dict[str, dict[int, int]] = {}
        lengths = []
        for row, text in enumerate(texts):
            terms = tokenize(text)
            lengths.append(len(terms))
            for term, count in Counter(terms).items():
                postings.setdefault(term, {})[row] = count
        return cls(postings, lengths, settings.bm25_k1, settings.bm25_b)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        check_k(k)
        rows = None if allowed is None else {int(r) for r in np.asarray(allowed).tolist()}
        scores: dict[int, float] = {}
        for term in tokenize(query):  # a repeated query term counts again, as in bm25s
            posting = self.postings.get(term)
            if not posting:
                continue
            weight = idf(len(self), len(posting))
            for row, tf in posting.items():
                if rows is None or row in rows:
                    norm = self.k1 * (1 - self.b + self.b * self.lengths[row] / self._avg)
                    scores[row] = scores.get(row, 0.0) + weight * tf / (tf + norm)  # Lucene drops BM25's (k1 + 1) factor
        best = sorted((row for row, s in scores.items() if s > 0), key=lambda r: (-scores[r], r))[:k]
        return (np.asarray([scores[r] for r in best], dtype=np.float32), np.asarray(best, dtype=np.int64))

    def term_weights(self, text: str) -> dict[str, float]:
        return {t: idf(len(self), len(self.postings[t])) for t in tokenize(text) if t in self.postings}

    def knows(self, term: str) -> bool:
        return term in self.postings

    def document_frequency(self, term: str) -> int:
        return len(self.postings.get(term, ()))

    def vocabulary(self) -> Iterable[str]:
        return self.postings.keys()

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        data = {"k1": self.k1, "b": self.b, "lengths": self.lengths,
                "postings": {t: [[r, tf] for r, tf in p.items()] for t, p in self.postings.items()}}
        (directory / _POSTINGS_FILE).write_text(json.dumps(data), encoding="utf-8")
        write_lexical_meta(directory, self.backend, len(self))

    @classmethod
    def load(cls, directory: Path) -> MemoryLexicalIndex:
        data = json.loads((directory / _POSTINGS_FILE).read_text(encoding="utf-8"))
        postings = {t: {int(r): int(tf) for r, tf in p} for t, p in data["postings"].items()}
        return cls(postings, [int(n) for n in data["lengths"]], float(data["k1"]), float(data["b"]))

