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

import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping, Protocol, Sequence

import numpy as np

from app.schemas import Filters, Passage
from index.models import DocType
from index.settings import RetrievalSettings

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.lexical import BM25Index
    from index.storage import LoadedIndex
    from index.store import ChunkStore
    from index.vectors import VectorStore

RETRIEVERS = ("bm25", "dense", "hybrid", "hybrid+rerank")
#: Fused-score boost, in units of a rank-1 hit of one weight-1 retriever (``1 / (rrf_k + 1)``), for a passage
#: cited earlier in the conversation. It reorders candidates a little; it never adds a passage to them.
PREFER_ROW_BOOST = 0.25
#: Same unit, for a passage of a preferred reference type (audience preference).
PREFER_TYPE_BOOST = 0.15
#: Distinct filter combinations whose allowed rows are kept per store.
FILTER_CACHE_SIZE = 64
_TYPES = list(DocType)
_AUDIENCES = ["clinician", "patient"]


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


class BM25Retriever:
    """Lexical ranking from ``index.lexical.BM25Index`` (only rows with a positive score)."""

    name = "bm25"

    def __init__(self, bm25: BM25Index) -> None:
        self.bm25 = bm25

    def retrieve(self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None) -> list[Hit]:
        scores, ids = self.bm25.search(query, k, allowed)
        return _ranked(scores, ids, self.name)


class DenseRetriever:
    """Inner-product (cosine) ranking from ``index.vectors.VectorStore``; needs the query vector."""

    name = "dense"

    def __init__(self, vectors: VectorStore) -> None:
        self.vectors = vectors

    def retrieve(self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None) -> list[Hit]:
        if qvec is None:
            raise ValueError("the dense retriever needs the query vector (qvec)")
        scores, ids = self.vectors.search(np.asarray(qvec, dtype=np.float32).reshape(1, -1), k, allowed)
        keep = ids[0] >= 0
        return _ranked(scores[0][keep], ids[0][keep], self.name)


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
    if boost is not None and scores:
        rows = np.fromiter(scores, dtype=np.int64, count=len(scores))
        for row, extra in zip(rows.tolist(), boost(rows).tolist(), strict=True):
            scores[row] += extra
    order = sorted(scores, key=lambda r: (-scores[r], min(sources[r].values()), r))
    return [Hit(r, scores[r], label, sources[r]) for r in order]


class HybridRetriever:
    """BM25 and dense rankings (``settings.candidates`` each) fused by weighted reciprocal rank."""

    name = "hybrid"

    def __init__(self, bm25: Retriever, dense: Retriever, settings: RetrievalSettings) -> None:
        self.bm25, self.dense, self.settings = bm25, dense, settings

    def retrieve(
        self, query: str, qvec: np.ndarray | None, k: int, allowed: np.ndarray | None, *,
        boost: Callable[[np.ndarray], np.ndarray] | None = None, timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        s = self.settings
        n = max(s.candidates, k)
        weights = {self.bm25.name: s.weight_bm25, self.dense.name: s.weight_dense}
        rankings: dict[str, list[Hit]] = {}
        for retriever in (self.bm25, self.dense):
            if weights[retriever.name] > 0:  # a zero-weight ranking cannot change the fused order: skip it
                t0 = time.perf_counter()
                rankings[retriever.name] = retriever.retrieve(query, qvec, n, allowed)
                _record(timings, retriever.name, t0)
        t0 = time.perf_counter()
        fused = rrf_fuse(rankings, weights, s.rrf_k, boost, self.name)[:k]
        _record(timings, "fusion", t0)
        return fused


class RerankerNotFoundError(FileNotFoundError):
    """``MEDCITE_RETRIEVAL__RERANKER_PATH`` does not point at a local cross-encoder directory."""


class CrossEncoderReranker:
    """Rescores (query, passage) pairs with a local ``sentence_transformers.CrossEncoder``, loaded on first use.

    ``loader`` (path -> object with ``predict(pairs, batch_size=..., show_progress_bar=...)``) lets tests and
    other backends plug in; the default never downloads (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).
    """

    name = "cross-encoder"

    def __init__(self, path: Path, *, batch_size: int = 32, device: str = "cpu",
                 loader: Callable[[Path], Any] | None = None) -> None:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise RerankerNotFoundError(
                f"reranker model directory {path} does not exist; set MEDCITE_RETRIEVAL__RERANKER_PATH to a local "
                "cross-encoder directory, or unset it to disable reranking"
            )
        self.path, self.batch_size = path, batch_size
        self._loader = loader or (lambda p: _load_cross_encoder(p, device))
        self._model: Any = None
        self._lock = threading.Lock()

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._loader(self.path)
        return self._model

    def rerank(self, query: str, hits: list[Hit], texts: list[str]) -> list[Hit]:
        if len(hits) != len(texts):
            raise ValueError(f"rerank got {len(hits)} hits but {len(texts)} texts")
        if not hits:
            return []
        pairs = [(query, text) for text in texts]
        scores = np.asarray(self._get_model().predict(pairs, batch_size=self.batch_size, show_progress_bar=False),
                            dtype=np.float64).reshape(-1)
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        return [replace(hits[i], score=float(scores[i]), retriever=self.name) for i in order]


def _load_cross_encoder(path: Path, device: str) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(path), device=device, local_files_only=True)
    except OSError as exc:
        raise RerankerNotFoundError(
            f"cannot load a cross-encoder from {path} (MEDCITE_RETRIEVAL__RERANKER_PATH): {exc}"
        ) from exc


def make_reranker(settings: RetrievalSettings) -> Reranker | None:
    """The configured reranker, or ``None`` when ``settings.reranker_path`` is unset."""
    return None if settings.reranker_path is None else CrossEncoderReranker(settings.reranker_path)


class RowMetadata:
    """Per-row metadata codes (numpy arrays) of a chunk store, so filters and boosts are vector operations."""

    def __init__(self, store: ChunkStore) -> None:
        metas = list(store.documents.values())
        position = {m.doc_id: i for i, m in enumerate(metas)}
        doc_of_row = np.fromiter((position[c.doc_id] for c in store.chunks), dtype=np.int64, count=len(store.chunks))
        self.issuers = sorted({m.issuer for m in metas})
        issuer_code = {name: i for i, name in enumerate(self.issuers)}

        def per_row(values: list[float], dtype: Any) -> np.ndarray:
            return np.asarray(values, dtype=dtype).reshape(-1)[doc_of_row] if metas else np.zeros(0, dtype)

        self.issuer = per_row([issuer_code[m.issuer] for m in metas], np.int32)
        self.type = per_row([_TYPES.index(m.type) for m in metas], np.int8)
        self.audience = per_row([_AUDIENCES.index(m.audience) for m in metas], np.int8)
        self.year = per_row([np.nan if m.year is None else m.year for m in metas], np.float64)
        self._cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.type)

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Sorted allowed rows (read-only int64 array), or ``None`` when nothing is restricted (LRU-cached)."""
        if filters is None:
            return None
        key = filters.model_dump_json()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        rows = self._compute(filters)
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > FILTER_CACHE_SIZE:
                self._cache.popitem(last=False)
        return rows

    def _compute(self, f: Filters) -> np.ndarray | None:
        if f.year_min is not None and f.year_max is not None and f.year_min > f.year_max:
            raise ValueError(f"filter year_min ({f.year_min}) is after year_max ({f.year_max})")
        mask: np.ndarray | None = None

        def restrict(part: np.ndarray) -> None:
            nonlocal mask
            mask = part if mask is None else mask & part

        needles = [s.strip().lower() for s in f.issuer or [] if s.strip()]
        if needles:
            codes = [i for i, name in enumerate(self.issuers) if any(n in name.lower() for n in needles)]
            restrict(np.isin(self.issuer, codes))
        if f.type:
            restrict(np.isin(self.type, [_TYPES.index(t) for t in f.type]))
        if f.audience is not None:
            restrict(self.audience == _AUDIENCES.index(f.audience))
        if f.year_min is not None or f.year_max is not None:
            with np.errstate(invalid="ignore"):  # NaN (undated) compares False: excluded
                restrict((self.year >= (f.year_min or -np.inf)) & (self.year <= (f.year_max or np.inf)))
        if mask is None:
            return None
        rows = np.flatnonzero(mask).astype(np.int64)
        rows.setflags(write=False)
        return rows


_ROW_METADATA: weakref.WeakKeyDictionary[Any, RowMetadata] = weakref.WeakKeyDictionary()
_ROW_METADATA_LOCK = threading.Lock()


def row_metadata(store: ChunkStore) -> RowMetadata:
    """The :class:`RowMetadata` of ``store``, built once and held as long as the store lives."""
    with _ROW_METADATA_LOCK:
        meta = _ROW_METADATA.get(store)
        if meta is None:
            meta = _ROW_METADATA[store] = RowMetadata(store)
    return meta


def allowed_rows(store: ChunkStore, filters: Filters | None) -> np.ndarray | None:
    """Rows of ``store`` that pass ``filters`` (``None`` = no restriction).

    Issuer: case-insensitive substring of any listed name; type: one of the listed types; audience: equal;
    year range inclusive, undated sources excluded once a year bound is set. Empty lists do not restrict.
    Metadata arrays and results are cached per store (held weakly) and per filter combination.
    """
    return None if filters is None else row_metadata(store).allowed(filters)


class SearchEngine:
    """The retrieval facade used by the answer pipeline, the API and the evaluation harness (thread-safe)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: RetrievalSettings,
                 reranker: Reranker | None = None) -> None:
        self.index, self.embedder, self.settings = index, embedder, settings
        self.reranker = reranker if reranker is not None else make_reranker(settings)
        self.rows = row_metadata(index.store)
        self.bm25 = BM25Retriever(index.bm25)
        self.dense = DenseRetriever(index.vectors)
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
            raise ValueError(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")
        if retriever == "hybrid+rerank" and self.reranker is None:
            raise ValueError(
                "retriever 'hybrid+rerank' needs a reranker: set MEDCITE_RETRIEVAL__RERANKER_PATH to a local "
                "cross-encoder directory"
            )
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        t0 = time.perf_counter()
        allowed = self.rows.allowed(filters)
        if filters is not None:
            _record(timings, "filter", t0)
        if allowed is not None and len(allowed) == 0:
            return []
        if qvec is None and (retriever != "bm25" and (retriever == "dense" or self.settings.weight_dense > 0)):
            t0 = time.perf_counter()
            qvec = self.embedder.encode_query(query)
            _record(timings, "embed_query", t0)
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

    def _booster(self, prefer_rows: Collection[int], prefer_types: Collection[DocType]
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
        if not prefer_rows and not prefer_types:
            return None
        unit = 1.0 / (self.settings.rrf_k + 1.0)
        preferred = np.fromiter(prefer_rows, dtype=np.int64)
        type_codes = [_TYPES.index(DocType(t)) for t in prefer_types]

        def boost(rows: np.ndarray) -> np.ndarray:
            extra = PREFER_ROW_BOOST * unit * np.isin(rows, preferred)
            return extra + PREFER_TYPE_BOOST * unit * np.isin(self.rows.type[rows], type_codes)

        return boost

    def _rerank_text(self, row: int) -> str:
        return self.index.store.chunks[row].embed_text(self.index.store.meta_of_row(row).title)

    def passages(self, hits: list[Hit]) -> list[Passage]:
        """``Passage`` objects (chunk text plus source metadata) for ``hits``, ranked by position from 1."""
        store = self.index.store
        out = []
        for rank, hit in enumerate(hits, 1):
            chunk, meta = store.chunks[hit.row], store.meta_of_row(hit.row)
            out.append(Passage(
                chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, rank=rank, score=hit.score, retriever=hit.retriever,
                sources=dict(hit.sources), text=chunk.text, title=meta.title, issuer=meta.issuer, type=meta.type,
                year=meta.year, url=meta.url, pages=list(chunk.pages), section_path=list(chunk.section_path),
            ))
        return out


def _record(timings: dict[str, float] | None, key: str, t0: float) -> None:
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + (time.perf_counter() - t0) * 1000.0
