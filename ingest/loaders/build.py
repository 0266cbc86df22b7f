"""Assemble clean text block by block while recording exact heading offsets, then wrap it in a Document.

>>> b = TextBuilder()
>>> b.add("Tuberculosis", heading=1)
>>> b.add("TB is  spread\\nthrough the air.")
>>> b.add("Cough", sep="\\n", prefix="- ")
>>> b.text
'Tuberculosis\\n\\nTB is spread\\nthrough the air.\\n- Cough'
>>> h = b.headings[0]; b.text[h.start:h.end] == h.title
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.models import Document, Heading, PageSpan
from ingest.loaders.clean import normalize_inline, normalize_text
from ingest.loaders.errors import LoadError
from ingest.loaders.meta import build_meta, doc_slug, file_stem


class TextBuilder:
    """Appends normalised blocks separated by ``sep``; headings are one-line blocks with a span."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.headings: list[Heading] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def length(self) -> int:
        return self._length

    def add(self, block: str, *, sep: str = "\n\n", prefix: str = "", heading: int | None = None) -> None:
        """Append ``prefix + block`` (normalised; skipped when empty); ``heading`` = level 1-6 for a heading."""
        block = normalize_inline(block) if heading else normalize_text(block)
        if not block:
            return
        if self._length:
            self._append(sep)
        start = self._length + len(prefix)
        self._append(prefix + block)
        if heading:
            self.headings.append(Heading(start=start, end=self._length, level=heading, title=block))

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)


def first_heading_title(headings: list[Heading]) -> str:
    """Title of the first level-1 heading, else of the first heading, else ''."""
    for h in headings:
        if h.level == 1:
            return h.title
    return headings[0].title if headings else ""


def make_document(
    path: Path,
    text: str,
    defaults: Mapping[str, Any],
    *,
    title: str = "",
    headings: list[Heading] | None = None,
    pages: list[PageSpan] | None = None,
) -> Document:
    """One Document for a whole file: doc_id = file slug, title = detected title or file stem, then ``defaults``."""
    if not text.strip():
        raise LoadError(path, "no text content")
    fields: dict[str, Any] = {
        "doc_id": doc_slug(path),
        "title": title or file_stem(path),
        "source_path": str(path),
    }
    fields.update(defaults)
    return Document(meta=build_meta(fields, path), text=text, headings=headings or [], pages=pages or [])
