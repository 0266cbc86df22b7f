"""What a question is about, as the consistency check (:mod:`app.query.consistency`) compares it with an answer:
the drugs it names, the population (child, adult, older adult, pregnant) and the quantity it asks for (a dose,
an interval, an age).

Drug names come from ``corpus/vocab/drug_names.tsv.gz`` (generic and brand names and synonyms mapped to one
canonical name; see ``corpus/derive_drugs.py``), so "ATRA" and "tretinoin", "Tylenol" and "acetaminophen" are
one drug. Class words ("antibiotics", "opioids") map to a class, never to a specific drug.

>>> names = DrugNames.from_pairs([("amoxicillin", "amoxicillin"), ("atra", "tretinoin"),
...                               ("tretinoin", "tretinoin"), ("magnesium hydroxide", "magnesium hydroxide"),
...                               ("antibiotics", "anti-bacterial agents")])
>>> names.find("ATRA plus arsenic; magnesium hydroxide: 400 mg/5 mL, or antibiotics")
['tretinoin', 'magnesium hydroxide']
>>> q = question_entities("What dose of amoxicillin in mL for a 5-year-old weighing 25 kg?", names)
>>> q.drugs, q.population, q.quantity
(['amoxicillin'], 'child', 'dose')
>>> has_dose("Magnesium hydroxide: 400 mg/5 mL liquid: 30-60 mL/day")
True
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from app.query.conditions import ConditionNames
from app.query.intents import INTENTS, question_intent

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
#: Longest name looked up, in words (the vocabulary keeps names of up to 3 words).
MAX_NAME_WORDS = 3
#: Canonical names that stand for a class of drugs, not one drug (never required to match).
_CLASS = re.compile(r"\b(?:agents|drugs|vaccines|analgesics|inhibitors|antagonists|agonists|blockers|hormones|"
                    r"interferons|antibodies|steroids|compounds|preparations|products|supplements)\b|,")
_PLURAL = re.compile(r"(?<![sui])s$")
_DOSE = re.compile(INTENTS["dose"].names.pattern + r"|\b\d+(?:\.\d+)?\s?(?:mg|mcg|g|mL|units?)\s?/\s?(?:kg|m2|m²|"
                   r"day|d|dose|\d*\s?mL)\b", re.I)
_DOSE_QUESTION = re.compile(r"\b(?:dos(?:e|es|ing|age)|how many (?:mg|mL|units|tablets)|mg/kg|in mL|"
                            r"milligrams?|titrat\w*)\b", re.I)
_INTERVAL_QUESTION = re.compile(r"\bhow (?:often|frequently)\b|\b(?:what|which) (?:screening |follow-up |"
                                r"surveillance )?(?:interval|frequency)\b|\bevery how many\b", re.I)
_AGE_QUESTION = re.compile(r"\b(?:at|from|until|to) what age\b|\bwhat age\b|\bhow old\b", re.I)
_AGE = re.compile(r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b|\baged? (\d{1,3})\b|\b(\d{1,3})[- ]?(?:yo|y/o)\b", re.I)
_INFANT = re.compile(r"\b\d{1,2}[- ](?:month|week|day)s?[- ]old\b", re.I)
_CHILD = re.compile(r"\b(?:child|children|childhood|pediatric|paediatric|infants?|neonat\w*|newborns?|toddlers?|"
                    r"adolescents?|teen(?:ager)?s?|boy|girl|kids?|schoolchild\w*)\b", re.I)
_ADULT = re.compile(r"\badults?\b(?!\W+(?:and|or)\W+(?:child|children|adolescent|pediatric))", re.I)
_OLDER = re.compile(r"\b(?:older adults?|elderly|geriatric|aged (?:65|70|75) (?:years )?(?:or|and) older)\b", re.I)
_PREGNANT = re.compile(r"\bpregnan\w*\b|\b\d{1,2} weeks'? (?:of )?gestation\b|\bweeks pregnant\b", re.I)

DEFAULT_VOCABULARY = Path(__file__).resolve().parents[2] / "corpus" / "vocab" / "drug_names.tsv.gz"


class DrugNames:
    """Drug-name look-up: ``find(text)`` -> canonical names of the specific drugs ``text`` names, in order."""

    def __init__(self, variants: dict[str, str]) -> None:
        self.variants = variants

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> "DrugNames":
        return cls({v.lower(): c.lower() for v, c in pairs})

    @classmethod
    def load(cls, path: Path) -> "DrugNames":
        """The vocabulary file (``variant<TAB>canonical`` lines, gzip); FileNotFoundError names the path."""
        if not path.is_file():
            raise FileNotFoundError(f"drug-name vocabulary not found: {path} (python corpus/derive_drugs.py)")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return cls(dict(line.rstrip("\n").split("\t", 1) for line in fh if "\t" in line))

    def find(self, text: str, classes: bool = False) -> list[str]:
        """Canonical names of the drugs named in ``text`` (longest match first; classes only when asked)."""
        return list(dict.fromkeys(canonical for _, canonical in self.mentions(text, classes)))

    def mentions(self, text: str, classes: bool = False) -> list[tuple[str, str]]:
        """(spelling in ``text``, canonical name) of each drug mention, in order.

        >>> DrugNames.from_pairs([("atra", "tretinoin")]).mentions("Induction with ATRA, then ...")
        [('ATRA', 'tretinoin')]
        """
        spans = [(m.start(), m.end(), m.group(0).lower().strip("'-")) for m in _WORD.finditer(text)]
        found: list[tuple[str, str]] = []
        i = 0
        while i < len(spans):
            for n in range(min(MAX_NAME_WORDS, len(spans) - i), 0, -1):
                name = self.variants.get(" ".join(w for _, _, w in spans[i:i + n]))
                if name is not None:
                    if classes or not is_class(name):
                        found.append((text[spans[i][0]:spans[i + n - 1][1]].strip("'-"), name))
                    i += n
                    break
            else:
                i += 1
        return found


def is_class(name: str) -> bool:
    """Whether a canonical name stands for a class of drugs ("anti-bacterial agents", "progestins").

    >>> is_class("progestins"), is_class("tacrolimus"), is_class("amoxicillin")
    (True, False, False)
    """
    return bool(_CLASS.search(name) or _PLURAL.search(name))


def vocabulary_path(path: Path) -> Path:
    """``path`` made absolute; a relative one that is not there (served from another folder) is taken from the
    repository root, where ``corpus/`` lies."""
    if not path.is_absolute() and not path.is_file():
        path = DEFAULT_VOCABULARY.parents[2] / path
    return path.resolve()


@lru_cache(maxsize=4)
def drug_names(path: Path = DEFAULT_VOCABULARY) -> DrugNames:
    """The vocabulary at ``path``, loaded once per process (about 94,000 names, ~20 MB)."""
    return DrugNames.load(path)


@dataclass(frozen=True)
class QuestionEntities:
    drugs: list[str] = field(default_factory=list)
    population: str | None = None  # 'child' | 'adult' | 'older adult' | 'pregnant'
    quantity: str | None = None  # 'dose' | 'interval' | 'age'
    conditions: list[str] = field(default_factory=list)  # canonical names of the conditions the question names
    text: str = ""  # the question the entities were read from


def population_of(text: str) -> str | None:
    """The population ``text`` is about: an age ("5-year-old", "aged 70") first, then words ("children")."""
    if _PREGNANT.search(text):
        return "pregnant"
    if _INFANT.search(text):
        return "child"
    for m in _AGE.finditer(text):
        age = int(next(g for g in m.groups() if g))
        return "child" if age < 18 else "older adult" if age >= 65 else "adult"
    if _OLDER.search(text):
        return "older adult"
    child, adult = bool(_CHILD.search(text)), bool(_ADULT.search(text))
    if child != adult:
        return "child" if child else "adult"
    return None


def asked_quantity(question: str) -> str | None:
    """The quantity a question asks for: 'dose', 'interval' or 'age' (None: none of these)."""
    if question_intent(question) == "dose" or _DOSE_QUESTION.search(question):
        return "dose"
    if _INTERVAL_QUESTION.search(question):
        return "interval"
    if _AGE_QUESTION.search(question):
        return "age"
    return None


def asking_part(question: str) -> str:
    """The sentences that ask (ending in '?'; else the last one): a vignette's history ("on long-acting morphine,
    still constipated") names drugs the question is not about ("Which opioid antagonist, at what dose?").

    >>> asking_part("A 70 kg patient on morphine is constipated. Which antagonist, and at what dose?")
    'Which antagonist, and at what dose?'
    """
    parts = [p for p in _SENTENCE_END.split(question.strip()) if p.strip()]
    asking = [p for p in parts if p.rstrip().endswith("?")]
    return " ".join(asking) if asking else (parts[-1] if parts else question)


def question_entities(question: str, names: DrugNames, conditions: ConditionNames | None = None
                      ) -> QuestionEntities:
    """Drugs and quantity of the asking sentences; the population and the conditions of the whole question (a
    vignette's age and diagnosis are in its history)."""
    asking = asking_part(question)
    return QuestionEntities(names.find(asking), population_of(question), asked_quantity(asking),
                            conditions.find(question) if conditions is not None else [], question)


def has_dose(text: str) -> bool:
    """Whether ``text`` states an amount of a drug (a number with a dose unit)."""
    return bool(_DOSE.search(text))


def speaks_of(text: str, population: str) -> bool:
    """Whether ``text`` names ``population`` (children / adults / older adults / pregnancy) in words."""
    rx = {"child": _CHILD, "adult": _ADULT, "older adult": _OLDER, "pregnant": _PREGNANT}[population]
    return bool(rx.search(text))


_STAGE = re.compile(r"\bstage\s+(0|[IV]{1,4}[ABC]?\d?|[1-4][ABC]?)\b", re.I)
_ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
_RISK = re.compile(r"\b(very[- ]low|low|intermediate|standard|high|very[- ]high)[- ]risk\b", re.I)
_HISTOLOGY = re.compile(r"\b(unfavou?rable|favou?rable|anaplastic|diffuse anaplasia|focal anaplasia)\b", re.I)
_NEGATION = re.compile(r"\b(?:not|no|without|never|none|neither|nor|absent|negative)\b|n't\b", re.I)


def clinical_signature(question: str, names: DrugNames) -> tuple:
    """What changes management in a question: stages, risk groups, histology, population, drugs and negation.

    Two questions with different signatures are clinically different questions however alike they read.

    >>> names = DrugNames.from_pairs([])
    >>> clinical_signature("Treatment of stage I Wilms tumor?", names) == clinical_signature(
    ...     "treatment of Stage 1 Wilms tumour?", names)
    True
    >>> clinical_signature("Treatment of stage I Wilms tumor?", names) == clinical_signature(
    ...     "Treatment of stage IV Wilms tumor?", names)
    False
    """
    stages = sorted({_ROMAN.get(m.group(1)[:1], m.group(1)[:1]) + m.group(1)[1:].upper() if m.group(1)[:1] in _ROMAN
                     else m.group(1).upper() for m in _STAGE.finditer(question)})
    risks = sorted({m.group(1).lower().replace(" ", "-") for m in _RISK.finditer(question)})
    histology = sorted({m.group(1).lower().replace("favour", "favor") for m in _HISTOLOGY.finditer(question)})
    return (tuple(stages), tuple(risks), tuple(histology), population_of(question), tuple(sorted(names.find(question))),
            bool(_NEGATION.search(question)))
