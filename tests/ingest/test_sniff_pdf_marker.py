"""A text file that only mentions "%PDF-" is not a PDF; a real PDF may have white space, a BOM or junk first."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import LoadError, load_path, sniff_format
from ingest.loaders.sniff import starts_like_pdf

NOTES = "# PDF forensics\n\nEvery PDF file begins with the bytes %PDF-1.7 followed by a binary comment line.\n"


def test_markdown_mentioning_the_pdf_marker_is_markdown(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(NOTES, encoding="utf-8")
    assert sniff_format(path) == "markdown"
    [doc] = load_path(path)
    assert "%PDF-1.7" in doc.text and doc.meta.title == "PDF forensics"


def test_text_mentioning_the_marker_without_extension_is_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "readme"
    path.write_text("Notes: a header like %PDF-1.4 marks a PDF.\n", encoding="utf-8")
    assert sniff_format(path) == "text"


def test_a_pdf_named_file_that_only_mentions_the_marker_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("This is not a PDF, although it says %PDF-1.4 here.\n", encoding="utf-8")
    with pytest.raises(LoadError, match="not a PDF"):
        sniff_format(path)


@pytest.mark.parametrize(
    "head",
    [b"%PDF-1.7\n", b"\n\n  %PDF-1.4\n", b"\xef\xbb\xbf%PDF-1.5\n", b"\x00\x00\x00\x1b\x02junk%PDF-1.4\n"],
)
def test_pdf_headers_after_whitespace_bom_or_binary_junk(tmp_path: Path, make_pdf, head: bytes) -> None:
    assert starts_like_pdf(head)
    path = tmp_path / "download.bin"
    path.write_bytes(head[: head.index(b"%PDF-")] + make_pdf([["Hello"]]))
    assert sniff_format(path) == "pdf"


@pytest.mark.parametrize(
    "head", [NOTES.encode(), b"abc %PDF-1.4", "Caf\u00e9 notes: %PDF-1.4".encode("latin-1"), b"no marker at all"]
)
def test_printable_text_before_the_marker_is_not_a_pdf(head: bytes) -> None:
    assert not starts_like_pdf(head)
