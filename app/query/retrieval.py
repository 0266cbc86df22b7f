"""Query-side retrieval: BM25, dense and hybrid (reciprocal rank fusion) rankings, metadata filters and an
optional cross-encoder reranker, behind one :class:`SearchEngine` facade.

Fusion: ``score(d) = sum_r w_r / (rrf_k + rank_r(d))`` over the retrievers that ranked ``d`` among their
``candidates``; ties go to the better single-retriever rank, then to the lower row.

>>> a = [Hit(5, 9.0, "bm25", {"bm25": 1}), Hit(7, 8.0, "bm25", {"bm25": 2})]
>>> b = [Hit(7, 0.9, "dense", {"dense": 1})]
>>> [(h.row, h.sources) for h in rrf_fuse({"bm25": a, "dense": b}, {"bm25": 1.0, "dense": 1.0}, rrf_k=60)]
[(7, {'bm25': 2, 'dense': 1}), (5, {'bm25': 1})]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Collection, Mapping, Protocol, Sequence

import numpy as np

from app.query.errors import RequestError
from app.query.escaping import safe_url
from app.query.filters import RowMetadata, allowed_rows, row_metadata  # noqa: F401  (re-exported)
from app.query.rerank import CrossEncoderReranker, RerankerNotFoundError, make_reranker  # noqa: F401  (re-exported)
from app.query.schemas import Filters, Passage
from app.query.settings import RetrievalSettings
from core.models import DocType

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.lexical import LexicalIndex
    from index.storage import LoadedIndex
    from index.store import ChunkStore
    from index.vectors import VectorStore

RETRIEVERS = ("bm25", "dense", "hybrid", "hybrid+rerank")
#: Fused-score boost, in units of a rank-1 hit of one weight-1 retriever (``1 / (rrf_k + 1)``), for a passage
#: cited earlier in the conversation. It reorders candidates a little; it never adds a passage to them.
PREFER_ROW_BOOST = 0.25
#: Same unit, for a passage of a preferred reference type (audience preference: guidelines and evidence summaries
#: for clinicians, patient information for patients). As strong as a rank-1 hit: on the clinician dev questions it
#: lifted gold-document citations from 0.83 to 0.87 and key facts in the answer from 0.58 to 0.62 (0.15 before).
PREFER_TYPE_BOOST = 1.0


@dataclass(frozen=True)
class Hit:
    """A ranked chunk row: final score, the stage that produced it and its 1-based rank per retriever."""

    row: int
    score: float
    retriever: str
    sources: dict[str, int] = field(default_factory=dict)


class Retriever(Protocol):
    name: str

    def retrieve(self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None) -> list[Hit]: ...


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: list[Hit], texts: list[str]) -> list[Hit]: ...


class LexicalRetriever:
    """Term ranking from an ``index.lexical.LexicalIndex`` (only rows with a positive score); named ``bm25``."""

    name = "bm25"

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical

    def retrieve(self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None) -> list[Hit]:
        scores, ids = self.lexical.search(query, k, allowed)
        return _ranked(scores, ids, self.name)


class DenseRetriever:
    """Inner-product (cosine) ranking from an ``index.vectors.VectorStore`` of chunk ids; needs the query vector.

    The store answers in chunk ids; the chunk store turns them into rows (and allowed rows into chunk ids)."""

    name = "dense"

    def __init__(self, vectors: VectorStore, store: ChunkStore) -> None:
        self.vectors, self.store = vectors, store

    def retrieve(self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None) -> list[Hit]:
        if qvec is None:
            raise ValueError("the dense retriever needs the query vector (qvec)")
        chunk_ids = self.store.chunk_ids
        ids = None if allowed is None else [chunk_ids[r] for r in np.asarray(allowed).tolist()]
        matches = self.vectors.search(np.asarray(qvec, dtype=np.float32).reshape(1, -1), k, ids)[0]
        row_of = self.store.row_of
        return [Hit(row_of(chunk), score, self.name, {self.name: rank})
                for rank, (chunk, score) in enumerate(matches, 1)]


def _ranked(scores: np.ndarray, rows: np.ndarray, name: str) -> list[Hit]:
    pairs = zip(scores.tolist(), rows.tolist(), strict=True)
    return [Hit(int(r), float(s), name, {name: i}) for i, (s, r) in enumerate(pairs, 1)]


def rrf_fuse(
    rankings: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float],
    rrf_k: float,
    boost: Callable[[np.ndarray], np.ndarray] | None = None,
    label: str = "hybrid",
) -> list[Hit]:
    """Reciprocal rank fusion of ``rankings`` (name -> ranked hits); ``boost(rows)`` adds to fused scores."""
    scores: dict[int, float] = {}
    sources: dict[int, dict[str, int]] = {}
    for name, hits in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, hit in enumerate(hits, 1):
            scores[hit.row] = scores.get(hit.row, 0.0) + weight / (rrf_k + rank)
            sources.setdefault(hit.row, {})[name] = rank
    return _boosted_order(scores, sources, boost, label)


def _boosted_order(scores: dict[int, float], sources: dict[int, dict[str, int]],
                   boost: Callable[[np.ndarray], np.ndarray] | None, label: str) -> list[Hit]:
    """Add ``boost(rows)`` to fused scores, then order: score, best single-retriever rank, row."""
    if boost is not None and scores:
        rows = np.fromiter(scores, dtype=np.int64, count=len(scores))
        for row, extra in zip(rows.tolist(), boost(rows).tolist(), strict=True):
            scores[row] += extra
    order = sorted(scores, key=lambda r: (-scores[r], min(sources[r].values()), r))
    return [Hit(r, scores[r], label, sources[r]) for r in order]


def convex_fuse(
    rankings: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float],
    boost: Callable[[np.ndarray], np.ndarray] | None = None,
    label: str = "hybrid",
) -> list[Hit]:
    """Convex combination of min-max normalised scores: ``sum_r w_r * (s_r - min_r) / (max_r - min_r)``.

    A row missing from a ranking gets 0 from it. ``boost(rows)`` is added as is (callers scale it).

    >>> a = [Hit(5, 9.0, "bm25", {"bm25": 1}), Hit(7, 3.0, "bm25", {"bm25": 2})]
    >>> b = [Hit(7, 0.9, "dense", {"dense": 1}), Hit(5, 0.5, "dense", {"dense": 2})]
    >>> [h.row for h in convex_fuse({"bm25": a, "dense": b}, {"bm25": 0.2, "dense": 0.8})]
    [7, 5]
    """
    scores: dict[int, float] = {}
    sources: dict[int, dict[str, int]] = {}
    for name, hits in rankings.items():
        if not hits:
            continue
        values = np.asarray([h.score for h in hits], dtype=np.float64)
        low, span = float(values.min()), float(values.max() - values.min()) or 1.0
        weight = weights.get(name, 1.0)
        for rank, hit in enumerate(hits, 1):
            scores[hit.row] = scores.get(hit.row, 0.0) + weight * (hit.score - low) / span
            sources.setdefault(hit.row, {})[name] = rank
    return _boosted_order(scores, sources, boost, label)


#: Convex fusion scores lie in [0, 1]: boosts given in RRF units (1/(rrf_k+1)) are rescaled so that a passage
#: cited earlier gains ~0.075 and a preferred source type ~0.045 of the normalised score.
CONVEX_BOOST_SCALE = 0.3


class HybridRetriever:
    """BM25 and dense rankings (``settings.candidates`` each) fused by weighted reciprocal rank or by a convex
    combination of normalised scores (``settings.fusion``)."""

    name = "hybrid"

    def __init__(self, bm25: Retriever, dense: Retriever, settings: RetrievalSettings) -> None:
        self.bm25, self.dense, self.settings = bm25, dense, settings

    def weights(self) -> dict[str, float]:
        """Weight of each ranking in the fusion: BM25 and dense shares of a convex fusion, or RRF weights."""
        s = self.settings
        if s.fusion == "convex":
            return {self.bm25.name: 1.0 - s.convex_alpha, self.dense.name: s.convex_alpha}
        return {self.bm25.name: s.weight_bm25, self.dense.name: s.weight_dense}

    def retrieve(
        self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None, *,
        boost: Callable[[np.ndarray], np.ndarray] | None = None, timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        s = self.settings
        n = max(s.candidates, k)
        weights = self.weights()
        rankings: dict[str, list[Hit]] = {}
        for retriever in (self.bm25, self.dense):
            if weights[retriever.name] > 0:  # a zero-weight ranking cannot change the fused order: skip it
                t0 = time.perf_counter()
                rankings[retriever.name] = retriever.retrieve(query, qvec, n, allowed)
                _record(timings, retriever.name, t0)
        t0 = time.perf_counter()
        if s.fusion == "convex":
            scaled = None if boost is None else (lambda rows: boost(rows) * (s.rrf_k + 1.0) * CONVEX_BOOST_SCALE)
            fused = convex_fuse(rankings, weights, scaled, self.name)[:k]
        else:
            fused = rrf_fuse(rankings, weights, s.rrf_k, boost, self.name)[:k]
        _record(timings, "fusion", t0)
        return fused


class SearchEngine:
    """The retrieval facade used by the answer pipeline, the API and the evaluation harness (thread-safe)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: RetrievalSettings,
                 reranker: Reranker | None = None) -> None:
        self.dense_ready = getattr(index, "dense", True)
        if not self.dense_ready:  # a lexical-only version (first build stage): fuse the lexical ranking alone
            settings = settings.model_copy(update={"fusion": "convex", "convex_alpha": 0.0})
        self.index, self.embedder, self.settings = index, embedder, settings
        self.reranker = reranker if reranker is not None else make_reranker(settings)
        self.rows = row_metadata(index.store)
        self.bm25 = LexicalRetriever(index.lexical)
        self.dense = DenseRetriever(index.vectors, index.store)
        self.hybrid = HybridRetriever(self.bm25, self.dense, settings)

    def search(
        self, query: str, *, k: int, retriever: str = "hybrid", filters: Filters | None = None,
        qvec: np.ndarray | None = None, prefer_rows: Collection[int] = (), prefer_types: Collection[DocType] = (),
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Top-``k`` hits for ``query``; preferences only reorder fused candidates (hybrid retrievers).

        Stage times in ms go into ``timings``: embed_query, filter, bm25, dense, fusion, rerank.
        """
        if retriever not in RETRIEVERS:
            raise RequestError(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")
        if retriever == "hybrid+rerank" and self.reranker is None:
            raise RequestError(
                "retriever 'hybrid+rerank' needs a reranker: set MEDCITE_RETRIEVAL__RERANKER_PATH to a local "
                "cross-encoder directory"
            )
        if k < 1:
            raise RequestError(f"k must be at least 1, got {k}")
        if retriever == "dense" and not self.dense_ready:
            raise RequestError("retriever 'dense' is not ready yet: the index is still being built (lexical stage); "
                               "use 'bm25' or 'hybrid'")
        t0 = time.perf_counter()
        allowed = self.rows.allowed(filters)
        if filters is not None:
            _record(timings, "filter", t0)
        if allowed is not None and len(allowed) == 0:
            return []
        if qvec is None and self.needs_query_vector(retriever):
            qvec = self.query_vector(query, timings)
        if retriever in ("bm25", "dense"):
            single = self.bm25 if retriever == "bm25" else self.dense
            t0 = time.perf_counter()
            hits = single.retrieve(query, qvec, k, allowed)
            _record(timings, retriever, t0)
            return hits
        boost = self._booster(prefer_rows, prefer_types)
        if retriever == "hybrid":
            return self.hybrid.retrieve(query, qvec, k, allowed, boost=boost, timings=timings)
        fused = self.hybrid.retrieve(query, qvec, max(k, self.settings.rerank_top_n), allowed,
                                     boost=boost, timings=timings)
        t0 = time.perf_counter()
        assert self.reranker is not None
        reranked = self.reranker.rerank(query, fused, [self._rerank_text(h.row) for h in fused])
        _record(timings, "rerank", t0)
        return [replace(h, retriever=retriever) for h in reranked[:k]]

    def needs_query_vector(self, retriever: str) -> bool:
        """Whether ``retriever`` ranks by the dense query vector (a zero-weight dense ranking is skipped)."""
        return retriever != "bm25" and (retriever == "dense" or self.hybrid.weights()[self.dense.name] > 0)

    def query_vector(self, text: str, timings: dict[str, float] | None = None) -> np.ndarray:
        """The query's dense vector: the one place a query is embedded (``embed_query`` in ``timings``)."""
        t0 = time.perf_counter()
        vector = self.embedder.encode_query(text)
        _record(timings, "embed_query", t0)
        return vector

    def _booster(self, prefer_rows: Collection[int], prefer_types: Collection[DocType]
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
        if not prefer_rows and not prefer_types:
            return None
        unit = 1.0 / (self.settings.rrf_k + 1.0)
        preferred = np.fromiter(prefer_rows, dtype=np.int64)
        type_codes = [list(DocType).index(DocType(t)) for t in prefer_types]

        def boost(rows: np.ndarray) -> np.ndarray:
            extra = PREFER_ROW_BOOST * unit * np.isin(rows, preferred)
            return extra + PREFER_TYPE_BOOST * unit * np.isin(self.rows.type[rows], type_codes)

        return boost

    def _rerank_text(self, row: int) -> str:
        return self.index.store.chunks[row].embed_text(self.index.store.meta_of_row(row).topic)

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """``Passage`` objects (chunk text plus source metadata) for ``hits``, ranked by position from 1."""
        store = self.index.store
        out = []
        for rank, hit in enumerate(hits, 1):
            chunk, meta = store.chunks[hit.row], store.meta_of_row(hit.row)
            out.append(Passage(
                chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, rank=rank, score=hit.score, retriever=hit.retriever,
                sources=dict(hit.sources), text=chunk.text, title=meta.title, issuer=meta.issuer, type=meta.type,
                year=meta.year, url=safe_url(meta.url) or "", pages=list(chunk.pages), section_path=list(chunk.section_path),
            ))
        return out


def _record(timings: dict[str, float] | None, key: str, t0: float) -> None:
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + (time.perf_counter() - t0) * 1000.0
