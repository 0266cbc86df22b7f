"""Every serving process follows the index's ``CURRENT`` pointer: a version another process made current (an
upload's job in another worker, a background build, ``medcite ingest`` from a shell) is swapped in here too.

A :class:`index.watch.CurrentWatcher` polls the pointer every ``ServerSettings.index_poll_seconds`` and calls
:meth:`Admin.swap`, the same swap an admin job makes (one assignment; requests already running finish on the old
pipeline; a version that cannot be opened is not left current). While the first load is still running the
watcher leaves it alone, and one lock keeps two swaps of this process from loading the same version at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.http.metrics import observe_pipeline
from index.watch import CurrentWatcher, current_version

log = logging.getLogger("medcite.api")


class IndexRefresher:
    """Swaps the version ``CURRENT`` names into ``state`` (a :class:`app.http.state.ServiceState`)."""

    def __init__(self, state: Any, interval: float | None = None) -> None:
        self.state = state
        self.root = state.settings.paths.index_dir
        self._lock = threading.Lock()
        interval = state.settings.server.index_poll_seconds if interval is None else interval
        self.watcher = CurrentWatcher(self.root, self.served, self.swap, interval=interval or 2.0)

    def served(self) -> str | None:
        """The version this process serves; while the first load runs, the current one (nothing to do yet)."""
        pipeline = self.state.pipeline
        if pipeline is not None:
            path = getattr(getattr(pipeline, "index", None), "path", None)
            return path.name if path is not None else current_version(self.root)  # not from an index: keep it
        # while the first load runs it will open CURRENT itself; after a failed load, or on a first run that had no
        # index to load (a build makes one), this process serves nothing, so any version CURRENT names is new
        return current_version(self.root) if self.state.loading and not self.state.error else None

    def swap(self, version: str) -> None:
        with self._lock:
            if self.served() == current_version(self.root):
                return  # swapped by this process's own job meanwhile
            if self.state.admin is None:
                return
            self.state.admin.swap()
            log.info("serving index version %s (made current by another process)",
                     self.state.pipeline.index.path.name if self.state.pipeline else version)
            observe_pipeline(self.state.pipeline)

    def start(self) -> "IndexRefresher":
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()
