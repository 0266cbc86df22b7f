"""The consistency stage: the answer must be about the drug, population and quantity the question asks about.

Between generation and abstention, whatever generator wrote the draft. The question's entities
(:mod:`app.query.entities`) are compared with each statement and the passage it cites:

* a question naming a drug and asking for a dose: the bottom line must name that drug (any synonym) and state an
  amount; other statements that state another drug's amount are dropped;
* a question naming a drug: a bottom line naming only other drugs, from a passage that never names the asked one,
  does not fit;
* a question about a child: a statement or source about adults only does not fit, and the other way round;
* a question naming conditions (:mod:`app.query.conditions`): a bottom line whose statement, passage and source
  title name none of them does not fit; nor does one that speaks of patients with a condition the question does
  not name ("In children with SCD and a temperature >= 38.5 C..." for a febrile newborn).

When the bottom line does not fit, the best statement that does becomes the bottom line; when none does, the
draft is returned with a *gap*: the plain line the answer abstains with ("The indexed sources give no amoxicillin
dosing."). Reference numbers are renumbered by first use after any change.

>>> from app.query.entities import DrugNames, QuestionEntities
>>> names = DrugNames.from_pairs([("amoxicillin", "amoxicillin"), ("magnesium hydroxide", "magnesium hydroxide")])
>>> q = QuestionEntities(drugs=["amoxicillin"], population="child", quantity="dose")
>>> misfit(q, "Magnesium hydroxide: 400 mg/5 mL liquid: 30-60 mL/day.", "", "Constipation", names)
'drug'
>>> misfit(q, "Amoxicillin 80-90 mg/kg/day in two doses for children.", "", "Ear infections", names) is None
True
>>> gap_line(q, "drug")
'The indexed sources give no amoxicillin dosing.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from app.query.conditions import ConditionNames, distinctive_words, text_words
from app.query.entities import DrugNames, QuestionEntities, has_dose, speaks_of
from app.query.schemas import Reference, Section, Statement

_ADULT_TITLE = re.compile(r"\badults?\b", re.I)
_CHILD_TITLE = re.compile(r"\b(?:child|childhood|pediatric|paediatric|infant|adolescent)", re.I)
#: "For patients with X, ...", "In children who have X and Y": the statement is about people with X. Only near the
#: statement's start (what it is about), not a subgroup named later ("..., especially for those with ...").
_RESTRICTED = re.compile(r"\b(?:patients|children|adults|people|persons|individuals|women|men|infants|neonates|"
                         r"adolescents|those|outpatients|inpatients|veterans|survivors)\s+(?:with|who have|who had)"
                         r"\s+([^,.;:]{3,120})", re.I)
#: How far into a statement a restriction may start, in characters.
RESTRICTION_HEAD = 40
_POPULATION_WORDS = {"child": "children", "adult": "adults", "older adult": "older adults",
                     "pregnant": "pregnancy"}


@dataclass
class Checked:
    """The draft's cited parts after the check, the gap line when nothing fits, and what was checked."""

    bottom_line: Statement | None
    sections: list[Section]
    references: list[Reference]
    gap: str | None = None
    checks: list[str] = field(default_factory=list)


def misfit(q: QuestionEntities, text: str, passage: str, title: str, names: DrugNames,
           conditions: ConditionNames | None = None) -> str | None:
    """Why a statement (``text``, from ``passage`` of the source titled ``title``) does not fit the question:
    'drug', 'dose', 'population' or 'condition'; None when it fits."""
    if q.drugs:
        named = names.find(text)
        asked = set(q.drugs)
        if q.quantity == "dose":
            if not asked & set(named):
                return "drug"
            if not has_dose(text):
                return "dose"
        elif named and not asked & set(named) and not asked & set(names.find(passage)):
            return "drug"
    if q.population in ("child", "adult", "older adult"):
        child_only = speaks_of(text, "child") and not speaks_of(text, "adult")
        adult_only = speaks_of(text, "adult") and not speaks_of(text, "child")
        if q.population == "child" and (adult_only or (_ADULT_TITLE.search(title) and not _CHILD_TITLE.search(title))):
            return "population"
        if q.population != "child" and (child_only or (_CHILD_TITLE.search(title) and not _ADULT_TITLE.search(title))):
            return "population"
    if conditions is not None and other_condition(q, text, passage, title, conditions):
        return "condition"
    return None


def other_condition(q: QuestionEntities, text: str, passage: str, title: str, conditions: ConditionNames
                    ) -> list[str]:
    """The conditions that make a statement about other patients than the question's: a statement about people
    with a condition the question does not name ("for outpatients with COPD" for a pneumonia question), or -- when
    the question names conditions -- a statement naming only other conditions, from a passage and source that
    name none of the question's. Names sharing a distinctive word under any of their spellings count as the same
    ("lung adenocarcinoma" and "lung cancer"; "GERD" and "reflux disease").

    >>> names = ConditionNames.from_pairs([("pneumonia", "pneumonia"), ("copd", "copd"), ("gerd", "gerd"),
    ...     ("gastroesophageal reflux disease", "gerd"), ("sickle cell disease", "sickle cell disease"),
    ...     ("scd", "sickle cell disease"), ("asthma", "asthma")])
    >>> q = QuestionEntities(conditions=["pneumonia"], text="Which antibiotic for pneumonia?")
    >>> other_condition(q, "For outpatients with acute COPD exacerbation, a 5-day course.", "", "COPD", names)
    ['copd']
    >>> other_condition(q, "Asthma is treated with inhaled steroids.", "", "Asthma", names)
    ['asthma']
    >>> other_condition(q, "Amoxicillin is first-line for pneumonia.", "", "", names)
    []
    >>> other_condition(QuestionEntities(), "In children with SCD and a fever, give antibiotics.", "", "", names)
    ['sickle cell disease']
    >>> other_condition(QuestionEntities(text="What are the features of depression?"),
    ...                 "Depression in people with cancer is common.", "", "Depression", names)
    []
    >>> reflux = QuestionEntities(text="How many people with chronic reflux disease have Barrett esophagus?")
    >>> other_condition(reflux, "Barrett esophagus occurs in 10% of patients with GERD.", "", "", names)
    []
    """
    asked = set(q.conditions)
    question_words = text_words(q.text) | conditions.words_of(asked)

    def other(names: list[str]) -> list[str]:
        return [c for c in dict.fromkeys(names) if c not in asked and distinctive_words([c])  # not "cancer"
                and not conditions.words_of([c]) & question_words]

    head = _RESTRICTED.search(text[:RESTRICTION_HEAD + 140])
    if head is not None and head.start() <= RESTRICTION_HEAD:
        restricted = conditions.find(head.group(1))  # "children with TS and SEGAs or low-grade gliomas": any fits
        if restricted and len(other(restricted)) == len(restricted):
            return other(restricted)
    if not asked:
        return []
    named = conditions.find(text)
    source = " ".join((passage, title))
    if named and len(other(named)) == len(named) and not asked & set(conditions.find(source)) \
            and not conditions.words_of(asked) & text_words(source):
        return named
    return []


def gap_line(q: QuestionEntities, why: str) -> str:
    """What the indexed sources do not give, in one plain line."""
    drugs = ", ".join(q.drugs[:3])
    if why in ("drug", "dose") and q.quantity == "dose" and drugs:
        return f"The indexed sources give no {drugs} dosing."
    if why == "drug" and drugs:
        return f"The retrieved sources do not discuss {drugs} for this question."
    if why == "condition":
        asked = q.conditions[0] if q.conditions else "this patient's condition"
        return f"The retrieved sources do not address {asked} for this question."
    if why == "population" and q.population:
        what = {"dose": "dosing", "interval": "interval", "age": "age"}.get(q.quantity or "", "answer")
        return f"The indexed sources give no {what} for {_POPULATION_WORDS[q.population]} here."
    return "The indexed sources do not cover what the question asks for."


def check(q: QuestionEntities, bottom: Statement | None, sections: list[Section], references: list[Reference],
          passages: Mapping[str, tuple[str, str]], names: DrugNames,
          conditions: ConditionNames | None = None) -> Checked:
    """Check ``bottom`` and ``sections`` against ``q``; ``passages``: chunk id -> (chunk text, source title)."""
    if bottom is None or not (q.drugs or q.population in ("child", "adult", "older adult") or conditions):
        return Checked(bottom, sections, references)

    def why(st: Statement) -> str | None:
        text, title = passages.get(st.chunk_id, (st.text, ""))
        return misfit(q, st.text, text, title, names, conditions)

    verdicts = {id(st): why(st) for st in [bottom, *(s for sec in sections for s in sec.statements)]}

    def dropped(st: Statement) -> bool:  # another drug's amount, or another population, is never stated
        verdict = verdicts[id(st)]
        return verdict == "population" or (verdict == "drug" and q.quantity == "dose" and has_dose(st.text))

    checks = [f"drugs={','.join(q.drugs) or '-'} population={q.population or '-'} quantity={q.quantity or '-'} "
              f"conditions={','.join(q.conditions[:4]) or '-'}"]
    kept: list[Section] = []
    for sec in sections:
        fine = [st for st in sec.statements if not dropped(st)]
        checks += [f"dropped: {st.chunk_id}" for st in sec.statements if st not in fine]
        if fine:
            kept.append(sec.model_copy(update={"statements": fine}))
    reason = verdicts[id(bottom)]
    if reason is None:
        return _renumbered(bottom, kept, references, None, checks + ["bottom line fits"])
    for si, sec in enumerate(kept):
        for st in sec.statements:
            if verdicts[id(st)] is None:
                rest = [s for s in sec.statements if s is not st]
                kept = kept[:si] + ([sec.model_copy(update={"statements": rest})] if rest else []) + kept[si + 1:]
                return _renumbered(st, kept, references, None, checks + [f"bottom line ({reason}) replaced"])
    return _renumbered(None, [], references, gap_line(q, reason), checks + [f"no statement fits ({reason})"])


def _renumbered(bottom: Statement | None, sections: list[Section], references: list[Reference], gap: str | None,
                checks: list[str]) -> Checked:
    """Reference numbers by first use over the kept statements; unused references dropped."""
    new: dict[int, int] = {}
    for st in ([bottom] if bottom else []) + [s for sec in sections for s in sec.statements]:
        for n in st.citations:
            new.setdefault(n, len(new) + 1)

    def cited(st: Statement) -> Statement:
        return st.model_copy(update={"citations": sorted(new[n] for n in st.citations)})

    refs = sorted((r.model_copy(update={"n": new[r.n]}) for r in references if r.n in new), key=lambda r: r.n)
    return Checked(cited(bottom) if bottom else None,
                   [sec.model_copy(update={"statements": [cited(s) for s in sec.statements]}) for sec in sections],
                   refs, gap, checks)
