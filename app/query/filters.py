"""Metadata filters as numpy masks over per-row metadata codes (issuer, type, audience, year), cached per store."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from app.query.errors import RequestError
from app.query.schemas import Filters
from core.models import DocType

if TYPE_CHECKING:
    from index.store import ChunkStore

#: Distinct filter combinations whose allowed rows are kept per store.
FILTER_CACHE_SIZE = 64
_TYPES = list(DocType)
_AUDIENCES = ["clinician", "patient"]


class RowMetadata:
    """Per-row metadata codes (numpy arrays) of a chunk store, so filters and boosts are vector operations."""

    def __init__(self, store: ChunkStore) -> None:
        metas = list(store.documents.values())
        position = {m.doc_id: i for i, m in enumerate(metas)}
        doc_of_row = np.fromiter((position[d] for d in store.doc_ids), dtype=np.int64, count=len(store.doc_ids))
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
            raise RequestError(f"filter year_min ({f.year_min}) is after year_max ({f.year_max})")
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
