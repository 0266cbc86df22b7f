"""What an ingest run reports: counts, failures per file, timings (the CLI prints it, upload jobs store it).

>>> r = IngestReport(index_dir="var/index/default", files=2, failures=[FileFailure(path="a.pdf", reason="no text")])
>>> r.ok, r.chunks_per_s
(True, 0.0)
"""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, Field

#: ``progress(stage, done, total)``: how far an ingest run is (stages ``load``, ``chunk``, ``embed``, ``write``).
Progress = Callable[[str, int, int], None]


class FileFailure(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    """Summary of one ``medcite ingest`` run."""

    index_dir: str
    files: int = 0
    documents: int = Field(0, description="Documents in the index after the run.")
    pages: int = 0
    chunks: int = Field(0, description="Chunks in the index after the run.")
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded_chunks: int = 0
    failures: list[FileFailure] = Field(default_factory=list)
    dense: bool = Field(True, description="False: a lexical-only version was asked for (first build stage).")
    full_rebuild: bool = False
    rebuild_reason: str = ""
    written: bool = Field(False, description="False when nothing changed and the index was left as it was.")
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.embedded_chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """False only when inputs existed and none could be ingested."""
        return not (self.files and len(self.failures) >= self.files)


class NothingToIngestError(RuntimeError):
    """No input file produced a document and there is no earlier index content to keep."""

    def __init__(self, message: str, failures: list[FileFailure] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []
