"""Answer assembly on hand-made candidates (no model): statements, de-duplication, citations, references."""

from __future__ import annotations

import numpy as np

from app.query.assemble import Candidate, assemble, normalise_statement, trim
from index.lexical import tokenize
from core.models import Chunk, DocType, DocumentMeta, Sentence
from app.query.settings import AnswerSettings
def _vec(*weights: float) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def _candidate(row: int, doc: str, sentences: list[tuple[str, np.ndarray]], *, parent: str = "",
               pages: list[int] | None = None) -> Candidate:
    text, spans, start = "", [], 0
    for s, _ in sentences:
        text += s + " "
        spans.append(Sentence(start=start, end=start + len(s), text=s))
        start += len(s) + 1
    chunk = Chunk(chunk_id=f"{doc}#0", doc_id=doc, ordinal=0, text=text.rstrip(), start=0, end=len(text.rstrip()),
                  sentences=spans, pages=pages or [])
    meta = DocumentMeta(doc_id=doc, title=doc.title(), issuer="CDC", type=DocType.guideline, parent_id=parent)
    return Candidate(row=row, rank=row + 1, chunk=chunk, meta=meta,
                     sentence_vectors=np.stack([v for _, v in sentences]))


Q = _vec(1, 0, 0)
WEIGHTS = {t: 1.0 for t in tokenize("How is gout treated with colchicine?")}


def test_statements_cite_their_chunks_and_references_follow_first_use():
    a = _candidate(0, "gout", [("Colchicine is used to treat acute gout flares in adults.", _vec(1, 0.1)),
                               ("Gout is caused by uric acid crystals in the joints.", _vec(0.6, 0.8))])
    b = _candidate(1, "arthritis", [("Joint pain has many causes besides gout in older adults.", _vec(0.5, 0, 0.9))])
    out = assemble("How is gout treated with colchicine?", Q, WEIGHTS, [a, b], tokenize, AnswerSettings())
    assert out.bottom_line is not None and out.bottom_line.text.startswith("Colchicine")
    seen: list[int] = []
    for st in [out.bottom_line] + [s for sec in out.sections for s in sec.statements]:
        for n in st.citations:
            if n not in seen:
                seen.append(n)
    assert seen == list(range(1, len(out.references) + 1))
    by_n = {r.n: r for r in out.references}
    for st in [s for sec in out.sections for s in sec.statements] + [out.bottom_line]:
        assert any(st.text in by_n[n].passage for n in st.citations)


def test_near_identical_sentences_are_merged_and_cite_both_sources():
    same = _vec(1, 0.05)
    a = _candidate(0, "gard", [("Colchicine relieves the pain of a gout attack within hours.", same)], parent="p1")
    b = _candidate(1, "ghr", [("Colchicine relieves the pain of a gout attack within hours!", same)], parent="p2")
    out = assemble("colchicine gout", Q, WEIGHTS, [a, b], tokenize, AnswerSettings())
    statements = [out.bottom_line] + [s for sec in out.sections for s in sec.statements]
    assert len(statements) == 1, "the duplicate is not repeated"
    assert out.bottom_line.citations == [1, 2]
    assert [r.doc_id for r in out.references] == ["gard", "ghr"]


def test_passages_of_one_page_share_one_reference():
    a = _candidate(0, "page-sec1", [("Colchicine treats gout flares when started early.", _vec(1, 0.1))], parent="page")
    b = _candidate(1, "page-sec2", [("Allopurinol lowers uric acid to prevent gout attacks.", _vec(0.7, 0.7))],
                   parent="page")
    out = assemble("gout treatment", Q, WEIGHTS, [a, b], tokenize, AnswerSettings())
    assert len(out.references) == 1
    assert out.references[0].chunk_ids == ["page-sec1#0", "page-sec2#0"]


def test_questions_headings_and_boilerplate_are_not_statements():
    a = _candidate(0, "gout", [("What is gout?", _vec(1)), ("Key Points about gout treatment today.", _vec(1, 0.01)),
                               ("Treatment of Gout", _vec(1, 0.02)),
                               ("Colchicine is a first-line treatment for gout flares.", _vec(0.9, 0.3))])
    out = assemble("gout treatment", Q, WEIGHTS, [a], tokenize, AnswerSettings())
    texts = [out.bottom_line.text] + [s.text for sec in out.sections for s in sec.statements]
    assert texts == ["Colchicine is a first-line treatment for gout flares."]


def test_no_usable_sentence_gives_no_statements():
    a = _candidate(0, "gout", [("Gout?", _vec(1))])
    out = assemble("gout", Q, WEIGHTS, [a], tokenize, AnswerSettings())
    assert out.bottom_line is None and out.references == [] and out.evidence == 0.0


def test_normalise_and_trim():
    assert normalise_statement("  -   Fever or\n night  sweats.") == "Fever or night sweats."
    long = "Colchicine is used for gout, " * 30
    cut = trim(long, 120)
    assert len(cut) <= 121 and cut.endswith("…") and long.startswith(cut[:-1])


def test_the_same_sentence_on_two_pages_is_one_statement_citing_both():
    text = "Ultrasound exam: high-energy sound waves are bounced off internal tissues to make echoes."
    a = _candidate(0, "wilms", [(text, _vec(1, 0.2))], parent="p1")
    b = _candidate(1, "neuroblastoma", [(text, _vec(1, 0, 0.5))], parent="p2")  # title prefixes differ
    out = assemble("ultrasound exam", Q, {"ultrasound": 1.0}, [a, b], tokenize, AnswerSettings())
    statements = [out.bottom_line] + [s for sec in out.sections for s in sec.statements]
    assert len(statements) == 1 and out.bottom_line.citations == [1, 2]


def test_bottom_line_is_not_a_sentence_leaning_on_its_neighbour():
    a = _candidate(0, "hands", [
        ("Otherwise, alcohol-based hand rub is the preferred method for hand hygiene in clinics.", _vec(1, 0.05)),
        ("Alcohol-based hand rub is preferred for hand hygiene in most clinical situations.", _vec(1, 0.25)),
    ])
    out = assemble("hand hygiene in clinics", Q, {"hand": 1.0, "hygien": 1.0}, [a], tokenize, AnswerSettings())
    assert out.bottom_line.text.startswith("Alcohol-based")


def test_sections_hold_at_most_four_statements():
    words = ["colchicine", "allopurinol", "febuxostat", "probenecid", "ibuprofen", "naproxen", "prednisone",
             "icepacks", "resting", "hydration", "cherries", "lowpurine"]
    sentences = []
    for i, word in enumerate(words):  # equally relevant, mutually distinct statements
        v = np.zeros(8, dtype=np.float32)
        v[0], v[1 + i % 7] = 1.0, 0.8 if i < 7 else -0.8
        sentences.append((f"Gout patients sometimes benefit from {word} according to clinic {word} notes.",
                          v / np.linalg.norm(v)))
    out = assemble("gout", Q, {"gout": 1.0}, [_candidate(0, "gout", sentences)], tokenize,
                   AnswerSettings(max_statements=12))
    sizes = [len(sec.statements) for sec in out.sections]
    assert max(sizes) == 4, "twelve equally relevant statements fill a section"
    assert all(n <= 4 for n in sizes)
    assert len(out.sections) <= AnswerSettings().max_sections
