"""Tests for ingest.loaders: sniffing, every format, offsets, metadata and error messages."""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
from pathlib import Path

import pytest
from pypdf import PdfWriter

from core.models import DocType, Document
from ingest.loaders import LoadError, load_path, sniff_format
from ingest.loaders import pdf as pdf_module
from ingest.loaders.clean import normalize_text
from ingest.loaders.pdf import join_lines

TB_PDF = Path(__file__).resolve().parents[3] / "shared" / "data" / "guidelines-pdf" / "cdc-what-you-need-to-know-about-tb.pdf"


def check_spans(doc: Document) -> None:
    """Offsets are exact: headings slice to their titles in order; pages tile the text in order."""
    starts = [h.start for h in doc.headings]
    assert starts == sorted(starts)
    for h in doc.headings:
        assert doc.text[h.start : h.end] == h.title
    if doc.pages:
        assert "\n\n".join(doc.text[p.start : p.end] for p in doc.pages) == doc.text
        assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
        assert all(a.end < b.start and a.page < b.page for a, b in zip(doc.pages, doc.pages[1:], strict=False))
    assert doc.text == doc.text.strip() and "\n\n\n" not in doc.text


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def page_text(doc: Document, page: int) -> str:
    span = next(p for p in doc.pages if p.page == page)
    return doc.text[span.start : span.end]


# --- sniffing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("page.txt", "<!DOCTYPE html>\n<html><body><p>Hi</p></body></html>", "html"),
        ("page.txt", "  <html lang='en'><p>Hi</p></html>", "html"),
        ("notes.md", '<p align="center">logo</p>\n\n# Title\n', "markdown"),
        ("notes", "# Asthma\n\nText.\n", "markdown"),
        ("plain.txt", "# not markdown, a .txt stays text\n", "text"),
        ("records", '{"id": "a", "text": "x"}\n', "jsonl"),
        ("records.jsonl", '{"id": "a", "text": "x"}\n', "jsonl"),
        ("readme", "Just some words.\n", "text"),
    ],
)
def test_sniff_by_content_and_extension(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert sniff_format(write(tmp_path, name, content)) == expected


def test_sniff_pdf_without_pdf_extension(tmp_path: Path, make_pdf) -> None:
    assert sniff_format(write(tmp_path, "download.bin", make_pdf([["Hello"]]))) == "pdf"


def test_sniff_gzip_by_inner_content(tmp_path: Path) -> None:
    path = write(tmp_path, "corpus.jsonl.gz", gzip.compress(b'{"id": "a", "text": "x"}\n'))
    assert sniff_format(path) == "jsonl"
    assert sniff_format(write(tmp_path, "page.gz", gzip.compress(b"<html><p>x</p></html>"))) == "html"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file (0 bytes)"),
        ("blank.md", b" \n\t\r\n  ", "whitespace only"),
        ("blank16.txt", "  \n ".encode("utf-16"), "whitespace only"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
        ("photo.txt", b"\xff\xd8\xff\xe0" + bytes(100), "JPEG image"),
        ("report.docx", b"PK\x03\x04" + bytes(100), "ZIP archive"),
        ("tool", b"\x7fELF\x02\x01\x01" + bytes(100), "ELF executable"),
        ("data.txt", bytes(range(256)) * 4, "binary file"),
        ("array.json", b'[\n  {"id": 1}\n]\n', "not JSON Lines"),
    ],
)
def test_sniff_rejects_unreadable_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(LoadError) as info:
        sniff_format(path)
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(LoadError):
        load_path(path)


def test_missing_file_and_directory_are_load_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot open file"):
        load_path(tmp_path / "nope.txt")
    with pytest.raises(LoadError, match="directory"):
        load_path(tmp_path)


# --- plain text --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-8-sig", "utf-32"])
def test_text_encoding_is_detected(tmp_path: Path, encoding: str) -> None:
    body = "Ménière disease causes vertigo.\nLa maladie de Ménière provoque des vertiges; le café aussi.\n"
    [doc] = load_path(write(tmp_path, "meniere.txt", body, encoding=encoding))
    assert "Ménière disease" in doc.text and "café" in doc.text
    assert not doc.text.startswith("\ufeff")


def test_short_latin1_text_is_not_decoded_as_cjk(tmp_path: Path) -> None:
    [doc] = load_path(write(tmp_path, "short.txt", "Ménière disease causes vertigo.\n", encoding="latin-1"))
    assert doc.text == "Ménière disease causes vertigo."


def test_undecodable_text_is_a_load_error(tmp_path: Path) -> None:
    bad = b"\xff\xfe" + "abc".encode("utf-16-le") + b"\x00\xd8"  # lone surrogate after a UTF-16 BOM
    with pytest.raises(LoadError, match="cannot decode text"):
        load_path(write(tmp_path, "bad.txt", bad))


def test_text_headings_and_metadata_defaults(tmp_path: Path) -> None:
    body = "DIABETES AND DIET\n\nEat\u00a0vegetables.\tDaily.\n\n\n\nWhat to avoid:\n\nSugary drinks.\nNOT A HEADING"
    [doc] = load_path(write(tmp_path, "Diet Guide (2020).txt", body), {"issuer": "NIDDK", "year": 2020})
    check_spans(doc)
    assert [(h.title, h.level) for h in doc.headings] == [("DIABETES AND DIET", 1), ("What to avoid", 2)]
    assert "Eat vegetables. Daily.\n\nWhat to avoid:" in doc.text
    assert doc.meta.doc_id == "diet-guide-2020"
    assert doc.meta.title == "DIABETES AND DIET"
    assert (doc.meta.issuer, doc.meta.year, doc.meta.type) == ("NIDDK", 2020, DocType.other)
    assert doc.meta.source_path == str(tmp_path / "Diet Guide (2020).txt")


def test_text_without_headings_uses_file_stem_as_title(tmp_path: Path) -> None:
    [doc] = load_path(write(tmp_path, "flu-notes.txt", "rest and fluids.\n"))
    assert doc.meta.title == "flu-notes" and doc.headings == []


# --- HTML ----------------------------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html><html><head><title>Asthma | NHLBI</title><style>p {color: red}</style>
<script>var tracking = "SCRIPT TEXT";</script></head><body>
<header><a href="/">Home</a> NAV LINK</header><nav><ul><li>Menu item</li></ul></nav>
<main><h1>Asthma <em>basics</em></h1><p>Asthma is a   chronic
lung disease.<br>It narrows the airways.</p>
<h2>Symptoms</h2><ul><li>Wheezing</li><li>Cough <b>at night</b></li></ul>
<div hidden>HIDDEN TEXT</div><aside>ASIDE TEXT</aside><form><label>FORM TEXT</label></form>
<h3>Treatment</h3><table><tr><th>Drug</th><th>Dose</th></tr><tr><td>Salbutamol</td><td>100&nbsp;µg</td></tr></table>
<noscript>NOSCRIPT TEXT</noscript><iframe>IFRAME TEXT</iframe><svg><title>SVG TITLE</title></svg>
</main><footer>FOOTER TEXT</footer></body></html>"""


def test_html_drops_boilerplate_and_keeps_structure(tmp_path: Path) -> None:
    [doc] = load_path(write(tmp_path, "asthma.html", HTML_PAGE))
    check_spans(doc)
    for junk in ("SCRIPT", "color: red", "NAV", "Menu item", "HIDDEN", "ASIDE", "FORM", "NOSCRIPT", "IFRAME",
                 "SVG", "FOOTER"):  # fmt: skip
        assert junk not in doc.text
    assert [(h.title, h.level) for h in doc.headings] == [("Asthma basics", 1), ("Symptoms", 2), ("Treatment", 3)]
    assert "Asthma is a chronic lung disease.\nIt narrows the airways." in doc.text
    assert "Symptoms\n\n- Wheezing\n- Cough at night\n\nTreatment" in doc.text
    assert "Drug | Dose\nSalbutamol | 100 µg" in doc.text
    assert doc.meta.title == "Asthma | NHLBI"


def test_html_title_falls_back_to_first_h1_and_meta_charset_is_used(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><h2>Intro</h2><h1>Ménière</h1><p>x</p></body>'
    [doc] = load_path(write(tmp_path, "page.htm", page, encoding="cp1252"))
    assert doc.meta.title == "Ménière"
    check_spans(doc)


# --- Markdown ------------------------------------------------------------------------------------------------

MARKDOWN = """---
title: "Hypertension guide"
---
# High blood pressure

Blood pressure is *often* **silent**; see the [NHLBI page](https://nhlbi.nih.gov) and `BP < 130/80`.
A wrapped line.

Lifestyle changes
-----------------

1. Eat less salt
2. Exercise

### Medicines ###

```
ACE inhibitor
```
"""


def test_markdown_headings_and_plain_text(tmp_path: Path) -> None:
    [doc] = load_path(write(tmp_path, "hypertension.md", MARKDOWN))
    check_spans(doc)
    assert [(h.title, h.level) for h in doc.headings] == [
        ("High blood pressure", 1),
        ("Lifestyle changes", 2),
        ("Medicines", 3),
    ]
    assert "Blood pressure is often silent; see the NHLBI page and BP < 130/80. A wrapped line." in doc.text
    assert "Lifestyle changes\n\n1. Eat less salt\n2. Exercise\n\nMedicines\n\nACE inhibitor" in doc.text
    assert "*" not in doc.text and "](" not in doc.text and "#" not in doc.text and "title:" not in doc.text
    assert doc.meta.title == "Hypertension guide"


# --- JSONL ---------------------------------------------------------------------------------------------------


def jsonl(*records: dict | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def test_jsonl_records_defaults_and_sections(tmp_path: Path) -> None:
    content = jsonl(
        {"id": "p1", "text": "Gout is  arthritis.", "focus": "Gout", "year": "2019", "type": "GUIDELINE",
         "section": "What is gout?", "extra": {"ignored": True}},
        {"id": 2, "text": "   "},
        {"id": "p3", "text": "Rest.", "title": "Flu", "issuer": "CDC", "audience": "Patient", "year": 2021},
    )  # fmt: skip
    path = write(tmp_path, "passages.jsonl.gz", gzip.compress(content.encode()))
    docs = load_path(path, {"issuer": "NIH", "license": "CC BY 4.0", "doc_id": "ignored", "audience": "clinician"})
    assert [d.meta.doc_id for d in docs] == ["p1", "p3"]  # the empty-text record is skipped
    first, third = docs
    check_spans(first)
    assert first.text == "What is gout?\nGout is arthritis."
    assert [(h.title, h.level, h.start) for h in first.headings] == [("What is gout?", 2, 0)]
    assert (first.meta.title, first.meta.issuer, first.meta.year) == ("Gout", "NIH", 2019)
    assert first.meta.license == "CC BY 4.0"
    assert first.meta.type is DocType.guideline and first.meta.audience == "clinician"
    assert (third.meta.title, third.meta.issuer, third.meta.year) == ("Flu", "CDC", 2021)
    assert third.meta.audience == "patient"
    assert third.headings == [] and third.meta.source_path == str(path)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"id": "a", "text": "x"}, {"text": "no id"}], "line 2: missing 'id'"),
        ([{"id": "a", "text": "x"}, "", '{"id": "b", "text": '], "line 3: invalid JSON"),
        ([{"id": "a"}], "line 1: missing 'text'"),
        (["[1, 2]"], "line 1: expected a JSON object"),
        ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "line 2: duplicate id 'a' (first on line 1)"),
        ([{"id": "a", "text": "x", "type": "blog"}], "line 1: field 'type': invalid type 'blog'"),
        ([{"id": "a", "text": "x", "year": "soon"}], "line 1: field 'year': invalid year"),
        ([{"id": "a", "text": ""}], "no record with non-empty text"),
    ],
)
def test_jsonl_bad_line_fails_the_file(tmp_path: Path, lines: list, message: str) -> None:
    path = write(tmp_path, "bad.jsonl", jsonl(*lines))
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_jsonl_load_time_grows_linearly_with_the_records(tmp_path: Path) -> None:
    """16,000 records load correctly, and 4x the records take well under 16x the time (a ratio in one run, robust
    to the machine's load; the loaders' speed itself is measured by the ingest benchmark)."""
    text = "Alport syndrome is a genetic condition characterized by kidney disease, hearing loss, and eye " * 6

    def corpus(n: int) -> Path:
        records = (
            json.dumps({"id": f"GHR_{i:07d}_Sec{i % 5}", "parent_id": f"GHR_{i // 5:07d}", "focus": "Alport syndrome",
                        "url": "https://ghr.nlm.nih.gov/condition/alport-syndrome", "text": text})
            for i in range(n)
        )  # fmt: skip
        return write(tmp_path, f"corpus-{n}.jsonl.gz", gzip.compress("\n".join(records).encode()))

    meta = {"type": "patient information", "audience": "patient"}
    small, large = corpus(4_000), corpus(16_000)
    start = time.perf_counter()
    docs = load_path(large, meta)
    t_large = time.perf_counter() - start
    assert len(docs) == 16_000 and docs[-1].meta.parent_id == "GHR_0003199"
    start = time.perf_counter()
    load_path(small, meta)
    t_small = time.perf_counter() - start
    assert t_large / t_small < 8.0, f"4x the records took {t_large / t_small:.1f}x the time"


# --- metadata defaults and shared cleaning ----------------------------------------------------------------


def test_defaults_override_detected_metadata_and_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "x.md", "# Detected title\n\nBody.")
    [doc] = load_path(path, {"doc_id": "custom", "title": "Given title", "type": "research", "url": "https://a.b"})
    assert (doc.meta.doc_id, doc.meta.title, doc.meta.type, doc.meta.url) == (
        "custom", "Given title", DocType.research, "https://a.b"
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown metadata field"):
        load_path(path, {"section": "x"})
    with pytest.raises(LoadError, match="invalid audience"):
        load_path(path, {"audience": "everyone"})


def test_normalize_text_rules() -> None:
    raw = "Cafe\u0301\u00a0\u00a0costs\t\t5\u20ac\x00\x07\r\n\r\n\r\n\r\nnext\u2028line  \n\n e\ufb03cacy\u00ad "
    assert normalize_text(raw) == "Café costs 5€\n\nnext\nline\n\nefficacy"


# --- PDF -----------------------------------------------------------------------------------------------------

PDF_PAGES = [
    ["Journal of Lung Health 2024", "Tuberculosis treatment",
     "The treat-", "ment of TB takes months and the evidence-", "based regimen is standard.",
     "COVID-", "19 patients need testing.", "• Take every dose", "with food", "Page 1 of 3"],
    ["Journal of Lung Health 2024", "Side effects", "Report evidence-based warning signs early.", "Page 2 of 3"],
    ["Journal of Lung Health 2024", "Follow-up", "Visit the clinic monthly.", "Page 3 of 3"],
]  # fmt: skip


def test_pdf_pages_cleaning_and_running_lines(tmp_path: Path, make_pdf) -> None:
    [doc] = load_path(write(tmp_path, "tb-guide.pdf", make_pdf(PDF_PAGES, title="TB Treatment Guide")))
    check_spans(doc)
    assert [p.page for p in doc.pages] == [1, 2, 3]
    first = page_text(doc, 1)
    assert first.startswith("Tuberculosis treatment\nThe treatment of TB takes months")  # header dropped
    assert "the evidence-based regimen is standard." in first  # the document spells it with a hyphen
    assert "COVID-19 patients need testing.\n- Take every dose with food" in first
    assert "Journal of Lung Health" not in doc.text and "Page 1 of 3" not in doc.text
    assert page_text(doc, 2) == "Side effects\nReport evidence-based warning signs early."
    assert page_text(doc, 3) == "Follow-up\nVisit the clinic monthly."
    assert doc.meta.title == "TB Treatment Guide" and doc.meta.doc_id == "tb-guide"
    assert doc.headings == []


def test_join_lines_keeps_separate_lines_apart() -> None:
    lines = ["Key points", "Symptoms include:", "fever", "Treatment is long,", "Often six months.", "■ Rest"]
    assert join_lines(lines) == ["Key points", "Symptoms include:", "fever", "Treatment is long, Often six months.",
                                 "- Rest"]  # fmt: skip


def test_pdf_is_parsed_once_and_pypdf_is_quiet(tmp_path: Path, make_pdf, monkeypatch, capfd, caplog) -> None:
    calls: list[int] = []
    real_reader = pdf_module.PdfReader

    def counting_reader(*args, **kwargs):
        calls.append(1)
        return real_reader(*args, **kwargs)

    monkeypatch.setattr(pdf_module, "PdfReader", counting_reader)
    path = write(tmp_path, "shifted.pdf", make_pdf([["Hello world."]], xref_shift=7))  # pypdf warns on this
    with caplog.at_level(logging.WARNING):
        [doc] = load_path(path)
    assert doc.text == "Hello world." and doc.meta.title == "shifted"
    assert calls == [1]
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    assert capfd.readouterr().err == ""
    assert logging.getLogger("pypdf").level == logging.NOTSET  # restored


def _encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_encrypted_with_password_fails_but_empty_password_opens(tmp_path: Path, make_pdf) -> None:
    pdf = make_pdf([["Confidential dosing table."]])
    with pytest.raises(LoadError, match=r"encrypted PDF \(password required\)"):
        load_path(write(tmp_path, "locked.pdf", _encrypted(pdf, "secret")))
    [doc] = load_path(write(tmp_path, "open.pdf", _encrypted(pdf, "")))
    assert doc.text == "Confidential dosing table."


def test_pdf_truncated_corrupt_and_textless_files_fail_clearly(tmp_path: Path, make_pdf) -> None:
    pdf = make_pdf([["Some text here."], ["More text."]])
    with pytest.raises(LoadError, match="truncated PDF"):
        load_path(write(tmp_path, "cut.pdf", pdf[: len(pdf) // 2]))
    with pytest.raises(LoadError, match="corrupt PDF"):
        load_path(write(tmp_path, "junk.pdf", b"%PDF-1.4\n" + b"garbage " * 50 + b"\n%%EOF\n"))
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    blank = io.BytesIO()
    writer.write(blank)
    with pytest.raises(LoadError, match="no extractable text"):
        load_path(write(tmp_path, "scan.pdf", blank.getvalue()))


@pytest.mark.skipif(not TB_PDF.exists(), reason="shared guideline PDFs not available")
def test_real_two_page_cdc_pdf() -> None:
    [doc] = load_path(TB_PDF, {"issuer": "CDC", "type": "Patient information", "audience": "patient"})
    check_spans(doc)
    assert [p.page for p in doc.pages] == [1, 2]
    assert doc.meta.doc_id == "cdc-what-you-need-to-know-about-tb"
    assert doc.meta.title == "What You Need to Know About Tuberculosis"
    one, two = page_text(doc, 1), page_text(doc, 2)
    assert one.startswith("What You Need to Know About Tuberculosis\nTuberculosis (TB) is a disease caused by germs")
    assert "spread from person to person through the air." in one  # wrapped line re-joined
    assert "- Has no symptoms and does not feel sick." in one
    assert two.startswith("TB Can Be Treated")
    assert "Calmette-Guérin (BCG) TB vaccine" in two and "directly observed therapy (DOT)" in two
    assert "Calmette" not in one
