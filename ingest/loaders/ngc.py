"""National Guideline Clearinghouse (NGC) XML summaries: one section per field, the field name as its heading.

An NGC summary is ``<Version><Section Name=...><Field Name=... Type=...><FieldValue Value="escaped HTML"/>``.
Each field value is unescaped by the XML parser, its mojibake repaired with ``ftfy`` (UTF-8 read as Latin-1,
"â€™" -> "’"), and turned into text by the HTML loader (:func:`ingest.loaders.html.html_to_text`). Inside a
field, paragraphs that are entirely bold become headings one level down (underlined bold ones above plain
bold ones), and ordered-list items keep their numbers ("4. The Work Group recommends ..."). Identifying fields
feed the metadata only (:mod:`ingest.loaders.ngc_meta`); administrative fields are left out of the text,
notably "Guideline Status", whose "This is the current release of the guideline" was true only in 2018.

>>> xml = ('<Version><Section Name="General"><Field Name="Guideline Title" Type="text"><FieldValue Value="'
...        '&lt;div&gt;Screening for syphilis.&lt;/div&gt;"/></Field><Field Name="Guideline Status" Type="text">'
...        '<FieldValue Value="This is the current release of the guideline."/></Field></Section><Section '
...        'Name="Recommendations"><Field Name="Major Recommendations" Type="text"><FieldValue Value="&lt;p&gt;'
...        '&lt;strong&gt;Summary&lt;/strong&gt;&lt;/p&gt;&lt;p&gt;Screen persons at risk. (&lt;strong&gt;A '
...        'recommendation&lt;/strong&gt;) Itâ€™s fast.&lt;/p&gt;"/></Field></Section></Version>')
>>> text, headings, fields = ngc_to_text(xml.encode(), "ngc-1.xml")
>>> print(text)
Major Recommendations
<BLANKLINE>
Summary
<BLANKLINE>
Screen persons at risk. (A recommendation) It’s fast.
>>> [(h.title, h.level) for h in headings], fields["Guideline Title"]
([('Major Recommendations', 1), ('Summary', 2)], 'Screening for syphilis.')
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ftfy
from selectolax.lexbor import LexborHTMLParser

from core.models import Document, Heading
from ingest.loaders import ngc_meta
from ingest.loaders.ngc_html import PERMISSION, drop_reprinted_tables, field_html
from ingest.loaders.build import make_document
from ingest.loaders.errors import LoadError
from ingest.loaders.html import html_to_text
from ingest.loaders.meta import file_stem, merge_meta
from ingest.loaders.sniff import read_bytes

#: Fields that only feed the metadata (title, issuer, date, licence, URL).
METADATA_FIELDS = frozenset(
    {"Guideline Title", "Bibliographic Source(s)", "Date Released", "Guideline Developer(s)", "Copyright Statement",
     "Guideline Availability"}
)  # fmt: skip
#: Administrative and methodological fields left out of the indexed text.
ADMIN_FIELDS = frozenset(
    {
        "Guideline Status", "NGC Status", "NGC Disclaimer", "Financial Disclosures/Conflicts of Interest",
        "Source(s) of Funding", "Guideline Committee", "Composition of Group That Authored the Guideline",
        "Availability of Companion Documents", "Patient Resources", "IOM Care Need", "IOM Domain",
        "Number of Source Documents", "Guideline Developer Comment", "Guideline Endorser(s)", "Adaptation",
        "Implementation Tools", "Description of Implementation Strategy", "Guideline Category",
        "Clinical Specialty", "Intended Users", "Methods Used to Collect/Select the Evidence",
        "Description of Methods Used to Collect/Select the Evidence",
        "Methods Used to Assess the Quality and Strength of the Evidence", "Methods Used to Analyze the Evidence",
        "Description of the Methods Used to Analyze the Evidence", "Methods Used to Formulate the Recommendations",
        "Description of Methods Used to Formulate the Recommendations", "Cost Analysis",
        "Method of Guideline Validation", "Description of Method of Guideline Validation",
        "Specific and Unambiguous Articulation of Recommendations", "External Review", "Updating",
    }
)  # fmt: skip
#: NEATS assessment fields (NGC's rating of the guideline's development process) start with these.
ADMIN_PREFIXES = ("Disclosure of ", "Disclosure and Management of ", "Guideline Development Group Composition:",
                  "Use of a Systematic Review of Evidence:", "Evidence Foundations for and Rating Strength")
_FTFY = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, explain=False)
_FORBIDDEN = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def is_indexed(name: str) -> bool:
    """Whether a field's text goes into the document (clinical content), not only metadata or nowhere."""
    return name not in METADATA_FIELDS and name not in ADMIN_FIELDS and not name.startswith(ADMIN_PREFIXES)


def load_ngc_xml(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """One Document per NGC summary; metadata from its identifying fields, then ``defaults``."""
    text, headings, fields = ngc_to_text(read_bytes(path), path)
    meta = merge_meta(ngc_metadata(fields, file_stem(path)), defaults)
    return [make_document(path, text, meta, title=str(meta.pop("title", "")), headings=headings)]


def read_fields(data: bytes, path: str | Path) -> list[tuple[str, str, list[str]]]:
    """(name, type, values) of every field in document order; values are unescaped, mojibake-free HTML.

    A field repeated in another section (NGC repeats "Bibliographic Source(s)") is kept once.
    """
    root = _parse(data, path)
    out: list[tuple[str, str, list[str]]] = []
    seen: set[str] = set()
    for field in root.iter("Field"):
        name = " ".join((field.get("Name") or "").split())
        if not name or name in seen:
            continue
        seen.add(name)
        values = [_fix(v.get("Value") or "") for v in field.iter("FieldValue")]
        out.append((name, field.get("Type") or "text", [v for v in values if v.strip()]))
    return out


def without_third_party_tables(data: bytes, path: str | Path) -> tuple[bytes, int]:
    """The summary with every table reprinted by a third party's permission cut out of its field values, and
    how many were cut; the bytes are returned unchanged when there is none (used to ship NGC files)."""
    root = _parse(data, path)
    removed = 0
    for value in root.iter("FieldValue"):
        text = value.get("Value") or ""
        if not PERMISSION.search(text):
            continue
        body = LexborHTMLParser("<body>" + text + "</body>").body
        if body is not None and (n := drop_reprinted_tables(body)):
            value.set("Value", body.inner_html)
            removed += n
    return (ET.tostring(root, encoding="unicode").encode("utf-8"), removed) if removed else (data, 0)


def _fix(value: str) -> str:
    """Mojibake repaired (ASCII text cannot hold any, so it skips the costly check)."""
    return value if value.isascii() else ftfy.fix_text(value, _FTFY)


def _parse(data: bytes, path: str | Path) -> ET.Element:
    """The root of an NGC summary; malformed XML, entity declarations or another vocabulary are LoadErrors."""
    if _FORBIDDEN.search(data[:65536]):
        raise LoadError(path, "XML with a DOCTYPE or entity declarations is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise LoadError(path, f"malformed XML ({exc})") from None
    if root.tag != "Version" or root.find(".//Field") is None:
        raise LoadError(path, f"XML root <{root.tag}> is not a National Guideline Clearinghouse summary "
                              "(<Version> with <Field> elements expected)")
    return root


def ngc_to_text(data: bytes, path: str | Path) -> tuple[str, list[Heading], dict[str, str]]:
    """(text, headings, plain text of the metadata fields) of an NGC summary.

    The third element also holds ``_urls`` (links of "Guideline Availability") and ``_third_party_tables``
    (how many tables reprinted with a third party's permission were left out).
    """
    parts: list[str] = []
    meta_text: dict[str, str] = {}
    tables = 0
    for name, kind, values in read_fields(data, path):
        if name in METADATA_FIELDS:
            meta_text[name] = "\n".join(_plain(v) for v in values)
            if name == "Guideline Availability":
                meta_text["_urls"] = " ".join(re.findall(r"""href=["'](https?://[^"'\s]+)""", " ".join(values)))
            continue
        if not is_indexed(name) or not values:
            continue
        body, dropped = field_html(kind, values)
        tables += dropped
        if body is not None:
            parts.append(f"<h1>{html.escape(name)}</h1>{body}")
    meta_text["_third_party_tables"] = str(tables)
    text, headings, _ = html_to_text("<body>" + "".join(parts) + "</body>")
    if not text.strip():
        raise LoadError(path, "NGC summary has no clinical fields with text")
    return text, headings, meta_text


def ngc_metadata(fields: Mapping[str, str], stem: str) -> dict[str, Any]:
    """DocumentMeta fields (title, issuer, date, licence, URL, status) from the metadata fields' text."""
    urls = fields.get("_urls", "").split()
    number = ngc_meta.summary_number(stem)
    meta: dict[str, Any] = {
        "type": "Guideline",
        "audience": "clinician",
        "status": ngc_meta.NGC_STATUS,
        "url": urls[0] if urls else (ngc_meta.NGC_SUMMARY_URL.format(number=number) if number else ""),
    }
    if title := ngc_meta.title_text(fields.get("Guideline Title", "")):
        meta["title"] = title
        meta["focus"] = ngc_meta.focus_text(title)
    if issuer := ngc_meta.developer_issuer(fields.get("Guideline Developer(s)", "").split("\n")):
        meta["issuer"] = issuer
    if date := ngc_meta.release_date(fields.get("Date Released", "")):
        meta["date"], meta["date_kind"] = date, "released"
    if copyright_text := fields.get("Copyright Statement", "").strip():
        meta["license"] = ngc_meta.short_copyright(copyright_text)
    return meta


def _plain(value: str) -> str:
    """Text of one HTML value (block structure collapsed to lines)."""
    return html_to_text(f"<body>{value}</body>")[0] if "<" in value or "&" in value else value.strip()
