"""Data models that cross package boundaries: documents (ingest output) and chunks (index content).

Offsets are character offsets into ``Document.text``; a chunk's text is exactly
``document.text[chunk.start:chunk.end]`` and each sentence's text is ``document.text[s.start:s.end]``.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from index.contracts import EMBED_SEPARATOR

Audience = Literal["clinician", "patient"]


class DocType(str, Enum):
    guideline = "Guideline"
    patient_information = "Patient information"
    research = "Research"
    other = "Other"


class DocumentMeta(BaseModel):
    """Source metadata carried from the corpus manifest (or upload form) to every reference."""

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
        h.update(self.meta.model_dump_json(exclude={"source_path"}).encode("utf-8"))
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
