"""Evidence grades stated by the sources: USPSTF grades, VA/DoD strength, CDC categories, PDQ levels of evidence.

A grade is a parenthetical tag the source puts after the sentence it grades ("… at increased risk for infection.
(A recommendation)"). :func:`split_grade` takes a trailing tag off a statement and returns it as a label, so the
answer shows the grade next to the statement (and on its reference) instead of as loose text.

>>> split_grade("The USPSTF recommends screening for syphilis infection in persons at increased risk. (A recommendation)",
...             "U.S. Preventive Services Task Force (USPSTF)")
('The USPSTF recommends screening for syphilis infection in persons at increased risk.', 'USPSTF grade A')
>>> split_grade("Treat to a systolic goal of <150 mmHg. (Strong for; Reviewed, New-replaced)", "VA/DoD")
('Treat to a systolic goal of <150 mmHg.', 'VA/DoD: strong for')
>>> split_grade("Five-year survival was 93%. (Level of evidence: C1)", "NCI PDQ Pediatric Treatment Editorial Board")
('Five-year survival was 93%.', 'Level of evidence C1 (PDQ)')
>>> split_grade("No tag here.", "CDC")
('No tag here.', None)
"""

from __future__ import annotations

import re

#: Short meanings of the USPSTF grades, as the USPSTF defines them in its recommendation statements.
USPSTF_GRADES: dict[str, str] = {
    "A": "recommended; high certainty that the net benefit is substantial",
    "B": "recommended; high certainty of moderate net benefit or moderate certainty of moderate-to-substantial",
    "C": "offer selectively, based on professional judgment and patient preferences; small net benefit",
    "D": "recommended against; no net benefit or harms outweigh benefits",
    "I": "insufficient evidence to assess the balance of benefits and harms",
}

_TAIL = r"\s*[.;]?\s*$"
_USPSTF = re.compile(r"[\s.;]*\(\s*(?:\*\*)?\s*(?:grade\s+)?([ABCD])\s+recommendation\s*(?:\*\*)?\s*\)" + _TAIL, re.I)
_I_STATEMENT = re.compile(r"[\s.;]*\(\s*(?:\*\*)?\s*I\s+statement\s*(?:\*\*)?\s*\)" + _TAIL, re.I)
_STRENGTH = re.compile(r"[\s.;]*\(\s*(?:\*\*)?\s*(strong|weak)\s+(for|against)\b[^()]{0,60}\)" + _TAIL, re.I)
_CDC = re.compile(r"[\s.;]*\(\s*(?:\*\*)?\s*recommendation\s+category:?\s*([AB])\s*,\s*evidence\s+type:?\s*(\d)"
                  r"\s*(?:\*\*)?\s*\)" + _TAIL, re.I)
_PDQ = re.compile(r"[\s.;]*\(\s*Level of evidence:?\s*([A-D]\d?[a-z]{0,4}|[IV]{1,4}|\d[a-z]{1,4})\s*\)" + _TAIL)


def _short_issuer(issuer: str) -> str:
    if "USPSTF" in issuer or "Preventive Services Task Force" in issuer:
        return "USPSTF"
    if "VA/DoD" in issuer or "Veterans" in issuer:
        return "VA/DoD"
    if "CDC" in issuer or "Centers for Disease Control" in issuer:
        return "CDC"
    return ""


def split_grade(text: str, issuer: str = "") -> tuple[str, str | None]:
    """``(text without its trailing grade tag, grade label)``; the label is None when there is no tag."""
    who = _short_issuer(issuer)
    if m := _USPSTF.search(text):
        label = f"{who} grade {m.group(1).upper()}" if who else f"Grade {m.group(1).upper()}"
    elif m := _I_STATEMENT.search(text):
        label = f"{who} I statement" if who else "I statement"
    elif m := _STRENGTH.search(text):
        label = f"{who or 'Recommendation'}: {m.group(1).lower()} {m.group(2).lower()}"
    elif m := _CDC.search(text):
        label = f"{who or 'CDC'} category {m.group(1).upper()}, evidence type {m.group(2)}"
    elif m := _PDQ.search(text):
        label = f"Level of evidence {m.group(1)} (PDQ)"
    else:
        return text, None
    head = text[: m.start()].rstrip()
    if head and head[-1] not in ".!?":
        head += "."
    return head, label


def grade_meaning(label: str) -> str | None:
    """A plain-words meaning for a USPSTF grade label (None for other schemes).

    >>> grade_meaning("USPSTF grade B")[:11]
    'recommended'
    """
    if m := re.fullmatch(r"USPSTF grade ([ABCD])", label):
        return USPSTF_GRADES[m.group(1)]
    if label == "USPSTF I statement":
        return USPSTF_GRADES["I"]
    return None
