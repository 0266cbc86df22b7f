"""Evidence grades, source dates and currency on every answer (issue 10, item 3)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from app.query.assemble import Candidate
from app.query.citing import Numbering, superseded_notice
from app.query.grades import grade_meaning, split_grade
from app.query.render import render_markdown
from app.query.schemas import Answer
from core.contracts import DISCLAIMER_CLINICIAN
from core.models import Chunk, DocType, DocumentMeta, Sentence

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize("text, issuer, label", [
    ("The USPSTF recommends screening for syphilis in persons at increased risk. (A recommendation)",
     "U.S. Preventive Services Task Force (USPSTF)", "USPSTF grade A"),
    ("The USPSTF recommends against screening in adults at low risk (D recommendation).", "USPSTF",
     "USPSTF grade D"),
    ("The evidence is insufficient to assess screening for glaucoma. (I statement)", "USPSTF", "USPSTF I statement"),
    ("We recommend a systolic goal of <150 mmHg. (Strong for; Reviewed, New-replaced)",
     "Department of Veterans Affairs / Department of Defense (VA/DoD)", "VA/DoD: strong for"),
    ("Clinicians should offer naloxone (recommendation category: A, evidence type: 4)", "CDC",
     "CDC category A, evidence type 4"),
    ("Five-year survival was 93%. (Level of evidence: C1)", "NCI PDQ Pediatric Treatment Editorial Board",
     "Level of evidence C1 (PDQ)"),
])
def test_grade_tags_become_labels_and_leave_the_text(text, issuer, label):
    clean, found = split_grade(text, issuer)
    assert found == label
    assert "recommendation)" not in clean and "Level of evidence" not in clean and "(Strong" not in clean
    assert clean.endswith(".") and text.startswith(clean[:-1])


def test_no_tag_no_label_and_mid_sentence_parentheses_stay():
    text = "Screening (A recommendation was made in 2016) continues to be debated."
    assert split_grade(text, "USPSTF") == (text, None)
    assert grade_meaning("USPSTF grade A").startswith("recommended")
    assert grade_meaning("VA/DoD: strong for") is None


def _candidate(doc_id: str, text: str, **meta) -> Candidate:
    chunk = Chunk(chunk_id=f"{doc_id}#0", doc_id=doc_id, ordinal=0, text=text, start=0, end=len(text),
                  sentences=[Sentence(start=0, end=len(text), text=text)])
    return Candidate(row=0, rank=1, chunk=chunk, meta=DocumentMeta(doc_id=doc_id, title=f"T {doc_id}", **meta),
                     sentence_vectors=np.ones((1, 2), np.float32))


class _Unit:
    def __init__(self, cand: Candidate) -> None:
        self.text, self.cand, self.support = cand.chunk.text, cand, [cand]


def test_references_carry_dates_grades_and_currency():
    old = _candidate("ngc-1", "The USPSTF recommends screening for syphilis infection. (A recommendation)",
                     issuer="USPSTF", type=DocType.guideline, date="2016-06", date_kind="released", year=2016,
                     status="Archived NGC summary; may be superseded")
    new = _candidate("pdq-1", "CT with contrast or MRI of the abdomen is used for staging. (Level of evidence: C1)",
                     issuer="NCI PDQ", type=DocType.evidence_summary, date="2025-12-30", date_kind="reviewed",
                     year=2025)
    undated = _candidate("mq-1", "Wilms tumor is a kidney cancer of children.")
    numbering = Numbering(max_chars=400, stale_after_years=5, today=TODAY)
    statements = [numbering.cite(_Unit(c)) for c in (old, new, undated)]
    assert [s.grade for s in statements] == ["USPSTF grade A", "Level of evidence C1 (PDQ)", None]
    refs = numbering.references()
    assert [r.date for r in refs] == ["released 2016-06", "reviewed 2025-12-30", ""]
    assert [r.possibly_superseded for r in refs] == [True, False, False]
    assert refs[0].grades == ["USPSTF grade A"] and refs[0].status.startswith("Archived")
    notice = superseded_notice(refs, 5)
    assert notice is not None and "[1]" in notice and "[2]" not in notice and "5 years" in notice
    assert superseded_notice(refs[1:], 5) is None

    answer = Answer(question="q", resolved_question="q", audience="clinician", disclaimer=DISCLAIMER_CLINICIAN,
                    bottom_line=statements[1], references=refs, currency_notice=notice,
                    sections=[numbering.section("Recommended evaluation (in order)", [_Unit(undated), _Unit(old)],
                                                ordered=True)])
    markdown = render_markdown(answer)
    assert "*(Level of evidence C1 \\(PDQ\\))*" in markdown or "*(Level of evidence C1 (PDQ))*" in markdown
    assert "Released 2016-06." in markdown and "Reviewed 2025-12-30." in markdown
    assert "**May be superseded**" in markdown and notice.split(":")[0] in markdown
    assert "\n1. Wilms tumor is a kidney cancer" in markdown and "\n2. The USPSTF recommends" in markdown


def test_a_reference_reads_overlapping_chunks_once():
    """Chunks of one section overlap by a few sentences; the reference passage states each sentence once
    (issue 18, item 5), in document order, with ' … ' only where the chunks do not meet."""
    text = ("Step one is an ultrasound. Step two is a CT scan of the abdomen. Step three is a chest CT. "
            "Step four is surgery. Step five is chemotherapy.")
    two, three, four = (text.index(f"Step {n}") for n in ("two", "three", "four"))
    cut = [(0, three - 1), (two, four - 1), (four, len(text))]  # 0-1 overlap in "Step two", 1-2 adjacent
    meta = DocumentMeta(doc_id="wilms", title="Wilms")
    cands = []
    for i, (a, b) in enumerate(cut):
        chunk = Chunk(chunk_id=f"wilms#{i}", doc_id="wilms", ordinal=i, text=text[a:b], start=a, end=b,
                      sentences=[Sentence(start=a, end=b, text=text[a:b])])
        cands.append(Candidate(row=i, rank=1, chunk=chunk, meta=meta, sentence_vectors=np.ones((1, 2), np.float32)))

    class Unit:
        def __init__(self, cand):
            self.text, self.cand, self.support = cand.chunk.text, cand, [cand]

    numbering = Numbering(400, 5, TODAY)
    for cand in (cands[2], cands[0], cands[1]):
        numbering.cite(Unit(cand))
    [ref] = numbering.references()
    assert ref.passage.count("Step two") == 1 and ref.passage.count("Step one") == 1
    assert ref.passage == text
    numbering = Numbering(400, 5, TODAY)
    for cand in (cands[0], cands[2]):
        numbering.cite(Unit(cand))
    assert numbering.references()[0].passage == f"{text[:three - 1]} … {text[four:]}"
