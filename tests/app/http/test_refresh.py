"""Each serving process follows CURRENT: IndexRefresher swaps a version another process made current through the
admin swap, leaves a first load alone, and does nothing when its own job already swapped it in."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from app.http.refresh import IndexRefresher
from app.settings import Settings
from index.storage import CURRENT

V1, V2 = "v-20260101T000000000001-abcd", "v-20260101T000000000002-abcd"


def served_by(root: Path, name: str) -> SimpleNamespace:
    return SimpleNamespace(index=SimpleNamespace(path=root / name))


def make_state(root: Path) -> SimpleNamespace:
    for name in (V1, V2):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    (root / CURRENT).write_text(V1)
    settings = Settings()
    settings.paths.index_dir = root
    state = SimpleNamespace(settings=settings, pipeline=None, error=None, loading=True)
    swaps: list[str] = []

    def swap() -> None:  # what Admin.swap does: serve the version CURRENT names
        name = (root / CURRENT).read_text().strip()
        swaps.append(name)
        state.pipeline = served_by(root, name)

    state.admin = SimpleNamespace(swap=swap)
    state.swaps = swaps
    return state


def test_swaps_in_the_version_another_process_made_current(tmp_path):
    state = make_state(tmp_path)
    refresher = IndexRefresher(state, interval=0.05)
    assert not refresher.watcher.check()  # still loading: the loader serves CURRENT when done
    state.pipeline = served_by(tmp_path, V1)
    assert not refresher.watcher.check()
    (tmp_path / CURRENT).write_text(V2)
    assert refresher.watcher.check() and state.swaps == [V2]
    assert state.pipeline.index.path.name == V2
    assert not refresher.watcher.check() and state.swaps == [V2]


def test_no_second_load_when_this_process_swapped_already(tmp_path):
    state = make_state(tmp_path)
    state.pipeline = served_by(tmp_path, V1)
    refresher = IndexRefresher(state, interval=0.05)
    (tmp_path / CURRENT).write_text(V2)
    state.pipeline = served_by(tmp_path, V2)  # this process's own job swapped before the poll got the lock
    refresher.swap(V2)
    assert state.swaps == []


def test_a_first_run_without_an_index_takes_the_version_another_worker_built(tmp_path):
    """Several workers, first run: one builds and swaps; the others finished loading with nothing to load (the bug:
    they claimed to serve CURRENT, so they answered 503 until a restart)."""
    state = make_state(tmp_path)
    state.loading = False  # load() returned: no index existed, the build started elsewhere
    refresher = IndexRefresher(state, interval=0.05)
    assert refresher.watcher.check() and state.swaps == [V1]


def test_a_failed_first_load_is_retried_when_an_index_appears(tmp_path):
    state = make_state(tmp_path)
    state.loading = False
    state.error = "the index or model failed to load (IndexNotFoundError); see the server log"
    refresher = IndexRefresher(state, interval=0.05)
    assert refresher.watcher.check() and state.swaps == [V1]
