"""The chunk store: document metadata plus chunks, where chunk row ``i`` is vector row ``i``.

On disk it is two JSON-lines files, ``documents.jsonl`` (one :class:`DocumentMeta` per line) and
``chunks.jsonl`` (one :class:`Chunk` per line, in row order). Loading validates each line with
``model_validate_json`` (as fast as one ``TypeAdapter`` call over a JSON array, and errors name the line);
30k chunks of ~1 kB with 8 sentences load in about 2 s, nearly all of it creating the ~270k pydantic objects.
A served index loads it ``lazy`` (``IndexSettings.lazy_chunks``): chunks are parsed from the file when used, and
``chunk_ids`` / ``doc_ids`` / ``ordinals`` (per row) answer the lookups that need no text.

>>> from core.models import Chunk, DocumentMeta, Sentence
>>> meta = DocumentMeta(doc_id="d1", title="Asthma")
>>> chunk = Chunk(chunk_id="d1#0", doc_id="d1", ordinal=0, text="Use a spacer.", start=0, end=13,
...               sentences=[Sentence(start=0, end=13, text="Use a spacer.")])
>>> store = ChunkStore({"d1": meta}, [chunk])
>>> store.row_of("d1#0"), store.rows_of_document("d1"), store.meta_of_row(0).title
(0, [0], 'Asthma')
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from core.models import Chunk, DocumentMeta
from index.chunk_file import LazyChunks

DOCUMENTS_FILE = "documents.jsonl"
CHUNKS_FILE = "chunks.jsonl"

_M = TypeVar("_M", bound=BaseModel)


class ChunkStore:
    """Documents by id and chunks by row, with lookups by chunk id and by document.

    Treat ``documents`` and ``chunks`` as read-only: the lookup tables are built once in ``__init__``.
    """

    def __init__(self, documents: dict[str, DocumentMeta], chunks: Sequence[Chunk]) -> None:
        self.documents = dict(documents)
        self.chunks: Sequence[Chunk] = chunks if isinstance(chunks, LazyChunks) else list(chunks)
        for doc_id, meta in self.documents.items():
            if meta.doc_id != doc_id:
                raise ValueError(f"document keyed {doc_id!r} has doc_id {meta.doc_id!r}")
        if isinstance(self.chunks, LazyChunks):  # ids from the file's index, no chunk parsed
            self.chunk_ids, self.doc_ids = self.chunks.chunk_ids, self.chunks.doc_ids
            self.ordinals = self.chunks.ordinals
        else:
            self.chunk_ids = [c.chunk_id for c in self.chunks]
            self.doc_ids = [c.doc_id for c in self.chunks]
            self.ordinals = np.asarray([c.ordinal for c in self.chunks], dtype=np.int64)
        self._rows: dict[str, int] = {}
        self._doc_rows: dict[str, list[int]] = {doc_id: [] for doc_id in self.documents}
        for row, (chunk_id, doc_id) in enumerate(zip(self.chunk_ids, self.doc_ids)):
            if chunk_id in self._rows:
                first = self._rows[chunk_id]
                raise ValueError(f"duplicate chunk id {chunk_id!r} at rows {first} and {row}")
            if doc_id not in self._doc_rows:
                raise ValueError(f"chunk {chunk_id!r} belongs to unknown document {doc_id!r}")
            self._rows[chunk_id] = row
            self._doc_rows[doc_id].append(row)

    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        return f"ChunkStore(documents={len(self.documents)}, chunks={len(self.chunks)})"

    def row_of(self, chunk_id: str) -> int:
        """Row of a chunk id; ``KeyError`` naming the id when it is unknown."""
        try:
            return self._rows[chunk_id]
        except KeyError:
            raise KeyError(f"unknown chunk id {chunk_id!r}") from None

    def rows_of_document(self, doc_id: str) -> list[int]:
        """Rows of a document's chunks in order; ``KeyError`` when the document is unknown."""
        try:
            return list(self._doc_rows[doc_id])
        except KeyError:
            raise KeyError(f"unknown document id {doc_id!r}") from None

    def meta_of_row(self, row: int) -> DocumentMeta:
        """Metadata of the document that chunk row ``row`` belongs to."""
        if not 0 <= row < len(self.chunks):
            raise IndexError(f"row {row} out of range for {len(self.chunks)} chunks")
        return self.documents[self.doc_ids[row]]

    def save(self, directory: Path) -> None:
        """Write ``documents.jsonl`` and ``chunks.jsonl`` into ``directory`` (created if missing)."""
        directory.mkdir(parents=True, exist_ok=True)
        _write_jsonl(directory / DOCUMENTS_FILE, self.documents.values())
        _write_jsonl(directory / CHUNKS_FILE, self.chunks)

    @classmethod
    def load(cls, directory: Path, lazy: bool = False) -> ChunkStore:
        """Read a store written by :meth:`save`; a bad line raises ``ValueError`` naming file and line. ``lazy``:
        chunks are parsed when used (:class:`index.chunk_file.LazyChunks`; a line is fully validated then)."""
        documents = _read_jsonl(directory / DOCUMENTS_FILE, DocumentMeta)
        chunks = LazyChunks(directory / CHUNKS_FILE) if lazy else _read_jsonl(directory / CHUNKS_FILE, Chunk)
        return cls({d.doc_id: d for d in documents}, chunks)


def _write_jsonl(path: Path, items: Iterable[BaseModel]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for item in items:
            fh.write(item.model_dump_json())
            fh.write("\n")


def _read_jsonl(path: Path, model: type[_M]) -> list[_M]:
    items: list[_M] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                items.append(model.model_validate_json(line))
            except ValidationError as exc:
                problem = exc.errors()[0]
                raise ValueError(f"invalid {model.__name__} on line {number} of {path}: {problem['msg']}") from exc
    return items
