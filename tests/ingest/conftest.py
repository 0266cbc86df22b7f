"""Fixtures for ingest tests: hand-written PDFs (pypdf can write pages but not text)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import pytest

PdfMaker = Callable[..., bytes]


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build_pdf(pages: Sequence[Sequence[str]], title: str | None = None, xref_shift: int = 0,
              bomb_bytes: int = 0) -> bytes:
    """A minimal valid PDF: one Helvetica text stream per page, one text line per string.

    Objects: 1 catalog, 2 page tree, 3 font, then (page, content stream) pairs, then an optional /Info.
    ``xref_shift`` moves the startxref pointer to simulate a slightly broken (but recoverable) file;
    ``bomb_bytes`` pads every content stream with that many spaces and Flate-compresses it (a decompression bomb).
    """
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    for pid, lines in zip(page_ids, pages, strict=True):
        ops = "BT /F1 11 Tf 14 TL 72 740 Td " + " ".join(f"({_escape(ln)}) Tj T*" for ln in lines) + " ET"
        stream = ops.encode("cp1252")
        flate = ""
        if bomb_bytes:
            stream, flate = zlib.compress(stream + b" " * bomb_bytes, 9), " /Filter /FlateDecode"
        objects[pid] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {pid + 1} 0 R >>"
        ).encode()
        objects[pid + 1] = b"<< /Length %d%s >>\nstream\n" % (len(stream), flate.encode()) + stream + b"\nendstream"
    info_id = None
    if title is not None:
        info_id = max(objects) + 1
        objects[info_id] = f"<< /Title ({_escape(title)}) >>".encode("cp1252")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for oid in sorted(objects):
        offsets[oid] = len(out)
        out += b"%d 0 obj\n" % oid + objects[oid] + b"\nendobj\n"
    size = max(objects) + 1
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for oid in range(1, size):
        out += b"%010d 00000 n \n" % offsets[oid]
    info = f" /Info {info_id} 0 R" if info_id else ""
    out += f"trailer\n<< /Size {size} /Root 1 0 R{info} >>\nstartxref\n{xref_at + xref_shift}\n%%EOF\n".encode()
    return bytes(out)


@pytest.fixture
def make_pdf() -> PdfMaker:
    """``make_pdf([["line", ...], ...], title=None, xref_shift=0) -> bytes``."""
    return build_pdf
