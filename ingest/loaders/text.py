"""Plain-text loader: encoding detected (see :mod:`ingest.loaders.decode`), text normalised, obvious headings marked.

A line counts as a heading when it stands after a blank line (or opens the file), is short and is either
ALL CAPS (level 1) or a label ending with ':' of at most 8 words that is followed by a blank line (level 2).
A trailing colon stays outside the heading span.

>>> text, headings = text_with_headings("DIABETES\\n\\nType 2 is common.\\n\\nWhat to eat:\\n\\nVegetables.")
>>> [(h.title, h.level) for h in headings]
[('DIABETES', 1), ('What to eat', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.models import Document, Heading
from ingest.loaders.build import first_heading_title, make_document
from ingest.loaders.clean import normalize_text
from ingest.loaders.decode import decode_bytes
from ingest.loaders.sniff import read_bytes

_MAX_HEADING_CHARS = 80
_MAX_CAPS_WORDS = 10
_MAX_LABEL_WORDS = 8


def load_text(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """One Document; title from the first heading, else the file stem."""
    text, headings = text_with_headings(decode_bytes(read_bytes(path), path))
    return [make_document(path, text, defaults, title=first_heading_title(headings), headings=headings)]


def text_with_headings(raw: str) -> tuple[str, list[Heading]]:
    """Normalised text and the heading spans found in it."""
    text = normalize_text(raw)
    lines = text.split("\n")
    headings: list[Heading] = []
    offset = 0
    for i, line in enumerate(lines):
        after_blank = i == 0 or not lines[i - 1]
        before_blank = i + 1 < len(lines) and not lines[i + 1]
        level = _heading_level(line, before_blank) if after_blank else None
        if level:
            title = line.rstrip(":").rstrip()
            headings.append(Heading(start=offset, end=offset + len(title), level=level, title=title))
        offset += len(line) + 1
    return text, headings


def _heading_level(line: str, before_blank: bool) -> int | None:
    """1 for a short ALL CAPS line, 2 for a short 'Label:' line followed by a blank line, else None."""
    if not line or len(line) > _MAX_HEADING_CHARS or line.startswith(("-", "*", "•")):
        return None
    words = line.split()
    letters = [c for c in line if c.isalpha()]
    if (
        len(letters) >= 3
        and len(words) <= _MAX_CAPS_WORDS
        and not any(c.islower() for c in letters)
        and not line.endswith((".", ",", ";"))
    ):
        return 1
    if line.endswith(":") and before_blank and len(words) <= _MAX_LABEL_WORDS and line[0].isupper():
        return 2
    return None
