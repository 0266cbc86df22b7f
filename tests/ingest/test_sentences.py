"""Sentence splitting on medical text: abbreviations, doses, bullets, list items, headings, offsets, speed."""

from __future__ import annotations

import random
import time

import pytest

from ingest.sentences import LONG_PIECE_WORDS, split_sentences


def sents(text: str, start: int = 0, end: int | None = None) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, start, end)]


@pytest.mark.parametrize(
    "text",
    [
        "Avoid NSAIDs, e.g. Ibuprofen and naproxen, after surgery.",
        "Some drugs (i.e. Warfarin) need monitoring.",
        "Ask Dr. Smith about the dose.",
        "Compare drug A vs. Drug B in trials.",
        "Give approx. 5 mL per dose.",
        "The rash is shown in Fig. 2 of the leaflet.",
        "See guideline No. 5 for details.",
        "The U.S. Food and Drug Administration approved it.",
        "As reported by Smith et al. The trial was small.",
        "St. John's wort interacts with many drugs.",
        "Take it at 8 a.m. Every day if possible.",
    ],
)
def test_abbreviations_do_not_end_sentences(text: str) -> None:
    assert sents(text) == [text]


def test_abbreviation_rules_still_allow_real_breaks() -> None:
    text = (
        "Is hepatitis B contagious? Yes. It spreads through blood. Vaccines protect against hepatitis B. "
        "Ask about No. 2. No. It is not."
    )
    assert sents(text) == [
        "Is hepatitis B contagious?",
        "Yes.",
        "It spreads through blood.",
        "Vaccines protect against hepatitis B.",
        "Ask about No. 2.",
        "No.",
        "It is not.",
    ]


def test_decimals_and_doses() -> None:
    text = (
        "Take 2.5 mg twice daily. Children get 0.5 mL/kg (max. 10 mL). The dose is 5 mg. "
        "Then it is halved to 2.5 mg. daily."
    )
    assert sents(text) == [
        "Take 2.5 mg twice daily.",
        "Children get 0.5 mL/kg (max. 10 mL).",
        "The dose is 5 mg.",
        "Then it is halved to 2.5 mg. daily.",
    ]


def test_line_bullets_are_items_without_their_markers() -> None:
    text = (
        "Key Points\n- Leukemia is a cancer of the blood.\n- It may affect platelets\n• Treatment works\n"
        "* Ask your doctor"
    )
    assert sents(text) == [
        "Key Points",
        "Leukemia is a cancer of the blood.",
        "It may affect platelets",
        "Treatment works",
        "Ask your doctor",
    ]


def test_inline_medquad_bullets() -> None:
    text = (
        "ALL is a type of cancer (a type of white blood cell).    - Leukemia may affect red blood cells.    - "
        "Previous chemotherapy may increase the risk.     - Tests that examine the blood are used."
    )
    assert sents(text) == [
        "ALL is a type of cancer (a type of white blood cell).",
        "Leukemia may affect red blood cells.",
        "Previous chemotherapy may increase the risk.",
        "Tests that examine the blood are used.",
    ]


def test_inline_bullets_after_colon_and_unpunctuated_items() -> None:
    text = (
        "A myeloid stem cell becomes one of three types of cells:          -  Red blood cells    -  Platelets"
        "    -  Granulocytes that fight infection.         A lymphoid stem cell becomes a lymphoblast."
    )
    assert sents(text) == [
        "A myeloid stem cell becomes one of three types of cells:",
        "Red blood cells",
        "Platelets",
        "Granulocytes that fight infection.",
        "A lymphoid stem cell becomes a lymphoblast.",
    ]


def test_a_hyphen_inside_a_sentence_is_not_a_bullet() -> None:
    text = "Standard - or low-dose radiation - is used. Doses of -5 C are cold."
    assert sents(text) == ["Standard - or low-dose radiation - is used.", "Doses of -5 C are cold."]


def test_numbered_list_items_keep_their_numbers() -> None:
    text = "Steps to follow:\n1. Wash your hands. Dry them.\n2. Put on gloves\n3) Remove the dressing"
    expected = ["Steps to follow:", "1. Wash your hands.", "Dry them.", "2. Put on gloves", "3) Remove the dressing"]
    assert sents(text) == expected
    inline = "Do two things: 1. Take the tablet. 2. Drink water."
    assert sents(inline) == ["Do two things: 1. Take the tablet.", "2. Drink water."]


def test_newlines_end_headings_but_not_wrapped_lines() -> None:
    text = (
        "Signs and symptoms\nPeople with the condition have fever.\n\nTreatment\n"
        "The patient was treated with\nMetformin and insulin by the\nHealthcare Team at the clinic."
    )
    assert sents(text) == [
        "Signs and symptoms",
        "People with the condition have fever.",
        "Treatment",
        "The patient was treated with\nMetformin and insulin by the\nHealthcare Team at the clinic.",
    ]


def test_a_wrapped_line_starting_mid_sentence_is_not_a_heading() -> None:
    text = "Hygiene matters. The 2007 CDC and HICPAC\nGuideline for Isolation was a first attempt."
    assert sents(text) == ["Hygiene matters.", "The 2007 CDC and HICPAC\nGuideline for Isolation was a first attempt."]


def test_quotes_parentheses_question_and_exclamation_marks() -> None:
    text = 'He said "stop the drug." Then he left. (See the leaflet.) Is it fatal? Yes! Call 911 now.'
    assert sents(text) == [
        'He said "stop the drug."',
        "Then he left.",
        "(See the leaflet.)",
        "Is it fatal?",
        "Yes!",
        "Call 911 now.",
    ]


def test_wide_gaps_separate_medquad_labels() -> None:
    text = "It is treated.       Radiation therapy      Radiation therapy is a cancer treatment."
    assert sents(text) == ["It is treated.", "Radiation therapy", "Radiation therapy is a cancer treatment."]


def test_very_long_sentences_are_split_at_semicolons_and_dashes() -> None:
    items = "; ".join(f"symptom number {i} in the long list" for i in range(20))
    table = " - ".join(f"Finding {i} here" for i in range(30))
    text = f"Signs include {items}. Signs and Symptoms {table} - The ontology collects frequencies."
    out = sents(text)
    assert len(out) > 4
    words = [[w for w in s.split() if w != "-"] for s in out]
    assert all(len(w) <= LONG_PIECE_WORDS for w in words)
    assert out[-1].endswith("The ontology collects frequencies.")
    assert not any(s.startswith("-") or s.startswith(";") for s in out)
    assert " ".join(w for piece in words for w in piece) == " ".join(w for w in text.split() if w != "-")


def test_offsets_are_absolute_trimmed_and_within_the_range() -> None:
    text = "PREFIX. First one here.  Second one?\n\n- Third item.  SUFFIX."
    start, end = 8, text.index("SUFFIX")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["First one here.", "Second one?", "Third item."]
    assert all(start <= s < e <= end for s, e in spans)


def test_empty_blank_and_junk_ranges_give_no_spans() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n\n  ") == []
    assert split_sentences("  -  \n * \n") == []
    assert split_sentences("Hello.", 3, 3) == []


def test_bad_range_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bad range"):
        split_sentences("abc", 2, 1)
    with pytest.raises(ValueError, match="bad range"):
        split_sentences("abc", 0, 10)


def _random_text(rng: random.Random, n: int) -> str:
    words = ["fever", "Dr.", "e.g.", "2.5", "mg.", "The", "cells", "(ALL)", "U.S.", "i.e.", "risk", "Fig.", "3"]
    seps = [" ", " ", " ", ". ", "? ", "\n", "\n\n", "    - ", " • ", ": ", "; ", ".\n"]
    return "".join(rng.choice(words) + rng.choice(seps) for _ in range(n))


def test_invariants_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(200):
        text = _random_text(rng, rng.randint(0, 80))
        spans = split_sentences(text)
        last = 0
        for s, e in spans:
            assert last <= s < e <= len(text)
            piece = text[s:e]
            assert piece == piece.strip() and any(c.isalnum() for c in piece)
            last = e


def _best_time(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def test_splitting_time_grows_linearly_with_the_text() -> None:
    """A ratio in one run, not a wall-clock limit (speed itself is measured by the ingest benchmark): 4x the text
    must take well under 16x the time (quadratic behaviour), whatever the machine's load."""
    unit = (
        "Key Points\n- Adult ALL is a type of cancer (a type of white blood cell).    - Leukemia may affect red "
        "blood cells, e.g. platelets.\n\nTake 2.5 mg daily; see Fig. 2. Is it rare? Yes. Ask Dr. Lee in the U.S. "
    )
    small, large = unit * (250_000 // len(unit)), unit * (1_000_000 // len(unit))
    assert len(split_sentences(large)) > 10_000
    ratio = _best_time(lambda: split_sentences(large)) / _best_time(lambda: split_sentences(small))
    assert ratio < 8.0, f"4x the text took {ratio:.1f}x the time"
