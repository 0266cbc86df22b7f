"""Question facets (diagnosis, treatment, causes...) used to weight sentences and head answer sections.

>>> question_facet("What is the most appropriate next diagnostic test for a flank mass?")
'diagnosis'
>>> sentence_facet("Treatment usually includes surgery and chemotherapy.")
'treatment'
"""

from __future__ import annotations

import re
from functools import lru_cache

# facet -> (section heading, question cue pattern, sentence cue pattern). Order matters: first match wins for ties.
FACETS: dict[str, tuple[str, str, str]] = {
    "emergency": (
        "When to seek urgent care",
        r"\bemergenc|\burgent|\bwhen to (?:call|see)",
        r"\bcall 911\b|\bseek (?:immediate|urgent|emergency)|\bgo to (?:the|an) emergency|\bright away\b|"
        r"\bemergency (?:care|help|treatment|medical)",
    ),
    "diagnosis": (
        "Diagnosis and tests",
        r"diagnos|\btest(?:s|ing)?\b|\bexam|\bimaging|\bscan\b|work-?up|\bdetect|\bscreen|\bconfirm",
        r"diagnos|\btests?\b|\bimaging\b|ultrasound|\bCT\b|computed tomography|\bMRI\b|magnetic resonance|biops|"
        r"\bscan|x-ray|\bexam(?:ination)?s?\b|\bdetect|\bscreening\b|blood test|urine test|laboratory",
    ),
    "treatment": (
        "Treatment",
        r"\btreat|therap|\bmanage|\bcure|medication|\bdrugs?\b|surgery|\bdos(?:e|es|ing|age)\b|prescrib|\btake\b",
        r"\btreat|therap|surgery|surgical|chemotherapy|radiation|medication|medicine|\bdrugs?\b|\bdos(?:e|es|ing|age)\b|"
        r"\bmg\b|prescrib|transplant|\bmanag",
    ),
    "symptoms": (
        "Signs and symptoms",
        r"symptom|\bsigns?\b|\bpresent(?:s|ing|ation)?\b|\bfeel\b|\bcomplain",
        r"symptom|\bsigns?\b|\bpain\b|fever|swelling|\blump|fatigue|tired|bleeding|rash|cough",
    ),
    "causes": (
        "Causes and risk factors",
        r"\bcaus|\bwhy\b|\brisk\b|etiolog|\btrigger",
        r"\bcaus|\brisk factor|\bincrease(?:s|d)? the risk|\bexposure|\btrigger",
    ),
    "genetics": (
        "Genetics and inheritance",
        r"inherit|genetic|hereditary|\bgenes?\b|\bmutation",
        r"inherit|autosomal|\bgenes?\b|mutation|genetic|chromosom",
    ),
    "prognosis": (
        "Outlook and prognosis",
        r"outlook|prognos|surviv|life expectancy|\bchance",
        r"outlook|prognos|surviv|chance of recovery|life expectancy|\bcured?\b",
    ),
    "prevention": (
        "Prevention",
        r"prevent|\bavoid|reduce (?:the|my) risk|vaccin",
        r"prevent|vaccin|\bavoid|reduce the risk|hand hygiene|infection control",
    ),
    "frequency": (
        "How common it is",
        r"how (?:many|common)|prevalen|incidence|\bfrequen",
        r"prevalen|incidence|\b\d[\d,]* (?:in|out of) [\d,]+|\baffects? (?:about|approximately|an estimated)|"
        r"\bcommon\b|\brare\b",
    ),
    "complications": (
        "Complications",
        r"complication|side effect|adverse|long-term effect",
        r"complication|side effect|adverse|late effect|long-term effect",
    ),
    "definition": (
        "Overview",
        r"^\s*what (?:is|are)\b|\bdefin|\bmeaning\b",
        r"\bis an?\b|\bare an?\b|\brefers to\b|\bis (?:the|a) (?:most )?common",
    ),
}
GENERAL_HEADING = "Other relevant evidence"


@lru_cache(maxsize=None)
def _compiled(facet: str, which: int) -> re.Pattern[str]:
    flags = re.IGNORECASE if which == 1 else 0
    pattern = FACETS[facet][which]
    if which == 2:  # sentence cues: case-insensitive except for acronyms written in capitals
        return re.compile(pattern.replace(r"\bCT\b", r"(?-i:\bCT\b)").replace(r"\bMRI\b", r"(?-i:\bMRI\b)"), re.I)
    return re.compile(pattern, flags)


def question_facet(question: str) -> str | None:
    """The facet a question asks about; specific facets beat 'definition'."""
    hits = [f for f in FACETS if f != "definition" and _compiled(f, 1).search(question)]
    if hits:
        return hits[0]
    return "definition" if _compiled("definition", 1).search(question) else None


def sentence_facets(sentence: str) -> list[str]:
    """Every facet whose cues a sentence contains, in FACETS order."""
    return [f for f in FACETS if f != "definition" and _compiled(f, 2).search(sentence)]


def sentence_facet(sentence: str) -> str | None:
    found = sentence_facets(sentence)
    if found:
        return found[0]
    return "definition" if _compiled("definition", 2).search(sentence) else None


def heading(facet: str | None) -> str:
    return FACETS[facet][0] if facet in FACETS else GENERAL_HEADING
