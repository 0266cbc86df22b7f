"""The CURRENT watcher: a version another process made current is reported once; one that cannot be switched to
is not retried every poll; incomplete pointers are ignored."""

from __future__ import annotations

import time
from pathlib import Path

from index.storage import CURRENT
from index.watch import CurrentWatcher, current_version

V1, V2, V3 = (f"v-20260101T00000000000{i}-abcd" for i in (1, 2, 3))


def make_versions(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")


def point(root: Path, name: str) -> None:
    (root / CURRENT).write_text(name + "\n")


def test_change_is_reported_once_and_failures_are_not_retried(tmp_path):
    make_versions(tmp_path, V1, V2, V3)
    point(tmp_path, V1)
    served = {"v": V1}
    calls: list[str] = []

    def switch(version: str) -> None:
        calls.append(version)
        if version == V2:
            raise RuntimeError("cannot open")
        served["v"] = version

    watcher = CurrentWatcher(tmp_path, lambda: served["v"], switch, interval=0.05)
    assert not watcher.check() and calls == []  # nothing changed
    point(tmp_path, V2)
    assert not watcher.check() and not watcher.check()
    assert calls == [V2] and served["v"] == V1  # failed once, not retried, still serving V1
    point(tmp_path, V3)
    watcher.start()
    try:
        deadline = time.monotonic() + 5
        while served["v"] != V3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert served["v"] == V3 and calls == [V2, V3]


def test_incomplete_or_garbled_pointers_are_ignored(tmp_path):
    make_versions(tmp_path, V1)
    point(tmp_path, "../../etc")
    assert current_version(tmp_path) is None
    point(tmp_path, V2)  # names a version without a directory (pruned, or not yet renamed)
    assert current_version(tmp_path) is None
    (tmp_path / V2).mkdir()
    assert current_version(tmp_path) is None  # no manifest yet
    point(tmp_path, V1)
    assert current_version(tmp_path) == V1
