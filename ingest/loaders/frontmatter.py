"""Markdown with a YAML front matter block: metadata from the block, the body cleaned by its profile.

The block (``---`` ... ``---`` or ``...``) is parsed with PyYAML ``safe_load``. Its DocumentMeta fields
(``title``, ``url``, ``issuer``, ``license``, ``type``, ``audience``, ``date``, ...) and a few common aliases
(``audienceLevel``, ``publisher``, ``lastReviewed``/``published``/``released`` dates) become metadata; the
cleaning profile (:mod:`ingest.loaders.profiles`) may correct them; the ``defaults`` passed in (the corpus
manifest) override both. Markdown without a front matter block goes to the plain Markdown loader unchanged.

>>> source = "---\\ntitle: Flu\\nlastReviewed: 2025-01-31\\naudienceLevel: patient\\n---\\n# Flu"
>>> front, body = split_front_matter(source)
>>> front_matter_meta(front), body
({'title': 'Flu', 'audience': 'patient', 'date': '2025-01-31', 'date_kind': 'reviewed'}, '# Flu')
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from core.models import Document
from ingest.loaders.build import make_document
from ingest.loaders.decode import decode_bytes
from ingest.loaders.errors import LoadError
from ingest.loaders.markdown import markdown_to_text
from ingest.loaders.meta import META_FIELDS, merge_meta
from ingest.loaders.profiles import clean_document
from ingest.loaders.sniff import read_bytes

_BLOCK = re.compile(r"\A---[ \t]*\n(.*?)\n?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
#: Front matter keys taken as DocumentMeta fields (``source_path`` always names the file actually read).
_DIRECT = META_FIELDS - {"source_path"}
_AUDIENCE_KEYS = ("audience", "audienceLevel", "audience_level")
_ISSUER_KEYS = ("publisher", "organization", "organisation")
#: Date keys in order of preference, with what they are the date of.
_DATE_KEYS: tuple[tuple[str, str], ...] = (
    ("lastReviewed", "reviewed"), ("last_reviewed", "reviewed"), ("reviewed", "reviewed"),
    ("dateReviewed", "reviewed"), ("released", "released"), ("dateReleased", "released"),
    ("date_released", "released"), ("published", "published"), ("datePublished", "published"),
    ("date_published", "published"),
)  # fmt: skip
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")


def has_front_matter(source: str) -> bool:
    """Whether ``source`` opens with a closed ``---`` block."""
    return bool(_BLOCK.match(source.lstrip("\ufeff").replace("\r\n", "\n")))


def split_front_matter(source: str, path: str | Path = "<string>") -> tuple[dict[str, Any], str]:
    """(front matter mapping, body); ``({}, source)`` without a block; bad YAML is a LoadError."""
    source = source.lstrip("\ufeff").replace("\r\n", "\n")
    m = _BLOCK.match(source)
    if not m:
        return {}, source
    try:
        front = yaml.safe_load(m.group(1))
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # bad timestamps raise ValueError
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LoadError(path, f"invalid YAML front matter{where}: {problem}") from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise LoadError(path, f"front matter is a {type(front).__name__}, not a mapping of 'key: value' lines")
    return {str(k): v for k, v in front.items()}, source[m.end() :]


def iso_date(value: Any) -> str | None:
    """'YYYY-MM-DD' / 'YYYY-MM' / 'YYYY' for a date-like value (US 'MM/DD/YYYY' too), else None.

    >>> iso_date(datetime.date(2025, 3, 1)), iso_date("'2024-12'"), iso_date("12/30/2025"), iso_date("soon")
    ('2025-03-01', '2024-12', '2025-12-30', None)
    """
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip().strip("'\"")
    if m := _US_DATE.match(text):
        text = f"{m.group(3)}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
    return text if _ISO_DATE.match(text) else None


def front_matter_meta(front: Mapping[str, Any]) -> dict[str, Any]:
    """DocumentMeta fields found in a front matter mapping (unknown keys are ignored)."""
    meta: dict[str, Any] = {k: v for k, v in front.items() if k in _DIRECT and v is not None}
    for key in _AUDIENCE_KEYS[1:]:  # aliases count only with a valid value; 'audience' itself is validated
        value = str(front.get(key) or "").strip().lower()
        if "audience" not in meta and value in ("clinician", "patient"):
            meta["audience"] = value
    for key in _ISSUER_KEYS:
        if "issuer" not in meta and front.get(key):
            meta["issuer"] = front[key]
    if "date" in meta:
        meta["date"] = iso_date(meta["date"]) or meta["date"]  # an invalid explicit date fails validation
        return meta
    for key, kind in _DATE_KEYS:
        if (date := iso_date(front.get(key))) is not None:
            if str(meta.get("year", date[:4])) == date[:4]:  # an explicit year that disagrees wins
                meta["date"], meta["date_kind"] = date, kind
            break
    return meta


def load_markdown_file(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """The ``markdown`` format: through the front-matter path when the file opens with ``---``."""
    source = decode_bytes(read_bytes(path), path)
    front, body = split_front_matter(source, path)
    if not front and not has_front_matter(source):
        text, headings, title = markdown_to_text(source)
        return [make_document(path, text, defaults, title=title, headings=headings)]
    cleaned = clean_document(front, body)
    text, headings, first_title = markdown_to_text(cleaned.text)
    fields = merge_meta(front_matter_meta(front), cleaned.meta, defaults)
    title = str(fields.pop("title", "") or first_title)
    return [make_document(path, text, fields, title=title, headings=headings)]
