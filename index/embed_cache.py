"""A persistent, append-only cache of text embeddings, keyed by the text and the model.

Every text the ingest embeds goes through :meth:`EmbeddingCache.encode`: texts seen before (in any earlier build,
finished or killed) are read back, the rest are encoded in slices and each slice is written to disk as soon as it
is done, so a build interrupted by Ctrl-C or a crash loses at most one slice of work and the next build resumes
from there; a rebuild after a chunking change re-embeds only sentences it has never seen.

Layout: ``<root>/<model fingerprint>/shard-<time>-<hex>.npz`` holding ``keys`` (n, 16) uint8 -- the first 16 bytes
of sha256(text) -- and ``vectors`` (n, dim) float16. Shards are written to a temporary name and renamed, so a shard
is either complete or absent. Vectors are always returned as float16-rounded float32, whether they were cached or
just encoded, so a build gives the same vectors with or without a cache.

>>> import tempfile, numpy as np
>>> cache = EmbeddingCache(Path(tempfile.mkdtemp()), "fp-test", dimension=2, slice_size=2)
>>> calls = []
>>> def enc(texts):
...     calls.append(len(texts))
...     return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
>>> cache.encode(["a", "bb", "a", "ccc"], enc).tolist()
[[1.0, 1.0], [2.0, 1.0], [1.0, 1.0], [3.0, 1.0]]
>>> calls, len(cache)
([2, 1], 3)
>>> reopened = EmbeddingCache(cache.directory.parent, "fp-test", dimension=2)
>>> reopened.encode(["ccc", "a"], enc).tolist(), calls
([[3.0, 1.0], [1.0, 1.0]], [2, 1])
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from core.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

#: Texts encoded (and then written to disk) per slice: about 15-40 s of encoding on 2 cores.
DEFAULT_SLICE = 8192
KEY_BYTES = 16


def text_key(text: str) -> bytes:
    """The cache key of a text: 16 bytes of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]


class EmbeddingCache:
    """Text -> unit vector cache for one model (``fingerprint``) under ``root``."""

    def __init__(self, root: Path, fingerprint: str, dimension: int, *, slice_size: int = DEFAULT_SLICE) -> None:
        self.directory = Path(root) / fingerprint
        self.dimension = dimension
        self.slice_size = slice_size
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self.hits = 0
        self.misses = 0
        self._load()

    def __len__(self) -> int:
        return len(self._index)

    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("shard-*.npz")):
            try:
                with np.load(path) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (OSError, ValueError, KeyError) as exc:  # a damaged shard costs re-encoding, nothing else
                log.warning("ignoring unreadable embedding cache shard %s (%s)", path, exc)
                continue
            if vectors.ndim != 2 or vectors.shape[1] != self.dimension or len(keys) != len(vectors):
                log.warning("ignoring embedding cache shard %s of another shape", path)
                continue
            shard = len(self._shards)
            self._shards.append(vectors)
            for row, key in enumerate(keys):
                self._index.setdefault(key.tobytes(), (shard, row))

    def _add_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        half = np.asarray(vectors, dtype=np.float16)
        buf = io.BytesIO()
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
        np.savez(buf, keys=key_array, vectors=half)
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}.npz"
        atomic_write_bytes(self.directory / name, buf.getvalue(), fsync=False)
        shard = len(self._shards)
        self._shards.append(half)
        for row, key in enumerate(keys):
            self._index.setdefault(key, (shard, row))

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> int:
        """Store already-computed vectors of ``texts`` (e.g. from an earlier index); returns how many were new."""
        fresh: dict[bytes, int] = {}
        for i, text in enumerate(texts):
            key = text_key(text)
            if key not in self._index and key not in fresh:
                fresh[key] = i
        keys = list(fresh)
        rows = np.fromiter(fresh.values(), dtype=np.int64, count=len(fresh))
        for start in range(0, len(rows), 65536):
            self._add_shard(keys[start: start + 65536], np.asarray(vectors)[rows[start: start + 65536]])
        return len(fresh)

    def _lookup(self, key: bytes) -> np.ndarray | None:
        found = self._index.get(key)
        return None if found is None else self._shards[found[0]][found[1]]

    def encode(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray],
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """``(len(texts), dimension)`` float32 vectors (float16-rounded), encoding only texts never seen.

        ``encode(list_of_texts)`` is called once per slice of at most ``slice_size`` new distinct texts;
        ``progress(done, total)`` is told how many of the ``total`` new texts are encoded (first with 0).
        """
        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        todo: dict[bytes, int] = {}  # key -> first position of a text that needs encoding
        for i, key in enumerate(keys):
            if key not in self._index and key not in todo:
                todo[key] = i
        self.misses += len(todo)
        self.hits += len(set(keys)) - len(todo)
        pending = list(todo.items())
        if progress is not None:
            progress(0, len(pending))
        for start in range(0, len(pending), self.slice_size):
            part = pending[start: start + self.slice_size]
            vectors = np.asarray(encode([texts[i] for _, i in part]), dtype=np.float32)
            if vectors.shape != (len(part), self.dimension):
                raise ValueError(f"encoder returned shape {vectors.shape}, expected ({len(part)}, {self.dimension})")
            self._add_shard([key for key, _ in part], vectors)
            if progress is not None:
                progress(min(start + len(part), len(pending)), len(pending))
        for i, key in enumerate(keys):
            out[i] = self._lookup(key)  # type: ignore[assignment]
        return out

    def compact(self) -> None:
        """Rewrite all shards as one (fewer files to open at the next start)."""
        if len(self._shards) < 2:
            return
        keys = list(self._index)
        vectors = np.stack([self._lookup(k) for k in keys]) if keys else np.zeros((0, self.dimension), np.float16)
        old = sorted(self.directory.glob("shard-*.npz"))
        self._index, self._shards = {}, []
        self._add_shard(keys, vectors)
        newest = max(self.directory.glob("shard-*.npz"))
        for path in old:
            if path != newest:
                path.unlink(missing_ok=True)
