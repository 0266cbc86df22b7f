"""JSON Lines loader (``.jsonl`` / ``.jsonl.gz``): one Document per record.

Record fields: ``id`` and ``text`` (required), optional ``title``, ``issuer``, ``year``, ``type``,
``audience``, ``url``, ``license``, ``parent_id``, ``focus``, ``section``; other fields are ignored.
``doc_id`` is the record's ``id``. Metadata = file ``defaults`` overridden by the record's own fields; the
title falls back to the record's focus, then its section, then its id. A ``section`` is prepended to the
text as its own line and recorded as a level-2 Heading. Records whose text is empty are skipped (logged at
debug level). Any bad line (invalid JSON, not an object, missing id/text, duplicate id, invalid metadata)
fails the whole file with a LoadError naming the line.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from core.models import Document, Heading
from ingest.loaders.clean import normalize_inline, normalize_text
from ingest.loaders.errors import LoadError
from ingest.loaders.meta import build_meta
from ingest.loaders.sniff import open_binary

log = logging.getLogger(__name__)

_RECORD_META = ("title", "issuer", "year", "type", "audience", "url", "license", "parent_id", "focus")
_SECTION_LEVEL = 2


def load_jsonl(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """All documents of a JSONL file, in file order."""
    base = {k: v for k, v in defaults.items() if k != "doc_id"}
    base["source_path"] = str(path)
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    skipped = 0
    for number, record in _records(path):
        doc_id = _required_str(path, number, record, "id")
        if doc_id in first_line:
            raise LoadError(path, f"line {number}: duplicate id {doc_id!r} (first on line {first_line[doc_id]})")
        first_line[doc_id] = number
        doc = record_to_document(path, number, record, doc_id, base)
        if doc is None:
            skipped += 1
            continue
        docs.append(doc)
    if skipped:
        log.debug("%s: skipped %d record(s) with empty text", path, skipped)
    if not docs:
        raise LoadError(path, "no record with non-empty text")
    return docs


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line."""
    with open_binary(path) as fh:
        try:
            for number, raw in enumerate(fh, start=1):
                if number == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except UnicodeDecodeError:
                    raise LoadError(path, f"line {number}: not valid UTF-8") from None
                except ValueError as exc:
                    raise LoadError(path, f"line {number}: invalid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise LoadError(path, f"line {number}: expected a JSON object, got {type(record).__name__}")
                yield number, record
        except (OSError, EOFError, zlib.error) as exc:
            raise LoadError(path, f"corrupt gzip stream ({exc})") from None


def _required_str(path: Path, number: int, record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise LoadError(path, f"line {number}: missing {key!r}" if value is None else f"line {number}: bad {key!r}")
    return value.strip()


def record_to_document(
    path: Path, number: int, record: Mapping[str, Any], doc_id: str, base: Mapping[str, Any]
) -> Document | None:
    """The Document of one record, or None when its text is empty."""
    raw_text = record.get("text")
    if not isinstance(raw_text, str):
        reason = "missing 'text'" if raw_text is None else "'text' must be a string"
        raise LoadError(path, f"line {number}: {reason}")
    body = normalize_text(raw_text)
    if not body:
        return None
    section = record.get("section")
    section = normalize_inline(section) if isinstance(section, str) else ""
    fields = dict(base)
    fields.update({k: record[k] for k in _RECORD_META if record.get(k) is not None})
    fields["doc_id"] = doc_id
    if not normalize_inline(str(fields.get("title") or "")):
        fields["title"] = normalize_inline(str(fields.get("focus") or "")) or section or doc_id
    meta = build_meta(fields, path, where=f"line {number}")
    if not section:
        return Document(meta=meta, text=body)
    heading = Heading(start=0, end=len(section), level=_SECTION_LEVEL, title=section)
    return Document(meta=meta, text=f"{section}\n{body}", headings=[heading])
