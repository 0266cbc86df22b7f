"""National Guideline Clearinghouse XML summaries: field sections, cleaned HTML, repaired mojibake, metadata."""

from __future__ import annotations

import gzip
import html
from pathlib import Path

import pytest

from core.models import DocType
from ingest.loaders import LoadError, load_path, sniff_format
from ingest.loaders.ngc import ngc_to_text, without_third_party_tables
from ingest.loaders.ngc_meta import NGC_STATUS, release_date, short_copyright
from ingest.sentences import split_sentences

SHARED_NGC = Path(__file__).resolve().parents[3] / "shared" / "data" / "ngc-public-domain" / "summaries"


def field(name: str, *values: str, kind: str = "text") -> str:
    vals = "".join(f'<FieldValue Value="{html.escape(v, quote=True)}" />' for v in values)
    return f'<Field Name="{name}" Type="{kind}">{vals}</Field>'


def summary(*fields: str) -> str:
    return f'<Version><Section Name="General">{"".join(fields)}</Section></Version>'


MAJOR = (
    "<div class=\"content_para\"><p>The USPSTF grades its recommendations (<strong>A</strong>, <strong>B</strong>)."
    "</p>\r\n<p><strong><span style=\"text-decoration: underline;\">Summary of Recommendation and Evidence</span>"
    "</strong></p>\r\n<p>The USPSTF recommends screening for syphilis infection in persons who are at increased "
    "risk for infection. (<strong>A recommendation</strong>)</p>\r\n<p><strong>Screening Tests</strong></p>"
    "<p>Use a nontreponemal test &amp; confirm; blood pressure &lt;150 mmHg. It\u00e2\u20ac\u2122s simple.</p>"
    "<ol start=\"4\"><li>The Work Group recommends X. (<strong>Strong for</strong>)</li><li>Then Y.</li></ol></div>"
)
SAMPLE = summary(
    field("Guideline Title", "<div class=\"content_title\">Screening for syphilis infection.</div>"),
    field("Bibliographic Source(s)", "<table><tr><td>Rockville (MD): USPSTF; 2016 Jun.</td></tr></table>",
          kind="citation"),
    field("Guideline Status", "<p>This is the current release of the guideline.</p>"),
    field("Major Recommendations", MAJOR),
    field("Clinical Algorithm(s)", "<div class=\"content_para\"><p>None provided</p></div>"),
    field("Disease/Condition(s)", "<p>Syphilis infection</p>"),
    field("Clinical Specialty", "Family Practice", "Infectious Diseases", kind="picklist-many"),
    field("Potential Harms", "<p>False-positive results.</p>"),
    field("Date Released", "1996 (revised 2016 Jun 7)", kind="text"),
    field("Guideline Developer(s)", "U.S. Preventive Services Task Force - Independent Expert Panel",
          kind="orglist-p"),
    field("Guideline Availability", "<p>Available from the <a href=\"https://www.uspreventiveservicestaskforce.org/"
          "syphilis\" title=\"USPSTF\">USPSTF Web site</a>.</p>"),
    field("Financial Disclosures/Conflicts of Interest", "<p>Members disclose conflicts.</p>"),
    field("NGC Status", "<p>This NGC summary was completed by ECRI on July 20, 2004.</p>"),
    field("Copyright Statement", "<p>No copyright restrictions apply.</p>"),
    field("NGC Disclaimer", "<p>The National Guideline Clearinghouse\u00e2\u201e\u00a2 (NGC) does not develop.</p>"),
)


@pytest.fixture
def sample(tmp_path: Path):
    path = tmp_path / "ngc-10997.xml"
    path.write_text(SAMPLE, encoding="utf-8")
    [doc] = load_path(path)
    for h in doc.headings:
        assert doc.text[h.start : h.end] == h.title
    return doc


def test_one_section_per_field_with_sub_headings_deeper(sample) -> None:
    assert [(h.level, h.title) for h in sample.headings] == [
        (1, "Major Recommendations"),
        (2, "Summary of Recommendation and Evidence"),
        (3, "Screening Tests"),
        (1, "Disease/Condition(s)"),
        (1, "Potential Harms"),
    ]
    assert sample.text.startswith("Major Recommendations\n\nThe USPSTF grades its recommendations (A, B).")


def test_html_in_attributes_is_unescaped_cleaned_and_mojibake_repaired(sample) -> None:
    assert "Use a nontreponemal test & confirm; blood pressure <150 mmHg. It\u2019s simple." in sample.text
    assert "<" not in sample.text.replace("<150", "") and "&amp;" not in sample.text
    assert "\u00e2\u20ac" not in sample.text
    assert "4. The Work Group recommends X. (Strong for)\n\n5. Then Y." in sample.text


def test_administrative_fields_and_the_2018_status_line_are_left_out(sample) -> None:
    for gone in ("current release", "ECRI", "disclose", "Disclaimer", "Clearinghouse", "Family Practice",
                 "None provided", "Clinical Algorithm", "copyright", "Web site"):
        assert gone not in sample.text, gone


def test_metadata_from_identifying_fields(sample) -> None:
    meta = sample.meta
    assert (meta.doc_id, meta.title) == ("ngc-10997", "Screening for syphilis infection")
    assert meta.issuer == "U.S. Preventive Services Task Force (USPSTF)"
    assert (meta.date, meta.date_kind, meta.year) == ("2016-06-07", "released", 2016)
    assert (meta.type, meta.audience) == (DocType.guideline, "clinician")
    assert meta.url == "https://www.uspreventiveservicestaskforce.org/syphilis"
    assert meta.license == "No copyright restrictions apply."
    assert meta.status == NGC_STATUS and "may be superseded" in meta.status


def test_manifest_defaults_override_and_archived_page_is_the_fallback_url(tmp_path: Path) -> None:
    xml = summary(field("Guideline Title", "<div>T.</div>"), field("Major Recommendations", "<p>Do X.</p>"))
    path = tmp_path / "ngc-123.xml.gz"
    path.write_bytes(gzip.compress(xml.encode()))
    [doc] = load_path(path, {"issuer": "Given"})
    assert (doc.meta.doc_id, doc.meta.issuer) == ("ngc-123", "Given")
    assert doc.meta.url == "https://www.guideline.gov/summaries/summary/123"


def test_grade_tags_stay_with_their_sentence(sample) -> None:
    sentences = [sample.text[s:e] for s, e in split_sentences(sample.text)]
    assert ("The USPSTF recommends screening for syphilis infection in persons who are at increased risk for "
            "infection. (A recommendation)") in sentences


def test_tables_reprinted_with_permission_are_removed_from_text_and_from_shipped_xml(tmp_path: Path) -> None:
    value = ("<p>Grades are defined below.</p><p>Table 1. GRADE</p><table><tr><td>Strong</td></tr></table>"
             "<p class=\"Note\"><em>Source</em>: Reprinted with permission of the American Thoracic Society.</p>"
             "<p class=\"Note\">*Exceptionally strong evidence.</p><p>After the table.</p>")
    xml = summary(field("Rating Scheme for the Strength of the Recommendations", value)).encode()
    text, _, fields = ngc_to_text(xml, "x.xml")
    assert text == ("Rating Scheme for the Strength of the Recommendations\n\nGrades are defined below.\n\n"
                    "After the table.")
    assert fields["_third_party_tables"] == "1"
    shipped, removed = without_third_party_tables(xml, "x.xml")
    assert removed == 1 and b"Thoracic" not in shipped and b"Strong" not in shipped
    assert ngc_to_text(shipped, "x.xml")[0] == text
    plain = summary(field("Potential Benefits", "<p>Fewer cases.</p>")).encode()
    assert without_third_party_tables(plain, "x.xml") == (plain, 0)  # untouched bytes


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<Version><Section>", "malformed XML"),
        (b"<?xml version='1.0'?><rss><item/></rss>", "not a National Guideline Clearinghouse summary"),
        (b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa">]><Version/>', "DOCTYPE or entity"),
        (summary(field("NGC Status", "<p>Done.</p>")).encode(), "no clinical fields"),
    ],
)
def test_bad_xml_is_a_clear_load_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert reason in info.value.reason and str(info.value).startswith(str(path))


def test_xml_is_sniffed_by_suffix_and_by_content(tmp_path: Path) -> None:
    for name, data in (("a.xml", b"<Version></Version>"), ("b.xml.gz", gzip.compress(b"<Version/>")),
                       ("c", b"<?xml version='1.0'?>\n<Version/>"), ("d", b"  <Version>\n</Version>")):
        (tmp_path / name).write_bytes(data)
        assert sniff_format(tmp_path / name) == "xml", name
    (tmp_path / "e.xhtml").write_bytes(b"<?xml version='1.0'?><html><body><p>x</p></body></html>")
    assert sniff_format(tmp_path / "e.xhtml") == "html"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2016 Jun", "2016-06"), ("2013 Dec 20", "2013-12-20"), ("2014", "2014"),
     ("1999 Aug (revised 2014 Dec)", "2014-12"), ("2006 Dec (revised 2014)", "2014"), ("unknown", "")],
)
def test_release_dates(text: str, expected: str) -> None:
    assert release_date(text) == expected


def test_copyright_statement_is_shortened_without_contact_details() -> None:
    text = ("Requests regarding copyright should be sent to: Lisa S. Nicolella, Writer/Editor, Office of "
            "Communications, Agency for Healthcare Research and Quality, 5600 Fishers Lane, Rockville, MD 20857; "
            "E-mail: lisa@ahrq.hhs.gov.")
    assert short_copyright(text).endswith("Agency for Healthcare Research and Quality")


# --- real files (shared data) ---------------------------------------------------------------------------------

needs_ngc = pytest.mark.skipif(not (SHARED_NGC / "ngc-10997.xml").is_file(),
                               reason=f"shared NGC data not available at {SHARED_NGC}")


@needs_ngc
def test_real_uspstf_summary() -> None:
    [doc] = load_path(SHARED_NGC / "ngc-10997.xml")
    assert doc.meta.issuer == "U.S. Preventive Services Task Force (USPSTF)" and doc.meta.date == "2016-06"
    assert "The USPSTF recommends screening for syphilis infection in persons who are at increased risk for " \
           "infection. (A recommendation)" in doc.text
    assert "current release" not in doc.text and "\u00e2\u20ac" not in doc.text
    assert doc.meta.url.startswith("https://www.uspreventiveservicestaskforce.org/")


@needs_ngc
def test_real_va_dod_summary_keeps_numbered_graded_recommendations() -> None:
    [doc] = load_path(SHARED_NGC / "ngc-10598.xml")
    assert doc.meta.issuer == "Department of Veterans Affairs / Department of Defense (VA/DoD)"
    assert "the Work Group recommends treating to a systolic blood pressure goal of <150 mmHg. (Strong for)" in doc.text
    titles = [h.title for h in doc.headings]
    assert "Major Recommendations" in titles and "Blood Pressure Goals" in titles


@needs_ngc
def test_real_files_have_no_mojibake_or_status_line() -> None:
    for path in sorted(SHARED_NGC.glob("*.xml"))[::9]:
        [doc] = load_path(path)
        assert "\u00e2\u20ac" not in doc.text and "\u00ef\u00ac" not in doc.text, path.name
        assert "This is the current release" not in doc.text, path.name
        assert doc.meta.date and doc.meta.issuer and doc.meta.license and doc.meta.status, path.name


def test_a_manifest_year_replaces_the_release_date_as_a_unit(tmp_path: Path) -> None:
    xml = summary(field("Major Recommendations", "<p>Do X.</p>"), field("Date Released", "2016 Jun"))
    path = tmp_path / "ngc-7.xml"
    path.write_text(xml, encoding="utf-8")
    [doc] = load_path(path, {"year": 2019})
    assert (doc.meta.year, doc.meta.date, doc.meta.date_kind) == (2019, "", "")
