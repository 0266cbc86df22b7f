"""A folder of bad files mixed with good ones: clear per-file errors, good files ingested, nothing else changed.

The CLI path runs ``medcite ingest`` on the folder; the upload path runs the parse check every upload job runs
(:func:`ingest.worker.check_file`, also in a child process via :func:`app.http.jobs.check_upload`).
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
TB_PDF = REPO / "corpus" / "pdf" / "cdc-what-you-need-to-know-about-tb.pdf"
#: file name -> words its error message must contain (None = a good file that must be ingested)
EXPECTED: dict[str, tuple[str, ...] | None] = {
    "corrupt.pdf": ("corrupt",),
    "truncated.pdf": ("truncated",),
    "encrypted.pdf": ("encrypted",),
    "empty.txt": ("empty",),
    "image-named.pdf": ("PNG",),
    "elf-binary.pdf": ("ELF",),
    "nul-bytes.txt": ("binary",),
    "good-gout.md": None,
    "good-asthma.txt": None,
    "latin1-notes.txt": None,  # not UTF-8 but decodable: ingested with the right characters
    "scripts.html": None,  # scripts stripped, the visible text kept
}


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret-password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_bad_folder(folder: Path, big_line_bytes: int = 10_000_000) -> Path:
    """Write the bad and good files (plus a ``big_line_bytes`` single-line text) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    pdf = TB_PDF.read_bytes()
    files = {
        "corrupt.pdf": b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(4000)) + b"\n%%EOF\n",
        "truncated.pdf": pdf[: len(pdf) // 2],
        "encrypted.pdf": _encrypted_pdf(),
        "empty.txt": b"",
        "image-named.pdf": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2000)),
        "elf-binary.pdf": b"\x7fELF\x02\x01\x01" + bytes(2000),
        "nul-bytes.txt": b"text\x00\x00\x00 with nul bytes\x00" * 50,
        "good-gout.md": b"# Gout\n\nGout flares are treated with colchicine. Allopurinol lowers urate over months.\n",
        "good-asthma.txt": b"Asthma\n\nAn inhaled corticosteroid is the main controller medicine for asthma.\n",
        "latin1-notes.txt": "Fièvre et anémie\n\nLa fièvre persistante nécessite un bilan. L'anémie ferriprive est "
                            "fréquente chez l'enfant.\n".encode("latin-1"),
        "scripts.html": b"<html><head><title>Scripts page</title>" + b"<script>alert('x');var a=1;</script>" * 500
                        + b"</head><body><script>document.write('hidden')</script><p>Hand washing prevents the "
                          b"spread of influenza in clinics.</p></body></html>",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    pattern = "lorem ipsum dolor sit amet consectetur "  # one line, no sentence end
    (folder / "one-line-10mb.txt").write_text((pattern * (big_line_bytes // len(pattern) + 1))[:big_line_bytes])
    return folder


def test_upload_check_reports_each_bad_file(tmp_path):
    from ingest.worker import check_file

    folder = make_bad_folder(tmp_path / "bad")
    results = {p.name: check_file(p, max_pages=2000, max_chars=5_000_000) for p in sorted(folder.iterdir())}
    for name, words in EXPECTED.items():
        result = results[name]
        if words is None:
            assert result.ok, (name, result)
        else:
            assert not result.ok and all(w.lower() in result.reason.lower() for w in words), (name, result)
    big = results["one-line-10mb.txt"]
    assert not big.ok and "limit" in big.reason and "10,000,000" in big.reason
    assert "alert" not in " ".join(results["scripts.html"].titles)


def test_upload_check_child_process_enforces_time_and_page_limits(tmp_path):
    from app.http.jobs import check_upload
    from app.settings import Settings
    good = tmp_path / "tb.pdf"
    good.write_bytes(TB_PDF.read_bytes())
    settings = Settings()
    settings.security = settings.security.model_copy(update={"max_pdf_pages": 1})
    result = check_upload(good, {}, settings)
    assert not result.ok and "pages; the limit is 1" in result.reason
    settings.security = settings.security.model_copy(update={"parse_timeout_s": 0.01})
    result = check_upload(good, {}, settings)
    assert not result.ok and "time limit" in result.reason


@pytest.mark.slow
def test_cli_ingests_good_files_and_names_every_bad_one(tmp_path):
    from app.cli import cli
    from app.settings import Settings
    from index.storage import open_index
    from ingest.pipeline import ingest

    index_dir = tmp_path / "index"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "earlier.md").write_text("# Earlier\n\nMetformin is the first drug for type 2 diabetes.\n")
    settings = Settings()
    ingest([earlier], settings, index_dir=index_dir, progress=False)

    folder = make_bad_folder(tmp_path / "bad", big_line_bytes=10_000_000)
    result = CliRunner().invoke(cli, ["ingest", str(folder), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    for name, words in EXPECTED.items():
        if words is not None:
            assert name in out and all(w.lower() in out.lower() for w in words), (name, out[-3000:])
    index = open_index(index_dir, settings.index)
    ids = set(index.store.documents)
    assert {"earlier", "good-gout", "good-asthma", "latin1-notes", "scripts"} <= ids  # nothing else changed
    assert not {"corrupt", "truncated", "encrypted", "empty", "image-named", "elf-binary", "nul-bytes"} & ids
    texts = " ".join(c.text for c in index.store.chunks)
    assert "Fièvre" in texts and "alert(" not in texts and "Hand washing" in texts


def test_page_limit_applies_before_any_text_is_extracted(tmp_path, monkeypatch):
    """A 100,000-page PDF used to be parsed in full (86 s) before the page limit applied."""
    from pypdf import PdfWriter

    import ingest.loaders.pdf as pdf_loader
    from ingest.worker import check_file

    writer = PdfWriter()
    for _ in range(300):
        writer.add_blank_page(width=100, height=100)
    path = tmp_path / "many-pages.pdf"
    with path.open("wb") as fh:
        writer.write(fh)

    def no_extraction(*args, **kwargs):
        raise AssertionError("text was extracted before the page limit was checked")

    monkeypatch.setattr(pdf_loader, "_extract_pages", no_extraction)
    result = check_file(path, max_pages=50, max_chars=5_000_000)
    assert not result.ok and "300 pages; the limit is 50" in result.reason


def test_a_decompression_bomb_pdf_is_refused_as_too_large_not_corrupt(tmp_path, make_pdf):
    """Issue 22 item 7: a Flate stream of a few hundred KB that inflates to 300 MB said "corrupt PDF"; the uploader
    must learn that it is too large to parse."""
    from ingest.worker import check_file

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(make_pdf([["Gout is treated with colchicine."]], bomb_bytes=300 * 1024**2))
    assert bomb.stat().st_size < 1024**2
    result = check_file(bomb, max_pages=2000, max_chars=5_000_000)
    assert not result.ok and "too large" in result.reason and "corrupt" not in result.reason, result.reason
    fine = tmp_path / "fine.pdf"
    fine.write_bytes(make_pdf([["Gout is treated with colchicine."]], bomb_bytes=1000))
    assert check_file(fine, max_pages=2000, max_chars=5_000_000).ok
