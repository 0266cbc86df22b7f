"""The one exception every loader raises for bad input.

>>> err = LoadError("x.pdf", "encrypted PDF (password required)")
>>> str(err)
'x.pdf: encrypted PDF (password required)'
>>> err.reason
'encrypted PDF (password required)'
"""

from __future__ import annotations

from os import PathLike


class LoadError(Exception):
    """A file could not be turned into documents; the message names the file and the problem."""

    path: str
    reason: str

    def __init__(self, path: str | PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type[LoadError], tuple[str, str]]:
        # keep the exception picklable (multiprocessing ingest workers)
        return (LoadError, (self.path, self.reason))
