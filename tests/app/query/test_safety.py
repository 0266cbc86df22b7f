"""Emergency detection: acute first-person or witnessed situations trigger, textbook questions do not."""

from __future__ import annotations

import pytest

from app.query.safety import detect_emergency

POSITIVE = [
    ("My father has chest pain and can't breathe", "chest pain"),
    ("I took 40 tablets of paracetamol", "overdose"),
    ("My son swallowed a whole bottle of tylenol", "overdose"),
    ("I want to kill myself", "suicidal thoughts"),
    ("I don't want to live anymore", "suicidal thoughts"),
    ("my face is swelling after a bee sting and my throat is closing", "anaphylaxis"),
    ("sudden face drooping and slurred speech", "stroke signs"),
    ("My husband's speech is slurred and one side of his face is drooping", "stroke signs"),
    ("I think I'm having a heart attack", "chest pain"),
    ("my daughter drank bleach", "poisoning"),
    ("My wife collapsed and is unresponsive", "unconscious"),
    ("I cut my hand and the bleeding won't stop", "severe bleeding"),
    ("he is vomiting blood", "severe bleeding"),
    ("my baby is not breathing", "breathing difficulty"),
    ("My mother is having a seizure", "seizure"),
    ("My grandfather won\u2019t wake up", "unconscious"),
    ("I have been having suicidal thoughts", "suicidal thoughts"),
    ("my toddler swallowed a button battery", "poisoning"),
]

NEGATIVE = [
    "What is the treatment of anaphylaxis?",
    "How is stroke diagnosed?",
    "What causes chest pain?",
    "How do I manage a patient with chest pain?",
    "My patient has chest pain, which ECG findings suggest STEMI?",
    "What is the maximum dose of paracetamol?",
    "I took 2 tablets of ibuprofen, can I take more later?",
    "I took 20 mg of prednisolone this morning, what are the side effects?",
    "What are the signs of a stroke such as face drooping?",
    "How is carbon monoxide poisoning treated?",
    "What is the first-line treatment for seizures?",
    "How to assess suicidal ideation in adolescents?",
    "How is heavy menstrual bleeding treated?",
    "What causes shortness of breath in heart failure?",
    "My father had a stroke last year; what rehabilitation helps?",
    "How is anaphylactic shock managed in the emergency department?",
    "What is the dose of aspirin after a heart attack?",
    "How do I assess suicidal ideation?",
    "What treatments do we have for chest pain?",
    "",
]


@pytest.mark.parametrize(("text", "category"), POSITIVE)
def test_acute_situations_trigger_with_their_category(text: str, category: str) -> None:
    assert detect_emergency(text) == category


@pytest.mark.parametrize("text", NEGATIVE)
def test_textbook_and_clinician_questions_do_not_trigger(text: str) -> None:
    assert detect_emergency(text) is None


def test_detection_is_case_insensitive() -> None:
    assert detect_emergency("I WANT TO KILL MYSELF") == "suicidal thoughts"
    assert detect_emergency("MY THROAT IS CLOSING") == "anaphylaxis"
