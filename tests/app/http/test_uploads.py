"""Upload type detection (``app.http.uploads.upload_suffix``): content decides PDFs, the name decides text flavours."""

from __future__ import annotations

import pytest

from app.http.uploads import UnsupportedUpload, upload_suffix


def test_markdown_that_mentions_the_pdf_marker_stays_markdown() -> None:
    data = b"# PDF forensics\n\nEvery PDF file begins with %PDF-1.7 and a binary comment.\n"
    assert upload_suffix(data, "notes.md", "text/markdown") == ".md"
    assert upload_suffix(b"Plain notes about %PDF-1.4 headers.", "notes.txt", None) == ".txt"


@pytest.mark.parametrize("prefix", [b"", b"\r\n ", b"\xef\xbb\xbf", b"\x00\x01\x02"])
def test_real_pdf_headers_win_over_the_client_name(prefix: bytes) -> None:
    assert upload_suffix(prefix + b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "report.txt", "text/plain") == ".pdf"


def test_other_rules_unchanged() -> None:
    assert upload_suffix(b"<html><p>x</p></html>", "page.HTM", None) == ".html"
    with pytest.raises(UnsupportedUpload, match="gzip"):
        upload_suffix(b"\x1f\x8b\x08\x00", "x.md.gz", None)
    with pytest.raises(UnsupportedUpload):
        upload_suffix(b"data", "x.bin", "application/octet-stream")
