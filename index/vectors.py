"""Dense vector stores: the interface every backend implements, and the registry that picks one.

A store holds unit vectors under string ids (medcite uses chunk ids, ``'<doc_id>#<ordinal>'``) and answers
top-k inner-product searches, i.e. cosine similarities for the unit vectors the embedder produces, optionally
restricted to a set of ids. Adding an id that is already stored replaces its vector; deleting unknown ids is a
no-op. Ties go to the id added first. Each backend owns its files: ``save(directory)`` writes them and
``load_vector_store(settings, directory)`` reads them back with the backend recorded there. A backend for a
server-side store (Qdrant, OpenSearch, pgvector) implements the same methods and saves only its connection
details.

Backends: ``faiss`` (:mod:`index.faiss_store`, the default), ``memory`` (:mod:`index.memory`, numpy, exact;
for tests and small corpora) and ``milvus`` (:mod:`index.milvus_store`, Milvus Lite or a Milvus server).

>>> import numpy as np
>>> from index.settings import IndexSettings
>>> store = create_vector_store(IndexSettings(), dimension=2)
>>> store.add(["a#0", "b#0"], np.array([[1, 0], [0, 1]], dtype=np.float32))
>>> [[chunk for chunk, _ in hits] for hits in store.search(np.array([[0.1, 0.9]], dtype=np.float32), k=3)]
[['b#0', 'a#0']]
>>> store.delete(["b#0"]), len(store)
(1, 1)
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Collection, Iterable, Sequence

import numpy as np

from index.settings import IndexSettings

#: One query's hits: ``(id, score)`` pairs, best first.
Matches = list[tuple[str, float]]
META_FILE = "vector_store.json"
log = logging.getLogger(__name__)


class VectorStore(ABC):
    """Unit vectors by id with top-k inner-product search, deletes and backend-owned persistence."""

    backend: str = ""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every stored vector."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of live (not deleted) ids."""

    @abstractmethod
    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``ids[i]`` (replacing a stored vector of the same id)."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove ``ids``; returns how many were stored."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int, allowed: Collection[str] | None = None) -> list[Matches]:
        """Top-``k`` ``(id, score)`` per query row, best first; ``allowed`` restricts the ids searched."""

    @abstractmethod
    def ids(self) -> list[str]:
        """Every live id, in insertion order."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the store into ``directory`` (created if missing), including ``vector_store.json``."""

    @classmethod
    @abstractmethod
    def create(cls, settings: IndexSettings, dimension: int) -> VectorStore:
        """A new empty store."""

    @classmethod
    @abstractmethod
    def load(cls, settings: IndexSettings, directory: Path) -> VectorStore:
        """A store written by :meth:`save`."""


def as_matrix(vectors: np.ndarray, dimension: int, what: str) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 ``(n, dimension)`` matrix; ``ValueError`` naming ``what`` otherwise.

    >>> as_matrix(np.zeros(3), 3, "queries").shape
    (1, 3)
    """
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise ValueError(f"{what} must have shape (n, {dimension}), got {np.shape(vectors)}")
    return np.ascontiguousarray(array)


def checked_ids(ids: Sequence[str], n_vectors: int) -> list[str]:
    """``ids`` as a list of distinct strings, one per vector; ``ValueError`` naming the problem otherwise.

    >>> checked_ids(["a", "a"], 2)
    Traceback (most recent call last):
    ...
    ValueError: duplicate id 'a' in one add
    """
    out = [str(i) for i in ids]
    if len(out) != n_vectors:
        raise ValueError(f"{len(out)} ids for {n_vectors} vectors")
    seen: set[str] = set()
    for item in out:
        if item in seen:
            raise ValueError(f"duplicate id {item!r} in one add")
        seen.add(item)
    return out


def check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def write_meta(directory: Path, backend: str, **fields: object) -> None:
    """Write ``vector_store.json`` (backend name first) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"backend": backend, **fields}
    (directory / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def read_meta(directory: Path) -> dict:
    """The ``vector_store.json`` of a saved store (``{}`` when there is none)."""
    path = directory / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _backends() -> dict[str, Callable[[], type[VectorStore]]]:
    def faiss_store() -> type[VectorStore]:
        from index.faiss_store import FaissVectorStore

        return FaissVectorStore

    def memory_store() -> type[VectorStore]:
        from index.memory import MemoryVectorStore

        return MemoryVectorStore

    def milvus_store() -> type[VectorStore]:
        from index.milvus_store import MilvusVectorStore

        return MilvusVectorStore

    return {"faiss": faiss_store, "memory": memory_store, "milvus": milvus_store}


def _backend(name: str) -> type[VectorStore]:
    backends = _backends()
    if name not in backends:
        raise ValueError(f"unknown vector backend {name!r}; known backends: {sorted(backends)}")
    return backends[name]()


def create_vector_store(settings: IndexSettings, dimension: int) -> VectorStore:
    """A new empty store of the backend named by ``settings.vector_backend``."""
    return _backend(settings.vector_backend).create(settings, dimension)


def discard_vector_store(settings: IndexSettings, directory: Path) -> None:
    """Release what a saved store keeps outside ``directory`` (a server-side collection) before the directory is
    deleted; a no-op for file backends. Failures are logged, never raised (pruning must go on)."""
    name = read_meta(directory).get("backend")
    if name is None:
        return
    try:
        backend = _backend(name)
        discard = getattr(backend, "discard", None)
        if discard is not None:
            discard(settings, directory)
    except Exception as exc:  # noqa: BLE001 -- a dead server must not stop a build
        log.warning("could not release the %s store of %s: %s", name, directory, exc)


def load_vector_store(settings: IndexSettings, directory: Path) -> VectorStore:
    """Load a store saved in ``directory`` with the backend recorded there (else the settings' backend)."""
    name = read_meta(directory).get("backend", settings.vector_backend)
    return _backend(name).load(settings, directory)
