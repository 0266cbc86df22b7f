"""Short version of scripts/crash_ingest.py: SIGKILL the ingest child 5 times; the previous index always loads and
answers and no temporary build directories pile up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crash_ingest.py"


@pytest.mark.slow
def test_index_survives_sigkill_during_ingest(tmp_path):
    spec = importlib.util.spec_from_file_location("crash_ingest", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.run(kills=5, workdir=tmp_path, seed=3, log=lambda _msg: None)
    assert report.kills == 5 and report.checks_passed == 5, report.failures
    assert report.killed_while_running >= 1
    assert report.max_tmp_dirs <= 1 and report.tmp_dirs_left == 0
    assert not report.failures
