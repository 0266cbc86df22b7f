"""Subprocess entry points for the server's background jobs (a spinning parser cannot hang the server).

``python -m ingest.worker check FILE --max-pages N --max-chars N``
    Parse one uploaded file under an address-space limit (decompression bombs fail fast) and print a JSON
    :class:`CheckResult`. The caller enforces the time limit by killing the process.
``python -m ingest.worker ingest --settings S.json --report R.json [--lexical-only] [--progress P.json] PATH...``
    Run :func:`ingest.pipeline.ingest` with the settings in ``S.json`` and write the :class:`IngestReport` JSON
    to ``R.json`` (``--lexical-only``: the first stage of a first build; ``--progress``: see ``ingest.progress``). Killing it at any moment leaves the previous index version current (see ``index.storage``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from core.fileio import atomic_write_text

#: Address-space limit of a ``check`` process (bytes).
CHECK_MEMORY_LIMIT = 2 * 1024**3


class CheckResult(BaseModel):
    ok: bool
    reason: str = ""
    documents: int = 0
    pages: int = 0
    chars: int = 0
    titles: list[str] = Field(default_factory=list)


def check_file(path: Path, max_pages: int, max_chars: int, meta: dict | None = None) -> CheckResult:
    """Load ``path`` as ingestion would; a LoadError or a limit becomes ``ok=False`` with the reason."""
    from ingest.loaders import LoadError, load_path, sniff_format
    from ingest.loaders.pdf import pdf_page_count

    try:
        if sniff_format(path) == "pdf" and (pages := pdf_page_count(path)) > max_pages:  # before any extraction
            return CheckResult(ok=False, reason=f"{pages} pages; the limit is {max_pages} "
                                                "(MEDCITE_SECURITY__MAX_PDF_PAGES)", pages=pages)
        docs = load_path(path, meta or None)
    except LoadError as exc:
        return CheckResult(ok=False, reason=exc.reason)
    except (MemoryError, RecursionError) as exc:
        return CheckResult(ok=False, reason=f"the file needs too many resources to parse ({type(exc).__name__}); "
                                            "a decompression bomb or a pathological document?")
    except ValueError as exc:
        return CheckResult(ok=False, reason=f"invalid metadata: {exc}")
    if not docs:
        return CheckResult(ok=False, reason="no text found")
    pages = sum(len(d.pages) for d in docs)
    chars = sum(len(d.text) for d in docs)
    if pages > max_pages:
        return CheckResult(ok=False, reason=f"{pages} pages; the limit is {max_pages} (MEDCITE_SECURITY__MAX_PDF_PAGES)")
    if chars > max_chars:
        return CheckResult(ok=False, reason=f"{chars:,} characters of text; the limit is {max_chars:,} "
                                            "(MEDCITE_SECURITY__MAX_DOCUMENT_CHARS)")
    return CheckResult(ok=True, documents=len(docs), pages=pages, chars=chars, titles=[d.meta.title for d in docs])


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit still applies
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.worker")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="parse one file and print a JSON CheckResult")
    check.add_argument("file", type=Path)
    check.add_argument("--max-pages", type=int, default=2000)
    check.add_argument("--max-chars", type=int, default=5_000_000)
    check.add_argument("--meta", default="{}", help="metadata defaults as JSON")
    run = sub.add_parser("ingest", help="run one ingest and write its report")
    run.add_argument("--settings", type=Path, required=True)
    run.add_argument("--report", type=Path, required=True)
    run.add_argument("--lexical-only", action="store_true", help="write a lexical-only version (no vectors)")
    run.add_argument("--progress", type=Path, help="keep this JSON file up to date with the build progress")
    run.add_argument("--stage", default="", help="stage name written to the progress file")
    run.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)

    if args.command == "check":
        _limit_memory(CHECK_MEMORY_LIMIT)
        result = check_file(args.file, args.max_pages, args.max_chars, json.loads(args.meta))
        print(result.model_dump_json())
        return 0

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        os.nice(5)  # a background build yields the CPU to the queries the server answers meanwhile
    except OSError:
        pass
    from ingest.pipeline import NothingToIngestError, ingest
    from ingest.settings import IngestSettings

    settings = child_settings(args.settings.read_text(encoding="utf-8"))
    on_progress = None
    if args.progress is not None:
        from ingest.progress import ProgressFile

        on_progress = ProgressFile(args.progress, args.stage or ("lexical" if args.lexical_only else "dense"))
    try:
        report = ingest(args.paths, settings, progress=False, dense=not args.lexical_only, on_progress=on_progress)
    except NothingToIngestError as exc:
        args.report.write_text(json.dumps({"error": str(exc)}), encoding="utf-8")
        return 3
    atomic_write_text(args.report, report.model_dump_json())
    return 0


def child_settings(settings_json: str) -> "IngestSettings":
    """The ingest settings of a build the server runs: its encoder threads are ``embedding.build_threads`` (the
    serving process may encode queries on one thread per worker; a build should use every core).

    >>> from index.settings import EmbeddingSettings
    >>> from ingest.settings import IngestSettings
    >>> served = IngestSettings(embedding=EmbeddingSettings(torch_threads=1)).model_dump_json()
    >>> child_settings(served).embedding.torch_threads is None
    True
    """
    from ingest.settings import IngestSettings

    settings = IngestSettings.model_validate_json(settings_json)
    settings.embedding.torch_threads = settings.embedding.build_threads
    return settings


if __name__ == "__main__":
    sys.exit(main())

