"""The ``medcite`` command line: ``ingest``, ``serve``, ``ask``, ``mcp``, ``eval``.

Each command imports its stage lazily so ``medcite --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="medcite: cited answers from medical guidelines.")
console = Console(stderr=True, soft_wrap=True)


def _settings(index: Optional[Path]):
    from app.settings import load_settings
    settings = load_settings()
    if index is not None:
        settings.paths.index_dir = index
    return settings


@cli.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or directories (a directory with manifest.json is a corpus)."),
    index: Optional[Path] = typer.Option(None, "--index", help="Index directory (default: MEDCITE_PATHS__INDEX_DIR)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-embed everything instead of reusing unchanged documents."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Load, chunk and embed documents into a versioned FAISS + BM25 index (incremental)."""
    from ingest.pipeline import NothingToIngestError, ingest as run_ingest

    settings = _settings(index)
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        console.print(f"[red]skipped[/red] {p}: no such file or directory")
    existing = [p for p in paths if p.exists()]
    if not existing:
        console.print("[red]error:[/red] none of the given paths exist; nothing ingested")
        raise typer.Exit(2)
    try:
        report = run_ingest(existing, settings, rebuild=rebuild, progress=not quiet)
    except NothingToIngestError as exc:
        _print_failures(exc.failures)
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    _print_failures(report.failures)
    table = Table(title=f"medcite ingest -> {report.index_dir}", show_header=False)
    rows = [
        ("files", report.files), ("documents", report.documents), ("pages", report.pages), ("chunks", report.chunks),
        ("new", report.new), ("updated", report.updated), ("unchanged", report.unchanged), ("removed", report.removed),
        ("embedded chunks", report.embedded_chunks), ("failures", len(report.failures) + len(missing)),
        ("seconds", f"{report.seconds:.1f}"), ("chunks/s", f"{report.chunks_per_s:.1f}"),
        ("index", "rebuilt (" + report.rebuild_reason + ")" if report.full_rebuild and report.written
         else "updated" if report.written else "unchanged, nothing written"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    Console().print(table)
    if not report.ok:
        raise typer.Exit(1)


def _print_failures(failures) -> None:
    for failure in failures:
        line = failure.reason if failure.reason.startswith(failure.path) else f"{failure.path}: {failure.reason}"
        console.print(f"[yellow]skipped[/yellow] {line}", markup=True, highlight=False)


@cli.command()
def serve(
    index: Optional[Path] = typer.Option(None, "--index", help="Index directory."),
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="TCP port (default 8000)."),
    build: bool = typer.Option(True, "--build/--no-build",
                               help="Build a missing index, or update a stale one, in the background while "
                                    "serving (a first run answers from a lexical-only stage within minutes)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=32,
                                          help="Worker processes sharing one loaded index (default "
                                               "MEDCITE_SERVER__WORKERS, 2); 1 = a single process."),
) -> None:
    """Start the HTTP service (FastAPI + uvicorn; several workers forked after the index is loaded)."""
    from app.http.logs import configure_json_logging
    from app.http.security import uvicorn_proxy_options

    settings = _settings(index)
    configure_json_logging()  # one JSON line per request on stderr (no question text unless opted in)
    host = host or settings.server.host
    port = port or settings.server.port
    settings.server.build_on_start = build
    workers = workers or settings.server.workers
    console.print(f"medcite serving {settings.paths.index_dir} at http://{host}:{port}/  (API docs: /docs; "
                  f"{workers} worker process{'es' if workers > 1 else ''})")
    console.print(
        f"try: curl -s http://{host}:{port}/v1/answer -H 'content-type: application/json' "
        "-d '{\"question\": \"How is Wilms tumor diagnosed?\"}'"
    )
    if workers > 1:
        from app.http.workers import serve as serve_workers  # before anything imports prometheus-client

        try:
            code = serve_workers(settings, host, port, workers, uvicorn_proxy_options(settings.security))
        except OSError as exc:  # e.g. the port is taken
            console.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc.strerror or exc}")
            raise typer.Exit(1)
        raise typer.Exit(code)
    import uvicorn

    from app.http.factory import create_app

    application = create_app(settings)
    uvicorn.run(application, host=host, port=port, log_level="warning", **uvicorn_proxy_options(settings.security))


@cli.command(name="mcp")
def mcp_server(
    index: Optional[Path] = typer.Option(None, "--index", help="Index directory."),
) -> None:
    """Serve the MCP tools answer, search and get_document over stdio (for IDE assistants and agents)."""
    try:
        from app.mcp.stdio import run_stdio
    except ImportError as exc:
        from rich.markup import escape

        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    from app.http.logs import configure_json_logging

    configure_json_logging()  # JSON lines on stderr, no question text; stdout carries only MCP messages
    run_stdio(_settings(index))


@cli.command()
def ask(
    question: str = typer.Argument(..., help="The clinical question."),
    index: Optional[Path] = typer.Option(None, "--index", help="Index directory."),
    audience: str = typer.Option("clinician", "--audience", help="clinician or patient."),
    as_json: bool = typer.Option(False, "--json", help="Print the structured answer as JSON."),
) -> None:
    """Answer one question from the index and print Markdown (or JSON)."""
    from app.query.pipeline import AnswerPipeline, AnswerRequest
    from app.query.render import render_markdown
    from index.storage import IndexLoadError

    settings = _settings(index)
    if audience not in ("clinician", "patient"):
        console.print("[red]error:[/red] --audience must be 'clinician' or 'patient'")
        raise typer.Exit(2)
    try:
        pipeline = AnswerPipeline.from_settings(settings)
        request = AnswerRequest(question=question, audience=audience)
    except IndexLoadError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    answer = pipeline.answer(request)
    if as_json:
        sys.stdout.write(json.dumps(answer.model_dump(mode="json"), indent=2) + "\n")
    else:
        sys.stdout.write(render_markdown(answer) + "\n")


#: Entry-point group through which other packages add commands (evals adds ``eval``; see pyproject.toml), so the
#: CLI never imports them itself.
COMMAND_GROUP = "medcite.commands"


def _register_plugins() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=COMMAND_GROUP):
        entry.load()(cli)


def main() -> None:
    _register_plugins()
    cli()


if __name__ == "__main__":
    main()
