"""Medical tokenizer rules and the BM25 index (ranking, filters, persistence)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.lexical import (
    BM25Index,
    LexicalIndex,
    TokenizerVersionError,
    build_lexical_index,
    idf,
    load_lexical_index,
    tokenize,
)
from index.settings import IndexSettings
def test_keeps_numbers_decimals_and_thousands():
    assert tokenize("Give 2.5 units, then 1,000 more (0.5%)") == ["give", "2.5", "unit", "1000", "0.5"]


def test_doses_yield_whole_number_and_unit():
    assert tokenize("500mg") == ["500mg", "500", "mg"]
    assert tokenize("2.5mcg") == ["2.5mcg", "2.5", "mcg"]
    assert set(tokenize("500 mg")) <= set(tokenize("500mg"))


def test_gene_and_hyphenated_names():
    assert tokenize("BRCA1") == ["brca1"]
    assert tokenize("COVID-19") == ["covid-19", "covid", "19"]
    assert tokenize("beta-blockers") == ["beta-blocker", "beta", "blocker"]
    assert tokenize("non\u2011small\u2011cell") == ["non-small-cell", "non", "small", "cell"]  # non-breaking hyphen


def test_stemming_and_stop_words():
    assert tokenize("treatments") == tokenize("treatment") == ["treatment"]
    assert tokenize("What is the treatment for the children?") == ["treatment", "children"]
    assert tokenize("Crohn's disease") == ["crohn", "diseas"]
    assert tokenize("vitamin D") == ["vitamin", "d"]  # single letters are not stop words
    assert tokenize("") == [] and tokenize("the of and") == []


def test_tokens_with_digits_are_not_stemmed_and_output_is_deterministic():
    text = "H1N1 strains and IL-6 levels in 3rd trimester"
    assert tokenize(text) == tokenize(text)
    assert "h1n1" in tokenize(text) and "3rd" in tokenize(text) and "il-6" in tokenize(text)


CORPUS = [
    "Inhaled corticosteroids are the mainstay of asthma treatment.",
    "Metformin 500mg is first-line therapy for type 2 diabetes.",
    "COVID-19 vaccines reduce hospitalisation in older adults.",
    "Beta-blockers lower mortality after myocardial infarction.",
    "Asthma in children: spacers improve inhaler technique.",
]


@pytest.fixture(params=["bm25s", "memory"])
def bm25(request) -> LexicalIndex:
    return build_lexical_index(CORPUS, IndexSettings(lexical_backend=request.param))


def test_finds_the_right_document(bm25):
    scores, ids = bm25.search("metformin dose for diabetes", k=3)
    assert ids.tolist() == [1] and scores.dtype == np.float32 and ids.dtype == np.int64
    assert bm25.search("covid 19 vaccination", k=3)[1][0] == 2
    assert bm25.search("beta blocker", k=3)[1][0] == 3
    assert bm25.search("500 mg", k=3)[1][0] == 1


def test_ranks_by_score_and_only_positive_hits(bm25):
    scores, ids = bm25.search("asthma treatment", k=10)
    assert ids.tolist()[:1] == [0] and set(ids.tolist()) == {0, 4}
    assert (scores > 0).all() and (np.diff(scores) <= 0).all()
    assert len(bm25.search("asthma", k=1)[1]) == 1


def test_empty_or_unknown_query_gives_empty_arrays(bm25):
    for query in ["", "the of", "zzzunknownword"]:
        scores, ids = bm25.search(query, k=5)
        assert scores.shape == (0,) and ids.shape == (0,)


def test_allowed_restricts_rows(bm25):
    _, ids = bm25.search("asthma", k=5, allowed=np.array([4, 1]))
    assert ids.tolist() == [4]
    assert bm25.search("metformin", k=5, allowed=np.array([0, 2]))[1].size == 0


def test_term_weights_vocabulary_and_knows(bm25):
    weights = bm25.term_weights("asthma metformin zzzunknownword")
    assert set(weights) == {"asthma", "metformin"}
    assert weights["metformin"] == pytest.approx(idf(5, 1)) and weights["asthma"] == pytest.approx(idf(5, 2))
    assert bm25.knows("asthma") and not bm25.knows("zzzunknownword") and not bm25.knows("asthm")
    assert (bm25.document_frequency("asthma"), bm25.document_frequency("metformin")) == (2, 1)
    assert bm25.document_frequency("zzzunknownword") == 0 and bm25.document_frequency("") == 0
    assert {"asthma", "metformin", "covid-19", "500mg"} <= set(bm25.vocabulary())


def test_memory_backend_scores_like_bm25s():
    a = build_lexical_index(CORPUS * 3, IndexSettings(lexical_backend="bm25s"))
    b = build_lexical_index(CORPUS * 3, IndexSettings(lexical_backend="memory"))
    assert sorted(a.vocabulary()) == sorted(b.vocabulary())
    for query in ["asthma treatment", "covid-19 vaccine older adults", "beta blockers mortality", "asthma asthma"]:
        (sa, ia), (sb, ib) = a.search(query, k=8), b.search(query, k=8)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_allclose(sa, sb, rtol=1e-5)


def test_save_load_round_trip(tmp_path, bm25):
    bm25.save(tmp_path / "lexical")
    loaded = load_lexical_index(tmp_path / "lexical")
    assert type(loaded) is type(bm25) and len(loaded) == len(CORPUS) == len(bm25)
    for query in ["asthma treatment", "covid-19", "beta blockers mortality"]:
        a, b = bm25.search(query, k=5), loaded.search(query, k=5)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_allclose(a[0], b[0])
    assert loaded.term_weights("asthma") == bm25.term_weights("asthma")


def test_load_refuses_other_tokenizer_version_and_unknown_backends(tmp_path, bm25):
    bm25.save(tmp_path)
    meta = json.loads((tmp_path / "lexical.json").read_text())
    (tmp_path / "lexical.json").write_text(json.dumps({**meta, "tokenizer_version": 0}))
    with pytest.raises(TokenizerVersionError, match="tokenizer version 0"):
        load_lexical_index(tmp_path)
    (tmp_path / "lexical.json").write_text(json.dumps({**meta, "backend": "lucene"}))
    with pytest.raises(ValueError, match="unknown lexical backend 'lucene'"):
        load_lexical_index(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a saved lexical index"):
        load_lexical_index(tmp_path / "nothing")


def test_k1_and_b_come_from_settings():
    flat = BM25Index.build(CORPUS, IndexSettings(bm25_b=0.0, bm25_k1=0.5))
    assert flat.model.k1 == 0.5 and flat.model.b == 0.0
