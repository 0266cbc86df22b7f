"""Helpers of the review-store tests: answers, cited hashes, vectors, a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np

from app.review import chunk_hash, cited_chunk_ids
from app.query.schemas import Answer, Reference, Section, Statement
from core.models import DocType


class FakeClock:
    """A clock that advances one minute per reading (deterministic ages and ordering)."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


TEXTS = {
    "wilms#0": "Wilms tumour is treated with surgery and chemotherapy.",
    "wilms#1": "Ultrasound is the first imaging test for an abdominal mass in a child.",
    "nb#3": "Neuroblastoma often shows calcification on imaging.",
}


def make_answer(audience: str = "clinician", question: str = "How is Wilms tumour treated?") -> Answer:
    """An answer with a bottom line, two sections (3 statements) and two references: 4 statements in all."""
    def st(chunk_id: str, n: int) -> Statement:
        return Statement(text=TEXTS[chunk_id], citations=[n], chunk_id=chunk_id)

    return Answer(
        question=question, resolved_question=question, audience=audience,
        bottom_line=st("wilms#0", 1),
        sections=[Section(heading="Treatment", statements=[st("wilms#0", 1)]),
                  Section(heading="Diagnosis", statements=[st("wilms#1", 1), st("nb#3", 2)])],
        references=[
            Reference(n=1, type=DocType.patient_information, title="Wilms tumour", chunk_id="wilms#0",
                      chunk_ids=["wilms#0", "wilms#1"], doc_id="wilms",
                      passage="..."),
            Reference(n=2, type=DocType.guideline, title="Neuroblastoma", chunk_id="nb#3", doc_id="nb",
                      passage="..."),
        ],
        disclaimer="disclaimer",
    )


def cited_of(answer: Answer, texts: dict[str, str] = TEXTS) -> dict[str, str]:
    return {c: chunk_hash(texts[c]) for c in cited_chunk_ids(answer)}


def hashes_of(texts: dict[str, str]) -> Callable[[list[str]], dict[str, str | None]]:
    """A ``current_hashes`` callback over chunk texts (absent chunk = vanished)."""
    return lambda ids: {c: chunk_hash(texts[c]) if c in texts else None for c in ids}


def unit(seed: int, dim: int = 16) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(dim)
    return x / np.linalg.norm(x)


def near(v: np.ndarray, cos: float, seed: int = 99) -> np.ndarray:
    """A unit vector at cosine ``cos`` to the unit vector ``v``."""
    r = np.random.default_rng(seed).standard_normal(v.shape)
    r -= (r @ v) * v
    r /= np.linalg.norm(r)
    return cos * v + np.sqrt(1 - cos**2) * r
