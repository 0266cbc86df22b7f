"""One ``medcite eval`` run: resolve files and backend, build what is missing, score, write the report.

>>> RunConfig(suite="medquad", retrievers=["dense"]).retrievers
['bm25', 'dense']
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field, field_validator

from evals import answers as answers_suite
from evals import clinician as clinician_suite
from evals import corpora
from evals import datasets as ds
from evals import retrieval, suites
from evals.backends import Backend, LocalBackend, RemoteBackend
from evals.errors import EvalError
from evals.report import RunHeader, write_report
from app.settings import Settings
SUITES = ("medquad", "liveqa", "bioasq", "pubmedqa", "answers", "clinician")
ALL_RETRIEVERS = ("bm25", "dense", "hybrid", "hybrid+rerank")
QUESTION_FILE = {"medquad": "medquad_questions", "liveqa": "liveqa", "bioasq": "bioasq_questions",
                 "pubmedqa": "pubmedqa_questions", "clinician": "clinician_qa"}


class RunConfig(BaseModel):
    suite: Literal["medquad", "liveqa", "bioasq", "pubmedqa", "answers", "clinician"]
    data: list[Path] = Field(default_factory=list, description="Question files replacing the default dev files.")
    data_dir: Path = Field(default_factory=ds.default_data_dir)
    index: Path | None = None
    endpoint: str | None = None
    api_key: str | None = Field(None, repr=False, description="Query key sent as 'Authorization: Bearer KEY'.")
    retrievers: list[str] = Field(default_factory=lambda: list(ALL_RETRIEVERS))
    limit: int | None = Field(None, ge=1)
    out: Path | None = None
    audience: Literal["clinician", "patient"] = Field("clinician", description="answers and clinician suites.")
    depth: int = Field(retrieval.DEPTH, ge=10, le=100, description="Chunks fetched per query (API max 100).")
    progress: bool = True
    build: bool = Field(True, description="Build a missing default index / eval index.")
    command: str = ""

    @field_validator("retrievers")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
        unknown = [v for v in names if v not in ALL_RETRIEVERS]
        if unknown:
            raise ValueError(f"unknown retriever(s) {unknown}; choose from {', '.join(ALL_RETRIEVERS)}")
        return names if "bm25" in names else ["bm25", *names]  # BM25 is always the baseline of a run


class RunOutcome(BaseModel):
    header: RunHeader
    result: retrieval.RetrievalResult | answers_suite.AnswersResult | clinician_suite.ClinicianResult
    paths: dict[str, Path]


def _question_file(config: RunConfig) -> Path:
    if len(config.data) > 1:
        raise EvalError(f"the {config.suite} suite takes one --data file, got {len(config.data)}")
    return config.data[0] if config.data else ds.data_file(config.data_dir, QUESTION_FILE[config.suite])


def _optional(path: Path) -> Path | None:
    return path if path.is_file() else None


def _default_index(config: RunConfig, settings: Settings, log: Callable[[str], None]) -> Path:
    """The index of the default corpus; built from ``settings.paths.corpus_dir`` when missing and allowed."""
    from index.storage import index_exists

    root = config.index or settings.paths.index_dir
    if index_exists(root):
        return root
    if config.index is not None or not config.build:
        raise EvalError(f"no index at {root}; build it with `make index` or `medcite ingest corpus --index {root}`")
    log(f"no index at {root}: building it from {settings.paths.corpus_dir} (first run; this takes a while)")
    from ingest.pipeline import ingest

    report = ingest([settings.paths.corpus_dir], settings, index_dir=root, progress=config.progress)
    if not report.ok:
        raise EvalError(f"building the default index at {root} failed: {report.failures[0].reason}")
    return root


def _eval_corpus(config: RunConfig, settings: Settings) -> corpora.EvalCorpus:
    build = corpora.bioasq_corpus if config.suite == "bioasq" else corpora.pubmedqa_corpus
    return build(config.data_dir, settings.paths.corpus_dir)


def _seed_sources(settings: Settings) -> list[Path]:
    """Indexes a new eval index may copy shared documents from: the other eval indexes, then the default one."""
    return [settings.paths.data_dir / "eval" / s / corpora.INDEX_DIR for s in ("bioasq", "pubmedqa")] + [
        settings.paths.index_dir]


def run(config: RunConfig, settings: Settings, log: Callable[[str], None] = lambda _: None) -> RunOutcome:
    """Score ``config.suite`` and write its report; returns the header, the result and the written paths."""
    eval_index: dict[str, Any] | None = None
    corpus: corpora.EvalCorpus | None = None
    index_dir: Path | None = None
    if config.suite in ("bioasq", "pubmedqa"):
        corpus = _eval_corpus(config, settings)
        log(f"eval corpus for {config.suite}: {corpus.sources}")
    prepared, data_files = _prepare(config, corpus)  # bad data files fail before any index, model or server
    if corpus is not None:
        built = corpora.ensure_eval_index(corpus, settings.paths.data_dir / "eval" / config.suite, settings,
                                          index_dir=config.index, build=config.endpoint is None,
                                          progress=config.progress, seed_from=_seed_sources(settings))
        eval_index = built.model_dump(mode="json")
        index_dir = built.index_dir
    elif config.endpoint is None:
        index_dir = _default_index(config, settings, log)

    backend: Backend
    if config.endpoint is not None:
        backend = RemoteBackend(config.endpoint, api_key=config.api_key)
    else:
        assert index_dir is not None
        backend = LocalBackend(settings, index_dir)
    try:
        result = _evaluate(config, prepared, backend)
        header = RunHeader(suite=config.suite, command=config.command, backend=backend.describe(),
                           data_files=[str(p) for p in data_files], limit=config.limit, eval_index=eval_index)
    finally:
        backend.close()
    if config.endpoint is not None and corpus is not None:
        result.notes.append(f"Remote run: the service must have ingested the eval corpus {eval_index['corpus_path']} "
                            "(written by this run), or its ids will not match.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = config.out or settings.paths.data_dir / "eval" / "reports" / f"{config.suite}-{stamp}"
    paths = write_report(result, header, out)
    return RunOutcome(header=header, result=result, paths=paths)


Prepared = suites.RetrievalSuite | list[answers_suite.AnswerItem] | list[ds.ClinicianQuestion]


def _prepare(config: RunConfig, corpus: corpora.EvalCorpus | None) -> tuple[Prepared, list[Path]]:
    """The retrieval suite (or answer items) of ``config`` and the question files it read."""
    medquad_passages = _optional(ds.data_file(config.data_dir, "medquad_passages"))
    if config.suite == "answers":
        files = ({ds.sniff_schema(p): p for p in config.data} if config.data else
                 {g: ds.data_file(config.data_dir, key) for g, key in
                  (("medquad", "medquad_questions"), ("liveqa", "liveqa"), ("medicationqa", "medicationqa"))})
        limit = config.limit or answers_suite.DEFAULT_LIMIT
        items = answers_suite.in_corpus_items(files, medquad_passages, limit) + answers_suite.out_of_corpus_items(limit)
        return items, list(files.values())
    path = _question_file(config)
    if config.suite == "clinician":
        return suites.sample(ds.load_clinician_qa(path), config.limit), [path]
    if config.suite == "medquad":
        suite = suites.medquad_suite(path, medquad_passages, config.limit)
    elif config.suite == "liveqa":
        suite = suites.liveqa_suite(path, config.limit)
    elif config.suite == "bioasq":
        assert corpus is not None
        suite = suites.bioasq_suite(path, corpus.ids, corpus.page_of, config.limit)
    else:
        assert corpus is not None
        ids = {r["parent_id"]: r["id"] for r in corpus.records if r["id"].startswith(corpora.pubmedqa_doc_id(""))}
        suite = suites.pubmedqa_suite(path, ids, corpus.page_of, config.limit)
    if corpus is not None:
        suite.notes.append(f"Eval corpus documents by source: {corpus.sources}.")
    if not any(suite.variants.values()):
        raise EvalError(f"{path}: no scorable query (none has a gold passage in the corpus)")
    return suite, [path]


def _evaluate(config: RunConfig, prepared: Prepared, backend: Backend):
    if isinstance(prepared, suites.RetrievalSuite):
        return retrieval.evaluate(prepared, backend, config.retrievers, depth=config.depth, progress=config.progress)
    result: answers_suite.AnswersResult | clinician_suite.ClinicianResult
    if config.suite == "clinician":
        result = clinician_suite.evaluate(prepared, backend, config.audience, depth=config.depth,
                                          progress=config.progress)
    else:
        result = answers_suite.evaluate(prepared, backend, config.audience, progress=config.progress)
    if config.retrievers != list(ALL_RETRIEVERS):
        result.notes.append(f"--retrievers does not apply to the {config.suite} suite: answers use the configured "
                            "pipeline" + (f", retrieval is scored on {clinician_suite.RETRIEVER}."
                                          if config.suite == "clinician" else "."))
    return result
