"""One indexed document for reading: its public metadata and its text section by section, rebuilt from its chunks
(overlapping chunks are merged by their offsets, so no sentence appears twice).

>>> from core.models import Chunk, DocumentMeta
>>> from index.store import ChunkStore
>>> text = "Wilms tumor is a kidney cancer. It occurs in children. Surgery removes the kidney."
>>> chunks = [Chunk(chunk_id="d#0", doc_id="d", ordinal=0, text=text[:54], section_path=["About"], start=0, end=54,
...                 sentences=[]),
...           Chunk(chunk_id="d#1", doc_id="d", ordinal=1, text=text[32:], section_path=["Treatment"], start=32,
...                 end=len(text), sentences=[])]
>>> store = ChunkStore({"d": DocumentMeta(doc_id="d", title="Wilms tumor", source_path="/srv/x.md")}, chunks)
>>> view = document_view(store, "d")
>>> [(s.heading, s.text) for s in view.sections]
[('About', 'Wilms tumor is a kidney cancer. It occurs in children.'), ('Treatment', 'Surgery removes the kidney.')]
>>> "source_path" in view.model_dump()
False
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.models import Audience, DocType
from index.store import ChunkStore


class DocumentSection(BaseModel):
    heading: str = Field(description="Section headings from outermost in, joined by ' > ' ('' for none).")
    pages: list[int] = Field(default_factory=list, description="1-based pages (PDF sources).")
    chunk_ids: list[str] = Field(description="The chunks this text comes from (the ids answers cite).")
    text: str


class DocumentView(BaseModel):
    """An indexed document: metadata shown to clients (never the server-side file path) and a page of sections."""

    doc_id: str
    title: str
    issuer: str = ""
    year: int | None = None
    type: DocType = DocType.other
    audience: Audience = "clinician"
    url: str = ""
    license: str = ""
    date: str = ""
    status: str = ""
    chunks: int = Field(description="Chunks of the document in the index.")
    total_sections: int
    offset: int = Field(description="Index of the first section returned.")
    sections: list[DocumentSection]


def document_view(store: ChunkStore, doc_id: str, offset: int = 0, limit: int = 50) -> DocumentView:
    """The document ``doc_id`` with sections ``offset`` .. ``offset + limit``; ``KeyError`` when unknown."""
    meta = store.documents.get(doc_id)
    if meta is None:
        raise KeyError(f"unknown document id {doc_id[:200]!r}")
    chunks = sorted((store.chunks[r] for r in store.rows_of_document(doc_id)), key=lambda c: (c.start, c.ordinal))
    sections: list[DocumentSection] = []
    covered = 0
    for chunk in chunks:
        heading = " > ".join(chunk.section_path)
        fresh = chunk.text[max(0, covered - chunk.start):].strip() if chunk.end > covered else ""
        covered = max(covered, chunk.end)
        if sections and sections[-1].heading == heading:
            section = sections[-1]
            if fresh:
                section.text = f"{section.text} {fresh}".strip()
        else:
            section = DocumentSection(heading=heading, chunk_ids=[], text=fresh)
            sections.append(section)
        section.chunk_ids.append(chunk.chunk_id)
        section.pages = sorted(set(section.pages) | set(chunk.pages))
    fields = meta.model_dump(include=set(DocumentView.model_fields))
    return DocumentView(**fields, chunks=len(chunks), total_sections=len(sections), offset=offset,
                        sections=sections[offset: offset + limit])
