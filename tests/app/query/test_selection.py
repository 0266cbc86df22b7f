"""Learned sentence selection (issue 18, item 2): features, the hand and learned scorers, deterministic training."""

from __future__ import annotations

import numpy as np
import pytest

from app.query.assemble import assemble
from app.query.selection import FEATURES, HandScorer, LearnedScorer, load_scorer
from app.query.settings import SELECTION_MODEL, AnswerSettings
from index.lexical import tokenize
from test_assemble import Q, WEIGHTS, _candidate, _vec


class _Prefers:
    """A scorer that ranks by one feature: proves assembly ranks by the scorer it is given."""

    name = "one-feature"

    def __init__(self, feature: str) -> None:
        self.column = FEATURES.index(feature)

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return matrix[:, self.column]


def _gout():
    a = _candidate(0, "gout", [("Colchicine is used to treat acute gout flares in adults.", _vec(1, 0.1)),
                               ("Colchicine 1.2 mg at the first sign of a flare, then 0.6 mg an hour later.",
                                _vec(0.5, 0.9))])
    return [a]


def test_assembly_ranks_by_the_scorer_and_exposes_its_feature_rows():
    kept: list = []
    hand = assemble("How is gout treated with colchicine?", Q, WEIGHTS, _gout(), tokenize, AnswerSettings(),
                    keep_features=kept)
    assert hand.bottom_line.text.startswith("Colchicine is used")  # most similar sentence
    assert len(kept) == 2 and all(row.shape == (len(FEATURES),) for _, row in kept)
    dose_row = next(row for u, row in kept if "1.2 mg" in u.text)
    assert dose_row[FEATURES.index("has_dose")] == 1.0 and dose_row[FEATURES.index("dense_gap")] < 0
    doses = assemble("How is gout treated with colchicine?", Q, WEIGHTS, _gout(), tokenize, AnswerSettings(),
                     scorer=_Prefers("has_dose"))
    assert doses.bottom_line.text.startswith("Colchicine 1.2 mg")


def test_the_hand_scorer_is_the_former_weighted_sum():
    row = dict.fromkeys(FEATURES, 0.0) | {"dense": 0.8, "lexical": 0.4, "rank_inv": 0.5, "intent": 1.0,
                                           "other_audience": 1.0, "has_number": 1.0}
    expected = 0.60 * 0.8 + 0.30 * 0.4 + 0.08 * 0.5 + 0.08 - 0.10
    assert HandScorer().score(np.array([[row[f] for f in FEATURES]]))[0] == pytest.approx(expected)


def test_the_shipped_model_loads_and_scores_probabilities():
    scorer = load_scorer(SELECTION_MODEL)
    assert isinstance(scorer, LearnedScorer) and load_scorer(SELECTION_MODEL) is scorer  # once per process
    rng = np.random.default_rng(7)
    scores = scorer.score(rng.random((50, len(FEATURES))))
    assert scores.shape == (50,) and ((scores >= 0) & (scores <= 1)).all() and scores.std() > 0
    assert SELECTION_MODEL.with_suffix(".md").is_file(), "a model card ships with the model"


def test_a_model_trained_on_other_features_or_missing_is_refused(tmp_path):
    import lightgbm

    x = np.random.default_rng(1).random((200, 3))
    booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, (x[:, 0] > 0.5) * 1,
                             feature_name=["a", "b", "c"]), 5)
    booster.save_model(str(tmp_path / "old.txt"))
    with pytest.raises(ValueError, match="retrain"):
        LearnedScorer(tmp_path / "old.txt")
    with pytest.raises(FileNotFoundError, match="train-selector"):
        LearnedScorer(tmp_path / "none.txt")


def test_training_is_deterministic():
    import lightgbm

    from evals.train_selector import PARAMS

    rng = np.random.default_rng(3)
    x = rng.random((600, len(FEATURES)))
    y = (x[:, 0] + 0.3 * rng.random(600) > 0.7).astype(int)

    def train() -> str:
        data = lightgbm.Dataset(x, y, feature_name=list(FEATURES))
        return lightgbm.train(PARAMS, data, 30).model_to_string()

    assert train() == train()


def test_a_follow_ups_own_words_decide_what_kind_of_answer_it_wants():
    """'How is it treated?' resolved with the carried 'next step' of a work-up question still wants a treatment
    sentence as its bottom line (issue 18, item 4)."""
    cand = _candidate(0, "wilms", [
        ("CT scan of the abdomen is the next step and will confirm the renal origin of the mass.", _vec(1, 0.2)),
        ("Nephrectomy followed by chemotherapy is the standard treatment for favorable histology tumors.",
         _vec(1, 0.2)),
    ])
    resolved = "How is it treated? (next step Wilms tumor)"
    weights = {t: 1.0 for t in tokenize(resolved)}
    carried = assemble(resolved, Q, weights, [cand], tokenize, AnswerSettings())
    own = assemble(resolved, Q, weights, [cand], tokenize, AnswerSettings(), asked="How is it treated?")
    assert carried.bottom_line.text.startswith("CT scan")
    assert own.bottom_line.text.startswith("Nephrectomy")
