"""Data models that cross package boundaries: documents (ingest output) and chunks (index content).

Offsets are character offsets into ``Document.text``; a chunk's text is exactly
``document.text[chunk.start:chunk.end]`` and each sentence's text is ``document.text[s.start:s.end]``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date as _date
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.contracts import EMBED_SEPARATOR

Audience = Literal["clinician", "patient"]
#: What ``DocumentMeta.date`` is the date of ("" when no date is known).
DateKind = Literal["", "published", "reviewed", "released"]

_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class DocType(str, Enum):
    """Reference type labels shown with every citation."""

    guideline = "Guideline"
    #: A graded synthesis of the evidence that makes no formal recommendations (e.g. NCI PDQ summaries).
    evidence_summary = "Evidence summary"
    patient_information = "Patient information"
    research = "Research"
    other = "Other"


#: Fields added after the first index format: left out of :meth:`Document.content_hash` while at their default,
#: so documents that do not use them keep the hash (and the embeddings) they had before.
_LATER_FIELDS: dict[str, str] = {"date": "", "date_kind": "", "status": ""}


class DocumentMeta(BaseModel):
    """Source metadata carried from the corpus manifest (or upload form) to every reference.

    ``year`` follows ``date`` (it is filled from it, and a different year is an error):

    >>> DocumentMeta(doc_id="d", title="T", date="2016-06", date_kind="released").year
    2016
    >>> try:
    ...     DocumentMeta(doc_id="d", title="T", date="2016-13")
    ... except ValueError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, invalid date '2016-13' (expected YYYY-MM-DD, YYYY-MM or YYYY)
    """

    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(description="Stable id, unique within an index.")
    title: str = Field(description="Human title of the document.")
    issuer: str = Field("", description="Publishing body, e.g. CDC, NIH/NCI, GARD.")
    year: int | None = Field(None, description="Publication year when known.")
    type: DocType = Field(DocType.other, description="Reference type label.")
    audience: Audience = Field("clinician", description="Intended readers.")
    url: str = Field("", description="Canonical link.")
    license: str = Field("", description="Licence of the text.")
    source_path: str = Field("", description="File the document was loaded from.")
    parent_id: str = Field("", description="Grouping id, e.g. the web page a MedQuAD passage belongs to.")
    focus: str = Field("", description="Main topic (disease, drug) when known.")
    date: str = Field(
        "",
        description="Date shown with the reference, ISO 'YYYY-MM-DD', 'YYYY-MM' or 'YYYY' (e.g. NCI PDQ "
        "'lastReviewed', NGC 'Date Released'); '' when unknown. Fills 'year'.",
    )
    date_kind: DateKind = Field(
        "", description="What 'date' is: 'published', 'reviewed' (last reviewed) or 'released'; '' without a date."
    )
    status: str = Field(
        "",
        description="Free text about the document's currency, e.g. 'Archived National Guideline Clearinghouse "
        "summary (NGC closed 2018-07-16); may be superseded'; '' when nothing is known.",
    )

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        m = _ISO_DATE.match(value)
        try:
            if m is None:
                raise ValueError
            year, month, day = m.group(1), m.group(2), m.group(3)
            _date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            raise ValueError(f"invalid date {value!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)") from None
        return value

    @model_validator(mode="after")
    def _year_from_date(self) -> DocumentMeta:
        if self.date:
            year = int(self.date[:4])
            if self.year is None:
                self.year = year
            elif self.year != year:
                raise ValueError(f"year {self.year} contradicts date {self.date!r}")
        elif self.date_kind:
            raise ValueError(f"date_kind {self.date_kind!r} given without a date")
        return self

    @property
    def topic(self) -> str:
        """What the document's passages are embedded and indexed under: its focus, else its title."""
        return self.focus or self.title


class Span(BaseModel):
    start: int
    end: int


class PageSpan(Span):
    page: int = Field(description="1-based page number.")


class Heading(Span):
    """A heading spanning ``text[start:end]`` (``title`` is that span with whitespace collapsed, so a heading wrapped
    over two PDF lines reads as one); it opens a section at ``start``."""

    level: int = Field(1, ge=1, le=6)
    title: str


class Document(BaseModel):
    """What every loader returns: clean text plus page and heading spans."""

    meta: DocumentMeta
    text: str
    pages: list[PageSpan] = Field(default_factory=list, description="Page spans (PDF); empty for web text.")
    headings: list[Heading] = Field(default_factory=list, description="Headings in text order.")

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    def content_hash(self) -> str:
        """Hash of text and metadata: a change in either re-ingests the document."""
        h = hashlib.sha256()
        h.update(self.text.encode("utf-8"))
        unused = {k for k, default in _LATER_FIELDS.items() if getattr(self.meta, k) == default}
        h.update(self.meta.model_dump_json(exclude={"source_path", *unused}).encode("utf-8"))
        return h.hexdigest()[:32]


class Sentence(Span):
    text: str


class Chunk(BaseModel):
    """One retrievable unit. ``sentences`` let the answer assembler cite single sentences."""

    chunk_id: str = Field(description="'<doc_id>#<ordinal>'.")
    doc_id: str
    ordinal: int = Field(ge=0)
    text: str
    section_path: list[str] = Field(default_factory=list, description="Heading titles from outermost in.")
    pages: list[int] = Field(default_factory=list, description="1-based pages the chunk spans.")
    start: int
    end: int
    sentences: list[Sentence]

    def embed_text(self, title: str) -> str:
        """'Title -- Section -- text' (MedRAG style); repeated titles are dropped."""
        parts: list[str] = []
        for p in [title, *self.section_path]:
            p = p.strip()
            if p and p not in parts:
                parts.append(p)
        parts.append(self.text)
        return EMBED_SEPARATOR.join(parts)
