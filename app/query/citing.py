"""Numbering statements and building the reference list: citations by first use, one reference per source page,
the evidence grade a source states for a sentence, and how current each source is.

>>> from datetime import date
>>> from core.models import Chunk, DocumentMeta
>>> meta = DocumentMeta(doc_id="ngc-1", title="Syphilis screening", issuer="U.S. Preventive Services Task Force "
...                     "(USPSTF)", date="2016-06", date_kind="released", year=2016)
>>> currency(meta, stale_after_years=5, today=date(2026, 12, 1))
('released 2016-06', 10.5, True)
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Protocol, Sequence

from app.query.escaping import safe_url
from app.query.grades import split_grade
from app.query.schemas import Reference, Section, Statement
from app.query.currency import age_years, date_label
from core.contracts import SUPERSEDED_NOTICE, format_citations
from core.models import Chunk, DocumentMeta

if TYPE_CHECKING:
    from app.query.assemble import Candidate

_SPACE = re.compile(r"\s+")
_BULLET = re.compile(r"^\s*(?:[-•*·▪◦]|\d{1,2}[.)])\s+")
_EMPTY_CELLS = re.compile(r"(?:\s*\|)+\s*")


class Citable(Protocol):
    """A chosen sentence: its text, the chunk it comes from and every retrieved chunk that states it."""

    text: str
    cand: Candidate
    support: list[Candidate]


def normalise_statement(text: str) -> str:
    """Collapse whitespace, drop a leading bullet marker, and tidy table rows (empty cells, edge pipes).

    >>> normalise_statement("   - Fever or  night sweats.")
    'Fever or night sweats.'
    >>> normalise_statement("| | Megestrol acetate | | 160–800 mg daily |")
    'Megestrol acetate | 160–800 mg daily'
    """
    text = _SPACE.sub(" ", text).strip()
    if "|" in text:
        text = _EMPTY_CELLS.sub(" | ", text).strip(" |")
    return _BULLET.sub("", text)


def trim(text: str, limit: int) -> str:
    """Cut an over-long sentence at the last clause boundary before ``limit`` and mark the cut with '…'."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind("; ", 0, limit), text.rfind(", ", 0, limit))
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    return text[: max(cut, 1)].rstrip(" ,;:") + "…"


#: Characters between two chunks of a document (the whitespace between sentences) that still make them adjacent.
ADJACENT_GAP = 2


def merged_passage(chunks: Sequence[Chunk]) -> str:
    """The text of a reference's cited chunks, read once: chunks of one document are put in document order and
    their overlaps (chunks share sentences at their edges) kept only the first time; a gap between two chunks, or a
    chunk of another document of the same page, is marked with ' … '.

    >>> text = "CT confirms the renal origin. MRI is an option. Biopsy is not done."
    >>> a = Chunk(chunk_id="d#0", doc_id="d", ordinal=0, text=text[:47], start=0, end=47, sentences=[])
    >>> b = Chunk(chunk_id="d#1", doc_id="d", ordinal=1, text=text[30:], start=30, end=len(text), sentences=[])
    >>> merged_passage([b, a, b])
    'CT confirms the renal origin. MRI is an option. Biopsy is not done.'
    """
    pieces: list[str] = []
    covered: dict[str, int] = {}  # document id -> end offset of what was read
    for chunk in sorted(chunks, key=lambda c: (c.doc_id, c.start, c.ordinal)):
        end = covered.get(chunk.doc_id)
        if end is not None and chunk.end <= end:
            continue  # wholly inside what was already read (or the same chunk again)
        touches = end is not None and chunk.start <= end + ADJACENT_GAP
        covered[chunk.doc_id] = chunk.end
        text = normalise_statement(chunk.text[max(0, end - chunk.start):] if touches else chunk.text)
        if text and touches and pieces:
            pieces[-1] = f"{pieces[-1]} {text}"
        elif text:
            pieces.append(text)
    return " … ".join(pieces)


def currency(meta: DocumentMeta, stale_after_years: float, today: date) -> tuple[str, float | None, bool]:
    """(date label, age in years, possibly superseded) of a source."""
    age = age_years(meta.date, meta.year, today)
    return date_label(meta.date, meta.date_kind, meta.year), age, age is not None and age > stale_after_years


class Numbering:
    """Assigns reference numbers by first use while statements are cited, then builds the references."""

    def __init__(self, max_chars: int, stale_after_years: float, today: date | None = None) -> None:
        self.max_chars = max_chars
        self.stale_after_years = stale_after_years
        self.today = today or date.today()
        self._numbers: dict[tuple, int] = {}
        self._cited: dict[int, list[Candidate]] = {}
        self._grades: dict[int, list[str]] = {}

    def cite(self, unit: Citable) -> Statement:
        """The statement of ``unit`` with its citation numbers (new sources get the next numbers)."""
        text, grade = split_grade(unit.text, unit.cand.meta.issuer)
        numbers = []
        for cand in unit.support:
            key = (cand.meta.parent_id or cand.chunk.doc_id, tuple(cand.chunk.pages))
            if key not in self._numbers:
                self._numbers[key] = len(self._numbers) + 1
                self._cited[self._numbers[key]] = []
                self._grades[self._numbers[key]] = []
            n = self._numbers[key]
            if cand not in self._cited[n]:
                self._cited[n].append(cand)
            if grade and cand is unit.cand and grade not in self._grades[n]:
                self._grades[n].append(grade)
            numbers.append(n)
        return Statement(text=trim(text, self.max_chars), citations=sorted(set(numbers)),
                         chunk_id=unit.cand.chunk.chunk_id, grade=grade)

    def section(self, heading: str, units: Sequence[Citable], ordered: bool = False) -> Section:
        return Section(heading=heading, statements=[self.cite(u) for u in units], ordered=ordered)

    def references(self) -> list[Reference]:
        return [self._reference(n, cands) for n, cands in sorted(self._cited.items())]

    def _reference(self, n: int, cands: list[Candidate]) -> Reference:
        cands = sorted(cands, key=lambda c: c.chunk.ordinal)
        meta, first = cands[0].meta, cands[0].chunk
        section = " › ".join(p for p in first.section_path if p != meta.title)
        pages = sorted({p for c in cands for p in c.chunk.pages})
        label, age, stale = currency(meta, self.stale_after_years, self.today)
        return Reference(
            n=n, type=meta.type, title=meta.title, issuer=meta.issuer, year=meta.year,
            url=safe_url(meta.url) or "", pages=pages, section=section, chunk_id=first.chunk_id,
            chunk_ids=[c.chunk.chunk_id for c in cands], doc_id=first.doc_id,
            passage=merged_passage([c.chunk for c in cands]),
            date=label, age_years=age, possibly_superseded=stale, status=meta.status, grades=self._grades[n],
        )


def superseded_notice(references: Sequence[Reference], stale_after_years: float) -> str | None:
    """The answer's currency line when any cited source may be superseded, else None.

    >>> from core.models import DocType
    >>> refs = [Reference(n=2, type=DocType.guideline, title="T", chunk_id="c", doc_id="d", passage="p",
    ...                   possibly_superseded=True)]
    >>> superseded_notice(refs, 5).split(":")[0]
    'Sources [2] are more than 5 years old and may have been superseded'
    """
    old = [r.n for r in references if r.possibly_superseded]
    if not old:
        return None
    return SUPERSEDED_NOTICE.format(refs=format_citations(old), years=f"{stale_after_years:g}")
