"""Related questions: the nearest questions by meaning from a curated question bank.

Only curated questions, and questions a reviewer published (approved articles of the review workflow, added with
:meth:`QuestionBank.with_questions` by ``app.http.reviewing``), are ever offered. Questions users ask are never
remembered or shown to anyone else unless a reviewer published them: they can hold patient details (a follow-up
conversation is carried by the client's own ``turns``, never by server memory).

The bank is a JSON-lines file (optionally gzipped) of ``{"question", "focus", "qtype", "passage_ids"}``
records. Its vectors are cached as ``.npy`` keyed by the model fingerprint and the file's sha256, so a bank
is embedded once, not at every start-up.

>>> normalise_question("  What is  Wilms Tumor? ? ")
'what is wilms tumor'
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Iterator, Sequence

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from core.fileio import atomic_write_bytes, numbered_jsonl

if TYPE_CHECKING:
    from index.embedding import Embedder

#: Cosine above which two questions count as the same question reworded.
NEAR_DUPLICATE = 0.95
#: Nearest candidates sorted first, as a multiple of ``n``; the rest are sorted only if duplicates use them up.
CANDIDATE_FACTOR = 8
_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s?.!]+$")


class BankQuestion(BaseModel):
    """One record of the question bank."""

    question: str = Field(min_length=1)
    focus: str = ""
    qtype: str = ""
    passage_ids: list[str] = Field(default_factory=list)


def normalise_question(text: str) -> str:
    """Case-, space- and trailing-punctuation-insensitive form used to compare questions."""
    return _TRAILING.sub("", _SPACES.sub(" ", text.strip().lower()))


def read_bank(path: Path) -> list[BankQuestion]:
    """Records of a JSONL(.gz) bank, first occurrence of each normalised question only."""
    records: dict[str, BankQuestion] = {}
    try:
        for number, raw in numbered_jsonl(path):
            try:
                record = BankQuestion.model_validate(raw)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                raise ValueError(f"{path}, line {number}: not a question record ({problem})") from None
            records.setdefault(normalise_question(record.question), record)
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read question bank {path}: {exc}") from exc
    return list(records.values())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _save_atomic(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue(), fsync=False)  # a cache: losing it on a crash costs a re-embed


def _read_cache(cache: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """The cached bank vectors, or None when missing, unreadable or of another shape (then they are rebuilt)."""
    try:
        vectors = np.load(cache, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return vectors if vectors.shape == shape else None


class QuestionBank:
    """Bank questions with unit vectors (read-only after loading, so safe to share between threads)."""

    def __init__(self, questions: list[BankQuestion], vectors: np.ndarray) -> None:
        if len(questions) != len(vectors):
            raise ValueError(f"{len(questions)} questions but {len(vectors)} vectors")
        self.questions = questions
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._texts = [q.question for q in questions]

    def __len__(self) -> int:
        return len(self.questions)

    @classmethod
    def load(cls, path: Path, embedder: Embedder, cache_dir: Path) -> QuestionBank:
        """Read ``path`` and embed its questions, reusing ``cache_dir/related-<sha>-<model>.npy`` when present."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"question bank {path} does not exist")
        questions = read_bank(path)
        info = embedder.info
        cache = Path(cache_dir) / f"related-{_sha256(path)[:20]}-{info.fingerprint[:16]}.npy"
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache.with_suffix(".lock"), "a+b") as lock:  # workers starting together embed the bank once
            fcntl.flock(lock, fcntl.LOCK_EX)  # (the others wait here, then read what it wrote)
            vectors = _read_cache(cache, (len(questions), info.dimension))
            if vectors is None:
                vectors = embedder.encode([q.question for q in questions])
                _save_atomic(cache, np.asarray(vectors, dtype=np.float32))
        return cls(questions, vectors)

    def with_questions(self, questions: Sequence[str], vectors: np.ndarray) -> QuestionBank:
        """A new bank: these questions plus ``questions`` with their unit ``vectors`` (published questions); one
        already in the bank (normalised text) is not added twice.

        >>> bank = QuestionBank([BankQuestion(question="What is gout?")], np.array([[1.0, 0.0]]))
        >>> more = bank.with_questions(["what is gout", "How is gout treated?"], np.array([[1.0, 0.0], [0.6, 0.8]]))
        >>> len(bank), [q.question for q in more.questions]
        (1, ['What is gout?', 'How is gout treated?'])
        """
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(questions), -1)
        seen = {normalise_question(t) for t in self._texts}
        keep = []
        for i, text in enumerate(questions):
            key = normalise_question(text)
            if key and key not in seen:
                seen.add(key)
                keep.append(i)
        if not keep:
            return self
        added = [BankQuestion(question=questions[i], qtype="published") for i in keep]
        return QuestionBank(self.questions + added, np.vstack([self.vectors, vectors[keep]]))

    def related(self, question: str, qvec: np.ndarray, n: int, exclude: Collection[str] = ()) -> list[str]:
        """Up to ``n`` questions nearest in meaning to ``question``, best first.

        Never the question itself or anything in ``exclude`` (normalised text), never a near-duplicate
        (cosine > :data:`NEAR_DUPLICATE`) of the question or of a question already chosen.
        """
        if n <= 0:
            return []
        qvec = np.asarray(qvec, dtype=np.float32).reshape(-1)
        texts = self._texts
        if not texts:
            return []
        if self.vectors.shape[1] != qvec.shape[0]:
            raise ValueError(f"query vector has {qvec.shape[0]} dimensions, the bank {self.vectors.shape[1]}")
        scores = self.vectors @ qvec
        vector = self.vectors.__getitem__

        banned = {normalise_question(question), *(normalise_question(e) for e in exclude)}
        chosen: list[int] = []
        for i in _best_first(scores, max(n * CANDIDATE_FACTOR, 32)):
            if len(chosen) == n:
                break
            key = normalise_question(texts[i])
            if key in banned or scores[i] > NEAR_DUPLICATE:
                continue
            if any(float(vector(j) @ vector(i)) > NEAR_DUPLICATE for j in chosen):
                continue
            banned.add(key)
            chosen.append(i)
        return [texts[i] for i in chosen]


def _best_first(scores: np.ndarray, first: int) -> Iterator[int]:
    """Indices by descending score (ties: lower index); sorts only the top ``first`` unless more are consumed."""
    take = min(len(scores), first)
    top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
    yield from top[np.lexsort((top, -scores[top]))].tolist()
    if take < len(scores):
        rest = np.setdiff1d(np.arange(len(scores)), top)
        yield from rest[np.lexsort((rest, -scores[rest]))].tolist()
