"""Input files with their PDFs parsed in a second process: the same documents, in the same order, as a serial load;
a worker that cannot start costs nothing but time."""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest.prefetch as prefetch
from ingest.inputs import InputFile, collect_inputs
from ingest.prefetch import load_inputs, prefetched


@pytest.fixture
def mixed_inputs(tmp_path: Path, make_pdf) -> list[InputFile]:
    (tmp_path / "a-guideline.pdf").write_bytes(make_pdf([["Hypertension guideline.",
                                                         "Measure blood pressure in both arms at the first visit."]]))
    (tmp_path / "b-note.md").write_text("# Gout\n\nAllopurinol lowers serum urate in chronic gout.\n", encoding="utf-8")
    (tmp_path / "c-broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (tmp_path / "d-asthma.pdf").write_bytes(make_pdf([["Asthma.", "Inhaled corticosteroids control persistent asthma."]]))
    return collect_inputs([tmp_path])


def test_pdfs_go_to_a_second_process_only_with_cores_and_bytes(mixed_inputs) -> None:
    pdfs = [i for i, item in enumerate(mixed_inputs) if item.path.suffix == ".pdf"]
    assert prefetched(mixed_inputs, cores=2) == []  # a few KB of PDF: not worth a process
    assert len(pdfs) == 3


@pytest.mark.slow
def test_a_second_process_gives_the_serial_outcomes_in_order(mixed_inputs, monkeypatch) -> None:
    serial = load_inputs(mixed_inputs)
    monkeypatch.setattr(prefetch, "MIN_PDF_BYTES", 0)
    assert prefetched(mixed_inputs, cores=2)
    told: list[int] = []
    parallel = load_inputs(mixed_inputs, told.append)
    assert told == list(range(1, len(mixed_inputs) + 1))
    assert [(None if d is None else [x.model_dump() for x in d], f) for d, f in parallel] == \
           [(None if d is None else [x.model_dump() for x in d], f) for d, f in serial]
    failures = [f for _, f in parallel if f]
    assert len(failures) == 1 and "c-broken.pdf" in failures[0]  # a bad PDF fails alone, with its reason


def test_a_worker_that_cannot_start_loads_the_pdfs_here(mixed_inputs, monkeypatch) -> None:
    class Broken:
        def __init__(self, *args, **kwargs) -> None: ...

        def submit(self, *args, **kwargs):
            from concurrent.futures import Future
            from concurrent.futures.process import BrokenProcessPool

            future: Future = Future()
            future.set_exception(BrokenProcessPool("the worker died"))
            return future

        def __enter__(self) -> "Broken":
            return self

        def __exit__(self, *exc) -> None: ...

    monkeypatch.setattr(prefetch, "MIN_PDF_BYTES", 0)
    monkeypatch.setattr(prefetch, "ProcessPoolExecutor", Broken)
    outcomes = load_inputs(mixed_inputs)
    loaded = [d for d, _ in outcomes if d]
    assert len(loaded) == 3  # both good PDFs and the Markdown note, none lost to the dead worker
