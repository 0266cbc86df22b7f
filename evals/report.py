"""Reports: ``report.md``, ``report.json`` (header, aggregates, per-query rows) and ``recall_at_k.png``."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.answers import AnswersResult
from evals.clinician import ClinicianResult
from evals.retrieval import RetrievalResult
from evals.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from evals.suites import SAMPLE_SEED

REPO = Path(__file__).resolve().parents[1]
PLOT_FILE = "recall_at_k.png"


class RunHeader(BaseModel):
    suite: str
    date: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    git_commit: str = Field(default_factory=lambda: git_commit())
    command: str
    backend: dict[str, Any]
    data_files: list[str]
    limit: int | None
    sample: str = f"random.Random({SAMPLE_SEED}).sample when --limit is below the set size"
    confidence: str = f"95% percentile bootstrap over queries, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}"
    eval_index: dict[str, Any] | None = None


def git_commit(repo: Path = REPO) -> str:
    """``HEAD`` of the repository, plus ``+uncommitted changes`` when tracked files differ (read-only git calls)."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.stdout.strip() or "unknown"
    return f"{commit} +uncommitted changes" if commit != "unknown" and dirty.returncode == 1 else commit


def _model_md(model: dict[str, Any]) -> str:
    extra = [f"{k} {model[k]}" for k in ("dimension", "max_seq_length", "fingerprint") if model.get(k) is not None]
    return f"{model.get('name', 'unknown')}" + (f" ({', '.join(extra)})" if extra else "")


def _manifest_md(m: dict[str, Any]) -> str:
    parts = [f"created {m['created']}" if m.get("created") else "", f"counts {m['counts']}" if m.get("counts") else "",
             f"corpus hash `{m['corpus_hash']}`" if m.get("corpus_hash") else "",
             f"FAISS {m['faiss_factory']}" if m.get("faiss_factory") else "",
             f"format v{m['format_version']}" if m.get("format_version") is not None else ""]
    chunking = m.get("chunking") or {}
    if chunking:
        parts.append(f"chunks of <= {chunking.get('max_tokens')} tokens, overlap {chunking.get('overlap_tokens')}")
    return ", ".join(p for p in parts if p) or "n/a"


def _header_md(h: RunHeader) -> list[str]:
    b = h.backend
    where = b.get("index") or b.get("endpoint", "")
    lines = [f"# medcite eval: {h.suite}", "", "| | |", "|---|---|",
             f"| date (UTC) | {h.date} |", f"| command | `{h.command}` |", f"| git commit | `{h.git_commit}` |",
             f"| backend | {b.get('backend')} `{where}` |", f"| model | {_model_md(b.get('model') or {})} |",
             f"| index manifest | {_manifest_md(b.get('manifest') or {})} |"]
    if h.eval_index:
        e = h.eval_index
        seeded = "; first build seeded with " + ", ".join(
            f"{n} documents of `{root}`" for root, n in e["seeded_from"].items()) if e.get("seeded_from") else ""
        lines.append(f"| eval corpus | `{e['corpus_path']}` -> `{e['index_dir']}` (index "
                     f"{'built/updated' if e['index_written'] else 'cached, unchanged'} this run; "
                     f"{e['embedded_chunks']} chunks embedded{seeded}) |")
    lines += [f"| data | {', '.join(f'`{d}`' for d in h.data_files)} |",
              f"| limit | {h.limit if h.limit is not None else 'none'} ({h.sample}) |",
              f"| intervals | {h.confidence} |", ""]
    return lines


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def retrieval_markdown(h: RetrievalResult, header: RunHeader, plot: bool) -> str:
    lines = _header_md(header)
    lines += ["## Results: mean [95% CI]", ""]
    variants = list(dict.fromkeys(a.variant for a in h.aggregates))
    for variant in variants:
        aggs = [a for a in h.aggregates if a.variant == variant]
        lines += [f"### {h.suite} / {variant} (n = {aggs[0].n} queries)", "",
                  "| retriever | " + " | ".join(h.metric_names) + " | p50 ms | p95 ms |",
                  "|---" * (len(h.metric_names) + 3) + "|"]
        for a in aggs:
            cells = [a.metrics[name].fmt() for name in h.metric_names]
            lines.append(f"| {a.retriever} | " + " | ".join(cells) + f" | {_ms(a.latency_p50_ms)} | {_ms(a.latency_p95_ms)} |")
        lines.append("")
    if h.skipped:
        lines += ["Skipped retrievers:", ""] + [f"- **{r}**: {why}" for r, why in h.skipped.items()] + [""]
    primary = [c for c in h.comparisons if c.metric in h.primary]
    if primary:
        lines += ["## Paired differences on the primary metrics (retriever - baseline, 95% CI)", "",
                  "| run | metric | retriever | baseline | difference | verdict |", "|---|---|---|---|---|---|"]
        lines += [f"| {c.variant} | {c.metric} | {c.retriever} | {c.baseline} | {c.delta.fmt()} | {c.verdict} |"
                  for c in primary]
        lines.append("")
        lines += ["## In plain words", ""] + plain_summary(h) + [""]
    lines += [f"## {h.curve_name} at k (mean over queries)", ""]
    if plot:
        lines += [f"![{h.curve_name} at k]({PLOT_FILE})", ""]
    lines += ["| run | retriever | " + " | ".join(f"@{k}" for k in h.curve_ks) + " |", "|---" * (len(h.curve_ks) + 2) + "|"]
    lines += [f"| {a.variant} | {a.retriever} | " + " | ".join(f"{v:.3f}" for v in a.curve) + " |" for a in h.aggregates]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in h.notes] + [""]
    return "\n".join(lines)


def plain_summary(h: RetrievalResult) -> list[str]:
    """One line per hybrid comparison on a primary metric, saying plainly whether hybrid beats the baseline."""
    out = []
    for c in h.comparisons:
        if c.metric not in h.primary or not c.retriever.startswith("hybrid"):
            continue
        if c.verdict == "better":
            out.append(f"- {c.variant}: {c.retriever} beats {c.baseline} on {c.metric} ({c.delta.fmt()}).")
        elif c.verdict == "worse":
            out.append(f"- {c.variant}: **{c.retriever} is worse than {c.baseline} on {c.metric}** ({c.delta.fmt()}).")
        else:
            out.append(f"- {c.variant}: **{c.retriever} does not beat {c.baseline} on {c.metric}** "
                       f"(difference {c.delta.fmt()}, interval includes 0).")
    return out or ["- no hybrid run to compare."]


def answers_markdown(r: AnswersResult, header: RunHeader) -> str:
    lines = _header_md(header)
    lines += [f"## Results: mean [95% CI] (audience: {r.audience})", "",
              "| group | n | answered | support | statements (supported) | refs consistent | disclaimer | "
              "ROUGE-L | token F1 | p50 ms | p95 ms |", "|---" * 11 + "|"]
    for g in r.groups:
        lines.append(f"| {g.group} | {g.n} | {g.answered.fmt()} | {g.support_rate.fmt()} | {g.statements} "
                     f"({g.supported_statements}) | {g.refs_consistent.fmt()} | {g.disclaimer_present.fmt()} | "
                     f"{g.rouge_l.fmt()} | {g.token_f1.fmt()} | {_ms(g.latency_p50_ms)} | {_ms(g.latency_p95_ms)} |")
    wrong = [row for row in r.rows if not row.in_corpus and not row.abstained][:10]
    if wrong:
        lines += ["", "Out-of-corpus questions that were answered (first 10):", ""]
        lines += [f"- `{row.qid}` {row.question} -> {(row.bottom_line or '')[:120]!r}" for row in wrong]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    return "\n".join(lines)


def _facts(hits: list[bool]) -> str:
    return f"{sum(hits)}/{len(hits)}" if hits else ""


def clinician_markdown(r: ClinicianResult, header: RunHeader) -> str:
    lines = _header_md(header)
    lines += [f"## In corpus: mean [95% CI] (audience: {r.audience}; retrieval: {r.retriever}, top {r.depth} "
              "chunks -> distinct documents)", "",
              "| group | n | answered | gold doc in refs | gold cited by bottom line | gold doc @1 "
              "| gold doc in top 10 | gold MRR@10 | key facts: bottom line | key facts: whole answer | all facts (whole) | p50 ms |",
              "|---" * 12 + "|"]
    lines += [f"| {g.group} | {g.n} | {g.answered.fmt()} | {g.gold_in_refs.fmt()} | {g.gold_in_bottom_line.fmt()} | "
              f"{g.gold_at_1.fmt()} | {g.gold_in_top10.fmt()} | {g.gold_mrr10.fmt()} | {g.key_facts_bottom.fmt()} | "
              f"{g.key_facts_whole.fmt()} | {g.all_facts_whole.fmt()} | {_ms(g.latency_p50_ms)} |" for g in r.in_corpus]
    lines += ["", "## Out of corpus: abstention rate, mean [95% CI]", "", "| group | n | abstained | p50 ms |",
              "|---|---|---|---|"]
    lines += [f"| {g.group} | {g.n} | {g.abstained.fmt()} | {_ms(g.latency_p50_ms)} |" for g in r.out_of_corpus]
    answered = [row for row in r.rows if not row.in_corpus and row.answered]
    if answered:
        lines += ["", "Out-of-corpus questions that were answered:", ""]
        lines += [f"- `{row.qid}` {row.question[:120]} -> {(row.bottom_line or '')[:120]!r}" for row in answered]
    lines += ["", "## Per item", "", "| id | style | answered | gold rank | gold in refs | facts bottom | facts whole "
              "| bottom line | cited documents |", "|---" * 9 + "|"]
    for row in r.rows:
        gold = "" if not row.in_corpus else ("yes" if row.gold_in_refs else "no")
        rank = "" if not row.in_corpus else (str(row.gold_rank) if row.gold_rank is not None else f"> {r.depth} chunks")
        bottom = " ".join((row.bottom_line or "").split())[:110].replace("|", "\\|")
        docs = ", ".join(f"`{d}`" for d in dict.fromkeys(row.cited_doc_ids))
        lines.append(f"| `{row.qid}` | {row.style} | {'yes' if row.answered else 'no'} | {rank} | {gold} | "
                     f"{_facts(row.facts_bottom)} | {_facts(row.facts_whole)} | {bottom} | {docs} |")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    return "\n".join(lines)


def write_plot(h: RetrievalResult, path: Path) -> bool:
    """Curve metric against k, one line per retriever, one panel per run; False when nothing to plot."""
    if not h.aggregates:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(a.variant for a in h.aggregates))
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 4.2), squeeze=False)
    for ax, variant in zip(axes[0], variants):
        for a in (a for a in h.aggregates if a.variant == variant):
            ax.plot(h.curve_ks, a.curve, marker="o", label=a.retriever)
        ax.set_xscale("log")
        ax.set_xticks(h.curve_ks, [str(k) for k in h.curve_ks])
        ax.set_ylim(0, 1)
        ax.set_xlabel("k")
        ax.set_ylabel(f"{h.curve_name}@k")
        ax.set_title(f"{h.suite} / {variant}")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(result: RetrievalResult | AnswersResult | ClinicianResult, header: RunHeader,
                 out_dir: Path) -> dict[str, Path]:
    """Write the Markdown, JSON and (retrieval) PNG files into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "report.md", "json": out_dir / "report.json"}
    if isinstance(result, RetrievalResult):
        plotted = write_plot(result, out_dir / PLOT_FILE)
        if plotted:
            paths["plot"] = out_dir / PLOT_FILE
        text = retrieval_markdown(result, header, plotted)
    elif isinstance(result, ClinicianResult):
        text = clinician_markdown(result, header)
    else:
        text = answers_markdown(result, header)
    paths["markdown"].write_text(text, encoding="utf-8")
    payload = {"header": header.model_dump(mode="json"), "result": result.model_dump(mode="json")}
    paths["json"].write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return paths
