"""Notice when another process makes a new index version current.

A build (``medcite ingest``, an admin upload's job in any worker process, a background build) commits a version
by replacing ``<root>/CURRENT``. Every process serving that index runs a :class:`CurrentWatcher` that polls the
pointer (one small read per interval) and calls ``on_change(version)`` when it names a complete version other
than the one served, so all processes converge on the same version without any message between them.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> current_version(root) is None
True
>>> (root / "v-20260101T000000000000-abcd").mkdir()
>>> (root / "v-20260101T000000000000-abcd" / "manifest.json").write_text("{}")
2
>>> (root / CURRENT).write_text("v-20260101T000000000000-abcd\\n")
29
>>> current_version(root)
'v-20260101T000000000000-abcd'
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from index.storage import CURRENT, VERSION_RE

log = logging.getLogger(__name__)


def current_version(root: Path) -> str | None:
    """The version directory ``CURRENT`` names when it is complete (has a manifest), else None."""
    root = Path(root)
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not VERSION_RE.match(name) or not (root / name / "manifest.json").is_file():
        return None
    return name


class CurrentWatcher:
    """A daemon thread calling ``on_change(version)`` when ``CURRENT`` names a version ``served()`` is not.

    ``served`` returns the version the process serves (None while it serves none). A version whose
    ``on_change`` raised is not retried until ``CURRENT`` names another one (a version that cannot load is not
    reloaded every interval). :meth:`check` runs one poll synchronously (tests, and the first poll).
    """

    def __init__(self, root: Path, served: Callable[[], str | None], on_change: Callable[[str], None],
                 interval: float = 2.0) -> None:
        self.root = Path(root)
        self.served = served
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: str | None = None

    def check(self) -> bool:
        """One poll: whether ``on_change`` ran (and succeeded)."""
        version = current_version(self.root)
        if version is None or version == self.served() or version == self._failed:
            return False
        try:
            self.on_change(version)
        except Exception:  # logged; the served version stays
            self._failed = version
            log.exception("could not switch to index version %s; still serving %s", version, self.served())
            return False
        self._failed = None
        return True

    def start(self) -> "CurrentWatcher":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True, name="medcite-index-watch")
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the watcher die; the next poll tries again
                log.exception("index watcher poll failed")
