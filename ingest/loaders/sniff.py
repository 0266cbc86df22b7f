"""Decide a file's format from its content first and its extension second; reject what no loader can read.

Content wins where it is unambiguous (a file that starts with ``%PDF-``, ``<!DOCTYPE html>``/``<html>``,
``<?xml``/``<Version>``), the extension decides between text flavours, and gzip files are judged by their
decompressed content and inner extension (``x.jsonl.gz`` is JSONL, ``x.xml.gz`` XML).

>>> starts_like_pdf(b"%PDF-1.7"), starts_like_pdf(b"\\xef\\xbb\\xbf \\n%PDF-1.4")
(True, True)
>>> starts_like_pdf(b"\\x00\\x07junk%PDF-1.4")
True
>>> starts_like_pdf(b"# Notes\\nA PDF file starts with %PDF-1.7 ...")
False
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zlib
from pathlib import Path
from typing import BinaryIO, Literal

from ingest.loaders.decode import bom_encoding, utf16_without_bom
from ingest.loaders.errors import LoadError

Format = Literal["pdf", "html", "markdown", "text", "jsonl", "xml"]

_HEAD_BYTES = 65536
_GZIP_MAGIC = b"\x1f\x8b"
_EXTENSIONS: dict[str, Format] = {
    ".pdf": "pdf",
    **dict.fromkeys((".html", ".htm", ".xhtml", ".shtml"), "html"),
    **dict.fromkeys((".md", ".markdown", ".mdown", ".mkd", ".mkdn"), "markdown"),
    **dict.fromkeys((".jsonl", ".ndjson"), "jsonl"),
    **dict.fromkeys((".txt", ".text"), "text"),
    ".xml": "xml",
}  # type: ignore[dict-item]
# Signatures of binary formats we do not read, with the reason shown to the user.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"PK\x03\x04", "ZIP archive (DOCX/XLSX/EPUB are not supported)"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office file"),
    (b"\x7fELF", "ELF executable"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\xfd7zXZ\x00", "XZ archive"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"{\\rtf", "RTF document (not supported)"),
)
_WHITESPACE = b" \t\r\n\x0b\x0c"
_CONTROL_BYTES = frozenset(range(32)) - frozenset(b"\t\n\r\x0b\x0c\x1b")
_HTML_STRONG = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL
)
_HTML_TAG = re.compile(r"<(?:html|head|body|title|meta|div|p|h[1-6]|table|ul|ol|section|article|span|a)[\s>/]", re.I)
_XML_START = re.compile(r"^\s*(?:<\?xml[\s?]|<Version[\s>])")
_PDF_MAGIC = b"%PDF-"
#: Bytes that never occur in text: a prefix containing one is junk (a download wrapper), not prose.
_JUNK_BYTES = frozenset(range(32)) - frozenset(b"\t\n\r\x0c") | {0x7F}
_MD_HINT = re.compile(r"^(?:#{1,6}[ \t]+\S|\S.*\n(?:=+|-+)[ \t]*$)", re.MULTILINE)


def inner_suffix(path: Path) -> str:
    """Lower-case extension, looking through a trailing ``.gz`` (``x.jsonl.gz`` -> ``.jsonl``)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def open_binary(path: Path) -> BinaryIO:
    """Open for reading bytes, transparently decompressing gzip (detected by magic, not by name)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise LoadError(path, f"cannot open file ({exc.strerror or exc})") from None
    if fh.read(2) == _GZIP_MAGIC:
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def read_bytes(path: Path) -> bytes:
    """The whole (decompressed) content; a damaged gzip stream is a LoadError."""
    with open_binary(path) as fh:
        try:
            return fh.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise LoadError(path, f"corrupt gzip stream ({exc})") from None


def starts_like_pdf(head: bytes) -> bool:
    """A PDF header in the first KiB with nothing but white space, a BOM or binary junk before it.

    A text file that merely mentions ``%PDF-`` (notes about PDFs) is not a PDF: the bytes before the marker
    are printable text there.
    """
    at = head.find(_PDF_MAGIC, 0, 1024)
    if at < 0:
        return False
    prefix = head[:at]
    if prefix.startswith(codecs.BOM_UTF8):
        prefix = prefix[len(codecs.BOM_UTF8) :]
    prefix = prefix.strip(_WHITESPACE)
    return not prefix or any(b in _JUNK_BYTES for b in prefix)


def _read_head(path: Path) -> tuple[bytes, bool]:
    """First bytes of the (decompressed) content and whether that is all of it."""
    with open_binary(path) as fh:
        try:
            head = fh.read(_HEAD_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise LoadError(path, f"corrupt gzip stream ({exc})") from None
    return head[:_HEAD_BYTES], len(head) <= _HEAD_BYTES


def _is_blank(data: bytes) -> bool:
    if bom := bom_encoding(data):
        codec, skip = bom
        return not data[skip:].decode(codec, errors="ignore").strip()
    if utf16 := utf16_without_bom(data):
        return not data.decode(utf16, errors="ignore").strip()
    return not data.strip(_WHITESPACE)


def _check_not_blank(path: Path, head: bytes, complete: bool) -> None:
    if not head:
        raise LoadError(path, "empty file (0 bytes)")
    if not _is_blank(head):
        return
    if not complete and not _is_blank(read_bytes(path)):
        return
    raise LoadError(path, "empty file (whitespace only)")


def _head_text(path: Path, head: bytes) -> str:
    """Decode the head well enough to look for markers; binary content is a LoadError."""
    if bom := bom_encoding(head):
        codec, skip = bom
        return codecs.getincrementaldecoder(codec)(errors="replace").decode(head[skip:])
    if utf16 := utf16_without_bom(head):
        return codecs.getincrementaldecoder(utf16)(errors="replace").decode(head)
    if b"\x00" in head:
        raise LoadError(path, "binary file, not a supported document (NUL bytes)")
    controls = sum(b in _CONTROL_BYTES for b in head[:8192])
    if controls > 0.02 * min(len(head), 8192):
        raise LoadError(path, "binary file, not a supported document (control bytes)")
    # Only ASCII markers matter below, so latin-1 is a safe lossless view of any 8-bit text.
    return head.decode("latin-1")


def _looks_like_jsonl(text: str) -> bool:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first.startswith("{"):
        return False
    try:
        record = json.loads(first)
    except ValueError:  # may be cut by the head limit: accept an object with a text field
        return re.search(r'^\{\s*"[^"]*"\s*:', first) is not None and '"text"' in first
    return isinstance(record, dict) and ("text" in record or "id" in record)


def _looks_like_html(text: str) -> bool:
    return text.lstrip().startswith("<") and len(_HTML_TAG.findall(text[:8192])) >= 2


def sniff_format(path: Path) -> Format:
    """'pdf' | 'html' | 'markdown' | 'text' | 'jsonl' | 'xml' for ``path``, or LoadError naming why it cannot be read.

    Empty (0-byte or whitespace-only), binary (images, archives, executables) and files named ``.pdf`` that
    lack a ``%PDF-`` header are rejected.
    """
    path = Path(path)
    if path.is_dir():
        raise LoadError(path, "is a directory, not a file")
    head, complete = _read_head(path)
    _check_not_blank(path, head, complete)
    if starts_like_pdf(head):
        return "pdf"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise LoadError(path, f"{what}, not a supported document")
    suffix = inner_suffix(path)
    if suffix == ".pdf":
        raise LoadError(path, "not a PDF (no %PDF- header); the file is damaged or misnamed")
    text = _head_text(path, head)
    if _HTML_STRONG.match(text):
        return "html"
    by_ext = _EXTENSIONS.get(suffix)
    if by_ext in ("html", "markdown", "jsonl", "xml"):
        return by_ext
    if _XML_START.match(text):
        return "xml"
    if _looks_like_html(text):
        return "html"
    if by_ext == "text":
        return "text"
    if _looks_like_jsonl(text):
        return "jsonl"
    if suffix == ".json":
        raise LoadError(path, "JSON file is not JSON Lines (one object with a 'text' field per line)")
    if _MD_HINT.search(text):
        return "markdown"
    return "text"
