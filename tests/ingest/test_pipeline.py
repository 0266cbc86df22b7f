"""Incremental ingest: counts, re-use of embeddings, removals, bad files, and the CLI summary/exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from index.sentence_vectors import SentenceVectors
from app.settings import Settings
from index.storage import open_index
from ingest.pipeline import NothingToIngestError, ingest

DOCS = {
    "asthma.md": "# Asthma\n\nAsthma is a chronic disease of the airways. Inhaled corticosteroids control symptoms.\n\n"
                 "## Triggers\n\nCommon triggers include pollen, smoke and cold air.\n",
    "gout.txt": "Gout is a form of arthritis caused by uric acid crystals in the joints. Colchicine treats flares.\n",
    "wilms.html": "<html><head><title>Wilms tumor</title><script>var x=1;</script></head><body><nav>menu</nav>"
                  "<h1>Wilms tumor</h1><p>Wilms tumor is a kidney cancer of children.</p>"
                  "<h2>Diagnosis</h2><p>A CT scan of the abdomen shows the size of the tumor.</p></body></html>",
}


@pytest.fixture()
def settings(tmp_path):
    s = Settings()
    s.paths.data_dir = tmp_path / "var"
    s.paths.index_dir = tmp_path / "var" / "index"
    return s


@pytest.fixture()
def docs(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_second_run_embeds_nothing_and_changes_are_incremental(settings, docs):
    first = ingest([docs], settings, progress=False)
    assert (first.new, first.unchanged, first.removed) == (3, 0, 0)
    assert first.written and first.embedded_chunks == first.chunks > 0

    again = ingest([docs], settings, progress=False)
    assert (again.new, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    assert again.embedded_chunks == 0 and not again.written

    (docs / "gout.txt").write_text("Gout causes sudden severe joint pain, often in the big toe.\n", encoding="utf-8")
    (docs / "extra.md").write_text("# Migraine\n\nMigraine is a headache disorder with aura.\n", encoding="utf-8")
    (docs / "asthma.md").unlink()
    third = ingest([docs], settings, progress=False)
    assert (third.new, third.updated, third.unchanged, third.removed) == (1, 1, 1, 1)
    idx = open_index(settings.paths.index_dir, settings.index)
    assert set(idx.manifest.documents) == {"gout", "wilms", "extra"}
    assert third.embedded_chunks == sum(idx.manifest.documents[d].n_chunks for d in ("gout", "extra"))


def test_unchanged_documents_keep_their_vectors(settings, docs):
    ingest([docs], settings, progress=False)
    before = open_index(settings.paths.index_dir, settings.index)
    rows = before.store.rows_of_document("wilms")
    old = np.asarray(before.raw_vectors()[rows])
    (docs / "new.txt").write_text("Hypertension is high blood pressure.\n", encoding="utf-8")
    ingest([docs], settings, progress=False)
    after = open_index(settings.paths.index_dir, settings.index)
    new_rows = after.store.rows_of_document("wilms")
    np.testing.assert_array_equal(np.asarray(after.raw_vectors()[new_rows]), old)
    sv = SentenceVectors.load(after.path)
    assert sv is not None and len(sv) == len(after.store)
    for row in new_rows:
        assert sv.for_row(row).shape == (len(after.store.chunks[row].sentences), old.shape[1])


def test_bad_files_are_reported_and_the_rest_ingested(settings, docs):
    (docs / "empty.txt").write_bytes(b"")
    (docs / "fake.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    report = ingest([docs], settings, progress=False)
    failed = {f.path.rsplit("/", 1)[-1] for f in report.failures}
    assert failed == {"empty.txt", "fake.pdf", "broken.pdf"}
    assert report.new == 3 and report.ok
    for failure in report.failures:
        assert failure.reason and "Traceback" not in failure.reason


def test_a_failing_file_does_not_remove_its_earlier_documents(settings, docs):
    ingest([docs], settings, progress=False)
    (docs / "gout.txt").write_bytes(b"\x00\x01\x02" * 100)  # now undecodable/binary
    report = ingest([docs], settings, progress=False)
    assert report.removed == 0 and any("gout.txt" in f.path for f in report.failures)
    idx = open_index(settings.paths.index_dir, settings.index)
    assert "gout" in idx.manifest.documents


def test_nothing_ingestible_raises_clear_error(settings, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.md").write_bytes(b"")
    with pytest.raises(NothingToIngestError, match="nothing to index"):
        ingest([bad], settings, progress=False)


def test_cli_summary_and_exit_codes(settings, docs, tmp_path, monkeypatch):
    from app.cli import cli

    monkeypatch.setenv("MEDCITE_PATHS__DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    index = tmp_path / "cli-index"
    ok = runner.invoke(cli, ["ingest", str(docs), "--index", str(index), "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert "documents" in ok.output and "chunks/s" in ok.output
    bad = tmp_path / "only-bad"
    bad.mkdir()
    (bad / "x.pdf").write_bytes(b"not a pdf at all")
    failed = runner.invoke(cli, ["ingest", str(bad), "--index", str(tmp_path / "other"), "--quiet"])
    assert failed.exit_code == 1
    assert "x.pdf" in failed.output
    missing = runner.invoke(cli, ["ingest", str(tmp_path / "nope"), "--index", str(index), "--quiet"])
    assert missing.exit_code == 2 and "no such file" in missing.output
