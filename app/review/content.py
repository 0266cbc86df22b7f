"""What an article is made of, apart from the database: ids, chunk hashes, cited chunks, statements, vectors.

>>> question_key("How is  Wilms tumor treated?") == question_key("how is wilms tumor treated")
True
>>> new_article_id().startswith("a-"), len(new_article_id())
(True, 14)
>>> chunk_hash("Metformin is first-line for type 2 diabetes.")
'24810573107527a5'
>>> v = encode_vector([3.0, 4.0])
>>> len(v), [round(float(x), 2) for x in decode_vector(v)]
(4, [0.6, 0.8])
>>> round(cosine(decode_vector(v), [0.6, 0.8]), 3)
1.0
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Callable, Sequence

import numpy as np

from app.query.schemas import Answer, Statement
from index.store import ChunkStore

ARTICLE_ID_RE = re.compile(r"^a-[A-Za-z0-9_-]{12}$")
CHUNK_HASH_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_VECTOR_DIM = 4096


def new_article_id() -> str:
    """A random, URL-safe, stable article id: ``a-`` + 12 characters (72 random bits)."""
    return "a-" + secrets.token_urlsafe(9)


def question_key(question: str) -> str:
    """The de-duplication key of a stored question: sha256 hex (32 characters) of the question case-folded, with
    runs of white space made one space and trailing punctuation dropped (identical questions share one article)."""
    normal = " ".join(question.casefold().split()).rstrip(" ?.!")
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def chunk_hash(text: str) -> str:
    """Content hash of a chunk's text as stored in ``Article.cited``: sha256 hex, first 16 characters."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_text(value: str, what: str) -> str:
    """``value`` if both SQLite and PostgreSQL can store it as text, else ``ValueError`` naming ``what``.

    >>> check_text("ok", "note")
    'ok'
    >>> check_text("bad \\ud800", "note")
    Traceback (most recent call last):
    ...
    ValueError: note holds a lone surrogate (not valid Unicode)
    """
    if "\x00" in value:
        raise ValueError(f"{what} holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} holds a lone surrogate (not valid Unicode)") from None
    return value


def answer_statements(answer: Answer) -> list[Statement]:
    """The statements feedback can point at, by index: the bottom line (if any), then each section's in order."""
    out = [answer.bottom_line] if answer.bottom_line is not None else []
    for section in answer.sections:
        out.extend(section.statements)
    return out


def cited_chunk_ids(answer: Answer) -> list[str]:
    """Every chunk the answer cites (statements and references), first use first: the keys ``cited`` needs."""
    seen: dict[str, None] = {}
    for statement in answer_statements(answer):
        seen.setdefault(statement.chunk_id, None)
    for ref in answer.references:
        for chunk_id in [ref.chunk_id, *ref.chunk_ids]:
            seen.setdefault(chunk_id, None)
    return [c for c in seen if c]


def cited_hashes(answer: Answer, store: ChunkStore) -> dict[str, str]:
    """``cited`` for :meth:`ReviewService.create_article`: every cited chunk id -> hash of its text in ``store``
    (``KeyError`` naming a chunk the store lacks)."""
    return {c: chunk_hash(store.chunks[store.row_of(c)].text) for c in cited_chunk_ids(answer)}


def current_hashes(store: ChunkStore) -> Callable[[list[str]], dict[str, str | None]]:
    """The ``current_hashes`` callback of matching and :meth:`ReviewService.recheck` over an index's chunk store:
    chunk id -> hash of its text now, None when the chunk is gone."""

    def lookup(chunk_ids: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for chunk_id in chunk_ids:
            try:
                out[chunk_id] = chunk_hash(store.chunks[store.row_of(chunk_id)].text)
            except KeyError:
                out[chunk_id] = None
        return out

    return lookup


def _as_array(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1 or not 1 <= arr.size <= MAX_VECTOR_DIM:
        raise ValueError(f"question vector must be 1-dimensional with 1-{MAX_VECTOR_DIM} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("question vector holds NaN or infinite values")
    norm = float(np.linalg.norm(arr))
    if norm == 0.0:
        raise ValueError("question vector is all zeros")
    return arr / norm


def encode_vector(vector: Sequence[float] | np.ndarray) -> bytes:
    """A question vector, L2-normalised, as little-endian float16 bytes (2 bytes per dimension)."""
    return _as_array(vector).astype("<f2").tobytes()


def decode_vector(data: bytes) -> np.ndarray:
    """The float32 vector of :func:`encode_vector` bytes."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine similarity; 0.0 when the dimensions differ (vectors of another model never match)."""
    x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if x.shape != y.shape:
        return 0.0
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / denom if denom else 0.0
