"""Dense vector stores: a small backend interface plus the FAISS implementation.

Rows are numbered in insertion order (row ``i`` is chunk ``i``); scores are inner products, i.e. cosine
similarities for the unit vectors the embedder produces. ``search`` pads missing hits with id ``-1``
and score ``-inf``.

>>> import numpy as np
>>> from index.settings import IndexSettings
>>> store = create_vector_store(IndexSettings(), dimension=2)
>>> store.add(np.array([[1, 0], [0, 1]], dtype=np.float32))
>>> scores, ids = store.search(np.array([[0.1, 0.9]], dtype=np.float32), k=3)
>>> ids.tolist()
[[1, 0, -1]]
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from pathlib import Path

import faiss
import numpy as np

from index.settings import IndexSettings
log = logging.getLogger(__name__)

#: IVF lists probed per query (set when an IVF index is created).
DEFAULT_NPROBE = 16
#: HNSW search breadth (set when an HNSW index is created); FAISS uses at least k anyway.
DEFAULT_EF_SEARCH = 64
#: ``allowed`` sets up to this size are scored exactly from reconstructed vectors: approximate indexes
#: (HNSW, IVF) miss hits when a filter keeps only a small fraction of the rows.
EXACT_SUBSET_MAX = 4096
_META_FILE = "vector_store.json"


class VectorStore(ABC):
    """Append-only store of unit vectors with top-k inner-product search."""

    backend: str = ""
    dimension: int

    @abstractmethod
    def add(self, vectors: np.ndarray) -> None:
        """Append ``(n, dimension)`` vectors; they get rows ``len(self) .. len(self) + n - 1``."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query: ``(scores (q, k) float32, ids (q, k) int64)``; ``allowed`` restricts rows."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the store into ``directory`` (created if missing)."""

    @classmethod
    @abstractmethod
    def create(cls, settings: IndexSettings, dimension: int) -> VectorStore:
        """A new empty store."""

    @classmethod
    @abstractmethod
    def load(cls, settings: IndexSettings, directory: Path) -> VectorStore:
        """A store written by :meth:`save`."""

    @abstractmethod
    def __len__(self) -> int: ...


def _as_matrix(vectors: np.ndarray, dimension: int, what: str) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise ValueError(f"{what} must have shape (n, {dimension}), got {np.shape(vectors)}")
    return np.ascontiguousarray(array)


def _padded(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n_queries, k), -np.inf, dtype=np.float32), np.full((n_queries, k), -1, dtype=np.int64)


class FaissVectorStore(VectorStore):
    """A ``faiss.index_factory`` index (inner product); trains on the first ``add`` when it needs to."""

    backend = "faiss"

    def __init__(self, index: faiss.Index, requested_factory: str, factory: str, fallback_reason: str = "") -> None:
        self.index = index
        self.requested_factory = requested_factory
        self.factory = factory
        self.fallback_reason = fallback_reason

    @property
    def dimension(self) -> int:  # type: ignore[override]
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def __repr__(self) -> str:
        return f"FaissVectorStore({self.factory!r}, dimension={self.dimension}, rows={len(self)})"

    @classmethod
    def create(cls, settings: IndexSettings, dimension: int) -> FaissVectorStore:
        faiss.omp_set_num_threads(settings.faiss_threads)
        try:
            index = faiss.index_factory(dimension, settings.faiss_factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise ValueError(
                f"invalid faiss_factory {settings.faiss_factory!r} (see faiss.index_factory); "
                f"faiss said: {str(exc).strip().splitlines()[-1]}"
            ) from exc
        _tune(index)
        return cls(index, settings.faiss_factory, settings.faiss_factory)

    @classmethod
    def load(cls, settings: IndexSettings, directory: Path) -> FaissVectorStore:
        faiss.omp_set_num_threads(settings.faiss_threads)
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        index = faiss.read_index(str(directory / "index.faiss"))
        return cls(index, meta["requested_factory"], meta["factory"], meta.get("fallback_reason", ""))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        meta = {
            "backend": self.backend,
            "requested_factory": self.requested_factory,
            "factory": self.factory,
            "fallback_reason": self.fallback_reason,
            "dimension": self.dimension,
            "rows": len(self),
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    def add(self, vectors: np.ndarray) -> None:
        matrix = _as_matrix(vectors, self.dimension, "vectors")
        if len(matrix) == 0:
            return
        if not self.index.is_trained:
            self._train(matrix)
        self.index.add(matrix)
        ivf = _ivf(self.index)
        if ivf is not None:
            ivf.make_direct_map(True)  # lets reconstruct() serve exact filtered searches

    def _train(self, matrix: np.ndarray) -> None:
        try:
            self.index.train(matrix)
        except RuntimeError as exc:
            reason = f"{len(matrix)} vectors are too few to train {self.requested_factory!r}"
            log.warning("%s; falling back to an exact Flat index", reason)
            self.index = faiss.IndexFlatIP(self.dimension)
            self.factory = "Flat"
            self.fallback_reason = f"{reason} ({str(exc).strip().splitlines()[-1]})"

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        matrix = _as_matrix(queries, self.dimension, "queries")
        if len(self) == 0 or len(matrix) == 0:
            return _padded(len(matrix), k)
        if allowed is None:
            return _clean(*self.index.search(matrix, k))
        rows = np.unique(np.asarray(allowed, dtype=np.int64))
        rows = rows[(rows >= 0) & (rows < len(self))]
        if len(rows) == 0:
            return _padded(len(matrix), k)
        if len(rows) <= EXACT_SUBSET_MAX:
            exact = self._exact_subset(matrix, k, rows)
            if exact is not None:
                return exact
        selector = faiss.IDSelectorBatch(rows)
        try:
            return _clean(*self.index.search(matrix, k, params=self._params(selector)))
        except RuntimeError:  # this index type takes no selector
            return self._post_filter(matrix, k, rows)

    def _exact_subset(self, matrix: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Score the (sorted) ``rows`` exactly; None when this index cannot reconstruct vectors."""
        try:
            vectors = self.index.reconstruct_batch(rows)
        except RuntimeError:
            return None
        scores = matrix @ vectors.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: lower row first
        out_scores, out_ids = _padded(len(matrix), k)
        out_scores[:, : top.shape[1]] = np.take_along_axis(scores, top, axis=1)
        out_ids[:, : top.shape[1]] = rows[top]
        return out_scores, out_ids

    def _params(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        ivf = _ivf(self.index)
        if ivf is not None:
            return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
        if hasattr(self.index, "hnsw"):
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
        return faiss.SearchParameters(sel=selector)

    def _post_filter(self, matrix: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Over-fetch unfiltered hits (growing 4x) and keep the allowed ones."""
        fetch = min(len(self), max(4 * k, 64))
        while True:
            scores, ids = self.index.search(matrix, fetch)
            keep = np.isin(ids, rows)
            if fetch >= len(self) or bool((keep.sum(axis=1) >= min(k, len(rows))).all()):
                break
            fetch = min(len(self), fetch * 4)
        out_scores, out_ids = _padded(len(matrix), k)
        for q in range(len(matrix)):
            hit_scores, hit_ids = scores[q][keep[q]][:k], ids[q][keep[q]][:k]
            out_scores[q, : len(hit_ids)] = hit_scores
            out_ids[q, : len(hit_ids)] = hit_ids
        return out_scores, out_ids


def _ivf(index: faiss.Index) -> faiss.IndexIVF | None:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _tune(index: faiss.Index) -> None:
    """Search-time defaults that the factory string cannot express (stored with the index)."""
    ivf = _ivf(index)
    if ivf is not None:
        ivf.nprobe = min(ivf.nlist, DEFAULT_NPROBE)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(index.hnsw.efSearch, DEFAULT_EF_SEARCH)


def _clean(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = scores.astype(np.float32, copy=True)
    ids = ids.astype(np.int64, copy=False)
    scores[ids < 0] = -np.inf
    return scores, ids


_BACKENDS: dict[str, type[VectorStore]] = {"faiss": FaissVectorStore}


def _backend(name: str) -> type[VectorStore]:
    try:
        return _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown vector backend {name!r}; known backends: {sorted(_BACKENDS)}") from None


def create_vector_store(settings: IndexSettings, dimension: int) -> VectorStore:
    """A new empty store of the backend named by ``settings.vector_backend``."""
    return _backend(settings.vector_backend).create(settings, dimension)


def load_vector_store(settings: IndexSettings, directory: Path) -> VectorStore:
    """Load a store saved in ``directory`` with the backend recorded there (else the settings' backend)."""
    meta_path = directory / _META_FILE
    name = settings.vector_backend
    if meta_path.is_file():
        name = json.loads(meta_path.read_text(encoding="utf-8")).get("backend", name)
    return _backend(name).load(settings, directory)
