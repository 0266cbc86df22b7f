"""Whitespace and character normalisation shared by every loader.

``normalize_text`` keeps line structure (single newlines, at most one blank line);
``normalize_inline`` makes a one-line string (titles, headings, table cells).

>>> normalize_text("Caf\\u0065\\u0301\\u00a0 au\\tlait\\r\\n\\r\\n\\r\\n  e\\ufb03cacy\\x00 ")
'Café au lait\\n\\nefficacy'
>>> normalize_inline("  Heart\\n  failure ")
'Heart failure'
"""

from __future__ import annotations

import re
import unicodedata

# Characters mapped before anything else: exotic spaces -> " ", line separators -> "\n",
# invisible format characters dropped, typographic ligatures expanded (they break word matching).
_TRANSLATE: dict[int, str | None] = {
    **{cp: " " for cp in (0x09, 0xA0, 0x1680, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B))},
    **{cp: "\n" for cp in (0x0B, 0x0C, 0x85, 0x2028, 0x2029)},
    **{cp: None for cp in (0xAD, 0x200B, 0x2060, 0xFEFF)},
    0xFB00: "ff",
    0xFB01: "fi",
    0xFB02: "fl",
    0xFB03: "ffi",
    0xFB04: "ffl",
    0xFB05: "st",
    0xFB06: "st",
}

# C0/C1 control characters other than "\n" (tab, VT, FF and NEL are translated first).
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_SPACES_RE = re.compile(r" {2,}")
_LINE_EDGE_RE = re.compile(r" ?\n ?")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_ANY_SPACE_RE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFC, exotic spaces to " ", no control characters, single spaces, at most one blank line, stripped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).translate(_TRANSLATE)
    text = _CONTROL_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = _LINE_EDGE_RE.sub("\n", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def normalize_inline(text: str) -> str:
    """Like :func:`normalize_text` but on one line: every whitespace run becomes one space."""
    return _ANY_SPACE_RE.sub(" ", normalize_text(text)).strip()
