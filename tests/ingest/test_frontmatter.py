"""Markdown with YAML front matter, the generic Markdown cleaning rules and the NCI PDQ profile, rule by rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.models import DocType
from ingest.loaders import LoadError, load_path, mdclean
from ingest.loaders.frontmatter import split_front_matter
from ingest.loaders.profiles import PDQ_LICENSE, clean_document, profile_for

SHARED_PDQ = Path(__file__).resolve().parents[3] / "shared" / "data" / "pdq-hp" / "docs"
WILMS = SHARED_PDQ / "types-kidney-hp-wilms-treatment-pdq.md"

PDQ_FRONT = """---
audienceLevel: patient
citation: NCI, 2025
lastReviewed: '2025-12-30'
license: public_domain
source: NCI
status: active
tags:
- pdq
title: Flu Treatment (PDQ®) - NCI
url: https://www.cancer.gov/types/flu/hp/flu-treatment-pdq
---
"""


def pdq(body: str) -> str:
    """A PDQ-shaped file: the front matter, the two H1 lines, then ``body``."""
    return (PDQ_FRONT + "\n# Flu Treatment (PDQ®) - NCI\n\n# Flu Treatment (PDQ®)–Health Professional Version\n\n"
            + body)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_one(tmp_path: Path, text: str, name: str = "doc.md", defaults: dict | None = None):
    [doc] = load_path(write(tmp_path, name, text), defaults)
    for h in doc.headings:
        assert doc.text[h.start : h.end] == h.title
    return doc


# --- front matter ---------------------------------------------------------------------------------------------


def test_front_matter_fields_become_metadata_and_manifest_defaults_win(tmp_path: Path) -> None:
    text = ("---\ntitle: Gout care\nurl: https://example.org/gout\npublisher: Example Society\n"
            "published: 2021-03-04\ntype: guideline\naudience: clinician\n---\n# Gout\n\nTreat flares early.\n")
    doc = load_one(tmp_path, text, "gout.md")
    meta = doc.meta
    assert (meta.title, meta.url, meta.issuer, meta.type) == (
        "Gout care", "https://example.org/gout", "Example Society", DocType.guideline)
    assert (meta.date, meta.date_kind, meta.year, meta.audience) == ("2021-03-04", "published", 2021, "clinician")
    assert "title:" not in doc.text and doc.text.startswith("Gout\n\nTreat flares early.")
    doc = load_one(tmp_path, text, "gout.md", {"title": "Manifest title", "issuer": "Manifest body", "year": 2019})
    assert (doc.meta.title, doc.meta.issuer, doc.meta.year, doc.meta.date) == (
        "Manifest title", "Manifest body", 2019, "")  # a manifest year replaces the front matter's date as a unit


def test_front_matter_without_fields_keeps_the_plain_markdown_behaviour(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "---\n---\n# Asthma\n\nUse an inhaler.\n", "asthma.md")
    assert (doc.meta.title, doc.text) == ("Asthma", "Asthma\n\nUse an inhaler.")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: [unclosed\n---\n# X\n", "invalid YAML front matter at line 2"),
        ("---\n- a\n- b\n---\n# X\n", "front matter is a list, not a mapping"),
        ("---\ntitle: X\ndate: 2021-13-01\n---\n# X\n\nBody.\n", "invalid YAML front matter: month must be"),
        ("---\ntitle: X\ndate: '2021-13'\n---\n# X\n\nBody.\n", "invalid date '2021-13'"),
        ("---\ntitle: X\naudience: everyone\n---\n# X\n\nBody.\n", "invalid audience"),
    ],
)
def test_bad_front_matter_is_a_clear_load_error(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, "bad.md", text)
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert reason in info.value.reason and str(info.value).startswith(str(path))


def test_yaml_is_parsed_safely(tmp_path: Path) -> None:
    path = write(tmp_path, "evil.md", "---\ntitle: !!python/object/apply:os.system ['echo hacked']\n---\nBody\n")
    with pytest.raises(LoadError, match="invalid YAML front matter"):
        load_path(path)


def test_split_front_matter_handles_bom_and_crlf() -> None:
    front, body = split_front_matter("\ufeff---\r\ntitle: A\r\n---\r\nText\r\n")
    assert front == {"title": "A"} and body == "Text\n"


# --- generic Markdown rules -----------------------------------------------------------------------------------


def test_reference_blocks_are_dropped_up_to_the_next_heading() -> None:
    md = "## Causes\n\nText.\n\n###### References\n\n1. Smith A: Flu. 2020.\n\n###### Lymph node sampling\n\nKept."
    text, n = mdclean.drop_reference_sections(md)
    assert n == 1 and "Smith" not in text and "###### Lymph node sampling\n\nKept." in text
    text, n = mdclean.drop_reference_sections("## Key References for CLL\n\n- Smith: x.\n\n## Next\n\nB.")
    assert (n, text) == (1, "## Next\n\nB.")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Survival is 93%.[[2](#cit/section_1.2)] Next.", "Survival is 93%. Next."),
        ("Rates fell.[[1](#cit/section_1.1)-[3](#cit/section_1.3)]", "Rates fell."),
        ("See the panel [[4](#cit/section_1.4),[5](#cit/section_1.5)], which met.", "See the panel, which met."),
        ("The DRI [[5](#cit/section_4.5)] is short.", "The DRI is short."),
    ],
)
def test_inline_citation_links_are_removed_entirely(source: str, expected: str) -> None:
    assert mdclean.strip_citation_links(source)[0] == expected


def test_internal_links_keep_their_text(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "---\ntitle: T\n---\nSee [Late Effects](/types/late-effects-hp-pdq) and "
                             "[rhabdoid tumors](/types/kidney/hp/wilms#_17).\n")
    assert doc.text == "See Late Effects and rhabdoid tumors."


def test_images_are_dropped() -> None:
    assert mdclean.drop_images("A.\n\n![Chart of x](x.png \"Chart\")\n\nB ![y](y.png) c.")[0] == "A.\n\nB  c."


def test_lists_broken_across_lines_are_joined_and_interrupting_items_separated(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "---\ntitle: T\n---\nTests include:\n\n1. Physical examination.\n2. Complete blood\n"
                             "count.\n3. Liver function test.\n\nThe study reported:\n2. A second finding.\n")
    assert "1. Physical examination.\n2. Complete blood count.\n3. Liver function test." in doc.text
    assert "The study reported:\n\n2. A second finding." in doc.text


def test_rules_leave_fenced_code_alone() -> None:
    md = "```\n###### References\n![x](y.png)\n```\n"
    assert mdclean.clean_generic(md)[0] == md.strip("\n")


# --- the NCI PDQ profile, rule by rule ------------------------------------------------------------------------


def test_pdq_metadata_title_board_audience_type_licence_and_date(tmp_path: Path) -> None:
    body = ("## Treatment\n\nRest.\n\n## Latest Updates to This Summary (04/15/2025)\n\nRevised text.\n\n"
            "## About This PDQ Summary\n\n### Reviewers and Updates\n\nThis summary is reviewed regularly and updated "
            "as necessary by the [PDQ Pediatric Treatment Editorial Board](https://www.cancer.gov/x), which is "
            "editorially independent.\n")
    doc = load_one(tmp_path, pdq(body), "types-flu-hp-flu-treatment-pdq.md")
    meta = doc.meta
    assert meta.doc_id == "types-flu-hp-flu-treatment-pdq"
    assert meta.title == "Flu Treatment (PDQ®)–Health Professional Version"
    assert meta.issuer == "NCI PDQ Pediatric Treatment Editorial Board"
    assert (meta.audience, meta.type, meta.license) == ("clinician", DocType.evidence_summary, PDQ_LICENSE)
    assert (meta.date, meta.date_kind, meta.year, meta.status) == ("2025-04-15", "reviewed", 2025, "")
    assert meta.url == "https://www.cancer.gov/types/flu/hp/flu-treatment-pdq"


def test_pdq_without_board_or_update_date_falls_back(tmp_path: Path) -> None:
    doc = load_one(tmp_path, pdq("## Treatment\n\nRest.\n"))
    assert doc.meta.issuer == "National Cancer Institute (NCI)"
    assert (doc.meta.date, doc.meta.date_kind) == ("2025-12-30", "reviewed")  # front matter lastReviewed


def test_pdq_duplicate_h1_becomes_one_heading(tmp_path: Path) -> None:
    doc = load_one(tmp_path, pdq("## Treatment\n\nRest.\n"))
    assert [(h.level, h.title) for h in doc.headings] == [
        (1, "Flu Treatment (PDQ®)–Health Professional Version"), (2, "Treatment")]
    assert "- NCI" not in doc.text


def test_pdq_patient_version_links_are_dropped(tmp_path: Path) -> None:
    doc = load_one(tmp_path, pdq("## Treatment\n\n[Go to Patient Version](/types/flu/patient/flu-pdq)\n\nRest.\n"))
    assert "Patient Version" not in doc.text and doc.text.endswith("Treatment\n\nRest.")


def test_pdq_enlarge_image_lines_and_figure_captions_with_credits_are_dropped(tmp_path: Path) -> None:
    body = ("## Genomics\n\nBefore.\n\n[Enlarge](https://nci-media.cancer.gov/a.jpg)![Diagram of a pathway.]"
            "(https://nci-media.cancer.gov/a-750.jpg \"Diagram of a pathway.\")\n\n"
            "Figure 1. The miRNA pathway is mutated. Copyright (2015),\nwith permission from Elsevier.\n"
            "- A list item after the caption.\n\nFigure 2. Survival by stage.\n\nReprinted with permission © 2009. "
            "Published by Wiley-Blackwell.\n\nAfter, see Figure 1. It shows the pathway.\n")
    doc = load_one(tmp_path, pdq(body))
    assert "Enlarge" not in doc.text and "Diagram" not in doc.text and "Elsevier" not in doc.text
    for gone in ("miRNA pathway is mutated", "Wiley", "Survival by stage"):
        assert gone not in doc.text
    assert "Before.\n\n- A list item after the caption.\n\nAfter, see Figure 1. It shows the pathway." in doc.text


def test_pdq_image_cells_of_a_kept_table_lose_the_image_but_keep_the_row(tmp_path: Path) -> None:
    body = ("## Staging\n\n| Stage | Definition | Illustration |\n| --- | --- | --- |\n"
            "| I | One section involved. | [Enlarge](https://nci-media.cancer.gov/1.jpg)Liver PRETEXT I; drawing "
            "shows one section. |\n")
    doc = load_one(tmp_path, pdq(body))
    assert "I | One section involved." in doc.text and "drawing" not in doc.text and "Enlarge" not in doc.text


AJCC_TABLE = """The AJCC has designated staging by TNM classification to define colon cancer.

Table 1. Definitions of TNM Stage 0a

| Stage | TNM | Description |
| --- | --- | --- |
| T = primary tumor; N = regional lymph nodes. | | |
| aReprinted with permission from AJCC: Colon and rectum. In: Amin MB, et al., eds.: *AJCC Cancer Staging Manual*. | | |
| 0 | Tis, N0, M0 | Tis = Carcinoma *in situ*. |

Definitions of TNM Stage Ia

| Stage | TNM | Description |
| --- | --- | --- |
| aAdapted from AJCC: Prostate. In: Amin MB, eds.: *AJCC Cancer Staging Manual*. 8th ed. | | |
| I | T1, N0, M0 | T1 = Tumor invades submucosa. |

Table 3. Lugano Classification for Hodgkin and Non-Hodgkin Lymphomaa

| Stage | Involvement |
| --- | --- |
| aHodgkin and Non-Hodgkin Lymphomas. In: Amin MB, Edge SB, et al., eds.: *AJCC Cancer Staging Manual*. 8th ed. | |
"""


def test_pdq_ajcc_tables_and_their_captions_are_removed_but_nci_prose_stays(tmp_path: Path) -> None:
    front, body = split_front_matter(pdq("## Stage Information\n\n" + AJCC_TABLE + "\nOther text.\n"))
    cleaned = clean_document(front, body)
    assert cleaned.removed["table_ajcc"] == 3
    assert "Reprinted" not in cleaned.text and "Tis, N0" not in cleaned.text and "Table 1." not in cleaned.text
    assert "Definitions of TNM Stage Ia" not in cleaned.text and "Lugano" not in cleaned.text
    assert "The AJCC has designated staging by TNM classification" in cleaned.text
    assert cleaned.text.endswith("define colon cancer.\n\nOther text.")


def test_pdq_other_third_party_tables_are_removed_and_nci_tables_kept(tmp_path: Path) -> None:
    body = ("## Risk\n\nTable 2. Risk by Age\n\n| Age | Risk |\n| --- | --- |\n| <40 | 1% |\n"
            "| aReprinted from [Blood](https://www.sciencedirect.com/journal/blood), Copyright 2016. | |\n\n"
            "Table 3. Treatment Options\n\n| Stage | Option |\n| --- | --- |\n| I | Surgery |\n"
            "| aAdapted from the Children's Oncology Group. | |\n")
    front, text = split_front_matter(pdq(body))
    cleaned = clean_document(front, text)
    assert cleaned.removed["table_third_party"] == 1 and "Risk by Age" not in cleaned.text
    doc = load_one(tmp_path, pdq(body))
    assert "Table 3. Treatment Options\n\nStage | Option\nI | Surgery" in doc.text


def test_pdq_boilerplate_sections_and_clinical_trial_navigation_are_dropped(tmp_path: Path) -> None:
    body = ("## Treatment\n\nRest.\n\n### Current Clinical Trials\n\nUse our [advanced clinical trial search]"
            "(https://www.cancer.gov/x) to find trials.\n\n### Prognosis\n\nGood.\n\n"
            "## Latest Updates to This Summary (04/15/2025)\n\nRevised text.\n\n## About This PDQ Summary\n\n"
            "### Purpose of This Summary\n\nPurpose.\n\n### Permission to Use This Summary\n\nPDQ is a registered "
            "trademark. Updated <MM/DD/YYYY>.\n\n### Disclaimer\n\nNo.\n\n### Contact Us\n\nWrite.\n")
    doc = load_one(tmp_path, pdq(body))
    assert doc.text.endswith("Treatment\n\nRest.\n\nPrognosis\n\nGood.")
    for gone in ("clinical trial search", "Revised text", "Purpose", "registered trademark", "MM/DD", "Write."):
        assert gone not in doc.text


def test_pdq_level_of_evidence_markers_become_plain_grades(tmp_path: Path) -> None:
    body = ("## Evidence\n\nSurvival improved.[[23](#cit/section_9.23)][[Level of evidence C1](/Common/PopUps/"
            "popDefinition.aspx?id=1)] The DRI [[5](#cit/section_4.5)][[Level of evidence: II](/Common/PopUps/x)]"
            "[[6](#cit/section_4.6)] is short.\n")
    doc = load_one(tmp_path, pdq(body))
    assert "Survival improved. (Level of evidence: C1) The DRI (Level of evidence: II) is short." in doc.text


def test_updated_template_lines_are_dropped() -> None:
    front, body = split_front_matter(pdq("## A\n\nText.\n\nUpdated <MM/DD/YYYY>\n"))
    assert "MM/DD" not in clean_document(front, body).text


def test_profiles_are_chosen_by_the_document_and_generic_files_are_not_touched_by_pdq_rules() -> None:
    pdq_front = {"title": "X (PDQ®) - NCI", "url": "https://www.cancer.gov/types/x/hp/x"}
    assert profile_for(pdq_front, "").name == "nci-pdq-hp"
    assert profile_for({"title": "Gout", "url": "https://example.org"}, "").name == "generic"
    cleaned = clean_document({"title": "Gout"}, "Figure 1. A chart.\n\n[Go to Patient Version](/x)\n")
    assert cleaned.text == "Figure 1. A chart.\n\nGo to Patient Version"  # only the generic rules ran


def test_cleaning_is_idempotent_on_a_pdq_sample() -> None:
    front, body = split_front_matter(pdq("## Stage Information\n\n" + AJCC_TABLE + "\n## Treatment\n\nA.[[1](#cit/"
                                         "section_1.1)]\n\n###### References\n\n1. X.\n"))
    once = clean_document(front, body)
    assert clean_document(front, once.text).text == once.text


# --- real files (shared data) ---------------------------------------------------------------------------------

needs_pdq = pytest.mark.skipif(not WILMS.is_file(), reason=f"shared PDQ data not available at {SHARED_PDQ}")


@needs_pdq
def test_real_wilms_summary_keeps_the_diagnostic_evaluation_and_drops_the_noise() -> None:
    [doc] = load_path(WILMS)
    assert doc.meta.title == ("Wilms Tumor and Other Childhood Kidney Tumors Treatment (PDQ®)–Health Professional "
                              "Version")
    assert doc.meta.issuer == "NCI PDQ Pediatric Treatment Editorial Board" and doc.meta.audience == "clinician"
    assert "2. Complete blood count.\n3. Liver function test." in doc.text
    assert "CT scan with contrast (oral contrast is not necessary) or MRI of abdomen and pelvis" in doc.text
    for noise in ("PUBMED", "#cit/", "[Enlarge]", "Go to Patient Version", "Permission to Use", "Updated <"):
        assert noise not in doc.text
    titles = [h.title for h in doc.headings]
    assert "Diagnostic and Staging Evaluation for Wilms Tumor" in titles and "References" not in titles
    assert sum(h.level == 1 for h in doc.headings) == 1


@needs_pdq
def test_real_pdq_files_lose_every_ajcc_table_and_figure() -> None:
    names = sorted(p.name for p in SHARED_PDQ.glob("*.md"))
    with_ajcc = [n for n in names if "Reprinted with permission from AJCC" in (SHARED_PDQ / n).read_text("utf-8")]
    assert len(with_ajcc) == 38  # as SOURCE.md says
    for name in with_ajcc[:6] + ["types-brain-hp-child-ependymoma-treatment-pdq.md"]:
        [doc] = load_path(SHARED_PDQ / name)
        assert "with permission" not in doc.text, name
        assert not re.search(r"(?m)^Figure \d+[A-Za-z]?\. ", doc.text), name
        assert not [line for line in doc.text.splitlines() if " | " in line and "AJCC" in line], name


def test_table_debris_rows_are_dropped(tmp_path: Path) -> None:
    doc = load_one(tmp_path, "---\ntitle: T\n---\n| Age | Rate |\n| --- | --- |\n|  |  |\n| --- | --- |\n"
                             "| 1–4 | 1 |\n")
    assert doc.text == "Age | Rate\n1–4 | 1"


def test_pdq_patient_versions_are_not_taken_for_clinician_texts() -> None:
    front = {"title": "Flu Treatment (PDQ®) - NCI", "url": "https://www.cancer.gov/types/flu/patient/flu-pdq"}
    assert profile_for(front, "# Flu Treatment (PDQ®)–Patient Version\n").name == "generic"
