"""Typo correction against the index vocabulary: bounded edits, and ties that do not depend on vocabulary order."""

from __future__ import annotations

import random

from app.query.spelling import Speller

VOCAB = ["diarrhea", "trenaunay", "trénaunay", "take", "taken", "klippel", "asthma", "wiedemann"]


def test_corrects_within_the_allowed_edits_only():
    speller = Speller(VOCAB)
    assert speller.correct("diahrrea") == "diarrhea"  # a transposition counts as one edit
    assert speller.correct("wieddeman") == "wiedemann"  # two edits for a long word
    assert speller.correct("asthmx") == "asthma" and speller.correct("azthmxx") is None  # two edits, short word
    assert speller.correct("asthma") is None and speller.correct("zorblaxin") is None


def test_ties_are_the_same_whatever_the_vocabulary_order():
    """A lexical backend may list its vocabulary in any order (bm25s' differs between two builds of one corpus)."""
    frequency = {"trénaunay": 3, "trenaunay": 1, "take": 40, "taken": 12}.get
    answers = set()
    for seed in range(6):
        words = VOCAB[:]
        random.Random(seed).shuffle(words)
        speller = Speller(words, frequency)
        answers.add((speller.correct("tranaunay"), speller.correct("takea")))
    assert answers == {("trénaunay", "take")}  # the spelling in more documents wins
    assert Speller(list(reversed(VOCAB))).correct("tranaunay") == "trenaunay"  # no frequencies: alphabetical
