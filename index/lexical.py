"""Lexical retrieval: a medical-text tokenizer and a BM25 index (bm25s) over chunk rows.

Tokenizer rules (deterministic, lowercase):

* numbers and decimals stay whole (``"2.5"``); thousands separators are dropped (``"1,000"`` -> ``"1000"``);
* a dose -- number glued to a unit -- yields the whole token plus number and unit
  (``"500mg"`` -> ``"500mg", "500", "mg"``), so ``"500 mg"`` and ``"500mg"`` match each other;
* other tokens mixing letters and digits stay whole only (``"brca1"``, ``"h1n1"``): splitting them would
  add noisy single-digit terms;
* hyphenated names yield the whole compound (each alphabetic part stemmed) plus their parts
  (``"beta-blockers"`` -> ``"beta-blocker", "beta", "blocker"``; ``"covid-19"`` -> ``"covid-19", "covid", "19"``);
* possessive ``'s`` is dropped (``"Crohn's"`` -> ``"crohn"``);
* English stop words (NLTK list from bm25s, minus single letters such as the ``d`` of "vitamin D") are removed;
* alphabetic words are Snowball-stemmed (PyStemmer); tokens containing digits are never stemmed;
* terms longer than :data:`MAX_TERM_CHARS` (a DNA sequence, a run of CJK characters, a poisoned upload's 5 MB
  "word") are dropped, so no document or question can put an unbounded term into the vocabulary or a query.

>>> tokenize("Treatments: metformin 500mg for COVID-19 and BRCA1 carriers (2.5%)")
['treatment', 'metformin', '500mg', '500', 'mg', 'covid-19', 'covid', '19', 'brca1', 'carrier', '2.5']
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from index.settings import IndexSettings

#: Bump when tokenize() changes: a BM25 index built with another version is refused on load.
TOKENIZER_VERSION = 1

#: Longest term kept (the longest English medical words have about 45 letters).
MAX_TERM_CHARS = 48
STOP_WORDS = frozenset(w for w in STOPWORDS_EN_PLUS if len(w) > 1 or w in {"a", "i"})
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2019": "'", "\u00ad": None})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_POSSESSIVE = re.compile(r"(?<=[^\W_])'s\b")
_WORD = r"[^\W_]+"
_TOKEN = re.compile(rf"{_WORD}(?:(?:(?<=\d)\.(?=\d)|[-'](?=[^\W_])){_WORD})*")
_DOSE = re.compile(r"^(\d+(?:\.\d+)?)([^\W\d_]+)$")
_META_FILE = "lexical.json"


class TokenizerVersionError(ValueError):
    """A saved BM25 index was built by another version of :func:`tokenize`."""


def tokenize(text: str) -> list[str]:
    """Split ``text`` into BM25 terms following the module rules."""
    stemmer = Stemmer.Stemmer("english")  # cheap; one per call keeps this thread-safe
    text = unicodedata.normalize("NFKC", text).translate(_HYPHENS).lower()
    text = _POSSESSIVE.sub("", _THOUSANDS.sub("", text))
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if "-" in token:
            parts = [p for p in token.split("-") if p and len(p) <= MAX_TERM_CHARS]
            if len(token) <= MAX_TERM_CHARS:
                out.append("-".join(_stem_part(p, stemmer) for p in parts))
            for part in parts:
                out.extend(_simple_terms(part, stemmer))
        elif len(token) <= MAX_TERM_CHARS:
            out.extend(_simple_terms(token, stemmer))
    return out


def _stem_part(part: str, stemmer: Stemmer.Stemmer) -> str:
    part = part.replace("'", "")
    return stemmer.stemWord(part) if part.isalpha() else part


def _simple_terms(token: str, stemmer: Stemmer.Stemmer) -> list[str]:
    if token in STOP_WORDS:
        return []
    token = token.replace("'", "")
    if token.isalpha():
        return [stemmer.stemWord(token)]
    dose = _DOSE.match(token)
    if dose:
        return [token, dose.group(1), dose.group(2)]
    return [token]


class LexicalIndex(Protocol):
    """Term-based retrieval over row-aligned texts, tokenized with :func:`tokenize` (see :func:`build_lexical_index`).

    The query side reads only this: rankings, the IDF of query terms, and whether a term is indexed.
    """

    backend: str

    def __len__(self) -> int: ...

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows with a positive score: ``(scores, rows)``, best first, ties to the lower row."""

    def term_weights(self, text: str) -> dict[str, float]:
        """IDF of each term of ``text`` the index holds (unknown terms are left out)."""

    def knows(self, term: str) -> bool:
        """Whether ``term`` (a :func:`tokenize` term) occurs in the index."""

    def document_frequency(self, term: str) -> int:
        """Rows containing ``term`` (0 for an unknown term)."""

    def vocabulary(self) -> Iterable[str]:
        """Every indexed term."""

    def save(self, directory: Path) -> None: ...


def idf(n_docs: int, df: int) -> float:
    """The BM25 (Lucene) inverse document frequency of a term found in ``df`` of ``n_docs`` documents.

    >>> round(idf(100, 1), 3), round(idf(100, 100), 3)
    (4.21, 0.005)
    """
    return math.log(1 + (max(n_docs, 1) - df + 0.5) / (df + 0.5))


class BM25Index:
    """BM25 (bm25s, Lucene variant) over row-aligned texts tokenized with :func:`tokenize`."""

    backend = "bm25s"

    def __init__(self, model: bm25s.BM25) -> None:
        self.model = model

    def __len__(self) -> int:
        return int(self.model.scores["num_docs"])

    def __repr__(self) -> str:
        return f"BM25Index(docs={len(self)}, vocabulary={len(self.model.vocab_dict)})"

    @classmethod
    def build(cls, texts: Sequence[str], settings: IndexSettings) -> BM25Index:
        """Index ``texts``; row ``i`` is ``texts[i]``."""
        model = bm25s.BM25(k1=settings.bm25_k1, b=settings.bm25_b)
        model.index([tokenize(t) for t in texts], show_progress=False)
        return cls(model)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows with a positive score for ``query``: ``(scores (<=k,) float32, ids (<=k,) int64)``.

        Ties are broken by the lower row id. ``allowed`` (row ids) restricts the search to those rows.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        vocab = self.model.vocab_dict
        token_ids = [vocab[t] for t in tokenize(query) if t and t in vocab]
        if not token_ids or len(self) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        mask = None
        if allowed is not None:
            rows = np.asarray(allowed, dtype=np.int64)
            mask = np.zeros(len(self), dtype=np.float32)
            mask[rows[(rows >= 0) & (rows < len(self))]] = 1.0
        scores = np.asarray(self.model.get_scores_from_ids(token_ids, weight_mask=mask), dtype=np.float32)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
            # argpartition may cut ties arbitrarily; re-select deterministically among the boundary score
            cutoff = scores[hits].min()
            above = np.flatnonzero(scores > cutoff)
            tied = np.flatnonzero(scores == cutoff)[: k - len(above)]
            hits = np.concatenate([above, tied])
        order = np.lexsort((hits, -scores[hits]))
        hits = hits[order].astype(np.int64)
        return scores[hits], hits

    def term_weights(self, text: str) -> dict[str, float]:
        vocab, indptr = self.model.vocab_dict, self.model.scores["indptr"]
        weights: dict[str, float] = {}
        for term in tokenize(text):
            tid = vocab.get(term)
            if tid is not None:
                weights[term] = idf(len(self), int(indptr[tid + 1] - indptr[tid]))
        return weights

    def knows(self, term: str) -> bool:
        return bool(term) and term in self.model.vocab_dict

    def document_frequency(self, term: str) -> int:
        tid = self.model.vocab_dict.get(term) if term else None
        if tid is None:
            return 0
        indptr = self.model.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])

    def vocabulary(self) -> Iterable[str]:
        return (term for term in self.model.vocab_dict if term)  # bm25s adds an empty term of its own

    def save(self, directory: Path) -> None:
        """Write the bm25s arrays and vocabulary plus a small metadata file into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(str(directory), show_progress=False)
        write_lexical_meta(directory, self.backend, len(self))

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """Load an index written by :meth:`save` (use :func:`load_lexical_index`, which checks the metadata); the
        score arrays are memory-mapped read-only (shared by workers and index versions, not copied)."""
        return cls(bm25s.BM25.load(str(directory), show_progress=False, mmap=True))


def write_lexical_meta(directory: Path, backend: str, documents: int) -> None:
    """Write the metadata every saved lexical index carries (backend, tokenizer version, size)."""
    meta = {"backend": backend, "tokenizer_version": TOKENIZER_VERSION, "documents": documents}
    (directory / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")


def _backends() -> dict[str, Any]:
    from index.memory import MemoryLexicalIndex

    return {"bm25s": BM25Index, "memory": MemoryLexicalIndex}


def build_lexical_index(texts: Sequence[str], settings: IndexSettings) -> LexicalIndex:
    """A new lexical index of ``settings.lexical_backend`` over ``texts`` (row ``i`` is ``texts[i]``)."""
    backends = _backends()
    if settings.lexical_backend not in backends:
        raise ValueError(f"unknown lexical backend {settings.lexical_backend!r}; known: {sorted(backends)}")
    return backends[settings.lexical_backend].build(texts, settings)


def load_lexical_index(directory: Path) -> LexicalIndex:
    """Load a lexical index saved in ``directory`` with the backend recorded there; refuses one built by another
    tokenizer version (:class:`TokenizerVersionError`)."""
    meta_path = directory / _META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing; {directory} is not a saved lexical index")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("tokenizer_version") != TOKENIZER_VERSION:
        raise TokenizerVersionError(
            f"lexical index in {directory} was built with tokenizer version {meta.get('tokenizer_version')}, "
            f"this code uses {TOKENIZER_VERSION}; rebuild the index"
        )
    name = meta.get("backend", "bm25s")
    backends = _backends()
    if name not in backends:
        raise ValueError(f"{directory}: unknown lexical backend {name!r}; known: {sorted(backends)}")
    return backends[name].load(directory)
