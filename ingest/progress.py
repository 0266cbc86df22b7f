"""Build progress shared between a building process and the processes serving the index.

The ingest child of a background build reports through :class:`ProgressFile` (``ingest(on_progress=...)``):
one small JSON file, replaced atomically at most every ``interval`` seconds (and at every step change), that any
serving process reads for ``/readyz``, the page banner and the metrics.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "progress.json"
>>> report = ProgressFile(path, stage="dense", interval=0.0)
>>> report("embed", 0, 1000); report("embed", 250, 1000)
>>> p = read_progress(path)
>>> (p.stage, p.step, p.done, p.total, p.fraction)
('dense', 'embed', 250, 1000, 0.25)
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from core.fileio import atomic_write_text
from index.storage import pid_alive


class BuildProgress(BaseModel):
    """Where a build is: stage (``lexical`` or ``dense``), step (``load``, ``chunk``, ``embed``, ``write``) and how far."""

    state: str = Field("building", description="building, done, failed, or interrupted (its builder died).")
    stage: str = Field("", description="lexical (keyword index over every document) or dense (vectors).")
    step: str = Field("", description="load, chunk, embed or write.")
    done: int = 0
    total: int = 0
    eta_s: float | None = Field(None, description="Estimated seconds left in this step (from its rate so far).")
    message: str = ""
    pid: int = Field(default_factory=os.getpid, description="Process that wrote it (the builder).")
    updated: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def fraction(self) -> float:
        return round(self.done / self.total, 4) if self.total else 0.0


class ProgressFile:
    """``progress(step, done, total)`` callable that keeps ``path`` up to date for one build stage."""

    def __init__(self, path: Path, stage: str, interval: float = 1.0) -> None:
        self.path, self.stage, self.interval = Path(path), stage, interval
        self._step, self._step_started, self._written = "", 0.0, 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if step != self._step:
            self._step, self._step_started = step, now
        elif now - self._written < self.interval and done < total:
            return
        elapsed = now - self._step_started
        eta = (total - done) * elapsed / done if done and total and elapsed > 0 else None
        self.write(BuildProgress(stage=self.stage, step=step, done=done, total=total,
                                 eta_s=None if eta is None else round(eta, 1)))
        self._written = now

    def write(self, progress: BuildProgress) -> None:
        atomic_write_text(self.path, progress.model_dump_json(), fsync=False)


def read_progress(path: Path) -> BuildProgress | None:
    """The progress last written to ``path`` (None when there is none or it is unreadable); a build whose writer
    died (a kill, a crash) reads as ``interrupted``."""
    try:
        progress = BuildProgress.model_validate_json(Path(path).read_bytes())
    except (OSError, ValidationError, ValueError):
        return None
    if progress.state == "building" and not pid_alive(progress.pid):
        progress.state, progress.eta_s = "interrupted", None
    return progress
