"""The answer is about the drug, population and quantity asked (issue 18, item 3): app.query.entities and
app.query.consistency."""

from __future__ import annotations

import pytest

from app.query.consistency import check
from app.query.entities import DrugNames, drug_names, population_of, question_entities
from app.query.schemas import Reference, Section, Statement
from core.models import DocType

NAMES = DrugNames.from_pairs([
    ("amoxicillin", "amoxicillin"), ("amoxil", "amoxicillin"), ("magnesium hydroxide", "magnesium hydroxide"),
    ("tretinoin", "tretinoin"), ("atra", "tretinoin"), ("arsenic trioxide", "arsenic trioxide"),
    ("antibiotics", "anti-bacterial agents"), ("warfarin", "warfarin"),
])


def _ref(n: int, title: str = "Source") -> Reference:
    return Reference(n=n, type=DocType.guideline, title=f"{title} {n}", chunk_id=f"c{n}", doc_id=f"d{n}", passage="p")


def _st(text: str, n: int) -> Statement:
    return Statement(text=text, citations=[n], chunk_id=f"c{n}")


def test_the_shipped_vocabulary_maps_brand_names_and_abbreviations_to_one_drug():
    names = drug_names()
    assert names.find("Tylenol or acetaminophen") == ["acetaminophen"]
    assert names.find("ATRA and arsenic trioxide") == ["tretinoin", "arsenic trioxide"]
    assert names.find("a child with a flank mass had a CT scan of the abdomen") == []
    assert names.find("antibiotics") == [] and names.find("antibiotics", classes=True)


@pytest.mark.parametrize("text, population", [
    ("a 5-year-old weighing 25 kg", "child"), ("A 34-year-old who is 18 weeks pregnant", "pregnant"),
    ("a 72-year-old man", "older adult"), ("A 52-year-old with CML", "adult"), ("an 8-month-old infant", "child"),
    ("How is Wilms tumor treated in children?", "child"), ("What is the dose for adults?", "adult"),
    ("How is asthma diagnosed?", None),
])
def test_population_of_the_question(text, population):
    assert population_of(text) == population


def test_another_drugs_dose_never_answers_a_dose_question():
    q = question_entities("What is the dose of amoxicillin in mL for a 5-year-old with otitis media?", NAMES)
    bottom = _st("Magnesium hydroxide: 400 mg/5 mL liquid: 30-60 mL/day.", 1)
    sections = [Section(heading="Dose", statements=[_st("Otitis media is an infection of the middle ear.", 2)])]
    out = check(q, bottom, sections, [_ref(1), _ref(2)], {}, NAMES)
    assert out.bottom_line is None and out.sections == [] and out.gap == "The indexed sources give no amoxicillin dosing."


def test_a_fitting_statement_is_promoted_and_references_renumbered_by_first_use():
    q = question_entities("What dose of Amoxil for a 6-year-old with otitis media?", NAMES)
    bottom = _st("Magnesium hydroxide: 400 mg/5 mL liquid: 30-60 mL/day.", 1)
    sections = [Section(heading="Dose", statements=[
        _st("Children with otitis media often recover without antibiotics.", 2),
        _st("Give 2 mg of warfarin daily.", 3),  # another drug's amount: dropped
        _st("Amoxicillin 80 to 90 mg/kg/day divided twice daily is used in children.", 4),
    ])]
    out = check(q, bottom, sections, [_ref(n) for n in (1, 2, 3, 4)], {}, NAMES)
    assert out.gap is None and out.bottom_line.text.startswith("Amoxicillin 80")
    assert out.bottom_line.citations == [1] and [r.title for r in out.references] == ["Source 4", "Source 2"]
    assert [s.text[:8] for s in out.sections[0].statements] == ["Children"]
    assert [r.n for r in out.references] == [1, 2] and out.sections[0].statements[0].citations == [2]


def test_a_source_about_adults_does_not_answer_a_question_about_a_child():
    q = question_entities("A 9-year-old with APL: what induction therapy?", NAMES)
    bottom = _st("Adults with APL receive ATRA plus arsenic trioxide.", 1)
    child = _st("ATRA plus arsenic trioxide is the induction for children with standard-risk APL.", 2)
    passages = {"c1": ("Adults with APL ...", "Adult AML Treatment"),
                "c2": ("... children ...", "Childhood Acute Promyelocytic Leukemia Treatment")}
    out = check(q, bottom, [Section(heading="Treatment", statements=[child])], [_ref(1), _ref(2)], passages, NAMES)
    assert out.bottom_line.text == child.text and out.gap is None and [r.title for r in out.references] == ["Source 2"]
    title_only = _st("Induction combines ATRA with chemotherapy.", 1)
    out = check(q, title_only, [], [_ref(1)], {"c1": ("...", "Adult Acute Myeloid Leukemia Treatment")}, NAMES)
    assert out.gap == "The indexed sources give no answer for children here."


def test_a_question_naming_a_drug_is_not_answered_about_another_drug_alone():
    q = question_entities("Should she stay on warfarin before surgery?", NAMES)
    other = _st("Amoxicillin is given before dental surgery.", 1)
    out = check(q, other, [], [_ref(1)], {"c1": ("Amoxicillin is given before dental surgery.", "Surgery")}, NAMES)
    assert out.gap is not None and "warfarin" in out.gap
    same_passage = {"c1": ("Patients on warfarin ... Amoxicillin is given before dental surgery.", "Surgery")}
    assert check(q, other, [], [_ref(1)], same_passage, NAMES).gap is None  # the passage is about warfarin too


def test_questions_without_drugs_or_population_pass_unchanged():
    q = question_entities("How is asthma diagnosed?", NAMES)
    bottom = _st("Spirometry confirms the diagnosis.", 1)
    out = check(q, bottom, [], [_ref(1)], {}, NAMES)
    assert out.bottom_line is bottom and out.checks == []
