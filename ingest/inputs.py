"""Turn the paths given to ``medcite ingest`` into input files with their metadata defaults.

A directory holding a ``manifest.json`` (like ``corpus/``) is read through that manifest, which supplies each
file's metadata; any other directory is walked for files; a file stands for itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MANIFEST_NAME = "manifest.json"


class InputFile(BaseModel):
    path: Path
    defaults: dict[str, Any] = Field(default_factory=dict, description="Metadata applied to its documents.")


class CorpusManifestError(ValueError):
    """The corpus manifest is unreadable or names missing files."""


def read_corpus_manifest(directory: Path) -> list[InputFile]:
    """Input files listed by ``directory/manifest.json`` with their metadata."""
    manifest_path = directory / MANIFEST_NAME
    try:
        entries = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CorpusManifestError(f"{manifest_path}: cannot read corpus manifest ({exc})") from exc
    if isinstance(entries, dict):
        entries = entries.get("documents", entries.get("files", []))
    out: list[InputFile] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "path" not in entry:
            raise CorpusManifestError(f"{manifest_path}: entry {i} has no 'path'")
        path = directory / entry["path"]
        if not path.is_file():
            raise CorpusManifestError(f"{manifest_path}: entry {i} names a missing file {path}")
        meta = {k: v for k, v in (entry.get("metadata") or {}).items() if v is not None}
        out.append(InputFile(path=path, defaults=meta))
    return out


def collect_inputs(paths: list[Path]) -> list[InputFile]:
    """Expand paths into input files (manifest-aware), in a stable order, without duplicates.

    >>> collect_inputs([])
    []
    """
    seen: set[Path] = set()
    out: list[InputFile] = []

    def add(item: InputFile) -> None:
        key = item.path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(item)

    for path in paths:
        if path.is_dir() and (path / MANIFEST_NAME).is_file():
            for item in read_corpus_manifest(path):
                add(item)
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if not any(part.startswith(".") for part in file.relative_to(path).parts):
                    add(InputFile(path=file))
        else:
            add(InputFile(path=path))
    return out


def in_scope(source_path: str, paths: list[Path]) -> bool:
    """Whether a document loaded from ``source_path`` belongs to the given input paths (for removals)."""
    try:
        src = Path(source_path).resolve()
    except (OSError, RuntimeError):
        return False
    for path in paths:
        root = path.resolve()
        if src == root or root in src.parents:
            return True
    return False
