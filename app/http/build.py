"""Serve while building: the index is built or brought up to date in the background while the service answers.

On a first run there is no index: a **lexical stage** (every document loaded, chunked and put in the lexical index,
no vectors: about a minute and a half for the default corpus) makes a lexical-only version current, which the
service answers from at once (keyword retrieval; each answer says so); the **dense stage** then embeds every
sentence (through the persistent embedding cache, so an interrupted build resumes from what it finished) and makes
the complete version current. With an index already there only the dense stage runs, as an incremental ingest:
it writes nothing when the corpus is unchanged and swaps in an updated version when it changed.

Each stage is an ingest in a child process (:func:`app.http.jobs.run_ingest`, reniced, holding the index's build
lock so uploads wait for it), which keeps ``<data_dir>/build/progress.json`` up to date
(:mod:`ingest.progress`); every serving process reads it for ``/readyz`` and the page, and picks up each new
version through the index's ``CURRENT`` pointer. One process per data directory builds (an exclusive lock file).

>>> from app.settings import Settings
>>> BackgroundBuild(Settings(), inputs=list).stages(served=None)
['lexical', 'dense']
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from app.settings import Settings
from ingest.progress import BuildProgress, ProgressFile, read_progress

log = logging.getLogger("medcite.build")

PROGRESS_FILE = "progress.json"
LOCK_FILE = "build.lock"


def progress_path(settings: Settings) -> Path:
    return settings.paths.data_dir / "build" / PROGRESS_FILE


def build_progress(settings: Settings) -> BuildProgress | None:
    """The last progress any process's background build reported (None when no build ever ran here)."""
    return read_progress(progress_path(settings))


class BackgroundBuild:
    """Runs the build stages on a daemon thread; ``on_version()`` is called after a stage made a version current."""

    def __init__(self, settings: Settings, inputs: Callable[[], list[Path]],
                 on_version: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.inputs = inputs
        self.on_version = on_version
        self.directory = settings.paths.data_dir / "build"
        self.progress = ProgressFile(progress_path(settings), stage="")
        self._lock_fd: int | None = None
        self.thread: threading.Thread | None = None

    @staticmethod
    def stages(served: bool | None) -> list[str]:
        """Stages to run given what is served: nothing (None), a lexical-only version (False), a complete one."""
        return ["lexical", "dense"] if served is None else ["dense"]

    def start(self, served: bool | None) -> bool:
        """Start the build unless another process of this data directory is building; True when started."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            log.info("another process is building the index; this one serves what it makes current")
            return False
        self._lock_fd = fd
        stages = self.stages(served)
        self.progress.write(BuildProgress(stage=stages[0], message="starting"))
        self.thread = threading.Thread(target=self._run, args=(stages,), daemon=True, name="medcite-build")
        self.thread.start()
        return True

    def _run(self, stages: list[str]) -> None:
        from app.http.jobs import JobFailed, run_ingest

        try:
            for number, stage in enumerate(stages):
                log.info("index build: %s stage started", stage)
                report = run_ingest(self.inputs(), self.settings, dense=stage == "dense",
                                    progress=progress_path(self.settings), stage=stage,
                                    timeout=self.settings.server.build_timeout_s)
                log.info("index build: %s stage %s in %.0f s (%d documents, %d chunks, %d embedded)", stage,
                         "wrote a new version" if report.written else "changed nothing", report.seconds,
                         report.documents, report.chunks, report.embedded_chunks)
                if number + 1 < len(stages):  # said before the new version is served: it is not the last
                    self.progress.write(BuildProgress(stage=stages[number + 1], message="starting"))
                if report.written and self.on_version is not None:
                    self.on_version()
            self.progress.write(BuildProgress(state="done", stage=stages[-1], step="write", done=1, total=1,
                                              message="the index is complete"))
        except (JobFailed, OSError) as exc:
            log.error("index build failed: %s", exc)
            self.progress.write(BuildProgress(state="failed", message=str(exc)[:300]))
        except Exception as exc:  # never into the server loop; the reason is in /readyz and the log
            log.exception("index build failed")
            self.progress.write(BuildProgress(state="failed", message=f"{type(exc).__name__}; see the server log"))
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
