"""Reference metadata of a National Guideline Clearinghouse (NGC) summary, from its identifying fields.

Each function takes the plain text of one field (HTML already converted) and returns a DocumentMeta value.

>>> release_date("1996 (revised 2014 Dec 16)"), release_date("2016 Jun"), release_date("2014")
('2014-12-16', '2016-06', '2014')
>>> developer_issuer(["Department of Defense - Federal Government Agency [U.S.]",
...                   "Department of Veterans Affairs - Federal Government Agency [U.S.]",
...                   "Veterans Health Administration - Federal Government Agency [U.S.]"])
'Department of Veterans Affairs / Department of Defense (VA/DoD)'
>>> short_copyright("Requests regarding copyright should be sent to: L. N., Editor, Agency for Healthcare Research "
...                 "and Quality, 5600 Fishers Lane, Rockville, MD 20857; E-mail: x@ahrq.hhs.gov.")
'Requests regarding copyright should be sent to: L. N., Editor, Agency for Healthcare Research and Quality'
"""

from __future__ import annotations

import re

#: The NGC web site closed on this date; every summary is an archived copy of that time.
NGC_CLOSED = "2018-07-16"
NGC_STATUS = f"Archived National Guideline Clearinghouse summary (NGC closed {NGC_CLOSED}); may be superseded"
#: The archived NGC page of a summary, used when the summary names no URL of the guideline itself.
NGC_SUMMARY_URL = "https://www.guideline.gov/summaries/summary/{number}"

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_NGC_DATE = re.compile(r"\b(\d{4})(?:[ \t]+([A-Za-z]{3})[a-z]*\.?(?:[ \t]+(\d{1,2}))?)?\b")
#: Developer names (without NGC's " - <kind of body>" suffix) -> the name shown in references.
DEVELOPER_NAMES: dict[str, str] = {
    "U.S. Preventive Services Task Force": "U.S. Preventive Services Task Force (USPSTF)",
    "Centers for Disease Control and Prevention": "Centers for Disease Control and Prevention (CDC)",
    "National Heart, Lung, and Blood Institute (U.S.)": "National Heart, Lung, and Blood Institute (NHLBI)",
    "Community Preventive Services Task Force": "Community Preventive Services Task Force (CPSTF)",
    "Public Health Service (U.S.)": "U.S. Public Health Service",
}
_VA = "Department of Veterans Affairs"
_DOD = "Department of Defense"
_VA_DOD = "Department of Veterans Affairs / Department of Defense (VA/DoD)"
_VA_FAMILY = {_VA, _DOD, "Veterans Health Administration"}
_COPYRIGHT_CUT = re.compile(r",[ \t]*\d{2,6}[ \t]+[A-Z]|;?[ \t]*E-?mail\b|;?[ \t]*(?:Tele)?[Pp]hone\b|;?[ \t]*Fax\b")
_MAX_LICENSE_CHARS = 320


def release_date(text: str) -> str:
    """ISO date of 'Date Released' ('2016 Jun', '2013 Dec 20', '1996 (revised 2014 Dec 16)': the latest
    revision counts); '' when no year is found."""
    found = list(_NGC_DATE.finditer(text))
    if not found:
        return ""
    year, month, day = found[-1].groups()
    month_no = _MONTHS.get((month or "").lower())
    if not month_no:
        return year
    return f"{year}-{month_no:02d}" + (f"-{int(day):02d}" if day else "")


def developer_issuer(entries: list[str]) -> str:
    """The issuer shown in references for the 'Guideline Developer(s)' entries, in their order."""
    names = [re.sub(r"\s+-\s+[^-]*$", "", e.strip()) for e in entries if e.strip()]
    out: list[str] = []
    if _VA in names and _DOD in names:
        out.append(_VA_DOD)
        names = [n for n in names if n not in _VA_FAMILY]
    for name in names:
        shown = DEVELOPER_NAMES.get(name, name)
        if shown not in out:
            out.append(shown)
    return " / ".join(out)


def short_copyright(text: str) -> str:
    """The 'Copyright Statement' without postal and e-mail details, at most about 320 characters."""
    text = " ".join(text.split())
    if m := _COPYRIGHT_CUT.search(text):
        text = text[: m.start()].rstrip(" ,;:")
    if len(text) > _MAX_LICENSE_CHARS:
        text = text[:_MAX_LICENSE_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:") + "\u2026"
    return text


def summary_number(stem: str) -> str:
    """'ngc-10997' -> '10997' ('' when the name carries no number)."""
    m = re.search(r"(\d+)$", stem)
    return m.group(1) if m else ""


def title_text(text: str) -> str:
    """The guideline title without NGC's final period."""
    text = " ".join(text.split())
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


_FOCUS_NOISE = re.compile(
    r"^(?:final recommendation statement:\s*|VA/DoD clinical practice guideline for (?:the )?)|"
    r"(?::\s*(?:U\.S\. Preventive Services Task Force|USPSTF) recommendation statement|\.\s*In:.*|"
    r":\s*recommendations? of .*)$", re.I)


def focus_text(title: str) -> str:
    """The guideline's topic without series and developer boilerplate: what its passages are indexed under.

    >>> focus_text("Screening for lung cancer: U.S. Preventive Services Task Force recommendation statement")
    'Screening for lung cancer'
    >>> focus_text("VA/DoD clinical practice guideline for the diagnosis and management of hypertension")
    'diagnosis and management of hypertension'
    >>> focus_text("Health maintenance for people with sickle cell disease. In: Evidence-based management of X")
    'Health maintenance for people with sickle cell disease'
    """
    topic = _FOCUS_NOISE.sub("", title).strip()
    topic = _FOCUS_NOISE.sub("", topic).strip()
    return topic or title
