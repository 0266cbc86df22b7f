"""A :class:`~index.vectors.VectorStore` on Milvus (issue 21 item 1): the same client code for Milvus Lite (an
embedded engine in a local file, for tests and small installs) and a Milvus standalone or cluster (a URI such as
``http://milvus:19530``).

Select it with ``MEDCITE_INDEX__VECTOR_BACKEND=milvus`` and ``MEDCITE_INDEX__MILVUS_URI`` (a ``.db`` path = Milvus
Lite; unset = a Lite file of its own per store, under the system temp directory -- tests). Each new store is a new
collection ``medcite_<random>``; :meth:`save` flushes it and records only the URI and collection name in the
version directory's ``vector_store.json``, so index versions and the atomic ``CURRENT`` swap keep their meaning:
every version points at its own collection, and pruning an old version drops its collection
(:func:`index.vectors.discard_vector_store`). Ties go to the id added first (a ``seq`` field kept per id).

Needs ``pip install 'medcite[milvus]'`` (pymilvus + milvus-lite); without it the factory's ImportError says so.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path
from typing import Any, Collection, Iterable, Sequence

import numpy as np

from index.settings import IndexSettings
from index.vectors import Matches, VectorStore, as_matrix, check_k, checked_ids, read_meta, write_meta

INSTALL_HINT = "the milvus vector backend needs: pip install 'medcite[milvus]' (pymilvus and milvus-lite)"
#: Ids per ``id in [...]`` expression (Milvus bounds expression size).
_BATCH = 1000


def _client(uri: str) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return MilvusClient(uri)


def _in(ids: Sequence[str]) -> str:
    return "id in " + json.dumps(list(ids))


class MilvusVectorStore(VectorStore):
    """Unit vectors by id in one Milvus collection (inner product; ``index.milvus_index``, exact FLAT by default)."""

    backend = "milvus"

    def __init__(self, uri: str, collection: str, dimension: int, client: Any | None = None) -> None:
        self.uri, self.collection, self._dimension = uri, collection, dimension
        self._client = client or _client(uri)
        rows = self._client.query(collection, filter="seq >= 0", output_fields=["id", "seq"]) \
            if self._client.has_collection(collection) else []
        self._seq = {r["id"]: int(r["seq"]) for r in rows}
        self._next = max(self._seq.values(), default=-1) + 1

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        return len(self._seq)

    def ids(self) -> list[str]:
        return sorted(self._seq, key=self._seq.__getitem__)

    @classmethod
    def create(cls, settings: IndexSettings, dimension: int) -> MilvusVectorStore:
        uri = settings.milvus_uri or str(Path(tempfile.mkdtemp(prefix="medcite-milvus-")) / "milvus.db")
        collection = f"medcite_{secrets.token_hex(6)}"
        client = _client(uri)
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("seq", DataType.INT64)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type=settings.milvus_index, metric_type="IP")
        client.create_collection(collection, schema=schema, index_params=index, consistency_level="Strong")
        return cls(uri, collection, dimension, client)

    @classmethod
    def load(cls, settings: IndexSettings, directory: Path) -> MilvusVectorStore:
        meta = read_meta(directory)
        client = _client(meta["uri"])
        if not client.has_collection(meta["collection"]):
            raise FileNotFoundError(f"Milvus collection {meta['collection']!r} is missing at {meta['uri']}")
        return cls(meta["uri"], meta["collection"], int(meta["dimension"]), client)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        matrix = as_matrix(vectors, self._dimension, "vectors")
        names = checked_ids(ids, len(matrix))
        rows = []
        for name, vector in zip(names, matrix):
            if name not in self._seq:
                self._seq[name], self._next = self._next, self._next + 1
            rows.append({"id": name, "vector": vector.tolist(), "seq": self._seq[name]})
        for start in range(0, len(rows), _BATCH):
            self._client.upsert(self.collection, rows[start:start + _BATCH])

    def delete(self, ids: Iterable[str]) -> int:
        present = [i for i in dict.fromkeys(str(x) for x in ids) if i in self._seq]
        for start in range(0, len(present), _BATCH):
            self._client.delete(self.collection, filter=_in(present[start:start + _BATCH]))
        for name in present:
            del self._seq[name]
        return len(present)

    def search(self, queries: np.ndarray, k: int, allowed: Collection[str] | None = None) -> list[Matches]:
        check_k(k)
        matrix = as_matrix(queries, self._dimension, "queries")
        if not self._seq or (allowed is not None and not allowed):
            return [[] for _ in range(len(matrix))]
        filters = [""]
        if allowed is not None:
            known = [i for i in allowed if i in self._seq]
            if not known:
                return [[] for _ in range(len(matrix))]
            # a bounded expression per batch of ids; the batches' hits are merged below
            filters = [_in(known[start:start + _BATCH]) for start in range(0, len(known), _BATCH)]
        limit = min(k + 8, len(self._seq))  # a few extra so that ties can be ordered by insertion
        merged: list[list[tuple[str, float]]] = [[] for _ in range(len(matrix))]
        for where in filters:
            hits = self._client.search(self.collection, data=matrix.tolist(), limit=limit, filter=where,
                                       output_fields=["id"], search_params={"metric_type": "IP"})
            for q, row in enumerate(hits):
                merged[q].extend((h["id"], float(h["distance"])) for h in row)
        out = []
        for pairs in merged:
            pairs.sort(key=lambda p: (-round(p[1], 6), self._seq.get(p[0], 0)))
            out.append(pairs[:k])
        return out

    def save(self, directory: Path) -> None:
        self._client.flush(self.collection)
        write_meta(directory, self.backend, uri=self.uri, collection=self.collection, dimension=self._dimension,
                   count=len(self))

    def drop(self) -> None:
        """Delete the collection (an index version that is gone no longer needs it)."""
        self._client.drop_collection(self.collection)

    @classmethod
    def discard(cls, settings: IndexSettings, directory: Path) -> None:
        """Drop the collection of the store saved in ``directory`` (called before an old version is deleted)."""
        meta = read_meta(directory)
        client = _client(meta["uri"])
        if client.has_collection(meta["collection"]):
            client.drop_collection(meta["collection"])
