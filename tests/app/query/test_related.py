"""Related-questions bank with a counting, hashed bag-of-words embedder."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from app.query.related import QuestionBank, normalise_question, read_bank

from fake_vectors import DIM
from fake_vectors import hashed_vector as hashed


class CountingEmbedder:
    def __init__(self, fingerprint: str = "fake0001") -> None:
        self.info = SimpleNamespace(fingerprint=fingerprint, dimension=DIM, name="fake")
        self.encoded: list[int] = []

    def encode(self, texts, batch_size=None, progress=False) -> np.ndarray:
        self.encoded.append(len(texts))
        return np.stack([hashed(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


QUESTIONS = [
    "What is Wilms tumor?",
    "What are the symptoms of Wilms tumor?",
    "What are the symptoms of Wilms tumor ?",  # same question, other spacing: dropped on read
    "How to diagnose Wilms tumor?",
    "What are the treatments for Wilms tumor?",
    "What are the symptoms of asthma?",
    "How is asthma treated?",
]


def write_bank(path: Path, questions: list[str]) -> Path:
    lines = [json.dumps({"question": q, "focus": "x", "qtype": "information", "passage_ids": [f"p{i}"]})
             for i, q in enumerate(questions)]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def bank_file(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "bank.jsonl.gz", QUESTIONS)


def test_vectors_are_cached_once_and_reused(bank_file: Path, tmp_path: Path):
    embedder = CountingEmbedder()
    cache = tmp_path / "cache"
    bank = QuestionBank.load(bank_file, embedder, cache)
    assert len(bank) == 6 and embedder.encoded == [6]
    assert len(list(cache.glob("*.npy"))) == 1 and not list(cache.glob("*.tmp"))
    again = QuestionBank.load(bank_file, embedder, cache)
    assert embedder.encoded == [6]  # second start-up: read from the cache
    np.testing.assert_array_equal(again.vectors, bank.vectors)
    QuestionBank.load(bank_file, CountingEmbedder("othermodel"), cache)
    write_bank(bank_file, QUESTIONS + ["Is asthma hereditary?"])
    changed = CountingEmbedder()
    assert len(QuestionBank.load(bank_file, changed, cache)) == 7 and changed.encoded == [7]
    assert len(list(cache.glob("*.npy"))) == 3  # one per (file content, model)


def test_workers_starting_together_embed_the_bank_once(bank_file: Path, tmp_path: Path):
    """Two workers of a first run used to embed the whole bank each, at the same time (a minute on 2 cores)."""
    import threading
    import time

    class SlowEmbedder(CountingEmbedder):
        def encode(self, texts, batch_size=None, progress=False):
            time.sleep(0.3)  # long enough for the other worker to arrive while this one embeds
            return super().encode(texts, batch_size, progress)

    embedder, cache, banks = SlowEmbedder(), tmp_path / "cache", []
    workers = [threading.Thread(target=lambda: banks.append(QuestionBank.load(bank_file, embedder, cache)))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert embedder.encoded == [6]  # one embedded, the other read what it wrote
    np.testing.assert_array_equal(banks[0].vectors, banks[1].vectors)


def test_related_never_returns_the_question_itself_or_excluded(bank_file: Path, tmp_path: Path):
    bank = QuestionBank.load(bank_file, CountingEmbedder(), tmp_path)
    q = "what are the symptoms of  WILMS tumor"
    out = bank.related(q, hashed(q), n=3, exclude=["How to diagnose Wilms tumor"])
    assert len(out) == 3
    assert all(normalise_question(o) not in {normalise_question(q), "how to diagnose wilms tumor"} for o in out)
    assert set(out) == {"What is Wilms tumor?", "What are the treatments for Wilms tumor?",
                        "What are the symptoms of asthma?"}
    assert bank.related(q, hashed(q), n=0) == []


def test_near_duplicates_are_removed(tmp_path: Path):
    questions = ["What causes gout?", "What causes gout ??", "Gout: what causes gout?", "How is gout treated?",
                 "What is gout?", "Is gout hereditary?"]
    bank = QuestionBank.load(write_bank(tmp_path / "b.jsonl.gz", questions), CountingEmbedder(), tmp_path)
    q = "gout causes"
    out = bank.related(q, hashed(q), n=4)
    vecs = np.stack([hashed(o) for o in out])
    sims = vecs @ vecs.T
    assert not (sims[np.triu_indices(len(out), 1)] > 0.95).any()
    # a reworded copy of the asked question (cosine > 0.95) is never offered
    asked = "What causes gout"
    assert all(float(hashed(o) @ hashed(asked)) <= 0.95 for o in bank.related(asked, hashed(asked), n=4))


def test_questions_asked_are_never_remembered_or_offered(bank_file: Path, tmp_path: Path):
    """Privacy: what one user asks never becomes another user's related question (no memory of asked questions)."""
    bank = QuestionBank.load(bank_file, CountingEmbedder(), tmp_path)
    asked = "Can asthma inhalers cause thrush in my 22-month-old son John?"
    first = bank.related(asked, hashed(asked), n=3)
    assert asked not in first
    q = "asthma inhalers thrush son"
    later = bank.related(q, hashed(q), n=5)
    assert later and all(o in bank._texts for o in later)  # only curated bank questions, ever
    assert not hasattr(bank, "add_asked")

    def worker() -> None:  # concurrent readers see the same answers
        for _ in range(200):
            assert bank.related(q, hashed(q), n=5) == later

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_bad_records_name_the_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "ok?"}\n{"focus": "no question"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_bank(path)
    with pytest.raises(FileNotFoundError):
        QuestionBank.load(tmp_path / "missing.jsonl.gz", CountingEmbedder(), tmp_path)
