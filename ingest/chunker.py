"""Section-aware, sentence-aligned chunking with sentence overlap.

A chunk never crosses a section boundary and always holds whole sentences. Chunks are packed greedily so that
``count_tokens("Title -- Section -- chunk text")`` stays within ``ChunkSettings.max_tokens``; the next chunk repeats
the trailing sentences of the previous one (at most ``overlap_tokens``). A page break is a soft boundary: a chunk
that is at least half full ends there (without overlap, so page citations stay tight). Each sentence and gap is
tokenized once; sizes are sums, which is exact for word-piece tokenizers that split on white space. In PDFs,
running headers/footers and page numbers (:func:`ingest.sections.page_furniture`) are left out of sentences.

>>> from core.models import Document, DocumentMeta
>>> from ingest.settings import ChunkSettings
>>> words = lambda s: len(s.split())
>>> text = " ".join(f"Sentence number {i} is here." for i in range(40))
>>> doc = Document(meta=DocumentMeta(doc_id="d", title="T"), text=text)
>>> chunks = Chunker(ChunkSettings(max_tokens=32, overlap_tokens=6, min_tokens=3), words).chunk(doc)
>>> [c.chunk_id for c in chunks[:2]], all(words(c.embed_text("T")) <= 32 for c in chunks)
(['d#0', 'd#1'], True)
>>> chunks[1].sentences[0].text == chunks[0].sentences[-1].text  # one sentence of overlap
True
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

from core.models import Chunk, Document, Sentence
from ingest.settings import ChunkSettings
from ingest.sections import detect_pdf_headings, page_furniture, section_spans
from ingest.sentences import split_sentences

#: A sentence up to this multiple of the token budget stays whole as its own chunk; a longer one is split.
ENORMOUS_FACTOR = 1.2
#: A tiny trailing chunk merges into the previous one when the result stays within this multiple of the budget.
MERGE_FACTOR = 1.2
_WORD = re.compile(r"\S+")
_SENTENCE_END = ".!?:;)\"'\u201d\u2019"


@dataclass
class _Unit:
    """A sentence (or a piece of an enormous one) with its token count and the tokens of the gap before it."""

    start: int
    end: int
    tokens: int
    gap_tokens: int = 0


class Chunker:
    """Split :class:`Document` objects into :class:`Chunk` objects (see the module docstring for the rules)."""

    def __init__(self, settings: ChunkSettings, count_tokens: Callable[[str], int]) -> None:
        self.settings = settings
        self.count_tokens = count_tokens

    def chunk(self, doc: Document) -> list[Chunk]:
        """Chunks of ``doc`` in text order with ordinals 0..n-1 (``[]`` for an empty document).

        Paged documents without headings get PDF heading detection first.
        """
        if not doc.text.strip():
            return []
        doc = detect_pdf_headings(doc)
        page_starts = [p.start for p in doc.pages]
        gap_cache: dict[str, int] = {}
        out: list[Chunk] = []
        furniture = page_furniture(doc)
        for path, start, end in section_spans(doc):
            ranges = _content_ranges(start, end, furniture)
            spans = [span for s, e in ranges for span in split_sentences(doc.text, s, e)]
            spans = _join_across_pages(doc.text, spans, page_starts)
            if not spans:
                continue
            budget = self._budget(doc.meta.topic, path)
            units = self._units(doc.text, spans, budget, gap_cache)
            for first, last in self._pack(units, budget, page_starts, doc.text):
                out.append(self._make_chunk(doc, path, units[first : last + 1], len(out)))
        return out

    def _budget(self, title: str, path: list[str]) -> int:
        """Tokens left for chunk text after the "Title -- Section -- " prefix (at least half of max_tokens)."""
        prefix = Chunk.embed_text(SimpleNamespace(section_path=path, text=""), title)  # type: ignore[arg-type]
        used = self.count_tokens(prefix) if prefix.strip() else 0
        return max(self.settings.max_tokens - used, self.settings.max_tokens // 2)

    def _units(self, text: str, spans: list[tuple[int, int]], budget: int, gap_cache: dict[str, int]) -> list[_Unit]:
        """Token-counted units: sentences, with enormous ones split at word boundaries."""
        units: list[_Unit] = []
        prev_end = -1
        for s, e in spans:
            gap = 0
            if prev_end >= 0:
                between = text[prev_end:s].strip()
                if between:
                    if between not in gap_cache:
                        gap_cache[between] = self.count_tokens(between)
                    gap = gap_cache[between]
            n = self.count_tokens(text[s:e])
            if n > budget * ENORMOUS_FACTOR:
                pieces = self._split_enormous(text, s, e, n, budget)
                pieces[0].gap_tokens = gap
                units.extend(pieces)
            else:
                units.append(_Unit(s, e, n, gap))
            prev_end = e
        return units

    def _split_enormous(self, text: str, s: int, e: int, tokens: int, budget: int) -> list[_Unit]:
        """Split ``text[s:e]`` at word boundaries into pieces of at most ``budget`` tokens each (when possible)."""
        words = [(m.start(), m.end()) for m in _WORD.finditer(text, s, e)]
        n_pieces = max(2, math.ceil(tokens / budget))
        while True:
            pieces = _balanced_pieces(words, n_pieces)
            counted = [_Unit(a, b, self.count_tokens(text[a:b])) for a, b in pieces]
            if all(u.tokens <= budget for u in counted) or n_pieces >= len(words):
                return counted
            n_pieces += max(1, n_pieces // 4)

    def _pack(self, units: list[_Unit], budget: int, page_starts: list[int], doc_text: str) -> list[tuple[int, int]]:
        """Greedy packing into ``(first, last)`` unit ranges with overlap and tiny-tail merging."""
        pages = [_page_index(page_starts, u.start) for u in units]
        end_pages = [_page_index(page_starts, u.end - 1) for u in units]
        ranges: list[tuple[int, int]] = []
        i, n, prev_last = 0, len(units), -1
        while i < n:
            j, cost = i, units[i].tokens
            page_break = False
            while j + 1 < n:
                add = units[j + 1].gap_tokens + units[j + 1].tokens
                if cost + add > budget:
                    break
                if end_pages[j] != pages[j + 1] and cost * 2 >= budget and j > prev_last and _ends(doc_text, units[j]):
                    page_break = True  # soft boundary: a half-full chunk ends at the page break
                    break
                j, cost = j + 1, cost + add
            ranges.append((i, j))
            prev_last = j
            if j + 1 >= n:
                break
            i = j + 1 if page_break else self._overlap_start(units, i, j, budget)
        return self._merge_tail(units, ranges, budget)

    def _overlap_start(self, units: list[_Unit], first: int, last: int, budget: int) -> int:
        """Start of the next chunk: trailing sentences of ``first..last`` within ``overlap_tokens`` (never all)."""
        k, total = last + 1, 0
        while k - 1 > first:
            add = units[k - 1].tokens + (units[k].gap_tokens if k <= last else 0)
            if total + add > self.settings.overlap_tokens:
                break
            k, total = k - 1, total + add
        if k <= last and total + units[last + 1].gap_tokens + units[last + 1].tokens > budget:
            return last + 1  # the overlap would leave no room for the next sentence
        return k

    def _merge_tail(self, units: list[_Unit], ranges: list[tuple[int, int]], budget: int) -> list[tuple[int, int]]:
        """Merge a tiny last chunk (new content < min_tokens) into the previous chunk when it fits."""
        if len(ranges) < 2:
            return ranges
        (pf, pl), (_, ll) = ranges[-2], ranges[-1]
        new = sum(u.gap_tokens + u.tokens for u in units[pl + 1 : ll + 1])
        merged = sum(u.tokens for u in units[pf : ll + 1]) + sum(u.gap_tokens for u in units[pf + 1 : ll + 1])
        if new < self.settings.min_tokens and merged <= budget * MERGE_FACTOR:
            return [*ranges[:-2], (pf, ll)]
        return ranges

    def _make_chunk(self, doc: Document, path: list[str], units: list[_Unit], ordinal: int) -> Chunk:
        start, end = units[0].start, units[-1].end
        pages = [p.page for p in doc.pages if p.start < end and p.end > start]
        return Chunk(
            chunk_id=f"{doc.doc_id}#{ordinal}",
            doc_id=doc.doc_id,
            ordinal=ordinal,
            text=doc.text[start:end],
            section_path=list(path),
            pages=sorted(set(pages)),
            start=start,
            end=end,
            sentences=[Sentence(start=u.start, end=u.end, text=doc.text[u.start : u.end]) for u in units],
        )


def _ends(text: str, unit: _Unit) -> bool:
    """Whether a unit ends a sentence (so a page break after it may end a chunk)."""
    return text[unit.end - 1] in _SENTENCE_END


def _join_across_pages(text: str, spans: list[tuple[int, int]], page_starts: list[int]) -> list[tuple[int, int]]:
    """Join a sentence broken only by a page break (no end punctuation, next part in lower case)."""
    if len(page_starts) < 2 or not spans:
        return spans
    out = [spans[0]]
    for s, e in spans[1:]:
        ps, pe = out[-1]
        crosses = bisect.bisect_right(page_starts, pe) < bisect.bisect_right(page_starts, s)
        if crosses and text[pe - 1] not in _SENTENCE_END and text[s].islower() and not text[pe:s].strip():
            out[-1] = (ps, e)
        else:
            out.append((s, e))
    return out


def _content_ranges(start: int, end: int, furniture: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[start, end)`` minus the page-furniture spans (running headers, page numbers)."""
    out: list[tuple[int, int]] = []
    pos = start
    for s, e in furniture[max(bisect.bisect_left(furniture, (start, start)) - 1, 0) :]:
        if s >= end:
            break
        if e <= pos:
            continue
        if s > pos:
            out.append((pos, s))
        pos = e
    if pos < end:
        out.append((pos, end))
    return out


def _page_index(page_starts: list[int], pos: int) -> int:
    """Index of the page holding offset ``pos`` (-1 when the document has no pages)."""
    if not page_starts:
        return -1
    return max(bisect.bisect_right(page_starts, pos) - 1, 0)


def _balanced_pieces(words: list[tuple[int, int]], n_pieces: int) -> list[tuple[int, int]]:
    """Group consecutive word spans into ``n_pieces`` runs of about equal character length."""
    n_pieces = min(n_pieces, len(words))
    total = words[-1][1] - words[0][0]
    pieces: list[tuple[int, int]] = []
    first = 0
    for k in range(1, n_pieces + 1):
        if k == n_pieces:
            last = len(words) - 1
        else:
            target = words[0][0] + total * k / n_pieces
            last = first
            while last + 1 < len(words) - (n_pieces - k) and words[last + 1][1] <= target:
                last += 1
        pieces.append((words[first][0], words[last][1]))
        first = last + 1
    return pieces
