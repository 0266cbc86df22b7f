"""Sentence selection: how relevant each candidate sentence is to the question, hand-weighted or learned.

Every candidate sentence of answer assembly gets the same feature vector (:data:`FEATURES`, computed by
:func:`features`); a :class:`SentenceScorer` turns the matrix into scores, which rank the statements and choose
the bottom line. :class:`HandScorer` is the weighted sum that assembly used before (its weights were set by hand
on the 82 clinician dev items); :class:`LearnedScorer` is a LightGBM model trained on thousands of silver
questions by ``python -m evals.train_selector`` (``make train-selector``), loaded once per process from the
versioned file that ``AnswerSettings.selection_model`` names. Both score on the same 0..1-ish scale (the learned
one is a probability that the sentence states the answer), so MMR and the bottom-line rules work with either.

>>> import numpy as np
>>> row = dict.fromkeys(FEATURES, 0.0) | {"dense": 0.7, "lexical": 0.5, "rank_inv": 1.0}
>>> round(float(HandScorer().score(np.array([[row[f] for f in FEATURES]]))[0]), 3)
0.65
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

#: The features of a candidate sentence, in matrix column order (a model file lists the ones it was trained on).
FEATURES: tuple[str, ...] = (
    "dense",            # cosine of the sentence (with its title) to the question
    "lexical",          # share of the question's IDF weight in the sentence (half with the source title)
    "rank_inv",         # 1 / sqrt(fused rank of its passage)
    "facet",            # the sentence's facet is the question's (diagnosis, treatment...)
    "intent",           # names an answer of the question's intent (a test, a treatment, a dose...)
    "section",          # its section heading is where such answers sit
    "preferred_type",   # a source type the audience prefers (guideline, evidence summary)
    "other_audience",   # written for the other audience
    "anaphora",         # leans on a previous sentence ("This...", "However,...")
    "lead",             # the first sentence of its passage
    "words",            # length in words / 50
    "has_dose",         # states an amount (number + dose unit)
    "has_number",       # states any number
    "tentative",        # "being studied", "clinical trials"
    "lead_in",          # ends with ':' (a list's lead-in)
    "asked_drug",       # names a drug the question asks about
    "other_drug",       # names only drugs the question does not ask about
    "dense_gap",        # dense minus the best dense of the candidates
    "doc_share",        # share of the retrieved passages from its document
)
HAND_WEIGHTS: dict[str, float] = {
    "dense": 0.60, "lexical": 0.30, "rank_inv": 0.08, "facet": 0.06, "intent": 0.08, "section": 0.04,
    "preferred_type": 0.02, "other_audience": -0.10, "anaphora": -0.03,
}


class SentenceScorer(Protocol):
    name: str

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """One relevance score per row of a (sentences, len(FEATURES)) matrix."""
        ...


class HandScorer:
    """The hand-set weighted sum (the fallback when no model is configured)."""

    name = "hand"

    def __init__(self) -> None:
        self.weights = np.array([HAND_WEIGHTS.get(f, 0.0) for f in FEATURES], dtype=np.float64)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.weights


class LearnedScorer:
    """A LightGBM binary model over :data:`FEATURES`: P(the sentence states the answer)."""

    name = "learned"

    def __init__(self, path: Path) -> None:
        try:
            import lightgbm
        except ImportError as exc:  # pragma: no cover - lightgbm is a core dependency
            raise ImportError("the learned sentence selector needs lightgbm: pip install 'lightgbm>=4.5'") from exc
        if not path.is_file():
            raise FileNotFoundError(f"sentence-selection model not found: {path} (make train-selector)")
        self.booster = lightgbm.Booster(model_file=str(path))
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"{path} was trained on features {names}, this code computes {FEATURES}: retrain it")
        self.path = path

    def score(self, matrix: np.ndarray) -> np.ndarray:
        if not len(matrix):
            return np.zeros(0)
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float64)


class BlendScorer:
    """The hand-weighted sum plus ``weight`` x the learned probability: the learned model reorders the sentences
    while the scores keep the hand scale that MMR's relevance floor and the bottom-line rules were set on."""

    name = "blend"

    def __init__(self, learned: LearnedScorer, weight: float) -> None:
        self.hand, self.learned, self.weight = HandScorer(), learned, weight

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return self.hand.score(matrix) + self.weight * self.learned.score(matrix)


@lru_cache(maxsize=8)
def load_scorer(path: Path | None, blend: float | None = None) -> SentenceScorer:
    """The learned scorer at ``path`` (loaded once per process; blended with the hand weights when ``blend`` is
    set), or the hand-weighted one for None."""
    if path is None:
        return HandScorer()
    return LearnedScorer(path) if blend is None else BlendScorer(LearnedScorer(path), blend)
