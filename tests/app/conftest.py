"""A small real index shared by the answer tests: the Wilms tumour / neuroblastoma MedQuAD passages, distractors
(other MedQuAD passages) and the CDC TB fact sheet, embedded with the real model (about 20 s once per session)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from app.settings import Settings
REPO = Path(__file__).resolve().parents[2]
PASSAGES = REPO / "corpus" / "medquad" / "passages.jsonl.gz"
TB_PDF = REPO / "corpus" / "pdf" / "cdc-what-you-need-to-know-about-tb.pdf"
TOPICS = ("wilms", "neuroblastoma")
DISTRACTOR_TOPICS = ("asthma", "diabetes", "leukemia", "hypertension", "kidney", "migraine", "tuberculosis")


def _select(records: list[dict]) -> list[dict]:
    wanted = [r for r in records if any(t in r["title"].lower() for t in TOPICS) and len(r["text"]) < 9000]
    picked: list[dict] = []
    for topic in DISTRACTOR_TOPICS:
        picked += [r for r in records if topic in r["title"].lower() and len(r["text"]) < 4000][:12]
    unique = {r["id"]: r for r in wanted + picked}
    return list(unique.values())


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small-corpus")
    with gzip.open(PASSAGES, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    with (root / "passages.jsonl").open("w", encoding="utf-8") as out:
        for rec in _select(records):
            out.write(json.dumps(rec) + "\n")
    shutil.copy(TB_PDF, root / TB_PDF.name)
    bank = root.parent / f"{root.name}-bank.jsonl"
    with gzip.open(REPO / "corpus" / "questions" / "medquad_questions.jsonl.gz", "rt", encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh]
    keep = [q for q in questions if any(t in q["focus"].lower() for t in TOPICS + DISTRACTOR_TOPICS)][:150]
    bank.write_text("".join(json.dumps(q) + "\n" for q in keep), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def small_settings(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> Settings:
    from ingest.pipeline import ingest

    data = tmp_path_factory.mktemp("small-var")
    settings = Settings()
    settings.paths.data_dir = data
    settings.paths.index_dir = data / "index"
    settings.paths.question_bank = small_corpus.parent / f"{small_corpus.name}-bank.jsonl"
    report = ingest([small_corpus], settings, progress=False)
    assert report.written and not report.failures, report
    return settings


@pytest.fixture(scope="session", params=["faiss+bm25s", "memory"])
def pipeline(request: pytest.FixtureRequest, small_settings: Settings, small_corpus: Path):
    """The answer pipeline over the small index, once on the default backends (FAISS, bm25s) and once on the
    in-memory ones (index.memory): every pipeline test runs on both, so the pipeline needs only the interfaces."""
    from app.query.pipeline import AnswerPipeline
    from ingest.pipeline import ingest

    if request.param == "faiss+bm25s":
        return AnswerPipeline.from_settings(small_settings)
    settings = small_settings.model_copy(deep=True)
    settings.index.vector_backend, settings.index.lexical_backend = "memory", "memory"
    settings.paths.index_dir = small_settings.paths.data_dir / "index-memory"  # same embedding cache: no re-embed
    assert ingest([small_corpus], settings, progress=False).written
    pipe = AnswerPipeline.from_settings(settings)
    assert (pipe.index.vectors.backend, pipe.index.lexical.backend) == ("memory", "memory")
    return pipe
