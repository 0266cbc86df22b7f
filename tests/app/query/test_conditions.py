"""The answer is about the condition asked (issue 18, item 3): app.query.conditions and the condition part of
app.query.consistency."""

from __future__ import annotations

import pytest

from app.query.conditions import condition_names
from app.query.consistency import check
from app.query.entities import DrugNames, question_entities
from app.query.schemas import Reference, Section, Statement
from core.models import DocType

DRUGS = DrugNames.from_pairs([("amoxicillin", "amoxicillin")])
CAP = ("A 68-year-old with type 2 diabetes and chronic heart failure has community-acquired pneumonia and will be "
       "treated at home. Which oral antibiotic regimen covers him?")


@pytest.fixture(scope="module")
def names():
    return condition_names()


def _ref(n: int) -> Reference:
    return Reference(n=n, type=DocType.guideline, title=f"Source {n}", chunk_id=f"c{n}", doc_id=f"d{n}", passage="p")


def _st(text: str, n: int) -> Statement:
    return Statement(text=text, citations=[n], chunk_id=f"c{n}")


def test_the_shipped_vocabulary_finds_conditions_inside_longer_names_and_british_spellings(names):
    found = names.find(CAP)
    assert "pneumonia" in found and "heart failure" in found
    assert names.find("hairy cell leukaemia") == names.find("hairy cell leukemia") != []
    assert names.find("Patients with AIDS") and not names.find("She walks with two aids")


def test_a_bottom_line_about_patients_with_another_condition_is_replaced(names):
    q = question_entities(CAP, DRUGS, names)
    copd = _st("For outpatients with acute COPD exacerbation who are treated with antibiotics, a five-day course "
               "is recommended.", 1)
    fits = _st("Community-acquired pneumonia in outpatients is treated with an oral antibiotic.", 2)
    passages = {"c1": (copd.text, "COPD exacerbation guideline"), "c2": (fits.text, "Pneumonia")}
    out = check(q, copd, [Section(heading="Treatment", statements=[fits])], [_ref(1), _ref(2)], passages, DRUGS,
                names)
    assert out.bottom_line.text == fits.text and out.gap is None
    assert "bottom line (condition) replaced" in out.checks


def test_nothing_about_the_asked_condition_abstains_with_a_line_naming_it(names):
    q = question_entities("In cirrhosis with spontaneous bacterial peritonitis, what albumin regimen is given?",
                          DRUGS, names)
    other = _st("In patients with asthma, inhaled corticosteroids are given daily.", 1)
    out = check(q, other, [], [_ref(1)], {"c1": (other.text, "Asthma guideline")}, DRUGS, names)
    assert out.bottom_line is None and out.gap == "The retrieved sources do not address cirrhosis for this question."


def test_a_newborn_question_is_not_answered_from_a_statement_about_children_with_sickle_cell_disease(names):
    q = question_entities("A 21-day-old infant has a rectal temperature of 38.4 C. Which empiric antibiotics?",
                          DRUGS, names)
    scd = _st("In children with sickle cell disease and a temperature of 38.5 C, give parenteral antibiotics.", 1)
    assert check(q, scd, [], [_ref(1)], {"c1": (scd.text, "Sickle cell disease")}, DRUGS, names).bottom_line is None


@pytest.mark.parametrize("question, statement, title", [
    # the same condition under another name or a broader one of the same organ
    ("Roughly what proportion of people with chronic reflux disease have Barrett oesophagus?",
     "Barrett esophagus is found in approximately 10% of patients with GERD.", "Esophageal Cancer Screening"),
    ("After lobectomy for stage IIA lung adenocarcinoma with an EGFR deletion, what adjuvant therapy?",
     "Osimertinib improved disease-free survival after resection.", "Non-Small Cell Lung Cancer Treatment"),
    # a subgroup named late in the sentence is not what the statement is about
    ("Is screening recommended for rectal cancer?",
     "Screening is supported for all adults aged 50 years and older, especially for those with first-degree "
     "relatives with colorectal cancer.", "Rectal Cancer"),
    # a generic condition word ("cancer") restricts nothing in a cancer corpus
    ("What are the clinical features of depression?", "Depression in people with cancer is common.", "Depression"),
])
def test_statements_about_the_asked_patients_fit(names, question, statement, title):
    q = question_entities(question, DRUGS, names)
    bottom = _st(statement, 1)
    out = check(q, bottom, [], [_ref(1)], {"c1": (statement, title)}, DRUGS, names)
    assert out.bottom_line.text == statement and out.gap is None


def test_without_the_vocabulary_the_condition_check_is_off(names):
    q = question_entities(CAP, DRUGS, names)
    copd = _st("For outpatients with acute COPD exacerbation, a five-day course is recommended.", 1)
    assert check(q, copd, [], [_ref(1)], {"c1": (copd.text, "COPD")}, DRUGS, None).bottom_line.text == copd.text
