"""Vector stores by id (FAISS and in-memory): exact search, filters, replace and delete, persistence, factories
and the FAISS training fallback."""

from __future__ import annotations

import numpy as np
import pytest

from index import faiss_store
from index.faiss_store import FaissVectorStore
from index.memory import MemoryVectorStore
from index.settings import IndexSettings
from index.vectors import create_vector_store, load_vector_store

try:
    import pymilvus  # noqa: F401
    BACKENDS = ["faiss", "memory", "milvus"]
except ImportError:  # pip install '.[milvus]' adds the Milvus Lite backend to every contract test
    BACKENDS = ["faiss", "memory"]


def ids_of(n: int) -> list[str]:
    return [f"doc{i // 3}#{i % 3}" for i in range(n)]


def brute_force(data: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> list[list[str]]:
    scores = queries @ data.T
    if rows is not None:
        mask = np.full(len(data), -np.inf)
        mask[rows] = 0
        scores = scores + mask
    names = ids_of(len(data))
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[names[i] for i in row if np.isfinite(scores[q, i])] for q, row in enumerate(top)]


def found(matches: list[list[tuple[str, float]]]) -> list[list[str]]:
    return [[chunk for chunk, _ in hits] for hits in matches]


def store_with(backend: str, data: np.ndarray, factory: str = "Flat"):
    store = create_vector_store(IndexSettings(vector_backend=backend, faiss_factory=factory), dimension=data.shape[1])
    store.add(ids_of(len(data)), data)
    return store


@pytest.mark.parametrize("backend", BACKENDS)
def test_finds_exact_nearest_ids_with_their_scores(unit_vectors, backend):
    data, queries = unit_vectors(200), unit_vectors(5, seed=1)
    store = store_with(backend, data)
    matches = store.search(queries, k=4)
    assert found(matches) == brute_force(data, queries, 4)
    best = np.asarray([ids_of(200).index(hits[0][0]) for hits in matches])
    np.testing.assert_allclose([hits[0][1] for hits in matches], np.sum(queries * data[best], axis=1), rtol=1e-5)
    assert len(store) == 200 and store.ids() == ids_of(200)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fewer_hits_than_k_and_bad_input(unit_vectors, backend):
    store = store_with(backend, unit_vectors(3))
    assert sorted(found(store.search(unit_vectors(1, seed=2), k=5))[0]) == sorted(ids_of(3))
    empty = create_vector_store(IndexSettings(vector_backend=backend), dimension=8)
    assert empty.search(unit_vectors(2), k=3) == [[], []] and len(empty) == 0
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        empty.add(["a", "b"], np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        empty.add(["a", "b"], unit_vectors(1))
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        empty.add(["a", "a"], unit_vectors(2))
    with pytest.raises(ValueError, match="k must be"):
        store.search(unit_vectors(1), k=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_and_replace(unit_vectors, backend):
    data = unit_vectors(30)
    store = store_with(backend, data)
    target = ids_of(30)[7]
    assert found(store.search(data[7], k=1)) == [[target]]
    assert store.delete([target, "never-stored"]) == 1 and len(store) == 29
    assert target not in found(store.search(data[7], k=29))[0] and target not in store.ids()
    assert store.search(data[7], k=3, allowed=[target]) == [[]]
    store.add([ids_of(30)[0]], data[7:8])  # replacing id 0 with vector 7: found where 7 was, only once
    hits = found(store.search(data[7], k=30))[0]
    assert hits[0] == ids_of(30)[0] and hits.count(ids_of(30)[0]) == 1 and len(store) == 29


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF4,Flat"])
@pytest.mark.parametrize("path", ["exact-subset", "selector"])
def test_allowed_restricts_ids(unit_vectors, monkeypatch, factory, path):
    if path == "selector":  # force faiss' IDSelectorBatch instead of scoring the small subset exactly
        monkeypatch.setattr(faiss_store, "EXACT_SUBSET_MAX", 0)
    data, queries = unit_vectors(300), unit_vectors(3, seed=5)
    store = store_with("faiss", data, factory)
    rows = np.arange(0, 300, 3)
    allowed = {ids_of(300)[r] for r in rows}
    assert found(store.search(queries, k=3, allowed=allowed)) == brute_force(data, queries, 3, rows)
    if path == "exact-subset":  # a single allowed id is always found, whatever the index type
        assert found(store.search(queries, k=3, allowed=[ids_of(300)[11]])) == [[ids_of(300)[11]]] * 3


def test_memory_store_filters_exactly(unit_vectors):
    data, queries = unit_vectors(100), unit_vectors(3, seed=5)
    store = store_with("memory", data)
    rows = np.arange(0, 100, 7)
    allowed = [ids_of(100)[r] for r in rows]
    assert found(store.search(queries, k=4, allowed=allowed)) == brute_force(data, queries, 4, rows)


def test_post_filter_for_index_without_selector_support(unit_vectors, monkeypatch):
    monkeypatch.setattr(faiss_store, "EXACT_SUBSET_MAX", 0)
    store = store_with("faiss", unit_vectors(400), "PQ4x4")
    assert store.factory == "PQ4x4"  # trained (16 centroids need few points): no fallback
    allowed = {ids_of(400)[r] for r in range(0, 400, 37)}
    hits = found(store.search(unit_vectors(2, seed=3), k=4, allowed=allowed))
    assert all(len(h) == 4 and set(h) <= allowed for h in hits)


@pytest.mark.parametrize("backend,factory", [("faiss", "HNSW32"), ("memory", "Flat")])
def test_save_load_round_trip_keeps_ids_and_deletes(tmp_path, unit_vectors, backend, factory):
    data, queries = unit_vectors(50), unit_vectors(4, seed=9)
    store = store_with(backend, data, factory)
    store.delete([ids_of(50)[3]])
    before = store.search(queries, k=5)
    store.save(tmp_path / "vectors")
    loaded = load_vector_store(IndexSettings(), tmp_path / "vectors")  # backend/factory come from disk
    assert type(loaded) is type(store) and len(loaded) == 49 and loaded.dimension == 8
    assert loaded.ids() == store.ids()
    if backend == "faiss":
        assert loaded.factory == "HNSW32"
    after = loaded.search(queries, k=5)
    assert found(before) == found(after)
    np.testing.assert_allclose([s for h in before for _, s in h], [s for h in after for _, s in h])


@pytest.mark.parametrize("factory", ["Flat", "HNSW32"])
def test_a_loaded_faiss_index_is_memory_mapped_and_still_takes_adds(tmp_path, unit_vectors, factory):
    """Issue 19 item 3: serving maps the index file read-only instead of copying it into every process."""
    data, queries = unit_vectors(60), unit_vectors(3, seed=4)
    store = store_with("faiss", data, factory)
    store.save(tmp_path / "vectors")
    mapped = load_vector_store(IndexSettings(), tmp_path / "vectors")
    copied = load_vector_store(IndexSettings(mmap_vectors=False), tmp_path / "vectors")
    assert mapped._mapped and not copied._mapped
    assert found(mapped.search(queries, k=5)) == found(copied.search(queries, k=5)) == found(store.search(queries, k=5))
    extra = unit_vectors(1, seed=11)
    mapped.add(["new#0"], extra)  # copied into memory first: the file on disk is never written
    assert not mapped._mapped and mapped.search(extra, k=1)[0][0][0] == "new#0" and len(mapped) == 61
    assert len(load_vector_store(IndexSettings(), tmp_path / "vectors")) == 60


def test_ivf_trains_on_first_add(unit_vectors):
    data = unit_vectors(500)
    store = store_with("faiss", data, "IVF4,Flat")
    assert store.factory == "IVF4,Flat" and store.fallback_reason == "" and len(store) == 500
    assert [hits[0] for hits in found(store.search(data[:3], k=1))] == ids_of(3)


def test_ivf_with_too_few_vectors_falls_back_to_flat(tmp_path, unit_vectors):
    data = unit_vectors(20)
    store = store_with("faiss", data, "IVF64,Flat")
    assert store.factory == "Flat" and "too few" in store.fallback_reason
    assert [hits[0] for hits in found(store.search(data, k=1))] == ids_of(20)
    store.save(tmp_path)
    loaded = load_vector_store(IndexSettings(), tmp_path)
    assert isinstance(loaded, FaissVectorStore)
    assert loaded.factory == "Flat" and loaded.requested_factory == "IVF64,Flat" and loaded.fallback_reason


def test_unknown_backend_and_bad_factory():
    bad = IndexSettings().model_copy(update={"vector_backend": "annoy"})
    with pytest.raises(ValueError, match=r"unknown vector backend 'annoy'.*'faiss', 'memory'"):
        create_vector_store(bad, dimension=8)
    with pytest.raises(ValueError, match="invalid faiss_factory 'NotAnIndex'"):
        create_vector_store(IndexSettings(faiss_factory="NotAnIndex"), dimension=8)
    assert isinstance(create_vector_store(IndexSettings(vector_backend="memory"), 4), MemoryVectorStore)


@pytest.mark.skipif("milvus" not in BACKENDS, reason="pip install '.[milvus]'")
def test_milvus_filters_by_more_ids_than_one_expression_holds(unit_vectors, monkeypatch):
    from index import milvus_store

    monkeypatch.setattr(milvus_store, "_BATCH", 7)  # 40 allowed ids -> 6 bounded expressions, merged
    data, queries = unit_vectors(120), unit_vectors(3, seed=5)
    store = store_with("milvus", data)
    rows = np.arange(0, 120, 3)
    allowed = {ids_of(120)[r] for r in rows}
    assert found(store.search(queries, k=5, allowed=allowed)) == brute_force(data, queries, 5, rows)
