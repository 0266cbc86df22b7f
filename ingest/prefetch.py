"""Load an ingest's input files, the PDFs in a second process while this one loads the rest.

PDF text extraction (pypdf, pure Python) was a third of a first build's lexical stage, on one core while the other
idled (profiled: 4 PDFs, 141 pages of the default corpus). With two or more cores and enough PDF bytes to pay for
starting a process (:data:`MIN_PDF_BYTES`), the PDFs are parsed by a spawned worker while the other files load
here; results come back in input order, so document order and duplicate checks are unchanged.

>>> from pathlib import Path
>>> from ingest.inputs import InputFile
>>> prefetched([InputFile(path=Path("a.md"))], cores=8)
[]
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Sequence

from core.models import Document
from ingest.inputs import InputFile
from ingest.loaders import LoadError, load_path

#: Below this many PDF bytes a second process costs more (its start, ~1 s) than it saves.
MIN_PDF_BYTES = 2_000_000

#: One input's outcome: its documents, or the reason it failed (a LoadError's message or an unexpected error).
Outcome = tuple[list[Document] | None, str | None]


def prefetched(inputs: Sequence[InputFile], cores: int | None = None) -> list[int]:
    """Positions of the inputs worth parsing in a second process (none on one core or for few PDF bytes)."""
    pdfs = [i for i, item in enumerate(inputs) if item.path.suffix.lower() == ".pdf"]
    size = sum(_size(inputs[i].path) for i in pdfs)
    return pdfs if (cores or os.cpu_count() or 1) >= 2 and size >= MIN_PDF_BYTES else []


def load_inputs(inputs: Sequence[InputFile], tell: Callable[[int], None] = lambda done: None) -> list[Outcome]:
    """The outcome of every input, in input order; ``tell(done)`` after each file."""
    far = prefetched(inputs)
    outcomes: dict[int, Outcome] = {}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) if far else contextlib.nullcontext() as pool:
        futures: dict[int, Future] = {i: pool.submit(_load, inputs[i]) for i in far}
        here = [i for i in range(len(inputs)) if i not in futures]
        for done, i in enumerate(here + list(futures), 1):  # the local files first, while the worker parses
            outcomes[i] = _result(futures[i], inputs[i]) if i in futures else _load(inputs[i])
            tell(done)
    return [outcomes[i] for i in range(len(inputs))]


def _result(future: Future, item: InputFile) -> Outcome:
    try:
        return future.result()
    except Exception:  # the worker could not start or died (BrokenProcessPool): parse the file here
        return _load(item)


def _load(item: InputFile) -> Outcome:
    try:
        return load_path(item.path, item.defaults or None), None
    except LoadError as exc:
        return None, str(exc)
    except Exception as exc:  # a loader bug must not stop the other files
        return None, f"unexpected error: {exc!r}"


def _size(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
