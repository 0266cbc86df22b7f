"""Metadata helpers: file-name slugs, ``defaults`` checking, lenient field coercion into ``DocumentMeta``.

>>> slugify("CDC Opioid Guideline (2022).pdf")
'cdc-opioid-guideline-2022-pdf'
>>> doc_slug(Path("/data/cdc-opioid-prescribing-guideline-2022-mmwr.pdf"))
'cdc-opioid-prescribing-guideline-2022-mmwr'
>>> build_meta({"doc_id": "a", "title": " Flu ", "year": "2019-05", "type": "patient information"}, "x").type.value
'Patient information'
>>> build_meta({"doc_id": "a", "title": "T", "date": datetime.date(2025, 12, 30), "date_kind": "reviewed"}, "x").year
2025
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.models import DocType, DocumentMeta
from ingest.loaders.clean import normalize_inline
from ingest.loaders.errors import LoadError

#: Fields a caller may set through ``defaults`` (every DocumentMeta field).
META_FIELDS: frozenset[str] = frozenset(DocumentMeta.model_fields)

#: Extensions removed from a file name before it becomes a doc_id.
_KNOWN_SUFFIXES = {
    ".gz", ".pdf", ".html", ".htm", ".xhtml", ".shtml", ".md", ".markdown", ".mdown", ".mkd", ".mkdn",
    ".txt", ".text", ".jsonl", ".ndjson", ".json", ".xml",
}  # fmt: skip
_AUDIENCES = ("clinician", "patient")
#: Fields that travel together: a date from one source never mixes with a year or kind from another.
_DATE_FIELDS = ("date", "date_kind", "year")
_YEAR_RE = re.compile(r"^\s*(\d{4})(?:\D|$)")


def slugify(name: str) -> str:
    """Lower-case ASCII words joined by '-' ('document' if nothing is left)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "document"


def file_stem(path: Path) -> str:
    """The file name without its known extensions (``x.jsonl.gz`` -> ``x``, ``a.v2.pdf`` -> ``a.v2``)."""
    name = path.name
    for _ in range(2):
        suffix = Path(name).suffix
        if suffix.lower() in _KNOWN_SUFFIXES and len(suffix) < len(name):
            name = name[: -len(suffix)]
    return name


def doc_slug(path: Path) -> str:
    """Stable default doc_id: the slug of :func:`file_stem`."""
    return slugify(file_stem(path))


def merge_meta(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers override earlier ones; the date fields come as a unit from the last layer that has any.

    >>> merge_meta({"title": "A", "date": "2016-06", "date_kind": "released"}, {"year": 2019, "title": "B"})
    {'title': 'B', 'year': 2019}
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        if any(k in layer for k in _DATE_FIELDS):
            for k in _DATE_FIELDS:
                merged.pop(k, None)
        merged.update(layer)
    return merged


def check_defaults(defaults: Mapping[str, Any] | DocumentMeta | None) -> dict[str, Any]:
    """``defaults`` as a plain dict; unknown keys are a programming error (ValueError)."""
    if defaults is None:
        return {}
    if isinstance(defaults, DocumentMeta):
        return defaults.model_dump(exclude_unset=True)
    unknown = sorted(set(defaults) - META_FIELDS)
    if unknown:
        raise ValueError(f"unknown metadata field(s) {unknown}; allowed: {sorted(META_FIELDS)}")
    return {k: v for k, v in defaults.items() if v is not None}


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _as_year(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (m := _YEAR_RE.match(value)):
        return int(m.group(1))
    raise ValueError(f"invalid year {value!r} (expected e.g. 2019)")


def _as_date(value: Any) -> str:
    """ISO text of a date: ``datetime.date`` (YAML parses bare dates), an int year or a string."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _as_str(value)


def _as_doctype(value: Any) -> DocType:
    if isinstance(value, DocType):
        return value
    key = re.sub(r"[\s_-]+", " ", _as_str(value).lower())
    for t in DocType:
        if key in (t.value.lower(), t.name.replace("_", " ")):
            return t
    raise ValueError(f"invalid type {value!r} (expected one of {[t.value for t in DocType]})")


def _as_audience(value: Any) -> str:
    key = _as_str(value).lower()
    if key not in _AUDIENCES:
        raise ValueError(f"invalid audience {value!r} (expected one of {list(_AUDIENCES)})")
    return key


def build_meta(fields: Mapping[str, Any], path: str | Path, where: str = "") -> DocumentMeta:
    """Coerce loose values (year '2019', type 'guideline', numbers as strings) into a DocumentMeta.

    ``where`` (e.g. 'line 3') prefixes the LoadError reason when a value is invalid.
    """
    prefix = f"{where}: " if where else ""
    out: dict[str, Any] = {}
    try:
        for key, value in fields.items():
            if key in META_FIELDS and value is not None:
                out[key] = _coerce(key, value)
        if not out.get("doc_id"):
            raise ValueError("empty doc_id")
        return DocumentMeta(**out)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        detail = _validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
        raise LoadError(path, f"{prefix}{detail}") from None


def _coerce(key: str, value: Any) -> Any:
    try:
        if key == "year":
            return _as_year(value)
        if key == "type":
            return _as_doctype(value)
        if key == "audience":
            return _as_audience(value)
        if key == "date":
            return _as_date(value)
        if key == "title":
            return normalize_inline(_as_str(value))
        return _as_str(value)
    except ValueError as exc:
        raise ValueError(f"field {key!r}: {exc}") from None


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"invalid metadata {loc!r}: {first['msg']}" if loc else f"invalid metadata: {first['msg']}"
