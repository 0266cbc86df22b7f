"""``medcite eval SUITE``: score retrieval or answers and write a Markdown + JSON (+ PNG) report.

Examples::

    medcite eval medquad --limit 2000
    medcite eval liveqa --retrievers bm25,dense,hybrid
    medcite eval answers --limit 100 --endpoint http://127.0.0.1:8000
    medcite eval clinician --index var/index/default
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from evals.runner import ALL_RETRIEVERS, SUITES, RunConfig, RunOutcome

if TYPE_CHECKING:
    from evals.clinician import ClinicianResult

console = Console(stderr=True, soft_wrap=True)


def command_line(argv: list[str]) -> str:
    """The command as typed, for the report header, with any --api-key value masked.

    >>> command_line(["/venv/bin/medcite", "eval", "liveqa", "--api-key", "s3cret", "--api-key=s3cret"])
    'medcite eval liveqa --api-key *** --api-key=***'
    """
    words = [Path(argv[0]).name if argv else "medcite", *argv[1:]]
    out = []
    for i, word in enumerate(words):
        if i and words[i - 1] == "--api-key":
            word = "***"
        elif word.startswith("--api-key="):
            word = "--api-key=***"
        out.append(word)
    return " ".join(shlex.quote(w) if w != "***" and not w.endswith("=***") else w for w in out)


def print_summary(outcome: RunOutcome) -> None:
    """One table: suite x retriever (or answer group), primary numbers with 95% CIs."""
    from evals.answers import AnswersResult
    from evals.clinician import ClinicianResult

    result = outcome.result
    if isinstance(result, ClinicianResult):
        table = clinician_table(result)
    elif isinstance(result, AnswersResult):
        table = Table(title=f"medcite eval answers ({result.audience})")
        for col in ("group", "n", "answered", "support", "refs ok", "ROUGE-L", "token F1", "p50 ms"):
            table.add_column(col)
        for g in result.groups:
            table.add_row(g.group, str(g.n), g.answered.fmt(), g.support_rate.fmt(), g.refs_consistent.fmt(),
                          g.rouge_l.fmt(), g.token_f1.fmt(), f"{g.latency_p50_ms or 0:.0f}")
    else:
        table = Table(title=f"medcite eval {result.suite} (mean [95% CI])")
        table.add_column("run")
        table.add_column("retriever")
        for name in result.primary:
            table.add_column(name)
        table.add_column("p50 ms")
        for a in result.aggregates:
            table.add_row(a.variant, a.retriever, *(a.metrics[n].fmt() for n in result.primary),
                          f"{a.latency_p50_ms or 0:.1f}")
        for retriever, why in result.skipped.items():
            console.print(f"[yellow]skipped[/yellow] {retriever}: {why}")
    Console().print(table)
    for kind, path in outcome.paths.items():
        console.print(f"{kind}: {path}")


def clinician_table(result: "ClinicianResult") -> Table:
    """In-corpus groups (answered, gold document, key facts) then out-of-corpus groups (abstained)."""
    table = Table(title=f"medcite eval clinician ({result.audience}; mean [95% CI])")
    for col in ("group", "n", "answered", "abstained", "gold in refs", "gold @1", "gold top 10", "facts bottom",
                "facts whole"):
        table.add_column(col)
    for g in result.in_corpus:
        table.add_row(g.group, str(g.n), g.answered.fmt(), "", g.gold_in_refs.fmt(), g.gold_at_1.fmt(),
                      g.gold_in_top10.fmt(), g.key_facts_bottom.fmt(), g.key_facts_whole.fmt())
    for g in result.out_of_corpus:
        table.add_row(g.group, str(g.n), "", g.abstained.fmt(), "", "", "", "", "")
    return table


def register(cli: typer.Typer) -> None:
    """Attach the ``eval`` command to the top-level ``medcite`` app."""

    @cli.command("eval")
    def eval_command(
        suite: str = typer.Argument(..., help=f"One of: {', '.join(SUITES)}."),
        data: Optional[list[Path]] = typer.Option(
            None, "--data", help="Question file of the suite's schema instead of the dev file (answers: repeatable; "
            "MedQuAD, LiveQA or MedicationQA files; clinician: a clinician-qa file)."),
        data_dir: Optional[Path] = typer.Option(
            None, "--data-dir", help="Folder with the shared data sets (default $MEDCITE_EVAL_DATA_DIR or ../shared/data)."),
        index: Optional[Path] = typer.Option(
            None, "--index", help="Index to score (default: the configured index; bioasq/pubmedqa: var/eval/<suite>/index)."),
        endpoint: Optional[str] = typer.Option(
            None, "--endpoint", help="Score a running service over HTTP (/v1/search, /v1/answer), e.g. http://127.0.0.1:8000."),
        api_key: Optional[str] = typer.Option(
            None, "--api-key", envvar="MEDCITE_EVAL_API_KEY", show_default=False,
            help="Query key for --endpoint (sent as 'Authorization: Bearer KEY'); env MEDCITE_EVAL_API_KEY."),
        retrievers: str = typer.Option(
            ",".join(ALL_RETRIEVERS), "--retrievers", help="Comma-separated; BM25 is always included as the baseline."),
        limit: Optional[int] = typer.Option(
            None, "--limit", help="Sample N queries with random.Random(7) (answers: N per source, default 200)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Report directory (default var/eval/reports/<suite>-<time>)."),
        audience: str = typer.Option(
            "clinician", "--audience", help="answers and clinician suites: clinician or patient."),
        no_build: bool = typer.Option(False, "--no-build", help="Fail instead of building a missing index."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Evaluate retrieval (medquad, liveqa, bioasq, pubmedqa) or answers (answers, clinician); write
        report.md/.json/.png."""
        from pydantic import ValidationError

        from evals.errors import EvalError
        from evals.datasets import DatasetError
        from evals.runner import run
        from index.embedding import ModelNotFoundError
        from app.settings import load_settings
        from index.storage import IndexLoadError

        if suite not in SUITES:
            console.print(f"[red]error:[/red] unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
            raise typer.Exit(2)
        try:
            fields = dict(suite=suite, data=data or [], index=index, endpoint=endpoint, api_key=api_key, limit=limit,
                          out=out, retrievers=retrievers.split(","), audience=audience, build=not no_build,
                          progress=not quiet, command=command_line(sys.argv))
            if data_dir is not None:
                fields["data_dir"] = data_dir
            config = RunConfig(**fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            console.print(f"[red]error:[/red] {'.'.join(map(str, err['loc']))}: {err['msg'].removeprefix('Value error, ')}")
            raise typer.Exit(2)
        try:
            outcome = run(config, load_settings(), log=lambda msg: console.print(msg))
        except (EvalError, DatasetError, IndexLoadError, ModelNotFoundError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1)
        print_summary(outcome)
