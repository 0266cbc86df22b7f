"""The service state of a first run: the related-question bank is embedded while the first index is built, and the
first version served reuses it instead of embedding it again."""

from __future__ import annotations

from app.http.admin import Admin
from app.http.state import ServiceState
from app.query.related import QuestionBank


def test_first_run_embeds_the_bank_while_building_and_the_first_swap_reuses_it(small_settings, tmp_path, monkeypatch):
    settings = small_settings.model_copy(deep=True)
    settings.paths.data_dir = tmp_path / "var"  # a cold cache: the bank must be embedded here
    settings.server.build_on_start = True
    index_dir = settings.paths.index_dir
    settings.paths.index_dir = tmp_path / "no-index-yet"
    state = ServiceState(settings)
    monkeypatch.setattr(state, "start_build", lambda: False)  # the build itself is not under test here
    loads: list[int] = []
    real_load = QuestionBank.load.__func__

    def counting_load(cls, path, embedder, cache_dir):
        loads.append(1)
        return real_load(cls, path, embedder, cache_dir)

    monkeypatch.setattr(QuestionBank, "load", classmethod(counting_load))
    state._load()
    assert state.pipeline is None and isinstance(state.bank, QuestionBank) and len(state.bank) > 0
    assert loads == [1]

    settings.paths.index_dir = index_dir  # the lexical stage made a version current
    Admin(settings, state).swap()
    assert state.pipeline is not None and state.pipeline.bank is state.bank
    assert loads == [1]  # not loaded (nor embedded) a second time
