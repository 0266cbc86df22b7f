"""Section spans (heading nesting) and heuristic PDF heading detection."""

from __future__ import annotations

from core.models import Document, DocumentMeta, Heading, PageSpan
from ingest.sections import detect_pdf_headings, page_furniture, section_spans


def _doc(text: str, headings: list[Heading] | None = None, pages: list[PageSpan] | None = None) -> Document:
    return Document(meta=DocumentMeta(doc_id="d", title="T"), text=text, headings=headings or [], pages=pages or [])


def _heading(text: str, title: str, level: int, after: int = 0) -> Heading:
    start = text.index(title, after)
    return Heading(start=start, end=start + len(title), level=level, title=title)


def _paged(pages: list[str]) -> Document:
    spans, pos = [], 0
    for number, page in enumerate(pages, start=1):
        spans.append(PageSpan(start=pos, end=pos + len(page), page=number))
        pos += len(page) + 2
    return _doc("\n\n".join(pages), pages=spans)


# ---- section_spans ---------------------------------------------------------------------------------------


def test_sections_nest_by_level_and_cover_the_text_in_order() -> None:
    text = (
        "Preface text.\nCHAPTER ONE\nIntro body.\nMethods\nMethod body.\nResults\nResult body.\n"
        "Detail\nDetail body.\nCHAPTER TWO\nMore body."
    )
    headings = [
        _heading(text, "CHAPTER ONE", 1),
        _heading(text, "Methods", 2),
        _heading(text, "Results", 2),
        _heading(text, "Detail", 3),
        _heading(text, "CHAPTER TWO", 1),
    ]
    spans = section_spans(_doc(text, headings))
    assert [(path, text[s:e].strip()) for path, s, e in spans] == [
        ([], "Preface text."),
        (["CHAPTER ONE"], "Intro body."),
        (["CHAPTER ONE", "Methods"], "Method body."),
        (["CHAPTER ONE", "Results"], "Result body."),
        (["CHAPTER ONE", "Results", "Detail"], "Detail body."),
        (["CHAPTER TWO"], "More body."),
    ]
    assert spans[-1][2] == len(text)
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))


def test_heading_text_is_not_body_and_no_empty_preface() -> None:
    text = "## Dosage\nTake 5 mg.\n## Side effects\nNausea."
    headings = [_heading(text, "Dosage", 1), _heading(text, "Side effects", 1)]
    spans = section_spans(_doc(text, headings))
    assert [path for path, _, _ in spans] == [["Dosage"], ["Side effects"]]
    bodies = [text[s:e] for _, s, e in spans]
    assert bodies[0].strip() == "Take 5 mg." and "##" not in bodies[0]  # markup before a heading is not body
    assert "Dosage" not in bodies[0] and "Side effects" not in "".join(bodies)


def test_no_headings_is_one_section_and_bad_headings_are_ignored() -> None:
    text = "Just text. More text."
    assert section_spans(_doc(text)) == [([], 0, len(text))]
    bad = Heading(start=5, end=400, level=1, title="Too long")
    assert section_spans(_doc(text, [bad])) == [([], 0, len(text))]


def test_a_deeper_heading_after_a_shallower_one_resets_the_path() -> None:
    text = "A\nx.\nB\ny.\nC\nz."
    headings = [_heading(text, "A", 2), _heading(text, "B", 3), _heading(text, "C", 1)]
    assert [p for p, _, _ in section_spans(_doc(text, headings))] == [["A"], ["A", "B"], ["C"]]


# ---- detect_pdf_headings -----------------------------------------------------------------------------------

PAGES = [
    # page 1
    "Hypertension Care Guide\n"
    "1\n"
    "INTRODUCTION\n"
    "High blood pressure affects many adults and is often found during\n"
    "routine checks. The guideline was written by the\n"
    "American Heart Association Writing Group\n"
    "and reviewed by clinicians.\n"
    "Take Medicines Daily.\n"
    "Treatment Goals\n"
    "Most adults should aim for a blood pressure below 130/80 mm Hg when\n"
    "treated. Home readings help to confirm the diagnosis.",
    # page 2
    "Hypertension Care Guide\n"
    "2\n"
    "2.1 Drug Therapy\n"
    "2.5 mg Amlodipine Daily\n"
    "is a common starting dose for older adults with stage 1 disease.\n"
    "• Low Salt Diet\n"
    "• Regular Exercise\n"
    "Lifestyle changes lower blood pressure in most patients. Clinicians\n"
    "Should Review The Plan Every Visit\n"
    "with the patient.\n"
    "Recommendation 3\n"
    "Offer a thiazide diuretic as the first drug for most patients.",
    # page 3
    "Hypertension Care Guide\n"
    "3\n"
    "MONITORING AND\n"
    "FOLLOW-UP\n"
    "Patients should be seen again within one month of starting treatment.\n"
    "References\n"
    "Smith J. Blood pressure trials. Lancet. 2020.",
]


def test_detects_headings_in_a_paged_document() -> None:
    doc = _paged(PAGES)
    found = detect_pdf_headings(doc)
    assert [(h.title, h.level) for h in found.headings] == [
        ("INTRODUCTION", 1),
        ("Treatment Goals", 2),
        ("2.1 Drug Therapy", 2),
        ("Recommendation 3", 3),
        ("MONITORING AND FOLLOW-UP", 1),
        ("References", 2),
    ]
    for h in found.headings:
        assert h.title.split()[0] == doc.text[h.start : h.end].split()[0]
    assert doc.headings == []  # the input is not modified


def test_running_headers_page_numbers_and_body_lines_are_not_headings() -> None:
    titles = {h.title for h in detect_pdf_headings(_paged(PAGES)).headings}
    not_headings = {
        "Hypertension Care Guide",  # running header
        "1",
        "American Heart Association Writing Group",  # wrapped body line in Title Case
        "Take Medicines Daily.",  # a sentence
        "2.5 mg Amlodipine Daily",  # a dose, not a numbered heading
        "• Low Salt Diet",
        "Low Salt Diet",
        "Should Review The Plan Every Visit",  # continues a sentence
    }
    assert not titles & not_headings


def test_sections_of_a_detected_pdf_nest_under_caps_headings() -> None:
    doc = detect_pdf_headings(_paged(PAGES))
    paths = [path for path, _, _ in section_spans(doc)]
    assert ["INTRODUCTION", "Treatment Goals"] in paths
    assert ["MONITORING AND FOLLOW-UP", "References"] in paths


def test_non_pdf_or_already_headed_documents_are_unchanged() -> None:
    web = _doc("INTRODUCTION\nSome body text that runs for a while here.\n")
    assert detect_pdf_headings(web) is web
    headed = _paged(PAGES).model_copy(update={"headings": [Heading(start=0, end=5, level=1, title="Hyper")]})
    assert detect_pdf_headings(headed) is headed


def test_page_furniture_finds_running_headers_and_page_numbers() -> None:
    doc = _paged(PAGES)
    furniture = {doc.text[s:e] for s, e in page_furniture(doc)}
    assert furniture == {"Hypertension Care Guide", "1", "2", "3"}
    assert page_furniture(_doc("No pages here.")) == []
