"""Follow-up resolution with a hashed bag-of-words embedder (and one slow test with the real model)."""

from __future__ import annotations


import numpy as np
import pytest

from app.query.followup import MAX_CARRIED_TERMS, resolve_followup
from app.query.schemas import Turn

from fake_vectors import DIM, hashed_vector


class FakeEmbed:
    """Bag of words hashed into 64 dims and normalised; counts calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([hashed_vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


WILMS = [
    Turn(question="What is Wilms tumor?", cited_chunk_ids=["wilms#0", "wilms#1"]),
    Turn(question="How is it treated?", cited_chunk_ids=["wilms#3", "wilms#0"]),
]


def test_no_turns_returns_the_question_unchanged():
    embed = FakeEmbed()
    r = resolve_followup("  What is asthma? ", [], embed)
    assert (r.text, r.is_followup, r.topic_shift, r.carried_terms, r.prefer_chunk_ids, r.similarity) == (
        "What is asthma?", False, False, [], [], None)
    assert embed.calls == []


@pytest.mark.parametrize("question", ["And in adults?", "what dose?", "How is it treated?",
                                      "What about side effects?", "Is it hereditary?"])
def test_followups_carry_the_topic_and_prefer_cited_passages(question: str):
    embed = FakeEmbed()
    r = resolve_followup(question, WILMS, embed)
    assert r.is_followup and not r.topic_shift
    assert r.carried_terms == ["Wilms", "tumor"]
    assert r.text == f"{question} (Wilms tumor)"
    assert r.prefer_chunk_ids == ["wilms#3", "wilms#0", "wilms#1"]  # recent first, de-duplicated
    assert embed.calls == []  # cues decide: no embedding needed


def test_topic_shift_does_not_drag_in_the_old_topic():
    embed = FakeEmbed()
    r = resolve_followup("What are the symptoms of asthma?", WILMS, embed)
    assert r.topic_shift and not r.is_followup
    assert r.text == "What are the symptoms of asthma?" and r.carried_terms == [] and r.prefer_chunk_ids == []
    assert r.similarity is not None and r.similarity < 0.2 and len(embed.calls) == 1
    # the next follow-up is about asthma, not Wilms tumor
    turns = [*WILMS, Turn(question="What are the symptoms of asthma?", cited_chunk_ids=["asthma#2"])]
    nxt = resolve_followup("How is it treated?", turns, embed)
    assert nxt.carried_terms == ["asthma"] and nxt.prefer_chunk_ids == ["asthma#2"]


def test_leading_cue_with_a_new_word_keeps_the_topic_when_similar():
    embed = FakeEmbed()
    turns = [Turn(question="What is used for Wilms tumor?")]
    r = resolve_followup("And what is radiotherapy used for?", turns, embed)
    assert r.is_followup and not r.topic_shift and r.similarity is not None and r.similarity > 0.5
    assert r.carried_terms == ["Wilms", "tumor"] and len(embed.calls) == 1
    other = resolve_followup("And asthma?", [Turn(question="How is Wilms tumor treated?")], embed)
    assert other.topic_shift and other.text == "And asthma?"


def test_self_contained_question_on_the_same_topic_is_not_rewritten():
    r = resolve_followup("Can Wilms tumor spread to the lungs?", WILMS, FakeEmbed())
    assert not r.is_followup and not r.topic_shift and r.text == "Can Wilms tumor spread to the lungs?"
    assert r.prefer_chunk_ids[0] == "wilms#3"


def test_dummy_it_is_not_a_cue():
    embed = FakeEmbed()
    turns = [Turn(question="What is metformin used for?")]
    r = resolve_followup("Is it safe to take ibuprofen with asthma?", turns, embed)
    assert r.topic_shift and r.text == "Is it safe to take ibuprofen with asthma?"


def test_recent_turns_weigh_most_and_carried_terms_are_bounded():
    turns = [
        Turn(question="What is familial adenomatous polyposis of the colon in young relatives?"),
        Turn(question="And with aspirin chemoprevention trials in Lynch syndrome carriers?"),
    ]
    r = resolve_followup("What dose?", turns, FakeEmbed())
    assert len(r.carried_terms) == MAX_CARRIED_TERMS
    assert {"aspirin", "chemoprevention", "Lynch", "syndrome", "carriers"} <= set(r.carried_terms)
    # older terms fill what is left, in their original order
    assert r.carried_terms.index("aspirin") > r.carried_terms.index("familial")


@pytest.mark.slow
def test_real_model_separates_followups_from_topic_shifts():
    embedding = pytest.importorskip("index.embedding")
    from index.settings import EmbeddingSettings
    try:
        embedder = embedding.get_embedder(EmbeddingSettings())
    except embedding.ModelNotFoundError as exc:
        pytest.skip(str(exc))
    follow = [
        ("How is Wilms tumor treated?", "What about chemotherapy?"),
        ("What is metformin used for?", "What about vitamin B12 deficiency?"),
        ("How is COPD diagnosed?", "Is spirometry needed?"),
        ("What is metformin used for?", "Can it cause lactic acidosis?"),
    ]
    shift = [
        ("How is Wilms tumor treated?", "What about asthma?"),
        ("How is COPD diagnosed?", "What causes kidney stones?"),
        ("How is hypertension treated?", "What is the outlook for glaucoma?"),
        ("What is sickle cell disease?", "What is the treatment for migraine?"),
    ]
    for before, question in follow:
        r = resolve_followup(question, [Turn(question=before)], embedder.encode)
        assert r.is_followup and not r.topic_shift, (before, question, r.similarity)
    for before, question in shift:
        r = resolve_followup(question, [Turn(question=before)], embedder.encode)
        assert r.topic_shift and r.text == question, (before, question, r.similarity)
    cont = resolve_followup("What are the side effects of methotrexate?",
                            [Turn(question="What are the symptoms of rheumatoid arthritis?")], embedder.encode)
    assert not cont.topic_shift and not cont.is_followup


def test_a_follow_up_that_asks_for_another_kind_of_answer_does_not_prefer_the_earlier_passages():
    """'How is it treated?' after a work-up question: the work-up passages cited before answer the earlier ask, so
    they are not preferred, while the topic is still carried (issue 18, item 4)."""
    workup = [Turn(question="What imaging is needed to stage a child with a flank mass and Wilms tumor?",
                   cited_chunk_ids=["wilms#7", "wilms#8"])]
    treated = resolve_followup("How is it treated?", workup, FakeEmbed())
    assert treated.is_followup and "Wilms" in treated.carried_terms and treated.prefer_chunk_ids == []
    again = resolve_followup("And which scan comes first?", workup, FakeEmbed())
    assert again.prefer_chunk_ids == ["wilms#7", "wilms#8"]  # same kind of ask: the cited passages still lead


def test_first_line_and_next_step_are_what_is_asked_not_a_new_topic():
    turns = [Turn(question="How is chronic myeloid leukemia diagnosed?", cited_chunk_ids=["cml#1"])]
    r = resolve_followup("What is the first-line treatment?", turns, FakeEmbed())
    assert r.is_followup and not r.topic_shift and "leukemia" in r.text
    vignette = [Turn(question="A 4-year-old with a right flank mass: what is the next step?")]
    assert resolve_followup("How is it treated?", vignette, FakeEmbed()).carried_terms == ["flank", "mass"]
