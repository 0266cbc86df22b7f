"""Answers that answer the question asked (issue 10, item 4), on hand-made candidates (no model): the bottom line
names the test the question asks for, a numbered procedure stays an ordered section in the source's order, and an
alternative's drawback goes under the alternative."""

from __future__ import annotations

import numpy as np

from app.query.assemble import Candidate, assemble
from index.lexical import tokenize
from core.models import Chunk, DocType, DocumentMeta, Sentence
from app.query.settings import AnswerSettings
QUESTION = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank "
            "mass and ultrasound findings of a mass with internal calcification?")
SECTION = ["Wilms Tumor", "Diagnostic and Staging Evaluation for Wilms Tumor"]


def _vec(*weights: float) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def _chunk(row: int, ordinal: int, sentences: list[tuple[str, np.ndarray]], section: list[str]) -> Candidate:
    text, spans, start = "", [], 1000 * ordinal
    for s, _ in sentences:
        spans.append(Sentence(start=start, end=start + len(s), text=s))
        text += s + " "
        start += len(s) + 1
    text = text.rstrip()
    chunk = Chunk(chunk_id=f"wilms#{ordinal}", doc_id="wilms", ordinal=ordinal, text=text, start=1000 * ordinal,
                  end=1000 * ordinal + len(text), sentences=spans, section_path=section)
    meta = DocumentMeta(doc_id="wilms", title="Wilms Tumor Treatment (PDQ®)–Health Professional Version",
                        issuer="NCI PDQ Pediatric Treatment Editorial Board", type=DocType.evidence_summary)
    return Candidate(row=row, rank=row + 1, chunk=chunk, meta=meta, sentence_vectors=np.stack([v for _, v in sentences]))


Q = _vec(1, 0, 0)
FIRST = _chunk(2, 10, [
    ("Tests and procedures used to diagnose and stage Wilms tumor include the following:", _vec(0.7, 0.7)),
    ("1. Physical examination and history.", _vec(0.3, 0.9)),
    ("2. Complete blood count.", _vec(0.2, 0.9)),
    ("3. Liver function test.", _vec(0.2, 0.9)),
], SECTION)
SECOND = _chunk(1, 11, [
    ("4. Renal function test.", _vec(0.2, 0.9)),
    ("5. Abdominal imaging.", _vec(0.5, 0.8)),
    ("Wilms tumor is the most common kidney tumor of childhood and often presents with a flank mass.", _vec(0.95, 0.1)),
    ("CT scan with contrast or MRI of the abdomen and pelvis is performed to confirm the renal origin of the mass.",
     _vec(0.8, 0, 0, 0, 0.6)),
    ("The main drawback with abdominal MRI is that moderate to deep sedation is often required in young children.",
     _vec(0.8, 0, 0.6)),
    ("CT scanning provides the most sensitive method of detecting metastatic lung nodules.", _vec(0.75, 0, 0, 0.66)),
], SECTION)
INCIDENCE = _chunk(0, 3, [("In a pediatric patient, a left flank mass with internal calcification on ultrasound is "
                           "most often a Wilms tumor or a neuroblastoma.", _vec(0.97, 0.05))],
                   ["Wilms Tumor", "Incidence of Wilms Tumor"])


def _answer():
    weights = {t: 1.0 for t in tokenize(QUESTION)}
    return assemble(QUESTION, Q, weights, [INCIDENCE, SECOND, FIRST], tokenize, AnswerSettings(),
                    (DocType.evidence_summary,), section_chunks=lambda cand: [FIRST, SECOND])


def test_bottom_line_names_the_test_not_a_statement_about_the_disease():
    out = _answer()
    assert out.bottom_line is not None
    assert "CT" in out.bottom_line.text and "MRI" in out.bottom_line.text, out.bottom_line.text


def test_numbered_procedure_is_an_ordered_section_in_source_order():
    out = _answer()
    [steps] = [s for s in out.sections if s.ordered]
    assert [st.text for st in steps.statements] == ["Physical examination and history.", "Complete blood count.",
                                                   "Liver function test.", "Renal function test.",
                                                   "Abdominal imaging."]
    assert "order" in steps.heading
    assert all(st.citations for st in steps.statements)
    others = [st.text for s in out.sections if not s.ordered for st in s.statements]
    assert not any("Complete blood count." in t or "Physical examination" in t for t in others)  # nor its lead-in


def test_drawback_of_the_alternative_sits_under_the_alternative():
    out = _answer()
    headings = [s.heading for s in out.sections]
    assert "Alternative: MRI" in headings, headings
    [alt] = [s for s in out.sections if s.heading == "Alternative: MRI"]
    assert any("drawback with abdominal MRI" in st.text for st in alt.statements)
    elsewhere = [st.text for s in out.sections if s.heading != "Alternative: MRI" for st in s.statements]
    assert not any("drawback" in t for t in elsewhere)
