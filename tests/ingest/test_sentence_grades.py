"""Evidence grades and recommendation strengths after a sentence's period stay with that sentence."""

from __future__ import annotations

import pytest

from ingest.sentences import split_sentences


def sents(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("first", "tag"),
    [
        ("The USPSTF recommends screening for syphilis infection in persons who are at increased risk for infection.",
         "(A recommendation)"),
        ("For patients 60 years and over, the Work Group recommends treating to a systolic blood pressure goal of "
         "<150 mmHg.", "(Strong for)"),
        ("Survival improved with radiation therapy.", "(Level of evidence: C1)"),
        ("The evidence is insufficient to assess screening.", "(I statement)"),
        ("Offer hydroxyurea to adults with three or more crises.", "(Moderate Recommendation, Low-Quality Evidence)"),
        ("Use chlorhexidine before insertion.", "(Category IB)"),
        ("Offer shared decision-making.", "(Strong For; Reviewed, New-replaced)"),
        ("Survival was similar.", "(Level of evidence: C3); (Level of evidence: B1)"),
    ],
)
def test_trailing_grade_tag_is_attached(first: str, tag: str) -> None:
    text = f"{first} {tag} The next sentence starts here."
    assert sents(text) == [f"{first} {tag}", "The next sentence starts here."]
    assert sents(f"{first} {tag}") == [f"{first} {tag}"]
    assert sents(f"{first} {tag}\n\nNext paragraph.") == [f"{first} {tag}", "Next paragraph."]


def test_other_parentheticals_still_start_their_own_sentence() -> None:
    assert sents("Rates fell. (See Table 2 for the data.) Next.") == [
        "Rates fell.", "(See Table 2 for the data.)", "Next."]
    assert sents("It was tested. (Mostly in adults.)") == ["It was tested.", "(Mostly in adults.)"]


def test_grade_tag_inside_a_sentence_is_untouched() -> None:
    text = "The DRI (Level of evidence: II) is short. It has five items."
    assert sents(text) == ["The DRI (Level of evidence: II) is short.", "It has five items."]


def test_offsets_stay_exact_with_tags() -> None:
    text = "  Screen adults. (B recommendation)   Treat them.  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Screen adults. (B recommendation)", "Treat them."]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)


def test_tag_followed_by_lower_case_is_not_taken_as_a_grade() -> None:
    assert sents("It was done. (Strong for) and more text follows.") == [
        "It was done.", "(Strong for) and more text follows."]
