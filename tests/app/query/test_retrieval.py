"""Retrieval stages against small fakes of the index (one slow test uses the real index package and model)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from app.query.retrieval import (
    PREFER_ROW_BOOST,
    LexicalRetriever,
    CrossEncoderReranker,
    DenseRetriever,
    Hit,
    HybridRetriever,
    RerankerNotFoundError,
    SearchEngine,
    allowed_rows,
    make_reranker,
    rrf_fuse,
)
from app.query.schemas import Filters
from core.models import Chunk, DocType, DocumentMeta, Sentence
from app.query.settings import RetrievalSettings
from fake_vectors import hashed_vector  # noqa: E402  (tests/app is on sys.path)


class FakeEmbedder:
    def __init__(self) -> None:
        self.calls = 0

    def encode_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return hashed_vector(text)


class FakeStore:
    def __init__(self, docs: list[DocumentMeta], texts: list[tuple[str, str]]) -> None:
        self.documents = {d.doc_id: d for d in docs}
        self.chunks = [
            Chunk(chunk_id=f"{doc}#{i}", doc_id=doc, ordinal=i, text=text, start=0, end=len(text),
                  sentences=[Sentence(start=0, end=len(text), text=text)], pages=[i + 1], section_path=["Sec"])
            for i, (doc, text) in enumerate(texts)
        ]

    @property
    def chunk_ids(self) -> list[str]:
        return [c.chunk_id for c in self.chunks]

    @property
    def doc_ids(self) -> list[str]:
        return [c.doc_id for c in self.chunks]

    def meta_of_row(self, row: int) -> DocumentMeta:
        return self.documents[self.chunks[row].doc_id]

    def row_of(self, chunk_id: str) -> int:
        return [c.chunk_id for c in self.chunks].index(chunk_id)


class FakeLexical:
    """Scores = number of shared words; same output contract as index.lexical.LexicalIndex.search."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = [set(re.findall(r"[a-z0-9]+", t.lower())) for t in texts]
        self.calls: list[int] = []

    def search(self, query: str, k: int, allowed=None):
        self.calls.append(k)
        words = set(re.findall(r"[a-z0-9]+", query.lower()))
        scores = np.array([len(words & t) for t in self.texts], dtype=np.float32)
        if allowed is not None:
            keep = np.zeros(len(scores), bool)
            keep[allowed] = True
            scores[~keep] = 0
        rows = [r for r in np.lexsort((np.arange(len(scores)), -scores)) if scores[r] > 0][:k]
        return scores[rows], np.asarray(rows, dtype=np.int64)


class FakeVectors:
    """Exact search over a matrix whose row ``i`` is chunk id ``ids[i]``; same contract as index.vectors.VectorStore."""

    def __init__(self, ids: list[str], matrix: np.ndarray) -> None:
        self.ids, self.matrix = ids, matrix
        self.calls: list[int] = []

    def search(self, queries: np.ndarray, k: int, allowed=None):
        self.calls.append(k)
        scores = queries @ self.matrix.T
        out = []
        for row in scores:
            order = np.argsort(-row, kind="stable")
            hits = [(self.ids[i], float(row[i])) for i in order if allowed is None or self.ids[i] in allowed]
            out.append(hits[:k])
        return out


DOCS = [
    DocumentMeta(doc_id="wilms", title="Wilms tumor", issuer="NIH/NCI", year=2020, type=DocType.patient_information,
                 audience="patient"),
    DocumentMeta(doc_id="asthma", title="Asthma guideline", issuer="GINA", year=2023, type=DocType.guideline),
    DocumentMeta(doc_id="old", title="Old note", issuer="CDC", year=None, type=DocType.other),
]
TEXTS = [
    ("wilms", "Wilms tumor is treated with surgery and chemotherapy."),
    ("wilms", "Wilms tumor symptoms include an abdominal mass."),
    ("asthma", "Asthma is treated with inhaled corticosteroids."),
    ("asthma", "Asthma symptoms include wheeze and cough."),
    ("old", "Chemotherapy side effects include nausea."),
    ("old", "Hand washing prevents infections."),
]


@pytest.fixture()
def engine_parts():
    store = FakeStore(DOCS, TEXTS)
    texts = [c.embed_text(store.meta_of_row(i).title) for i, c in enumerate(store.chunks)]
    index = SimpleNamespace(store=store, lexical=FakeLexical(texts),
                            vectors=FakeVectors([c.chunk_id for c in store.chunks],
                                                np.stack([hashed_vector(t) for t in texts])))
    return index, FakeEmbedder()


def make_engine(engine_parts, reranker=None, **settings) -> SearchEngine:
    index, embedder = engine_parts
    return SearchEngine(index, embedder, RetrievalSettings(**settings), reranker=reranker)


def test_rrf_scores_follow_the_formula_and_break_ties_deterministically():
    bm25 = [Hit(1, 5.0, "bm25", {"bm25": 1}), Hit(2, 4.0, "bm25", {"bm25": 2})]
    dense = [Hit(2, 0.9, "dense", {"dense": 1}), Hit(1, 0.8, "dense", {"dense": 2}), Hit(3, 0.7, "dense", {"dense": 3})]
    fused = rrf_fuse({"bm25": bm25, "dense": dense}, {"bm25": 2.0, "dense": 1.0}, rrf_k=10)
    assert [h.row for h in fused] == [1, 2, 3]
    assert fused[0].score == pytest.approx(2 / 11 + 1 / 12)
    assert fused[1].score == pytest.approx(2 / 12 + 1 / 11)
    assert fused[2].score == pytest.approx(1 / 13)
    assert fused[0].sources == {"bm25": 1, "dense": 2} and fused[0].retriever == "hybrid"
    # equal fused scores: the better single rank wins, then the lower row, whatever the input order
    a = rrf_fuse({"x": [Hit(9, 0, "x"), Hit(4, 0, "x")], "y": [Hit(4, 0, "y"), Hit(9, 0, "y")]}, {}, rrf_k=60)
    b = rrf_fuse({"y": [Hit(4, 0, "y"), Hit(9, 0, "y")], "x": [Hit(9, 0, "x"), Hit(4, 0, "x")]}, {}, rrf_k=60)
    assert [h.row for h in a] == [h.row for h in b] == [4, 9]


def test_hybrid_uses_candidates_from_each_retriever_and_skips_zero_weight(engine_parts):
    index, _ = engine_parts
    hybrid = HybridRetriever(LexicalRetriever(index.lexical), DenseRetriever(index.vectors, index.store),
                             RetrievalSettings(candidates=5, fusion="rrf"))
    timings: dict[str, float] = {}
    q = "How is Wilms tumor treated?"
    hits = hybrid.retrieve(q, hashed_vector(q), 3, None, timings=timings)
    assert len(hits) == 3 and hits[0].row == 0 and set(hits[0].sources) == {"bm25", "dense"}
    assert index.lexical.calls == [5] and index.vectors.calls == [5]
    assert set(timings) == {"bm25", "dense", "fusion"}
    bm25_only = HybridRetriever(LexicalRetriever(index.lexical), DenseRetriever(index.vectors, index.store),
                                RetrievalSettings(weight_dense=0, fusion="rrf"))
    assert all(set(h.sources) == {"bm25"} for h in bm25_only.retrieve(q, None, 3, None))


def test_convex_fusion_combines_normalised_scores_and_skips_a_zero_share(engine_parts):
    index, _ = engine_parts
    q = "How is Wilms tumor treated?"
    both = HybridRetriever(LexicalRetriever(index.lexical), DenseRetriever(index.vectors, index.store),
                           RetrievalSettings(candidates=5, fusion="convex", convex_alpha=0.7))
    hits = both.retrieve(q, hashed_vector(q), 3, None)
    assert hits[0].row == 0 and set(hits[0].sources) == {"bm25", "dense"}
    assert 0.0 <= hits[-1].score <= hits[0].score <= 1.0 + 1e-9
    dense_only = HybridRetriever(LexicalRetriever(index.lexical), DenseRetriever(index.vectors, index.store),
                                 RetrievalSettings(fusion="convex", convex_alpha=1.0))
    assert all(set(h.sources) == {"dense"} for h in dense_only.retrieve(q, hashed_vector(q), 3, None))


def test_allowed_rows_filters(engine_parts):
    store = engine_parts[0].store
    assert allowed_rows(store, None) is None
    assert allowed_rows(store, Filters()) is None
    assert allowed_rows(store, Filters(issuer=[])) is None
    assert allowed_rows(store, Filters(issuer=["nci"])).tolist() == [0, 1]
    assert allowed_rows(store, Filters(issuer=["gina", "cdc"])).tolist() == [2, 3, 4, 5]
    assert allowed_rows(store, Filters(type=[DocType.guideline, DocType.other])).tolist() == [2, 3, 4, 5]
    assert allowed_rows(store, Filters(audience="patient")).tolist() == [0, 1]
    assert allowed_rows(store, Filters(year_min=2021)).tolist() == [2, 3]  # undated "old" excluded
    assert allowed_rows(store, Filters(year_max=2022)).tolist() == [0, 1]
    assert allowed_rows(store, Filters(issuer=["NIH"], year_min=2021)).tolist() == []
    first = allowed_rows(store, Filters(issuer=["nci"]))
    assert allowed_rows(store, Filters(issuer=["nci"])) is first  # cached
    with pytest.raises(ValueError, match="year_min"):
        allowed_rows(store, Filters(year_min=2022, year_max=2020))


def test_search_modes_timings_and_errors(engine_parts):
    engine = make_engine(engine_parts)
    embedder = engine_parts[1]
    timings: dict[str, float] = {}
    hits = engine.search("asthma treated", k=2, retriever="bm25", timings=timings)
    assert hits[0].row == 2 and len(hits) == 2 and hits[0].retriever == "bm25"
    assert embedder.calls == 0 and set(timings) == {"bm25"}
    timings.clear()
    hits = engine.search("asthma symptoms wheeze", k=2, retriever="dense", timings=timings)
    assert hits[0].row == 3 and embedder.calls == 1 and set(timings) == {"embed_query", "dense"}
    timings.clear()
    hits = engine.search("asthma", k=3, qvec=hashed_vector("asthma"), timings=timings)
    assert {h.row for h in hits[:2]} == {2, 3} and embedder.calls == 1  # given qvec: not embedded again
    assert set(timings) == {"bm25", "dense", "fusion"} and all(v >= 0 for v in timings.values())
    with pytest.raises(ValueError, match="unknown retriever"):
        engine.search("asthma", k=3, retriever="splade")
    with pytest.raises(ValueError, match="MEDCITE_RETRIEVAL__RERANKER_PATH"):
        engine.search("asthma", k=3, retriever="hybrid+rerank")


def test_search_respects_filters(engine_parts):
    engine = make_engine(engine_parts)
    hits = engine.search("treated with chemotherapy", k=6, filters=Filters(type=[DocType.guideline]))
    assert hits and {h.row for h in hits} <= {2, 3}
    assert engine.search("treated", k=6, filters=Filters(issuer=["no such issuer"])) == []


def test_preferences_reorder_candidates_but_never_add_rows(engine_parts):
    engine = make_engine(engine_parts, rrf_k=60, fusion="rrf")
    q = "symptoms"
    base = engine.search(q, k=6)
    rows = [h.row for h in base]
    assert rows[:2] == [1, 3] or rows[:2] == [3, 1]
    second = rows[1]
    boosted = engine.search(q, k=6, prefer_rows=[second])
    assert boosted[0].row == second
    assert boosted[0].score == pytest.approx(base[1].score + PREFER_ROW_BOOST / 61)
    assert {h.row for h in boosted} == set(rows)  # same candidates
    outside = [r for r in range(6) if r not in rows]
    if outside:
        assert not {h.row for h in engine.search(q, k=6, prefer_rows=outside)} & set(outside)
    by_type = engine.search(q, k=2, prefer_types=[DocType.guideline])
    assert by_type[0].row == 3


def test_convex_preferences_reorder_candidates_but_never_add_rows(engine_parts):
    engine = make_engine(engine_parts, fusion="convex")
    q = "symptoms"
    base = engine.search(q, k=6)
    rows = [h.row for h in base]
    boosted = engine.search(q, k=6, prefer_rows=[rows[1]])
    assert boosted[0].score >= base[0].score or boosted[0].row == rows[1]
    assert next(h.score for h in boosted if h.row == rows[1]) > base[1].score
    assert {h.row for h in boosted} == set(rows)


class ReverseReranker:
    name = "fake"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def rerank(self, query, hits, texts):
        self.seen.append(len(hits))
        assert all("--" in t for t in texts)  # title -- section -- text
        return [Hit(h.row, float(i), self.name, h.sources) for i, h in enumerate(reversed(hits))]


def test_hybrid_rerank_reorders_fused_top_n(engine_parts):
    reranker = ReverseReranker()
    engine = make_engine(engine_parts, reranker=reranker, rerank_top_n=4)
    fused = engine.search("Wilms tumor treated", k=4)
    timings: dict[str, float] = {}
    hits = engine.search("Wilms tumor treated", k=2, retriever="hybrid+rerank", timings=timings)
    assert reranker.seen == [4] and "rerank" in timings
    assert [h.row for h in hits] == [fused[3].row, fused[2].row]
    assert all(h.retriever == "hybrid+rerank" for h in hits)


def test_cross_encoder_reranker_is_lazy_and_names_the_setting(tmp_path: Path):
    with pytest.raises(RerankerNotFoundError, match="MEDCITE_RETRIEVAL__RERANKER_PATH"):
        make_reranker(RetrievalSettings(reranker_path=tmp_path / "missing"))
    assert make_reranker(RetrievalSettings()) is None
    loads: list[Path] = []

    class Model:
        def predict(self, pairs, batch_size, show_progress_bar):
            return np.array([len(p[1]) for p in pairs], dtype=np.float32)

    reranker = CrossEncoderReranker(tmp_path, loader=lambda p: loads.append(p) or Model())
    assert loads == []
    hits = [Hit(0, 1.0, "hybrid"), Hit(1, 0.5, "hybrid")]
    out = reranker.rerank("q", hits, ["short", "a much longer passage"])
    assert [h.row for h in out] == [1, 0] and out[0].score == len("a much longer passage")
    reranker.rerank("q", hits, ["a", "b"])
    assert loads == [tmp_path]


def test_passages_carry_chunk_and_source_metadata(engine_parts):
    engine = make_engine(engine_parts)
    passages = engine.passages([Hit(2, 0.5, "hybrid", {"bm25": 1}), Hit(0, 0.4, "hybrid", {"dense": 2})])
    assert [p.rank for p in passages] == [1, 2]
    first = passages[0]
    assert (first.chunk_id, first.doc_id, first.title) == ("asthma#2", "asthma", "Asthma guideline")
    assert first.issuer == "GINA"
    assert first.type == DocType.guideline and first.year == 2023 and first.pages == [3]
    assert first.text == TEXTS[2][1] and first.sources == {"bm25": 1}


@pytest.mark.slow
def test_real_index_components_find_the_relevant_passage():
    embedding = pytest.importorskip("index.embedding")
    lexical = pytest.importorskip("index.lexical")
    vectors_mod = pytest.importorskip("index.vectors")
    from index.settings import EmbeddingSettings, IndexSettings
    try:
        embedder = embedding.get_embedder(EmbeddingSettings())
    except embedding.ModelNotFoundError as exc:
        pytest.skip(str(exc))
    store = FakeStore(DOCS, TEXTS)
    texts = [c.embed_text(store.meta_of_row(i).title) for i, c in enumerate(store.chunks)]
    vectors = vectors_mod.create_vector_store(IndexSettings(), embedder.info.dimension)
    vectors.add([c.chunk_id for c in store.chunks], embedder.encode(texts))
    index = SimpleNamespace(store=store, lexical=lexical.BM25Index.build(texts, IndexSettings()), vectors=vectors)
    engine = SearchEngine(index, embedder, RetrievalSettings())
    for retriever, query in [("bm25", "What are the symptoms of a Wilms tumor?"),
                             ("dense", "Which signs suggest a kidney tumour in a child?"),
                             ("hybrid", "Which signs suggest a kidney tumour in a child?")]:
        hits = engine.search(query, k=3, retriever=retriever)
        assert store.chunks[hits[0].row].doc_id == "wilms", retriever
    filtered = engine.search("wheezing treatment", k=3, filters=Filters(audience="patient"))
    assert {store.chunks[h.row].doc_id for h in filtered} == {"wilms"}
