"""Atomic, versioned on-disk index layout.

``ROOT`` (e.g. ``var/index/default``) holds version directories ``v-<UTC yyyymmddTHHMMSSffffff>-<4 hex>``
and a pointer file ``ROOT/CURRENT`` naming the current one. A version directory holds ``manifest.json``,
``documents.jsonl``, ``chunks.jsonl``, ``vectors.npy`` (float32, row-aligned with chunks), ``vectors/`` (the
vector store's own files, under chunk ids) and ``lexical/`` (the lexical index's own files, row-aligned).

A lexical-only version (``manifest.dense`` false: the first stage of a first build, served while the vectors are
computed) has no ``vectors.npy`` and an empty vector store.

A build writes everything into ``ROOT/.tmp-<pid>-<hex>/`` (with ``owner.pid``), fsyncs it, then -- holding
``ROOT/.lock`` -- renames it to a new version directory, atomically replaces ``CURRENT`` and prunes old
versions (renamed to a ``.tmp-`` name first, then deleted). A crash at any point therefore leaves
``CURRENT`` naming a complete version; leftover ``.tmp-*`` directories of dead processes are removed by
:func:`cleanup_stale` (also run by every build).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from pydantic import ValidationError

from core.contracts import INDEX_FORMAT_VERSION
from index.embedding import ModelInfo
from index.lexical import LexicalIndex, TokenizerVersionError, build_lexical_index, load_lexical_index
from index.manifest import Manifest
from index.settings import IndexSettings
from index.store import ChunkStore
from index.vectors import VectorStore, create_vector_store, discard_vector_store, load_vector_store

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
TMP_PREFIX = ".tmp-"
OWNER_FILE = "owner.pid"
VERSION_RE = re.compile(r"^v-\d{8}T\d{12}-[0-9a-f]{4}$")
#: A ``.tmp-*`` directory whose owner cannot be determined is stale after this long.
UNOWNED_STALE_SECONDS = 3600.0
REBUILD = "rebuild it with `medcite ingest --rebuild`"
VECTORS_DIR = "vectors"
LEXICAL_DIR = "lexical"


class IndexLoadError(Exception):
    """An index cannot be opened; the message names the directory, the problem and the fix."""

    def __init__(self, path: Path, problem: str, fix: str = REBUILD) -> None:
        self.path = path
        super().__init__(f"index at {path}: {problem}; {fix}")


class IndexNotFoundError(IndexLoadError):
    """No index has been built at this root yet."""


class IndexCorruptError(IndexLoadError):
    """Files are missing, unreadable or inconsistent with each other."""


class ModelMismatchError(IndexLoadError):
    """The index was built with another embedding model than the configured one."""


class FormatVersionError(IndexLoadError):
    """The index was written in another on-disk format version."""


@dataclass(frozen=True)
class LoadedIndex:
    """Everything a reader needs from one index version."""

    root: Path
    path: Path
    manifest: Manifest
    store: ChunkStore
    vectors: VectorStore
    lexical: LexicalIndex

    @property
    def dense(self) -> bool:
        """Whether this version has vectors (False: lexical-only, still building)."""
        return self.manifest.dense

    def raw_vectors(self) -> np.ndarray:
        """The stored ``(chunks, dim)`` float32 vectors, memory-mapped read-only (``ValueError`` when lexical-only)."""
        if not self.dense:
            raise ValueError(f"{self.path} is a lexical-only index version: it has no vectors")
        return np.load(self.path / "vectors.npy", mmap_mode="r")


def write_index(
    root: Path,
    manifest: Manifest,
    store: ChunkStore,
    vectors: np.ndarray | None,
    settings: IndexSettings,
    *,
    lexical: LexicalIndex | None = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a new index version under ``root`` and make it current; returns the version directory.

    Builds the vector store (``settings.vector_backend``) from ``vectors`` under the chunk ids (``vectors=None``
    writes a lexical-only version: an empty store, no ``vectors.npy``) and, unless
    ``lexical`` is given, the lexical index (``settings.lexical_backend``) over each chunk's ``embed_text(topic)``. ``extra(directory)`` may add more files to the version before it is committed.
    The stored manifest gets the backend name and the document/chunk counts of ``store`` (``pages`` defaults
    to the sum over ``manifest.documents``); the FAISS factory actually built (``Flat`` after an IVF/PQ
    fallback) is recorded in ``vectors/vector_store.json``.
    """
    root = Path(root)
    dense = vectors is not None
    if vectors is not None:
        vectors = _checked_vectors(manifest, store, vectors)
    _check_documents(manifest, store)
    if lexical is not None and len(lexical) != len(store):
        raise ValueError(f"the lexical index has {len(lexical)} documents but the store has {len(store)} chunks")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    vector_store: VectorStore | None = None
    try:
        _write_owner(tmp)
        vector_store = create_vector_store(settings, manifest.model.dimension)
        if vectors is not None:
            vector_store.add(list(store.chunk_ids), vectors)
        counts = {"pages": sum(e.pages for e in manifest.documents.values()), **manifest.counts}
        counts.update(documents=len(store.documents), chunks=len(store))
        final = manifest.model_copy(update={"vector_backend": settings.vector_backend, "dense": dense,
                                            "lexical_backend": settings.lexical_backend, "counts": counts})
        final.save(tmp / "manifest.json")
        store.save(tmp)
        if vectors is not None:
            np.save(tmp / "vectors.npy", vectors)
        vector_store.save(tmp / VECTORS_DIR)
        if lexical is None:
            texts = [chunk.embed_text(store.documents[chunk.doc_id].topic) for chunk in store.chunks]
            lexical = build_lexical_index(texts, settings)
        lexical.save(tmp / LEXICAL_DIR)
        if extra is not None:
            extra(tmp)
        _fsync_tree(tmp)
        with _locked(root):
            previous = _current_or_none(root)
            if previous:  # versions orphaned by builds killed between rename and prune: bounded, not piling up
                _prune(root, previous, settings.keep_versions, settings)
            version = root / f"v-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{secrets.token_hex(2)}"
            (tmp / OWNER_FILE).unlink()  # a version has no owner; a trash name made from it gets its own
            os.rename(tmp, version)
            _fsync(root)
            _replace_current(root, version.name)
            try:
                _prune(root, version.name, settings.keep_versions, settings)
            except OSError as exc:  # the new version is already current; pruning again next build is fine
                log.warning("could not prune old index versions in %s: %s", root, exc)
    except BaseException:
        drop = getattr(vector_store, "drop", None)  # a failed build leaves no server-side collection behind
        if drop is not None:
            try:
                drop()
            except Exception as exc:  # noqa: BLE001 -- the build's own error is the one to report
                log.warning("could not drop the vector collection of a failed build: %s", exc)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cleanup_stale(root)
    return version


def _checked_vectors(manifest: Manifest, store: ChunkStore, vectors: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != len(store):
        raise ValueError(f"vectors must have one row per chunk ({len(store)}), got shape {np.shape(vectors)}")
    if array.shape[1] != manifest.model.dimension:
        raise ValueError(f"vectors have dimension {array.shape[1]} but the model has {manifest.model.dimension}")
    return array


def _check_documents(manifest: Manifest, store: ChunkStore) -> None:
    if set(manifest.documents) != set(store.documents):
        diff = sorted(set(manifest.documents) ^ set(store.documents))
        raise ValueError(f"manifest and chunk store list different documents, e.g. {diff[:5]}")


def open_index(root: Path, settings: IndexSettings, expect_model: ModelInfo | None = None) -> LoadedIndex:
    """Open the current version under ``root``, validating format, model and counts.

    Raises :class:`IndexNotFoundError`, :class:`IndexCorruptError`, :class:`FormatVersionError` or
    :class:`ModelMismatchError`. Retries if a concurrent build switched versions while loading.
    """
    root = Path(root)
    for attempt in range(3):
        version = _read_current(root)
        try:
            return _load_version(root, root / version, settings, expect_model)
        except IndexCorruptError:
            if attempt == 2 or _current_or_none(root) == version:
                raise
    raise AssertionError("unreachable")


def index_exists(root: Path) -> bool:
    """Whether ``root`` has a CURRENT pointer naming a version directory with a manifest."""
    root = Path(root)
    try:
        return (root / _read_current(root) / "manifest.json").is_file()
    except IndexLoadError:
        return False


def cleanup_stale(root: Path) -> list[Path]:
    """Remove ``.tmp-*`` directories whose owning process is dead; returns the removed paths."""
    root, removed = Path(root), []
    if not root.is_dir():
        return removed
    for path in sorted(root.glob(f"{TMP_PREFIX}*")):
        if path.is_dir() and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _read_current(root: Path) -> str:
    if not root.is_dir():
        raise IndexNotFoundError(root, "the directory does not exist", "build one with `medcite ingest`")
    pointer = root / CURRENT
    if not pointer.is_file():
        versions = [p.name for p in root.iterdir() if VERSION_RE.match(p.name)]
        problem = f"no {CURRENT} pointer"
        if versions:
            problem += f" although version directories exist ({versions[0]}, ...): an interrupted first build?"
        raise IndexNotFoundError(root, problem, "build one with `medcite ingest`")
    name = pointer.read_text(encoding="utf-8").strip()
    if not VERSION_RE.match(name):
        raise IndexCorruptError(root, f"{CURRENT} holds {name[:80]!r}, not a version directory name")
    if not (root / name).is_dir():
        raise IndexCorruptError(root, f"{CURRENT} names {name}, which does not exist")
    return name


def set_current(root: Path, version: str) -> None:
    """Point ``CURRENT`` at an existing version directory (e.g. back to the served one after a failed swap)."""
    root = Path(root)
    if not VERSION_RE.match(version) or not (root / version / "manifest.json").is_file():
        raise IndexCorruptError(root, f"cannot make {version!r} current: it is not a complete version")
    with _locked(root):
        _replace_current(root, version)


def _current_or_none(root: Path) -> str | None:
    try:
        return _read_current(root)
    except IndexLoadError:
        return None


def _load_version(root: Path, path: Path, settings: IndexSettings, expect_model: ModelInfo | None) -> LoadedIndex:
    manifest = _load_manifest(path)
    if expect_model is not None:
        _check_model(path, manifest.model, expect_model)
    try:
        store = ChunkStore.load(path, lazy=settings.lazy_chunks)
        raw = np.load(path / "vectors.npy", mmap_mode="r") if manifest.dense else None
        vectors = load_vector_store(settings, path / VECTORS_DIR)
        lexical = load_lexical_index(path / LEXICAL_DIR)
    except TokenizerVersionError as exc:
        raise FormatVersionError(path, str(exc)) from exc
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(path, f"cannot load its files: {exc}") from exc
    sizes = {
        "chunks.jsonl": len(store),
        "lexical index": len(lexical),
        "manifest chunks": manifest.counts.get("chunks", len(store)),
    }
    if raw is not None:
        sizes.update({"vectors.npy": raw.shape[0], "vector store": len(vectors)})
    elif len(vectors):
        raise IndexCorruptError(path, f"a lexical-only version holds {len(vectors)} vectors")
    if len(set(sizes.values())) != 1:
        raise IndexCorruptError(path, f"row counts disagree: {sizes}")
    dims = {"manifest": manifest.model.dimension, "vector store": vectors.dimension}
    if raw is not None:
        dims["vectors.npy"] = raw.shape[1]
    if len(set(dims.values())) != 1:
        raise IndexCorruptError(path, f"vector dimensions disagree: {dims}")
    if manifest.counts.get("documents", len(store.documents)) != len(store.documents):
        raise IndexCorruptError(
            path, f"manifest counts {manifest.counts} but documents.jsonl has {len(store.documents)} documents"
        )
    if raw is not None and set(vectors.ids()) != set(store.chunk_ids):
        raise IndexCorruptError(path, "the vector store holds other ids than the chunks of chunks.jsonl")
    return LoadedIndex(root=root, path=path, manifest=manifest, store=store, vectors=vectors, lexical=lexical)


def _load_manifest(path: Path) -> Manifest:
    file = path / "manifest.json"
    try:
        raw = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise IndexCorruptError(path, "manifest.json is missing") from None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(path, f"manifest.json is not readable JSON ({exc})") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != INDEX_FORMAT_VERSION:
        raise FormatVersionError(
            path, f"format version {version}, but this medcite reads version {INDEX_FORMAT_VERSION}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise IndexCorruptError(path, f"manifest.json is invalid at {where}: {first['msg']}") from exc


def _check_model(path: Path, built: ModelInfo, expected: ModelInfo) -> None:
    fields = ("name", "dimension", "fingerprint")
    diffs = [
        f"{f}: index {getattr(built, f)!r} vs configured {getattr(expected, f)!r}"
        for f in fields
        if getattr(built, f) != getattr(expected, f)
    ]
    if diffs:
        raise ModelMismatchError(
            path,
            f"built with another embedding model than the configured one ({'; '.join(diffs)})",
            f"{REBUILD}, or set MEDCITE_EMBEDDING__MODEL_PATH to the model it was built with",
        )


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise the commit phase (rename, CURRENT switch, prune) between concurrent builds."""
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _replace_current(root: Path, name: str) -> None:
    tmp = root / f"{CURRENT}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
    _fsync(root)


def _prune(root: Path, current: str, keep: int, settings: IndexSettings | None = None) -> list[Path]:
    """Delete versions other than ``current`` beyond the ``keep`` newest; each is renamed away first (a server-side
    vector collection of the version is dropped with it)."""
    others = sorted((p for p in root.iterdir() if VERSION_RE.match(p.name) and p.name != current), reverse=True)
    pruned = []
    for old in others[keep:]:
        trash = root / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(old, trash)
        _write_owner(trash)  # not the pid of whoever built the version (that may be a live process)
        discard_vector_store(settings or IndexSettings(), trash / VECTORS_DIR)
        shutil.rmtree(trash, ignore_errors=True)
        pruned.append(old)
    return pruned


def _write_owner(path: Path) -> None:
    (path / OWNER_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")


def _owner_alive(path: Path) -> bool:
    """Whether the process that owns a ``.tmp-*`` directory may still be running (unknown = young).

    ``owner.pid`` names the process and host; without it, the pid in the directory's name (the process that made
    that name: a build, or a prune renaming an old version away -- a committed version carries no owner file, so a
    prune killed before it writes one leaves a directory that names the pruner, not the version's builder).
    """
    pid, host = None, socket.gethostname()
    try:
        fields = (path / OWNER_FILE).read_text(encoding="utf-8").split()
        pid, host = int(fields[0]), (fields[1] if len(fields) > 1 else host)
    except (OSError, ValueError, IndexError):
        match = re.match(rf"^{re.escape(TMP_PREFIX)}(\d+)-", path.name)
        pid = int(match.group(1)) if match else None
    if pid is None:
        try:
            return time.time() - path.stat().st_mtime < UNOWNED_STALE_SECONDS
        except OSError:
            return False
    if host != socket.gethostname() or pid == os.getpid():
        return True
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path | str) -> None:
    """Flush a file's or a directory's entries to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            _fsync(os.path.join(dirpath, name))
        _fsync(dirpath)
