"""What kind of answer a clinician's question asks for, and which sentences give that kind of answer.

Facets (``app.query.facets``) say what a question is *about* (diagnosis, treatment...); an intent says what the answer
must *name*: the next test, the first-line treatment, the screening recommendation (who, from what age, how often,
grade), a dose, the most likely diagnosis, a stage. A sentence answers an intent when it names such a thing in a
recommending or defining way ("CT scan with contrast or MRI of abdomen and pelvis", "The USPSTF recommends annual
screening ... (B recommendation)", "0.4 to 0.8 mg of folic acid daily"); the assembler prefers those sentences,
and the bottom line must be one when any retrieved sentence is.

>>> question_intent("What is the most appropriate next diagnostic test for a child with a flank mass?")
'next_test'
>>> question_intent("Should I screen him for syphilis, and what grade does the USPSTF assign?")
'screening'
>>> answers_intent("CT scan with contrast or MRI of abdomen and pelvis is performed.", "next_test")
True
>>> answers_intent("Wilms tumor is the most common kidney tumor of childhood.", "next_test")
False
>>> answers_intent("The main drawback with abdominal MRI is that sedation is often required.", "next_test")
False
>>> modalities("The main drawback with abdominal MRI is that sedation is often required.")
['MRI']
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Intent(NamedTuple):
    question: re.Pattern[str]
    #: the sentence names an answer of this kind
    names: re.Pattern[str]
    #: the sentence recommends / defines it (needed with ``names`` unless ``names_alone``)
    role: re.Pattern[str] | None
    heading: str


_I = re.IGNORECASE
_TESTS = (r"\b(?:CT|MRI|PET(?:-CT)?|US|x-?rays?|radiograph\w*|ultrason\w+|ultrasound|sonograph\w*|mammogra\w+|"
          r"scan(?:s|ning)?|imaging|biops\w+|aspirat\w+|endoscop\w+|colonoscop\w+|cystoscop\w+|bronchoscop\w+|"
          r"cytolog\w+|assay\w*|test(?:s|ing)?|screen(?:ing)?|measure(?:ment|d)?|levels?|count|panel|"
          r"urinalysis|serum|urine|blood|tomograph\w+|magnetic resonance|echocardiogra\w+|electrocardiogra\w+|"
          r"ECG|EKG|IGRA|TST|tuberculin|HbA1c|PSA|FIT|sigmoidoscop\w+|LDCT|spirometr\w+|karyotyp\w+|sequencing)\b")
_RECOMMENDING = (r"\b(?:recommend\w*|should|preferred|prefer|is (?:often |usually |typically |routinely )?"
                 r"(?:performed|done|used|obtained|indicated|required|needed|necessary|warranted|essential|"
                 r"the (?:test|study|modality|method|procedure|imaging|treatment|standard|best))|are "
                 r"(?:performed|used|obtained|indicated|required|recommended)|definitive|confirm\w*|include[sd]? "
                 r"the following|first[- ]line|standard|of choice|next step|initial|first step|mainstay|"
                 r"is treated with|are treated with|consists? of|offer|reserved for)\b")
_TREATMENTS = (r"\b(?:therap\w+|treat\w*|surgery|surgical|resection|\w*ectomy|chemotherapy|radiation|radiotherapy|"
               r"inhibitors?|\w+(?:mab|nib|parib|platin|taxel|rubicin|cycline|prazole|statin|sartan|pril|olol|"
               r"mycin|cillin|floxacin|azole|vir|tide)\b|regimens?|transplant\w*|immunotherap\w+|hormon\w+|"
               r"antibiotic\w*|vaccin\w+|dose|doses|administ\w+|prophyla\w+|observation|watchful waiting|"
               r"active surveillance|medication|drugs?|agents?)\b")
_DOSE = r"\b\d+(?:\.\d+)?\s?(?:to|-|–)?\s?(?:\d+(?:\.\d+)?\s?)?(?:mg|mcg|μg|µg|g|mL|ml|IU|units?|Gy|mmol|mEq|MME)\b"
_SCREEN = (r"\b(?:recommends?|recommended|suggests?|concludes?)\b[^.]{0,160}\b(?:screen\w*|testing|test|"
           r"vaccin\w*|counsel\w*|supplement\w*|prophyla\w*|offer\w*)|\b(?:annual(?:ly)?|biennial|every \w+ "
           r"(?:years?|months?)|aged? \d+|\d+ (?:to|-|through) \d+ years|pack-years?)\b|\(\s*[ABCDI] "
           r"(?:recommendation|statement)\s*\)")

INTENTS: dict[str, Intent] = {
    "dose": Intent(
        re.compile(r"\b(?:what|which|the|a) (?:daily |starting |initial |usual |recommended |maximum )?"
                   r"(?:dose|dosage|dosing)\b|\bdose (?:of|range|should)\b|\bat what (?:daily )?"
                   r"(?:dose|doses|dosage)|\bhow much\b[^?]{0,40}\b(?:give|take|should|prescribe|supplement)\b|"
                   r"\bwhat (?:daily )?amount\b", _I),
        re.compile(_DOSE, _I), None, "Dose"),
    "screening": Intent(
        re.compile(r"\b(?:screen\w*|should I (?:offer|test)|from what age|at what age\b[^?]{0,40}\b(?:begin|"
                   r"start)|what grade|USPSTF\b[^?]{0,80}\b(?:recommend\w*|advise\w*|grade)|eligible|"
                   r"surveillance|how should (?:she|he|they) be followed)", _I),
        re.compile(_SCREEN, _I), None, "Screening recommendation"),
    "next_test": Intent(
        re.compile(r"\b(?:next (?:diagnostic |best |most appropriate )?(?:test|step|investigation|study|imaging)|"
                   r"(?:which|what) (?:\w+ ){0,2}(?:imaging|test|tests|investigations?|stud(?:y|ies)|scan|work-?up|"
                   r"evaluation|marker)\b|diagnostic (?:test|work-?up|evaluation|step)|work-?up|how (?:is|are|"
                   r"should) \w+(?: \w+)? (?:be )?(?:diagnosed|evaluated|staged|worked up|confirmed)|imaging "
                   r"(?:do|should|is)|to confirm|confirms? (?:the )?diagnosis|best (?:test|imaging|study))", _I),
        re.compile(_TESTS, _I), re.compile(_RECOMMENDING, _I), "Recommended tests"),
    "treatment": Intent(
        re.compile(r"\b(?:standard|first[- ]line|preferred|initial|adjuvant|definitive|best|appropriate|"
                   r"frontline|empiric)\b[^?.]{0,40}\b(?:treatment|therapy|management|regimen|agents?|drugs?|"
                   r"options?|approach|backbone|antibiotics?|method)\b|\bwhich (?:\w+ )?(?:drug|agent|agents|"
                   r"medication|medicine|chemotherapy|antibiotics?|inhibitor|regimen|therapy|class)\b|\bwhat "
                   r"(?:treatment|therapy|chemotherapy|management|agents?|antibiotics?)\b|\bhow (?:should|is|are|"
                   r"do|would) (?:I |we |you )?(?:\w+ ){0,2}(?:be )?(?:treated|managed|treat|manage)\b|\bshould "
                   r"(?:she|he|they|I|we) (?:start|receive|get|take|have)\b|\btreatment options?\b|\bwhat "
                   r"should (?:she|he|they) take\b|\bcan (?:I|she|he|we) start\b", _I),
        re.compile(_TREATMENTS, _I), re.compile(_RECOMMENDING, _I), "Recommended treatment"),
    "diagnosis": Intent(
        re.compile(r"\b(?:most likely (?:diagnosis|cause)|what is the (?:likely |most likely )?diagnosis|"
                   r"differential diagnosis|what (?:does|could) (?:this|she|he) have)\b", _I),
        re.compile(r"\b(?:most (?:common|frequent|likely)|is (?:a|an|the) \w+ (?:tumou?r|cancer|disease|"
                   r"syndrome|disorder)|characteristic|typical(?:ly)?|suggest\w*|hallmark|pathognomonic)\b", _I),
        None, "Likely diagnosis"),
    "staging": Intent(
        re.compile(r"\b(?:what stage|staging|stage (?:is|does|would)|staged)\b", _I),
        re.compile(r"\b(?:stage [IV0-4]+[ABC]?|stage \w+ (?:disease|tumou?r)|T[0-4]|N[0-3]|M[01]|staging)\b", _I),
        None, "Staging"),
}
_MODALITIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, _I if name not in ("CT", "MRI", "PET") else 0)) for name, pattern in (
        ("MRI", r"\bMRI\b|\bmagnetic resonance"), ("PET", r"\bPET\b"), ("CT", r"\bCT\b|computed tomograph"),
        ("ultrasound", r"ultrason\w+|ultrasound|sonograph\w+"), ("x-ray", r"\bx-?rays?\b|radiograph\w*"),
        ("biopsy", r"\bbiops\w+"), ("surgery", r"\bsurg\w+|resection|\w+ectomy\b"),
        ("radiation therapy", r"radiation therapy|radiotherapy"), ("chemotherapy", r"chemotherap\w+"),
    ))
#: A sentence about a drawback, a limitation or the narrower role of an option (it belongs with that option).
DRAWBACK = re.compile(r"\b(?:drawbacks?|disadvantages?|limitations?|downside|concern about|concerns? (?:is|are|with)|"
                      r"risk of|requires? (?:moderate|deep|general)? ?(?:sedation|anesthesia|anaesthesia)|"
                      r"sedation|radiation exposure|is reserved for|is unnecessary|not (?:routinely )?"
                      r"(?:recommended|necessary|needed|required)|should not|less sensitive|lower sensitivity|"
                      r"false[- ](?:positive|negative)s?|cannot|however)\b", _I)


def question_intent(question: str) -> str | None:
    """The first intent whose question cue matches, in :data:`INTENTS` order (None: no specific kind)."""
    for name, intent in INTENTS.items():
        if intent.question.search(question):
            return name
    return None


def answers_intent(sentence: str, intent: str | None) -> bool:
    """Whether ``sentence`` names an answer of the ``intent`` kind (recommending it, where that matters)."""
    if intent is None or intent not in INTENTS:
        return False
    spec = INTENTS[intent]
    if not spec.names.search(sentence) or (spec.role is not None and DRAWBACK.search(sentence)):
        return False  # a drawback or limitation of an option does not recommend it
    return spec.role is None or bool(spec.role.search(sentence))


def modalities(sentence: str) -> list[str]:
    """Named tests or treatment modalities in ``sentence``, in order of first mention."""
    found = [(m.start(), name) for name, pattern in _MODALITIES if (m := pattern.search(sentence))]
    return [name for _, name in sorted(found)]


def intent_heading(intent: str | None) -> str | None:
    return INTENTS[intent].heading if intent in INTENTS else None


#: Section headings where answers of each kind sit in guidelines and evidence summaries.
SECTION_CUES: dict[str, re.Pattern[str]] = {
    "next_test": re.compile(r"diagnos|evaluation|work-?up|staging|tests?\b|imaging|detection", _I),
    "staging": re.compile(r"stag|diagnos|evaluation", _I),
    "diagnosis": re.compile(r"diagnos|clinical (?:features|presentation)|presentation|patholog|histolog", _I),
    "treatment": re.compile(r"treatment|therap|management|options|recommendation", _I),
    "screening": re.compile(r"screening|recommendation|surveillance|testing", _I),
    "dose": re.compile(r"dos(?:e|ing|age)|administration|recommendation|treatment", _I),
}


def section_matches(section_path: list[str], intent: str | None) -> bool:
    """Whether a chunk's headings (innermost two) are where answers of the ``intent`` kind sit.

    >>> section_matches(["Wilms Tumor", "Diagnostic and Staging Evaluation for Wilms Tumor"], "next_test")
    True
    >>> section_matches(["Wilms Tumor", "Incidence of Wilms Tumor"], "next_test")
    False
    """
    cue = SECTION_CUES.get(intent or "")
    return bool(cue) and any(cue.search(h) for h in section_path[-2:])
