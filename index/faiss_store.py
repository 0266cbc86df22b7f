"""The FAISS vector store: any ``faiss.index_factory`` index (inner product) plus an id table.

FAISS numbers vectors in insertion order ("labels"); the store maps ids to labels and back (``ids.json``, with
``null`` for deleted labels). Deletes are tombstones, which every FAISS index type supports: searches fetch
enough extra hits to skip them, and the next build writes a fresh index. Filtered searches score small ``allowed``
sets exactly from reconstructed vectors (approximate indexes miss hits when a filter keeps few rows), use a FAISS
id selector otherwise, and fall back to over-fetching for index types that take no selector.

>>> import numpy as np
>>> from index.settings import IndexSettings
>>> store = FaissVectorStore.create(IndexSettings(), dimension=2)
>>> store.add(["x", "y"], np.eye(2, dtype=np.float32))
>>> store.search(np.array([[0.0, 1.0]], dtype=np.float32), k=1, allowed=["x"])[0][0][0]
'x'
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Collection, Iterable, Sequence

import faiss
import numpy as np

from index.settings import IndexSettings
from index.vectors import Matches, VectorStore, as_matrix, check_k, checked_ids, read_meta, write_meta

log = logging.getLogger(__name__)

#: IVF lists probed per query (set when an IVF index is created).
DEFAULT_NPROBE = 16
#: HNSW search breadth (set when an HNSW index is created); FAISS uses at least k anyway.
DEFAULT_EF_SEARCH = 64
#: ``allowed`` sets up to this size are scored exactly from reconstructed vectors.
EXACT_SUBSET_MAX = 4096
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.json"


class FaissVectorStore(VectorStore):
    """A FAISS index addressed by string ids; trains on the first ``add`` when it needs to."""

    backend = "faiss"

    def __init__(self, index: faiss.Index, requested_factory: str, factory: str, fallback_reason: str = "",
                 ids: Sequence[str | None] = ()) -> None:
        self.index = index
        self.requested_factory = requested_factory
        self.factory = factory
        self.fallback_reason = fallback_reason
        self._ids: list[str | None] = list(ids)
        self._labels = {chunk: label for label, chunk in enumerate(self._ids) if chunk is not None}
        self._mapped = False  # set by load(): the index is memory-mapped read-only
        if len(self._ids) != int(index.ntotal):
            raise ValueError(f"{len(self._ids)} ids for {int(index.ntotal)} FAISS vectors")

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"FaissVectorStore({self.factory!r}, dimension={self.dimension}, ids={len(self)})"

    def ids(self) -> list[str]:
        return [chunk for chunk in self._ids if chunk is not None]

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
        meta = read_meta(directory)
        index, mapped = _read(directory / INDEX_FILE, settings.mmap_vectors)
        ids = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        store = cls(index, meta["requested_factory"], meta["factory"], meta.get("fallback_reason", ""), ids)
        store._mapped = mapped
        return store

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        (directory / IDS_FILE).write_text(json.dumps(self._ids), encoding="utf-8")
        write_meta(directory, self.backend, requested_factory=self.requested_factory, factory=self.factory,
                   fallback_reason=self.fallback_reason, dimension=self.dimension, ids=len(self))

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        matrix = as_matrix(vectors, self.dimension, "vectors")
        new_ids = checked_ids(ids, len(matrix))
        if len(matrix) == 0:
            return
        if self._mapped:  # a memory-mapped (read-only) index: copy it into memory first
            self.index, self._mapped = faiss.deserialize_index(faiss.serialize_index(self.index)), False
        if not self.index.is_trained:
            self._train(matrix)
        self.delete(new_ids)
        self.index.add(matrix)
        for chunk in new_ids:
            self._labels[chunk] = len(self._ids)
            self._ids.append(chunk)
        ivf = _ivf(self.index)
        if ivf is not None:
            ivf.make_direct_map(True)  # lets reconstruct() serve exact filtered searches

    def delete(self, ids: Iterable[str]) -> int:
        removed = 0
        for chunk in ids:
            label = self._labels.pop(chunk, None)
            if label is not None:
                self._ids[label] = None
                removed += 1
        return removed

    def _train(self, matrix: np.ndarray) -> None:
        try:
            self.index.train(matrix)
        except RuntimeError as exc:
            reason = f"{len(matrix)} vectors are too few to train {self.requested_factory!r}"
            log.warning("%s; falling back to an exact Flat index", reason)
            self.index = faiss.IndexFlatIP(self.dimension)
            self.factory = "Flat"
            self.fallback_reason = f"{reason} ({str(exc).strip().splitlines()[-1]})"

    def search(self, queries: np.ndarray, k: int, allowed: Collection[str] | None = None) -> list[Matches]:
        check_k(k)
        matrix = as_matrix(queries, self.dimension, "queries")
        if len(self) == 0 or len(matrix) == 0:
            return [[] for _ in range(len(matrix))]
        if allowed is None:
            fetch = min(int(self.index.ntotal), k + len(self._ids) - len(self._labels))
            return self._matches(*self.index.search(matrix, fetch), k)
        labels = np.unique(np.fromiter((self._labels[c] for c in allowed if c in self._labels), dtype=np.int64))
        if len(labels) == 0:
            return [[] for _ in range(len(matrix))]
        if len(labels) <= EXACT_SUBSET_MAX:
            exact = self._exact_subset(matrix, k, labels)
            if exact is not None:
                return exact
        try:
            found = self.index.search(matrix, k, params=self._params(faiss.IDSelectorBatch(labels)))
        except RuntimeError:  # this index type takes no selector
            return self._post_filter(matrix, k, labels)
        return self._matches(*found, k)

    def _matches(self, scores: np.ndarray, labels: np.ndarray, k: int) -> list[Matches]:
        out: list[Matches] = []
        for row_scores, row_labels in zip(scores.tolist(), labels.tolist(), strict=True):
            hits: Matches = []
            for score, label in zip(row_scores, row_labels, strict=True):
                chunk = self._ids[label] if label >= 0 else None
                if chunk is not None:
                    hits.append((chunk, float(score)))
                    if len(hits) == k:
                        break
            out.append(hits)
        return out

    def _exact_subset(self, matrix: np.ndarray, k: int, labels: np.ndarray) -> list[Matches] | None:
        """Score the (sorted) ``labels`` exactly; None when this index cannot reconstruct vectors."""
        try:
            vectors = self.index.reconstruct_batch(labels)
        except RuntimeError:
            return None
        scores = matrix @ vectors.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: first added first
        return self._matches(np.take_along_axis(scores, top, axis=1), labels[top], k)

    def _params(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        ivf = _ivf(self.index)
        if ivf is not None:
            return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
        if hasattr(self.index, "hnsw"):
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)
        return faiss.SearchParameters(sel=selector)

    def _post_filter(self, matrix: np.ndarray, k: int, labels: np.ndarray) -> list[Matches]:
        """Over-fetch unfiltered hits (growing 4x) and keep the allowed ones."""
        total = int(self.index.ntotal)
        fetch = min(total, max(4 * k, 64))
        while True:
            scores, found = self.index.search(matrix, fetch)
            keep = np.isin(found, labels)
            if fetch >= total or bool((keep.sum(axis=1) >= min(k, len(labels))).all()):
                break
            fetch = min(total, fetch * 4)
        scores = np.where(keep, scores, -np.inf)
        return self._matches(scores, np.where(keep, found, -1), k)


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


def _read(path: Path, mmap: bool) -> tuple[faiss.Index, bool]:
    """The index at ``path``: memory-mapped read-only when ``mmap`` (the vectors stay in the page cache, shared by
    every worker and by the next index version's load, and are not copied into each process), else read into
    memory; (index, whether it is mapped). Index types FAISS cannot map are read into memory."""
    if mmap:
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY), True
        except RuntimeError as exc:
            log.info("%s cannot be memory-mapped (%s); reading it into memory", path, str(exc).strip()[-120:])
    return faiss.read_index(str(path)), False
