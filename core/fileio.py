"""File helpers shared by every layer: atomic writes and JSON-lines reading.

An atomic write goes to a temporary file in the target's directory, is flushed and fsynced, then renamed over the
target, so a crash leaves either the old or the new content, never a torn file.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(d / "a.json", '{"x": 1}\\n')
>>> (d / "a.json").read_text()
'{"x": 1}\\n'
>>> _ = (d / "b.jsonl").write_text('{"n": 1}\\n\\n{"n": 2}\\n')
>>> [r["n"] for r in iter_jsonl(d / "b.jsonl")]
[1, 2]
>>> [number for number, _ in numbered_jsonl(d / "b.jsonl")]
[1, 3]
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (parent directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Objects of a JSON-lines file (gzip detected by its magic bytes), blank lines skipped.

    A line that is not a JSON object raises ``ValueError`` naming the file and line.
    """
    for _, record in numbered_jsonl(path):
        yield record


def numbered_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSON-lines file, gzip or plain (see :func:`iter_jsonl`)."""
    path = Path(path)
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path} line {number}: invalid JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path} line {number}: expected a JSON object, got {type(record).__name__}")
            yield number, record
