"""Metric functions against hand-computed values."""

from __future__ import annotations

import math
import random

import pytest

from app.query.schemas import Answer, Reference, Section, Statement
from evals.answer_metrics import (
    answer_text,
    best_against,
    citation_support,
    is_supported,
    lcs_length,
    reference_problems,
    rouge_l,
    token_f1,
)
from evals.metrics import (
    dedupe,
    hit_at_k,
    judged_at_k,
    metric,
    ndcg_at_k,
    precision_at_k,
    reciprocal_rank,
    recall_at_k,
)
from evals.stats import bootstrap_ci, paired_difference_ci, percentile
from core.models import DocType

RANKING = ["d1", "d2", "d3", "d4", "d5"]


def test_dedupe_keeps_first_chunk_rank():
    assert dedupe(["a", "b", "a", "c", "b", "d"]) == ["a", "b", "c", "d"]


def test_recall_counts_only_relevant_in_top_k():
    gains = {"d2": 1.0, "d5": 1.0, "x": 1.0, "d1": 0.0}
    assert recall_at_k(RANKING, gains, 1) == 0.0
    assert recall_at_k(RANKING, gains, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, gains, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, {}, 5) == 0.0


def test_min_gain_selects_relevant_grades():
    gains = {"d1": 1.0, "d2": 3.0}
    assert recall_at_k(RANKING, gains, 1, min_gain=2) == 0.0
    assert recall_at_k(RANKING, gains, 2, min_gain=2) == 1.0
    assert hit_at_k(RANKING, gains, 1, min_gain=2) == 0.0
    assert hit_at_k(RANKING, gains, 2, min_gain=2) == 1.0


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k():
    assert reciprocal_rank(RANKING, {"d3": 1, "d5": 1}, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKING, {"d3": 1}, 2) == 0.0
    assert reciprocal_rank(RANKING, {"d1": 0, "d2": 1}, 10) == 0.5  # gain 0 is judged, not relevant


def test_precision_and_judged():
    gains = {"d1": 2, "d2": 0, "d4": 1}
    assert precision_at_k(RANKING, gains, 5, min_gain=2) == pytest.approx(1 / 5)
    assert precision_at_k(RANKING, gains, 5) == pytest.approx(2 / 5)
    assert judged_at_k(RANKING, gains, 5) == pytest.approx(3 / 5)
    assert judged_at_k(["d1"], gains, 10) == 1.0


def test_graded_ndcg_hand_computed():
    # LiveQA style gains = grade - 1: d2 excellent (3), d4 related (1), d1 incorrect (0), "z" unretrieved incomplete (2)
    gains = {"d2": 3.0, "d4": 1.0, "d1": 0.0, "z": 2.0}
    dcg = 3 / math.log2(3) + 1 / math.log2(5)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKING, gains, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["d2", "z", "d4"], gains, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKING, {"d1": 0.0}, 10) == 0.0


def test_binary_ndcg_with_two_golds_and_cutoff():
    gains = {"d1": 1.0, "d4": 1.0}
    assert ndcg_at_k(RANKING, gains, 10) == pytest.approx((1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(RANKING, gains, 3) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_metric_dispatch_and_unknown_kind():
    assert metric("mrr", RANKING, {"d2": 1}, 10) == 0.5
    with pytest.raises(ValueError, match="unknown metric kind 'map'"):
        metric("map", RANKING, {}, 10)


def test_bootstrap_ci_on_known_sample():
    values = [0.0, 1.0] * 50  # mean 0.5, standard error 0.05
    ci = bootstrap_ci(values)
    assert ci.mean == 0.5 and ci.n == 100
    assert ci.lo == pytest.approx(0.5 - 1.96 * 0.05, abs=0.015)
    assert ci.hi == pytest.approx(0.5 + 1.96 * 0.05, abs=0.015)
    assert bootstrap_ci(values) == ci  # fixed seed: reproducible
    constant = bootstrap_ci([0.3] * 20)
    assert (constant.mean, constant.lo, constant.hi, constant.n) == pytest.approx((0.3, 0.3, 0.3, 20))
    assert bootstrap_ci([]).mean is None and bootstrap_ci([]).fmt() == "n/a"
    assert bootstrap_ci([1.0, float("nan")]).n == 1


def test_paired_difference_detects_consistent_gain():
    rng = random.Random(1)
    base = [rng.random() for _ in range(200)]
    better = [b + 0.1 for b in base]
    delta = paired_difference_ci(better, base)
    assert delta.mean == pytest.approx(0.1) and delta.lo == pytest.approx(0.1) and delta.hi == pytest.approx(0.1)
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference_ci([1.0], [1.0, 2.0])


def test_percentile():
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([], 95) is None


def test_rouge_l_and_token_f1_hand_computed():
    # LCS("the cat sat on the mat", "the cat lay on the mat") = 5 of 6 tokens on both sides
    assert rouge_l("The cat sat on the mat.", "the cat lay on the mat") == pytest.approx(5 / 6)
    assert rouge_l("", "anything") == 0.0
    # tokens: {a, b, c} vs {a, b, d, e}: overlap 2, P 2/3, R 2/4
    assert token_f1("a b c", "a b d e") == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert best_against("colchicine treats gout", ["", "gout is treated with colchicine"])[1] == pytest.approx(
        token_f1("colchicine treats gout", "gout is treated with colchicine"))
    assert best_against("x", []) == (None, None)


def test_lcs_matches_dynamic_programming():
    def dp(a, b):
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]

    rng = random.Random(3)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == dp(a, b)


PASSAGE = "Gout is a form of arthritis.  It is caused by uric acid crystals in a joint, often the big toe. Diet matters."


def test_statement_support_containment_ellipsis_and_similarity():
    assert is_supported("It is caused by uric acid crystals in a joint…", PASSAGE)
    assert is_supported("it is  CAUSED by uric acid crystals in a joint, often the big toe.", PASSAGE)
    # a light paraphrase of one sentence (token F1 >= 0.8) is supported; an unrelated claim is not
    assert is_supported("Gout is a form of arthritis", "Gout is a type of arthritis. Other text.")
    assert not is_supported("Gout is cured by eating cherries.", PASSAGE)
    assert not is_supported("…", PASSAGE)


def _ref(n: int, passage: str = PASSAGE) -> Reference:
    return Reference(n=n, type=DocType.patient_information, title="Gout", chunk_id=f"d{n}#0", doc_id=f"d{n}",
                     passage=passage)


def _answer(statements: list[tuple[str, list[int]]], refs: list[Reference]) -> Answer:
    first, *rest = [Statement(text=t, citations=c, chunk_id="d1#0") for t, c in statements]
    return Answer(question="q", resolved_question="q", audience="clinician", bottom_line=first,
                  sections=[Section(heading="About", statements=rest)], references=refs, disclaimer="Not advice.")


def test_citation_support_and_consistent_references():
    answer = _answer([("Gout is a form of arthritis.", [1]), ("Diet matters.", [1, 2]), ("Made up claim.", [2]),
                      ("Uncited, but true: diet matters.", [])],
                     [_ref(1), _ref(2, "Something else entirely.")])
    assert citation_support(answer) == (4, 2)
    problems = reference_problems(answer)
    assert problems == ["statement without citation: 'Uncited, but true: diet matters.'"]
    assert answer_text(answer).startswith("Gout is a form of arthritis. Diet matters.")


def test_reference_problems_name_each_inconsistency():
    gap = _answer([("Gout is a form of arthritis.", [1]), ("Diet matters.", [3])], [_ref(1), _ref(3)])
    assert any("not 1..2" in p for p in reference_problems(gap))
    out_of_order = _answer([("Gout is a form of arthritis.", [2]), ("Diet matters.", [1])], [_ref(1), _ref(2)])
    assert any("first used in the order [2, 1]" in p for p in reference_problems(out_of_order))
    dangling = _answer([("Gout is a form of arthritis.", [1]), ("Diet matters.", [2])], [_ref(1)])
    assert "cited numbers without a reference: [2]" in reference_problems(dangling)
    unused = _answer([("Gout is a form of arthritis.", [1])], [_ref(1), _ref(2)])
    assert "references never cited: [2]" in reference_problems(unused)
    abstained = Answer(question="q", resolved_question="q", audience="clinician", disclaimer="d", abstained=True)
    assert reference_problems(abstained) == [] and citation_support(abstained) == (0, 0)
