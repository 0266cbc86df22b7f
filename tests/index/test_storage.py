"""Versioned on-disk index: write/open, version switching and pruning, crash safety, load errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.contracts import INDEX_FORMAT_VERSION
from index.lexical import BM25Index
from index.settings import IndexSettings
from index.storage import (
    CURRENT,
    FormatVersionError,
    IndexCorruptError,
    IndexLoadError,
    IndexNotFoundError,
    ModelMismatchError,
    cleanup_stale,
    index_exists,
    open_index,
    write_index,
)

SETTINGS = IndexSettings()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def built(tmp_path, tiny_store, unit_vectors, make_manifest):
    root = tmp_path / "index"
    vectors = unit_vectors(len(tiny_store))
    path = write_index(root, make_manifest(tiny_store), tiny_store, vectors, SETTINGS)
    return root, path, vectors


@pytest.mark.parametrize("vector_backend,lexical_backend", [("faiss", "bm25s"), ("memory", "memory")])
def test_write_then_open(tmp_path, tiny_store, unit_vectors, make_manifest, make_model_info,
                         vector_backend, lexical_backend):
    root, vectors = tmp_path / "index", unit_vectors(len(tiny_store))
    settings = IndexSettings(vector_backend=vector_backend, lexical_backend=lexical_backend)
    path = write_index(root, make_manifest(tiny_store), tiny_store, vectors, settings)
    assert path.parent == root and (root / CURRENT).read_text().strip() == path.name
    for name in ["manifest.json", "documents.jsonl", "chunks.jsonl", "vectors.npy", "vectors", "lexical"]:
        assert (path / name).exists(), name
    assert index_exists(root)
    loaded = open_index(root, IndexSettings(), expect_model=make_model_info())  # backends are read from disk
    assert loaded.path == path and loaded.root == root
    assert (loaded.vectors.backend, loaded.lexical.backend) == (vector_backend, lexical_backend)
    assert (loaded.manifest.vector_backend, loaded.manifest.lexical_backend) == (vector_backend, lexical_backend)
    assert loaded.store.chunks == tiny_store.chunks and loaded.store.documents == tiny_store.documents
    assert loaded.manifest.counts == {"documents": 3, "chunks": 6, "pages": 0}
    np.testing.assert_array_equal(loaded.raw_vectors(), vectors)
    assert loaded.vectors.search(vectors[3:4], k=1)[0][0][0] == tiny_store.chunks[3].chunk_id
    # the lexical index covers title + section + text (embed_text), so the title alone finds a document's chunks
    assert set(loaded.lexical.search("covid", k=5)[1].tolist()) == {4, 5}
    assert loaded.lexical.search("metformin", k=5)[1].tolist() == [2]


def test_second_write_switches_current_and_prunes(built, tiny_store, unit_vectors, make_manifest):
    root, first, _ = built
    versions = [first]
    for seed in (1, 2):
        time.sleep(0.002)
        vectors = unit_vectors(len(tiny_store), seed=seed)
        versions.append(write_index(root, make_manifest(tiny_store), tiny_store, vectors, SETTINGS))
        assert (root / CURRENT).read_text().strip() == versions[-1].name
        np.testing.assert_array_equal(open_index(root, SETTINGS).raw_vectors(), vectors)
    assert versions[2].name > versions[1].name > versions[0].name
    remaining = sorted(p.name for p in root.iterdir() if p.name.startswith("v-"))
    assert remaining == [versions[1].name, versions[2].name]  # keep_versions=1 older + current
    assert not list(root.glob(".tmp-*"))


def test_keep_versions_setting(built, tiny_store, unit_vectors, make_manifest):
    root, _, _ = built
    keep3 = IndexSettings(keep_versions=3)
    for seed in range(4):
        write_index(root, make_manifest(tiny_store), tiny_store, unit_vectors(6, seed=seed), keep3)
    assert len([p for p in root.iterdir() if p.name.startswith("v-")]) == 4


def test_prebuilt_lexical_index_and_extra_files(tmp_path, tiny_store, unit_vectors, make_manifest):
    lexical = BM25Index.build([c.text for c in tiny_store.chunks], SETTINGS)
    path = write_index(
        tmp_path, make_manifest(tiny_store), tiny_store, unit_vectors(6), SETTINGS,
        lexical=lexical, extra=lambda d: (d / "sentence_vectors.npy").write_bytes(b"x"),
    )
    assert (path / "sentence_vectors.npy").read_bytes() == b"x"
    assert open_index(tmp_path, SETTINGS).lexical.search("covid", k=5)[1].tolist() == [4]  # text only, no title


def test_write_rejects_inconsistent_input(tmp_path, tiny_store, unit_vectors, make_manifest):
    manifest = make_manifest(tiny_store)
    with pytest.raises(ValueError, match="one row per chunk"):
        write_index(tmp_path, manifest, tiny_store, unit_vectors(5), SETTINGS)
    with pytest.raises(ValueError, match="dimension 4"):
        write_index(tmp_path, manifest, tiny_store, unit_vectors(6, dim=4), SETTINGS)
    assert not index_exists(tmp_path) and not list(tmp_path.glob(".tmp-*"))


def test_simulated_crash_leaves_old_version_and_cleanup_removes_tmp(built):
    root, path, vectors = built
    crashed = root / f".tmp-{dead_pid()}-deadbeef"  # a half-built version of a killed build
    (crashed / "vectors").mkdir(parents=True)
    (crashed / "owner.pid").write_text(f"{dead_pid()} {os.uname().nodename}\n")
    (crashed / "chunks.jsonl").write_text('{"chunk_id": "half')
    live = root / ".tmp-999-cafe"  # a concurrent build of a live process: must survive
    live.mkdir()
    (live / "owner.pid").write_text(f"{os.getppid()} {os.uname().nodename}\n")
    (root / "CURRENT.tmp").write_text("v-garbage")

    loaded = open_index(root, SETTINGS)
    assert loaded.path == path
    np.testing.assert_array_equal(loaded.raw_vectors(), vectors)
    assert cleanup_stale(root) == [crashed]
    assert not crashed.exists() and live.exists()
    assert cleanup_stale(root) == []


def test_prune_killed_after_rename_leaves_a_removable_directory(built):
    """A version built by this (live) process, renamed away by a prune that was killed before it finished: the
    renamed directory names the dead pruner, and carries no owner file naming its live builder."""
    root, path, _ = built
    assert not (path / "owner.pid").exists()
    half_pruned = root / f".tmp-{dead_pid()}-0badf00d"
    shutil.copytree(path, half_pruned)
    assert cleanup_stale(root) == [half_pruned]


@pytest.mark.parametrize("name", ["CURRENT-missing", "root-missing"])
def test_missing_index_raises_not_found(tmp_path, name):
    root = tmp_path / "idx"
    if name == "CURRENT-missing":
        root.mkdir()
    with pytest.raises(IndexNotFoundError, match=r"idx.*`medcite ingest`") as err:
        open_index(root, SETTINGS)
    assert str(root) in str(err.value) and not index_exists(root)


def test_missing_current_with_versions_says_so(built):
    root, _, _ = built
    (root / CURRENT).unlink()
    with pytest.raises(IndexNotFoundError, match="no CURRENT pointer although version directories exist"):
        open_index(root, SETTINGS)


def test_current_naming_missing_or_garbage(built):
    root, _, _ = built
    (root / CURRENT).write_text("v-20990101T000000000000-abcd\n")
    with pytest.raises(IndexCorruptError, match="names v-20990101T000000000000-abcd, which does not exist"):
        open_index(root, SETTINGS)
    (root / CURRENT).write_text("../../etc\n")
    with pytest.raises(IndexCorruptError, match="not a version directory name"):
        open_index(root, SETTINGS)


def test_corrupt_manifest(built):
    root, path, _ = built
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is not readable JSON.*--rebuild") as err:
        open_index(root, SETTINGS)
    assert str(path) in str(err.value)
    (path / "manifest.json").write_text(json.dumps({"format_version": INDEX_FORMAT_VERSION, "model": {"name": "x"}}))
    with pytest.raises(IndexCorruptError, match=r"manifest\.json is invalid at model\.dimension"):
        open_index(root, SETTINGS)
    (path / "manifest.json").unlink()
    with pytest.raises(IndexCorruptError, match="manifest.json is missing"):
        open_index(root, SETTINGS)
    assert not index_exists(root)


def test_format_version_mismatch(built):
    root, path, _ = built
    raw = json.loads((path / "manifest.json").read_text())
    raw["format_version"] = 999
    (path / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(FormatVersionError, match=rf"format version 999, but this medcite reads version {INDEX_FORMAT_VERSION}.*--rebuild"):
        open_index(root, SETTINGS)


def test_model_mismatch(built, make_model_info):
    root, _, _ = built
    with pytest.raises(ModelMismatchError, match=r"fingerprint: index 'f00d' vs configured 'beef'.*MODEL_PATH"):
        open_index(root, SETTINGS, expect_model=make_model_info(fingerprint="beef"))
    with pytest.raises(ModelMismatchError, match="dimension: index 8 vs configured 384"):
        open_index(root, SETTINGS, expect_model=make_model_info(dimension=384))


def test_inconsistent_counts_are_corrupt(built):
    root, path, _ = built
    lines = (path / "chunks.jsonl").read_text().splitlines()
    (path / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(IndexCorruptError, match=r"row counts disagree.*'chunks.jsonl': 5.*'vectors.npy': 6"):
        open_index(root, SETTINGS)


def test_unreadable_component_is_corrupt(built):
    root, path, _ = built
    (path / "vectors" / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="cannot load its files"):
        open_index(root, SETTINGS)


def test_vector_ids_other_than_the_chunk_ids_are_corrupt(built):
    root, path, _ = built
    ids = json.loads((path / "vectors" / "ids.json").read_text())
    (path / "vectors" / "ids.json").write_text(json.dumps([*ids[:-1], "someone-else#0"]))
    with pytest.raises(IndexCorruptError, match="other ids than the chunks"):
        open_index(root, SETTINGS)


def test_errors_share_a_base_class():
    for cls in (IndexNotFoundError, IndexCorruptError, ModelMismatchError, FormatVersionError):
        assert issubclass(cls, IndexLoadError)


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    sys.path.insert(0, {repo!r})
    from index.embedding import ModelInfo
    from index.manifest import DocumentEntry, Manifest
    from core.models import Chunk, DocumentMeta, Sentence
    from index.settings import IndexSettings
    from index.storage import write_index
    from index.store import ChunkStore
    root, n = sys.argv[1], 3000
    docs = {{"d": DocumentMeta(doc_id="d", title="Doc")}}
    text = "Asthma inhaler dose 500mg. " * 8
    chunks = [Chunk(chunk_id=f"d#{{i}}", doc_id="d", ordinal=i, text=text, start=0, end=len(text),
                    sentences=[Sentence(start=0, end=len(text), text=text)]) for i in range(n)]
    manifest = Manifest(model=ModelInfo(name="m", dimension=64, max_seq_length=8, fingerprint="f"),
                        faiss_factory="HNSW32", vector_backend="faiss",
                        documents={{"d": DocumentEntry(content_hash="h", n_chunks=n, title="Doc", source_path="d")}})
    store = ChunkStore(docs, chunks)
    rng = np.random.default_rng(0)
    while True:
        write_index(root, manifest, store, rng.standard_normal((n, 64)).astype("float32"),
                    IndexSettings(faiss_factory="HNSW32"))
    """
)


@pytest.mark.slow
def test_sigkill_at_random_points_keeps_an_openable_index(tmp_path):
    root = tmp_path / "index"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(Path(__file__).resolve().parents[2])))
    rng = np.random.default_rng(1)
    opened = 0
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, str(script), str(root)])
        time.sleep(float(rng.uniform(0.6, 2.0)))  # imports take ~0.4 s, one build ~0.2 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if index_exists(root):
            loaded = open_index(root, IndexSettings(faiss_factory="HNSW32"))
            assert len(loaded.store) == len(loaded.vectors) == 3000
            opened += 1
        cleanup_stale(root)
        assert not list(root.glob(".tmp-*"))
        assert len(list(root.glob("v-*"))) <= 3  # current + 1 kept + at most one uncommitted orphan
    assert opened >= 6
