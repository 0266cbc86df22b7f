"""Chunks read from ``chunks.jsonl`` on demand: a served index need not hold every chunk in memory.

:class:`LazyChunks` is a read-only sequence of :class:`core.models.Chunk` over the file a version's chunk store
wrote. Opening it reads the file once, sequentially, keeping only each line's byte offset and the chunk's id,
document id and ordinal; ``chunks[row]`` reads that line with ``os.pread`` and validates it (a small LRU keeps
the chunks recently used). The file stays open, so a version pruned after a swap keeps answering the requests that
still hold it. Pages read go through the kernel's page cache, not the process's memory: an index swap no longer
copies every chunk's text and sentences into every worker as Python objects (about 350 MB for the default
corpus's 65,966 chunks).

>>> import json, tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "chunks.jsonl"
>>> row = {"chunk_id": "d#0", "doc_id": "d", "ordinal": 0, "text": "Use a spacer.", "start": 0, "end": 13,
...        "sentences": [{"start": 0, "end": 13, "text": "Use a spacer."}]}
>>> _ = path.write_text(json.dumps(row) + "\\n")
>>> chunks = LazyChunks(path)
>>> len(chunks), chunks.chunk_ids, chunks[0].text, chunks[-1].ordinal
(1, ['d#0'], 'Use a spacer.', 0)
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence, overload

import numpy as np
from pydantic import ValidationError

from core.models import Chunk

#: Parsed chunks kept per open file (a query touches tens; a document's section neighbours a few hundred).
CACHE_CHUNKS = 4096


class LazyChunks(Sequence[Chunk]):
    """The chunks of one ``chunks.jsonl``, parsed when asked for."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        offsets = [0]
        self.chunk_ids: list[str] = []
        self.doc_ids: list[str] = []
        ordinals: list[int] = []
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                offsets.append(offsets[-1] + len(line))
                if not line.strip():
                    raise ValueError(f"empty line {number} in {self.path}")
                try:
                    row = json.loads(line)
                    chunk_id, doc_id, ordinal = row["chunk_id"], row["doc_id"], int(row["ordinal"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"invalid Chunk on line {number} of {self.path}: {exc}") from None
                self.chunk_ids.append(chunk_id)
                self.doc_ids.append(sys.intern(doc_id))  # one string per document, not per chunk
                ordinals.append(ordinal)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.ordinals = np.asarray(ordinals, dtype=np.int64)
        self._fd = os.open(self.path, os.O_RDONLY)
        self._parse = lru_cache(maxsize=CACHE_CHUNKS)(self._read)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self._parse(r) for r in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"row {row} out of range for {len(self)} chunks")
        return self._parse(row)

    def __iter__(self) -> Iterator[Chunk]:
        for row in range(len(self)):  # not through the cache: a full scan would only evict what queries use
            yield self._read(row)

    def __eq__(self, other: object) -> bool:  # equal to any sequence of the same chunks, as a list would be
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def _read(self, row: int) -> Chunk:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        line = os.pread(self._fd, end - start, start)
        try:
            return Chunk.model_validate_json(line)
        except ValidationError as exc:
            raise ValueError(f"invalid Chunk on line {row + 1} of {self.path}: {exc.errors()[0]['msg']}") from exc

    def close(self) -> None:
        if getattr(self, "_fd", -1) >= 0:  # not set when the constructor failed
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass
