"""Emergency detection: does a question describe an acute emergency happening to someone now?

Each category has *acute* patterns that are emergencies on their own ("I want to kill myself", "my throat is
closing") and *symptom* patterns that count only with a person they happen to ("my father has chest pain",
"she is vomiting blood") or an acute cue ("right now", "suddenly"). Textbook questions ("What is the treatment
of anaphylaxis?", "How do I manage chest pain in a patient?") name conditions without such a person, so they
do not trigger. The notice shown to the user is ``core.contracts.EMERGENCY_NOTICE``.

>>> detect_emergency("My father has chest pain and can't breathe")
'chest pain'
>>> detect_emergency("How is stroke diagnosed?") is None
True
"""

from __future__ import annotations

import re
from typing import NamedTuple

_F = re.IGNORECASE


class _Category(NamedTuple):
    name: str
    acute: re.Pattern[str] | None
    symptom: re.Pattern[str] | None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), _F)


#: Someone the symptom is happening to: "I have", "my son is", "she just", "my chest"... but not "my patient".
_PERSON = _rx(
    r"\b(?:i|he|she|they|someone|somebody|(?:my|our)\s+(?!patients?\b|doctors?\b)\w+)\s+(?:\w+\s+)?"
    r"(?:have|has|had|having|am|is|are|was|were|feel|feels|felt|keeps?|started|just|suddenly|can'?t|cannot|"
    r"won'?t|got|took|swallowed|drank|ate)\b",
    r"\b(?:i'm|im|i've|he's|she's|they're)\b", r"\b(?:my|our)\s+(?!patient|doctor)\w+'s\b",
    r"\bmy\s+(?:chest|throat|face|lips?|tongue|heart|head|arm|leg|speech|breathing|vision|mouth)\b",
)
_ACUTE_CUE = _rx(r"\bright now\b", r"\bjust now\b", r"\bsudden(?:ly)?\b", r"\bcan'?t stop\b")
_PILLS = r"(?:pills?|tablets?|capsules?|caps|paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|sleeping pills?)"
_TOOK = r"(?:took|taken|swallowed|ate|downed|overdosed on)"

CATEGORIES: tuple[_Category, ...] = (
    _Category(
        "suicidal thoughts",
        _rx(r"\b(?:kill|hurt|harm|hang|shoot|poison)(?:ing)?\s+(?:my|him|her|them)sel(?:f|ves)\b",
            r"\bend(?:ing)?\s+(?:my|his|her)\s+(?:own\s+)?life\b", r"\b(?:commit(?:ting)?|attempt(?:ing)?)\s+suicide\b",
            r"\b(?:want|wants|wanna|going|plan(?:ning)?)\s+(?:to\s+)?die\b",
            r"\b(?:don'?t|do not)\s+want\s+to\s+(?:live|be alive)\b", r"\bbetter off dead\b",
            r"\b(?:i'?m|i am|i feel|feeling|i've been)\s+(?:\w+\s+)?suicidal\b",
            r"\bi(?:'ve| have| am|'m)?\s+(?:been\s+)?(?:having|feeling|feel|have|had|get|getting)\s+"
            r"(?:\w+\s+)?suicidal\b",
            r"\b(?:my|our)\s+\w+\s+(?:is|seems|sounds|feels|was)\s+(?:\w+\s+)?suicidal\b"),
        None,
    ),
    _Category(
        "overdose",
        _rx(rf"\b(?:i|he|she|they|we|(?:my|our)\s+\w+)\s+(?:\w+\s+){{0,2}}{_TOOK}\s+(?:\w+\s+){{0,3}}"
            rf"(?:[1-9]\d+|all|whole|entire|handful|too many|lots|bottle|dozens?)\s+(?:\w+\s+){{0,2}}{_PILLS}",
            r"\b(?:i|he|she|they|(?:my|our)\s+\w+)\s+(?:\w+\s+)?(?:overdosed|took an overdose|has overdosed)\b",
            r"\b(?:accidental(?:ly)?|intentional(?:ly)?)\s+overdos"),
        None,
    ),
    _Category(
        "poisoning",
        _rx(r"\b(?:swallowed|drank|drunk|ate|eaten|ingested|drinking)\s+(?:\w+\s+){0,3}(?:bleach|antifreeze|poison|"
            r"pesticide|insecticide|weed ?killer|drain cleaner|detergent pods?|dishwasher tablet|lye|"
            r"(?:button )?batter(?:y|ies)|wild mushrooms?|methanol|gasoline|petrol|kerosene|lamp oil|rat poison)"),
        _rx(r"\bcarbon monoxide\b", r"\bpoisoned\b"),
    ),
    _Category(
        "anaphylaxis",
        _rx(r"\bthroat\s+(?:is\s+|feels\s+)?(?:closing|swelling|tightening|closing up)\b",
            r"\b(?:lips?|tongue|face|throat|mouth)\s+(?:is|are)\s+(?:swelling|swollen|puffing)\b[^.?!]*"
            r"\b(?:sting|stung|bite|ate|eating|peanuts?|nuts?|allerg\w*|breath\w*|throat)\b",
            r"\b(?:going into|having|in)\s+anaphyla(?:xis|ctic shock)\b"),
        _rx(r"\banaphyla(?:xis|ctic)\b", r"\bsevere allergic reaction\b"),
    ),
    _Category(
        "stroke signs",
        _rx(r"\b(?:is|am|i'?m|be|he's|she's)\s+having\s+a\s+stroke\b", r"\bsudden(?:ly)?\b[^.?!]{0,40}"
            r"(?:face\s+(?:is\s+)?droop|facial droop|drooping|slurr|numb(?:ness)?\s+(?:on|in)\s+one\s+side|"
            r"weak(?:ness)?\s+(?:on|in)\s+one\s+side|can'?t (?:speak|talk|lift)|paraly)"),
        _rx(r"\bface\s+(?:is\s+)?droop\w*", r"\b(?:facial|face) droop\w*", r"\bslurr(?:ed|ing)\s+(?:speech|words)\b",
            r"\bspeech is slurred\b", r"\bone side of (?:my|his|her|their|the) (?:body|face)\b",
            r"\bworst headache of (?:my|his|her|their) life\b"),
    ),
    _Category(
        "chest pain",
        _rx(r"\b(?:is|am|i'?m|be|he's|she's)\s+having\s+a\s+heart attack\b"),
        _rx(r"\bchest\s+(?:pain|pains|tightness|pressure|hurts?)\b", r"\bpain in (?:my|his|her|their) chest\b",
            r"\bcrushing pain\b"),
    ),
    _Category(
        "severe bleeding",
        _rx(r"\bbleeding (?:won'?t|will not|doesn'?t|does not|that won'?t) stop\b",
            r"\b(?:can'?t|cannot) stop (?:the )?bleeding\b", r"\bspurting blood\b"),
        _rx(r"\b(?:vomiting|coughing|throwing up|spitting)\s+(?:up\s+)?(?:a lot of\s+)?blood\b",
            r"\bbleeding (?:heavily|a lot|badly|profusely)\b", r"\blosing a lot of blood\b",
            r"\b(?:heavy|severe|massive) bleeding\b"),
    ),
    _Category(
        "breathing difficulty",
        _rx(r"\b(?:can'?t|cannot|can not|unable to)\s+breathe?\b", r"\b(?:stopped|not|isn'?t|is not)\s+breathing\b",
            r"\b(?:lips|face) (?:are |is )?(?:turning )?blue\b"),
        _rx(r"\b(?:struggling|hard|difficult|difficulty|trouble)\s+(?:to\s+)?breath(?:e|ing)\b", r"\bgasping\b",
            r"\bchoking\b", r"\bshort(?:ness)? of breath\b"),
    ),
    _Category(
        "seizure",
        _rx(r"\bseizure (?:won'?t|will not|that won'?t|is not) stop", r"\b(?:seizing|convulsing)\b(?! disorder)"),
        _rx(r"\bhaving (?:a )?(?:seizure|fit|convulsion)s?\b", r"\bseizure (?:for|lasting)\b"),
    ),
    _Category(
        "unconscious",
        _rx(r"\b(?:won'?t|will not|can'?t|cannot|not) wak(?:e|ing) (?:up|him|her|them)\b", r"\bunresponsive\b",
            r"\b(?:is|was|went|lying|found (?:him|her|them))\s+unconscious\b"),
        _rx(r"\bpassed out\b", r"\bcollapsed\b", r"\bunconscious\b", r"\bfainted\b"),
    ),
)


def detect_emergency(text: str) -> str | None:
    """The emergency category named by ``text`` (e.g. ``"overdose"``), or ``None``."""
    if not text or not text.strip():
        return None
    text = text.replace("\u2019", "'")
    acute_context = bool(_PERSON.search(text) or _ACUTE_CUE.search(text))
    for category in CATEGORIES:
        if category.acute is not None and category.acute.search(text):
            return category.name
        if acute_context and category.symptom is not None and category.symptom.search(text):
            return category.name
    return None
