"""Publisher-specific cleaning profiles for front-matter Markdown, declared in one place.

A profile says which documents it is for (:meth:`CleaningProfile.matches`), which rules clean them (run before
the generic rules of :mod:`ingest.loaders.mdclean`) and which metadata it knows better than the front matter
(e.g. NCI PDQ files say ``audienceLevel: patient`` although they are Health Professional versions).
:func:`clean_document` picks the profile and returns the cleaned Markdown, the metadata and what was removed.

>>> body = ("# Flu (PDQ®) - NCI\\n\\n# Flu (PDQ®)–Health Professional Version\\n\\n## Treatment\\n\\n"
...         "[Go to Patient Version](/types/flu/patient)\\n\\nRest helps.[[1](#cit/section_1.1)]"
...         "[[Level of evidence C1](/Common/PopUps/x)]\\n\\n## About This PDQ Summary\\n\\n"
...         "This summary is reviewed regularly and updated as necessary by the [PDQ Adult Treatment "
...         "Editorial Board](https://www.cancer.gov/x).")
>>> result = clean_document({"title": "Flu (PDQ®) - NCI", "url": "https://www.cancer.gov/types/flu/hp/x"}, body)
>>> result.profile, result.meta["issuer"], result.meta["title"]
('nci-pdq-hp', 'NCI PDQ Adult Treatment Editorial Board', 'Flu (PDQ®)–Health Professional Version')
>>> print(result.text)
# Flu (PDQ®)–Health Professional Version
<BLANKLINE>
## Treatment
<BLANKLINE>
Rest helps. (Level of evidence: C1)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ingest.loaders import mdblocks, mdclean
from ingest.loaders.mdclean import Rule


@dataclass(frozen=True)
class CleaningProfile:
    """A named set of cleaning rules and metadata fixes for one publisher's documents."""

    name: str
    description: str
    matches: Callable[[Mapping[str, Any], str], bool]
    rules: list[tuple[str, Rule]]
    #: Metadata fixes found in the raw body before cleaning (front matter and body in, fields out).
    meta: Callable[[Mapping[str, Any], str], dict[str, Any]] = lambda front, body: {}
    #: Third-party table classifier for :func:`mdblocks.drop_tables` (label or None), if the profile drops tables.
    classify_table: Callable[[str], str | None] | None = None


class Cleaned(BaseModel):
    """The outcome of :func:`clean_document`."""

    text: str = Field(description="The cleaned Markdown body.")
    profile: str = Field(description="Name of the profile that cleaned it.")
    meta: dict[str, Any] = Field(default_factory=dict, description="DocumentMeta fields the profile knows better.")
    removed: dict[str, int] = Field(default_factory=dict, description="What each rule removed or changed (counts).")


# --- NCI PDQ Health Professional summaries ------------------------------------------------------------------

PDQ_LICENSE = "Public domain (US Government work; NCI PDQ)"
PDQ_FALLBACK_ISSUER = "National Cancer Institute (NCI)"

#: Trailing or navigation sections of PDQ summaries (compared without a trailing "(MM/DD/YYYY)").
PDQ_BOILERPLATE_SECTIONS = frozenset(
    {
        "about this pdq summary", "permission to use this summary", "contact us", "latest updates to this summary",
        "latest updates to this pdq summary", "changes to this summary", "changes to this pdq summary",
        "disclaimer", "get more information from nci", "reviewers and updates", "current clinical trials",
    }
)  # fmt: skip
_DATE_SUFFIX = re.compile(r"\s*\(\d{1,2}/\d{1,2}/\d{4}\)\s*$")
_SITE_TITLE = re.compile(r"^# .*\(PDQ\u00ae?\) - NCI[ \t]*$", re.MULTILINE)
_HP_TITLE = re.compile(r"^# (.*Health Professional Version)[ \t]*$", re.MULTILINE)
_HP_URL = re.compile(r"[/-]hp[/-]")
_BOARD = re.compile(
    r"(?:reviewed regularly and updated as necessary by|written and maintained by) the \[?"
    r"(PDQ\u00ae? [^\]\n]*?Editorial Board)"
)
#: The summary's own date: "## Latest Updates to This Summary (04/15/2025)" (the front matter's ``lastReviewed``
#: is the same 2025-12-30 in every converted file, a conversion date, so it is only the fallback).
_LATEST_UPDATE = re.compile(
    r"^#{1,6}[ \t]+(?:Latest Updates|Changes) to This (?:PDQ )?Summary[ \t]*\((\d{1,2})/(\d{1,2})/(\d{4})\)",
    re.MULTILINE | re.IGNORECASE,
)
_VERSION_LINK = re.compile(r"^\[Go to (?:Patient|Health Professional) Version\]\([^)\n]*\)[ \t]*\n?", re.MULTILINE)
_LEVEL_OF_EVIDENCE = re.compile(r"[ \t]*\[\[Level of evidence:?[ \t]*([^\]\n]+?)\]\([^)\n]*\)\]")
_ENLARGE_INLINE = re.compile(r"[ \t]*\[Enlarge\]\([^)\s]*\)(?:!\[[^\]\n]*\]\([^)\s]*(?:[ \t]+\"[^\"\n]*\")?\))?")
_ENLARGE_CELL = re.compile(r"\[Enlarge\]\([^)\s]*\)[^|\n]*")
_FIGURE = re.compile(r"Figure \d+[A-Za-z]?\.\s")
_CREDIT_START = re.compile(r"(?:Adapted|Reprinted|Reproduced|Modified|Credit|Source|Courtesy|Copyright|\u00a9)", re.I)
_CREDIT_ANY = re.compile(r"with permission|Copyright|\u00a9|All rights reserved|Credit:", re.I)
_UPDATED_TEMPLATE = re.compile(r"^Updated:?[ \t]*<?MM/DD/YYYY>?\.?[ \t]*\n?", re.MULTILINE | re.IGNORECASE)
#: A table footnote naming AJCC as its source: "Reprinted with permission from AJCC: ...", "Adapted from AJCC: ...",
#: or a chapter cited as "X. In: Amin MB, ..., eds.: AJCC Cancer Staging Manual" (the Lugano classification).
_AJCC_SOURCE = re.compile(r"(?:Reprinted|Adapted)(?: with permission)? from (?:the )?AJCC|"
                          r"In: [^|\n]{0,120}?eds\.:?[ \t]*\*?AJCC Cancer Staging Manual")
_THIRD_PARTY_SOURCE = re.compile(r"Reprinted (?:with permission )?from|with permission (?:from|of)|Copyright|\u00a9|"
                                 r"All rights reserved", re.IGNORECASE)


def pdq_matches(front: Mapping[str, Any], body: str) -> bool:
    """NCI PDQ Health Professional summaries: a cancer.gov URL, a "(PDQ®)" title, and a Health Professional
    heading, title or URL (Patient versions are written for patients and are not cleaned as clinician texts)."""
    url, title = str(front.get("url") or ""), str(front.get("title") or "")
    professional = "Health Professional Version" in title or bool(_HP_TITLE.search(body) or _HP_URL.search(url))
    return "cancer.gov/" in url and "(PDQ" in title and professional


def pdq_meta(front: Mapping[str, Any], body: str) -> dict[str, Any]:
    """Clinician audience, evidence-summary type, NCI licence, the Health Professional title, the board and the
    date of the summary's latest update."""
    meta: dict[str, Any] = {"audience": "clinician", "type": "Evidence summary", "license": PDQ_LICENSE, "status": ""}
    if m := _HP_TITLE.search(body):
        meta["title"] = m.group(1).strip()
    elif front.get("title"):
        meta["title"] = re.sub(r"\s+-\s+NCI\s*$", "", str(front["title"]))
    if m := _LATEST_UPDATE.search(body):
        meta["date"] = f"{m.group(3)}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
        meta["date_kind"] = "reviewed"
    if meta.get("title"):
        meta["focus"] = pdq_focus(meta["title"])
    if m := _BOARD.search(body):
        meta["issuer"] = "NCI " + m.group(1).replace("\u00ae", "")
    elif not front.get("issuer"):
        meta["issuer"] = PDQ_FALLBACK_ISSUER
    return meta


def pdq_focus(title: str) -> str:
    """The summary's topic without the PDQ label: what its passages are embedded and indexed under.

    >>> pdq_focus("Wilms Tumor and Other Childhood Kidney Tumors Treatment (PDQ®)–Health Professional Version")
    'Wilms Tumor and Other Childhood Kidney Tumors Treatment'
    """
    topic = re.sub(r"\s*\(PDQ\u00ae?\)\s*(?:[\u2013\u2014-]\s*Health Professional Version)?\s*$", "", title)
    return topic.strip() or title


def classify_pdq_table(table: str) -> str | None:
    """'ajcc' for AJCC staging material, 'third_party' for other tables reprinted with permission, else None."""
    if _AJCC_SOURCE.search(table):
        return "ajcc"
    if _THIRD_PARTY_SOURCE.search(table):
        return "third_party"
    return None


def _subn(pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str]) -> Rule:
    def rule(source: str) -> tuple[str, int]:
        return pattern.subn(repl, source)

    return rule


def _level_of_evidence(m: re.Match[str]) -> str:
    return f" (Level of evidence: {m.group(1).strip()})"


def _drop_enlarge(source: str) -> tuple[str, int]:
    """Remove "[Enlarge](...)![...](...)" images; in a table cell also the image description after them."""
    out, count = [], 0
    for line in source.split("\n"):
        pattern = _ENLARGE_CELL if line.lstrip().startswith("|") else _ENLARGE_INLINE
        line, n = pattern.subn("", line)
        count += n
        if not (n and not line.strip()):
            out.append(line)
    return "\n".join(out), count


def _is_credit(paragraph: str) -> bool:
    """A figure's credit or a wrapped tail of its caption (publisher, copyright, 'Credit:' lines)."""
    if len(paragraph) > 700:
        return False
    start = paragraph.lstrip()
    return bool(_CREDIT_START.match(start) or _CREDIT_ANY.search(paragraph)) or (
        len(paragraph) < 200 and start[:1].islower()
    )


def _drop_figures(source: str) -> tuple[str, int]:
    return mdblocks.drop_paragraphs(source, lambda p: bool(_FIGURE.match(p)), _is_credit)


def _drop_boilerplate(source: str) -> tuple[str, int]:
    text, dropped = mdblocks.drop_sections(
        source, lambda title: _DATE_SUFFIX.sub("", title).lower() in PDQ_BOILERPLATE_SECTIONS
    )
    return text, len(dropped)


def _drop_third_party_tables(source: str) -> tuple[str, int]:
    text, counts = mdblocks.drop_tables(source, classify_pdq_table)
    return text, sum(counts.values())


NCI_PDQ_HP = CleaningProfile(
    name="nci-pdq-hp",
    description="NCI PDQ cancer information summaries, Health Professional versions (cancer.gov)",
    matches=pdq_matches,
    rules=[
        ("level_of_evidence", _subn(_LEVEL_OF_EVIDENCE, _level_of_evidence)),
        ("site_title", _subn(_SITE_TITLE, "")),
        ("version_links", _subn(_VERSION_LINK, "")),
        ("boilerplate_sections", _drop_boilerplate),
        ("images", _drop_enlarge),
        ("figure_captions", _drop_figures),
        ("third_party_tables", _drop_third_party_tables),
        ("updated_template", _subn(_UPDATED_TEMPLATE, "")),
    ],
    meta=pdq_meta,
    classify_table=classify_pdq_table,
)

GENERIC = CleaningProfile(
    name="generic", description="Any front-matter Markdown (generic rules only)", matches=lambda f, b: True, rules=[]
)

#: Profiles in the order they are tried; the last one always matches.
PROFILES: tuple[CleaningProfile, ...] = (NCI_PDQ_HP, GENERIC)


def profile_for(front: Mapping[str, Any], body: str) -> CleaningProfile:
    """The first profile that matches the document."""
    return next(p for p in PROFILES if p.matches(front, body))


def clean_document(front: Mapping[str, Any], body: str) -> Cleaned:
    """Clean a Markdown body (without its front matter) with its profile's rules, then the generic ones.

    Third-party tables are counted per kind under ``table_<label>`` (e.g. ``table_ajcc``).
    """
    profile = profile_for(front, body)
    meta = profile.meta(front, body)
    removed: Counter[str] = Counter()
    if profile.classify_table is not None:
        _, tables = mdblocks.drop_tables(body, profile.classify_table)
        removed.update({f"table_{label}": n for label, n in tables.items()})
    text, counts = mdclean.apply_rules(body, profile.rules)
    removed.update(counts)
    text, counts = mdclean.clean_generic(text)
    removed.update(counts)
    return Cleaned(text=text, profile=profile.name, meta=meta, removed=dict(removed))
