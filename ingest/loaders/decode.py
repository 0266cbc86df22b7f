"""Bytes -> str with the encoding detected, never assumed.

Order: byte-order mark, strict UTF-8, BOM-less UTF-16 (NUL-byte pattern), then charset-normalizer.
charset-normalizer is unreliable on short single-byte text (it may pick a CJK codec for one 'é' in English
prose), so among its equally clean candidates we prefer the one whose decoding equals cp1252, and for
mostly-ASCII bytes we reject a non-Latin decoding when cp1252 decodes them cleanly.

>>> decode_bytes("Ménière disease".encode("latin-1"), "x.txt")
'Ménière disease'
>>> decode_bytes("Ménière".encode("utf-16"), "x.txt")
'Ménière'
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from charset_normalizer import from_bytes

from ingest.loaders.errors import LoadError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHAOS_TIE = 0.01
_MOSTLY_ASCII = 0.8


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when ``data`` starts with a Unicode byte-order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    return None


def utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when most odd/even bytes are NUL (ASCII-range UTF-16), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.7 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.7 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode_bytes(data: bytes, path: str | Path, declared: str | None = None) -> str:
    """Decode a whole text file; ``declared`` (e.g. an HTML meta charset) is tried after BOMs and UTF-8."""
    if bom := bom_encoding(data):
        codec, skip = bom
        return _strict(data[skip:], codec, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    if utf16 := utf16_without_bom(data):
        return _strict(data, utf16, path)
    if b"\x00" in data:
        raise LoadError(path, "cannot decode text (binary content: NUL bytes)")
    return _detect(data, path)


def _strict(data: bytes, codec: str, path: str | Path) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"cannot decode text as {codec} (bad byte at offset {exc.start})") from None


def _detect(data: bytes, path: str | Path) -> str:
    matches = list(from_bytes(data))
    if not matches:
        raise LoadError(path, "cannot decode text (no plausible encoding found)")
    best = matches[0]
    for m in matches:
        if m.chaos <= best.chaos + _CHAOS_TIE and "cp1252" in m.could_be_from_charset:
            return data.decode("cp1252")
    text = str(best)
    sample = data[:65536]
    ascii_share = sum(b < 0x80 for b in sample) / len(sample)
    if ascii_share >= _MOSTLY_ASCII and not _mostly_latin(text):
        try:
            fallback = data.decode("cp1252")
        except UnicodeDecodeError:
            return text
        if _mostly_latin(fallback):
            return fallback
    return text


def _mostly_latin(text: str) -> bool:
    """True when the non-ASCII letters of ``text`` are mostly Latin-script letters."""
    letters = [c for c in text[:65536] if ord(c) > 0x7F and c.isalpha()]
    if not letters:
        return True
    latin = sum("LATIN" in unicodedata.name(c, "") for c in letters)
    return latin >= 0.8 * len(letters)
