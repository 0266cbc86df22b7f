"""Vector store: exact search, row filters, persistence, factories and the training fallback."""

from __future__ import annotations

import numpy as np
import pytest

from index import vectors
from index.settings import IndexSettings
from index.vectors import FaissVectorStore, create_vector_store, load_vector_store


def brute_force(data: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    scores = queries @ data.T
    if rows is not None:
        mask = np.full(len(data), -np.inf)
        mask[rows] = 0
        scores = scores + mask
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_flat_finds_exact_nearest(unit_vectors):
    data, queries = unit_vectors(200), unit_vectors(5, seed=1)
    store = create_vector_store(IndexSettings(), dimension=data.shape[1])
    store.add(data)
    scores, ids = store.search(queries, k=4)
    assert scores.dtype == np.float32 and ids.dtype == np.int64 and ids.shape == (5, 4)
    np.testing.assert_array_equal(ids, brute_force(data, queries, 4))
    np.testing.assert_allclose(scores[:, 0], np.sum(queries * data[ids[:, 0]], axis=1), rtol=1e-5)


def test_pads_with_minus_one_when_k_exceeds_rows(unit_vectors):
    store = create_vector_store(IndexSettings(), dimension=8)
    store.add(unit_vectors(3))
    scores, ids = store.search(unit_vectors(1, seed=2), k=5)
    assert sorted(ids[0, :3].tolist()) == [0, 1, 2]
    assert ids[0, 3:].tolist() == [-1, -1] and np.isneginf(scores[0, 3:]).all()


def test_empty_store_and_bad_shapes(unit_vectors):
    store = create_vector_store(IndexSettings(), dimension=8)
    _, ids = store.search(unit_vectors(2), k=3)
    assert (ids == -1).all() and len(store) == 0
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        store.add(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="k must be"):
        store.search(unit_vectors(1), k=0)


@pytest.mark.parametrize("factory", ["Flat", "HNSW32", "IVF4,Flat"])
@pytest.mark.parametrize("path", ["exact-subset", "selector"])
def test_allowed_restricts_rows(unit_vectors, monkeypatch, factory, path):
    if path == "selector":  # force faiss' IDSelectorBatch instead of scoring the small subset exactly
        monkeypatch.setattr(vectors, "EXACT_SUBSET_MAX", 0)
    data, queries = unit_vectors(300), unit_vectors(3, seed=5)
    store = create_vector_store(IndexSettings(faiss_factory=factory), dimension=8)
    store.add(data)
    allowed = np.arange(0, 300, 3)
    scores, ids = store.search(queries, k=3, allowed=allowed)
    assert set(ids.ravel().tolist()) <= set(allowed.tolist())
    np.testing.assert_array_equal(ids, brute_force(data, queries, 3, allowed))
    if path == "exact-subset":  # a single allowed row is always found, whatever the index type
        _, few = store.search(queries, k=3, allowed=np.array([11]))
        assert few[:, 0].tolist() == [11, 11, 11] and (few[:, 1:] == -1).all()


def test_post_filter_for_index_without_selector_support(unit_vectors, monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_SUBSET_MAX", 0)
    data = unit_vectors(400)
    store = create_vector_store(IndexSettings(faiss_factory="PQ4x4"), dimension=8)
    store.add(data)
    assert store.factory == "PQ4x4"  # trained (16 centroids need few points): no fallback
    allowed = np.arange(0, 400, 37)
    _, ids = store.search(unit_vectors(2, seed=3), k=4, allowed=allowed)
    assert (ids >= 0).all() and set(ids.ravel().tolist()) <= set(allowed.tolist())


def test_save_load_round_trip(tmp_path, unit_vectors):
    data, queries = unit_vectors(50), unit_vectors(4, seed=9)
    settings = IndexSettings(faiss_factory="HNSW32")
    store = create_vector_store(settings, dimension=8)
    store.add(data)
    before = store.search(queries, k=5)
    store.save(tmp_path / "faiss")
    loaded = load_vector_store(IndexSettings(), tmp_path / "faiss")  # backend/factory come from disk
    assert isinstance(loaded, FaissVectorStore) and loaded.factory == "HNSW32"
    assert len(loaded) == 50 and loaded.dimension == 8
    after = loaded.search(queries, k=5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0])


def test_ivf_trains_on_first_add(unit_vectors):
    data = unit_vectors(500)
    store = create_vector_store(IndexSettings(faiss_factory="IVF4,Flat"), dimension=8)
    store.add(data)
    assert store.factory == "IVF4,Flat" and store.fallback_reason == "" and len(store) == 500
    _, ids = store.search(data[:3], k=1)
    assert ids[:, 0].tolist() == [0, 1, 2]


def test_ivf_with_too_few_vectors_falls_back_to_flat(tmp_path, unit_vectors):
    data = unit_vectors(20)
    store = create_vector_store(IndexSettings(faiss_factory="IVF64,Flat"), dimension=8)
    store.add(data)
    assert store.factory == "Flat" and "too few" in store.fallback_reason
    np.testing.assert_array_equal(store.search(data, k=1)[1][:, 0], np.arange(20))
    store.save(tmp_path)
    loaded = load_vector_store(IndexSettings(), tmp_path)
    assert loaded.factory == "Flat" and loaded.requested_factory == "IVF64,Flat" and loaded.fallback_reason


def test_unknown_backend_and_bad_factory():
    bad = IndexSettings().model_copy(update={"vector_backend": "annoy"})
    with pytest.raises(ValueError, match=r"unknown vector backend 'annoy'.*\['faiss'\]"):
        create_vector_store(bad, dimension=8)
    with pytest.raises(ValueError, match="invalid faiss_factory 'NotAnIndex'"):
        create_vector_store(IndexSettings(faiss_factory="NotAnIndex"), dimension=8)
