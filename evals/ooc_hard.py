"""Hard out-of-corpus clinician questions: doses of drugs the corpus names but never doses, asked the way a
clinician asks (a child by weight, an adult, an older adult with reduced kidney function, pregnancy).

Each item is checked against the index it is built for: no sentence of any indexed chunk names the drug (any
synonym, :class:`app.query.entities.DrugNames`) together with an amount (:func:`app.query.entities.has_dose`).
Items whose drug *is* dosed somewhere are left out, so every kept item is one the corpus cannot answer; whether
the corpus mentions the drug at all is recorded (``mentioned``): those share its words and are the hardest.
The right behaviour is to abstain, or to answer with the "sources give no ... dosing" line.

>>> items = list(ooc_items([("amoxicillin", "acute otitis media")], dosed=set(), mentioned={"amoxicillin"},
...                        canonical=lambda d: d))
>>> len(items), items[0]["in_corpus"], items[0]["mentioned"]
(4, False, True)
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Iterator

from app.query.entities import DrugNames, has_dose
from index.store import ChunkStore

#: Drugs of everyday practice outside oncology (the corpus is PDQ cancer summaries, USPSTF/VA-DoD/CDC guidelines
#: and consumer pages), each with an indication a clinician would dose it for.
DRUGS: tuple[tuple[str, str], ...] = (
    ("amoxicillin", "acute otitis media"), ("azithromycin", "community-acquired pneumonia"),
    ("ceftriaxone", "bacterial meningitis"), ("vancomycin", "MRSA bacteremia"), ("cephalexin", "cellulitis"),
    ("nitrofurantoin", "uncomplicated cystitis"), ("doxycycline", "early Lyme disease"),
    ("clindamycin", "a skin abscess"), ("metronidazole", "bacterial vaginosis"),
    ("ciprofloxacin", "pyelonephritis"), ("oseltamivir", "influenza"), ("acyclovir", "herpes simplex encephalitis"),
    ("apixaban", "atrial fibrillation"), ("rivaroxaban", "deep vein thrombosis"), ("dabigatran", "atrial fibrillation"),
    ("enoxaparin", "pulmonary embolism"), ("warfarin", "a mechanical heart valve"), ("heparin", "acute coronary syndrome"),
    ("metformin", "type 2 diabetes"), ("empagliflozin", "heart failure"), ("semaglutide", "obesity"),
    ("insulin glargine", "type 1 diabetes"), ("levothyroxine", "hypothyroidism"), ("lisinopril", "hypertension"),
    ("amlodipine", "hypertension"), ("metoprolol", "rate control of atrial fibrillation"),
    ("furosemide", "acute heart failure"), ("spironolactone", "heart failure with reduced ejection fraction"),
    ("atorvastatin", "secondary prevention after myocardial infarction"), ("digoxin", "atrial fibrillation"),
    ("amiodarone", "ventricular tachycardia"), ("adenosine", "supraventricular tachycardia"),
    ("epinephrine", "anaphylaxis"), ("magnesium sulfate", "eclampsia"), ("lorazepam", "status epilepticus"),
    ("levetiracetam", "focal epilepsy"), ("valproate", "bipolar mania"), ("lithium", "bipolar disorder"),
    ("sertraline", "major depression"), ("haloperidol", "delirium"), ("methylphenidate", "ADHD"),
    ("prednisolone", "an asthma exacerbation"), ("albuterol", "an asthma exacerbation"),
    ("ibuprofen", "fever"), ("acetaminophen", "fever"), ("colchicine", "acute gout"),
    ("allopurinol", "gout prophylaxis"), ("methotrexate", "rheumatoid arthritis"),
    ("hydroxychloroquine", "systemic lupus erythematosus"), ("alteplase", "acute ischemic stroke"),
)
TEMPLATES: tuple[str, ...] = (
    "What is the dose of {drug} in mg/kg for a 4-year-old weighing 16 kg with {indication}?",
    "What is the usual adult dose of {drug} for {indication}, and how often is it given?",
    "How should the dose of {drug} be adjusted for an 80-year-old with {indication} and a creatinine clearance "
    "of 25 mL/min?",
    "Is {drug} safe at the standard dose for {indication} in a woman who is 12 weeks pregnant, and what dose "
    "should she take?",
)


def corpus_drugs(store: ChunkStore, names: DrugNames) -> tuple[set[str], set[str]]:
    """(drugs named with an amount in one sentence, drugs named anywhere) over every indexed sentence."""
    dosed: set[str] = set()
    mentioned: set[str] = set()
    for chunk in store.chunks:
        for sent in chunk.sentences:
            found = names.find(sent.text)
            if found:
                mentioned.update(found)
                if has_dose(sent.text):
                    dosed.update(found)
    return dosed, mentioned


def ooc_items(drugs: Iterable[tuple[str, str]], dosed: set[str], mentioned: set[str],
              canonical: Callable[[str], str | None]) -> Iterator[dict]:
    """clinician-qa items (``in_corpus`` false) for the drugs the corpus never doses."""
    for drug, indication in drugs:
        name = canonical(drug)
        if name is None or name in dosed:
            continue
        for template in TEMPLATES:
            question = template.format(drug=drug, indication=indication)
            yield {"id": f"oochard-{hashlib.sha1(question.encode()).hexdigest()[:8]}", "question": question,
                   "gold_doc": None, "gold_section": None, "key_facts": [], "support": None, "style": "vignette",
                   "turns": [], "in_corpus": False, "asked_drug": name, "mentioned": name in mentioned}


def build(store: ChunkStore, names: DrugNames) -> list[dict]:
    dosed, mentioned = corpus_drugs(store, names)

    def canonical(drug: str) -> str | None:
        found = names.find(drug)
        return found[0] if found else None

    return list(ooc_items(DRUGS, dosed, mentioned, canonical))
