"""Evaluation corpora (BioASQ, PubMedQA): written as medcite JSONL documents, ingested into their own index.

``var/eval/<suite>/corpus.jsonl.gz`` is byte-reproducible (gzip ``mtime=0``) and rewritten only when its bytes
change; ``ingest()`` is incremental, so a second run with the same corpus, model and chunking embeds and
writes nothing (the index manifest is the cache).

>>> snippet_record(ds.BioASQSnippet(snippet_id="1:title:0-5:ab", pmid="1", text="Hello"))["parent_id"]
'1'
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field

from app.settings import Settings
from core.fileio import atomic_write_bytes
from evals import datasets as ds
from evals.errors import EvalError

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"
CORPUS_FILE = "corpus.jsonl.gz"
BUNDLED_MEDQUAD = "medquad/passages.jsonl.gz"
INDEX_DIR = "index"


class EvalCorpus(BaseModel):
    """Records of one eval corpus plus the maps the suites need."""

    records: list[dict[str, Any]]
    page_of: dict[str, str]
    sources: dict[str, int]

    @property
    def ids(self) -> set[str]:
        return {r["id"] for r in self.records}


class EvalIndex(BaseModel):
    corpus_path: Path
    index_dir: Path
    corpus_rewritten: bool
    index_written: bool
    embedded_chunks: int = 0
    seconds: float = 0.0
    failures: list[str] = Field(default_factory=list)
    seeded_from: dict[str, int] = Field(default_factory=dict,
                                        description="Index root -> documents it seeded into a first build.")


def medquad_record(p: ds.MedQuADPassage) -> dict[str, Any]:
    return {"id": p.passage_id, "text": p.text, "title": p.focus or p.doc_id, "focus": p.focus,
            "parent_id": p.doc_id, "issuer": p.source, "url": p.url, "type": "Patient information",
            "audience": "patient", "license": "CC BY 4.0"}


def snippet_record(s: ds.BioASQSnippet) -> dict[str, Any]:
    return {"id": s.snippet_id, "text": s.text, "title": f"PMID {s.pmid}", "parent_id": s.pmid,
            "issuer": "PubMed (BioASQ gold snippet)", "url": PUBMED_URL.format(s.pmid), "type": "Research",
            "audience": "clinician"}


def pubmedqa_doc_id(pubid: str) -> str:
    return f"pubmedqa:{pubid}"


def pubmedqa_record(c: ds.PubMedQAContext) -> dict[str, Any]:
    year = int(c.year) if c.year and str(c.year).isdigit() else None
    return {"id": pubmedqa_doc_id(c.pubid), "text": "\n\n".join(t.strip() for t in c.contexts if t.strip()),
            "title": f"PMID {c.pubid}", "parent_id": c.pubid, "year": year, "issuer": "PubMed (PubMedQA abstract)",
            "url": PUBMED_URL.format(c.pubid), "type": "Research", "audience": "clinician"}


def _compose(parts: Iterable[tuple[str, list[dict[str, Any]]]]) -> EvalCorpus:
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    sources: dict[str, int] = {}
    for source, items in parts:
        kept = [r for r in items if r["text"].strip() and r["id"] not in seen]
        seen.update(r["id"] for r in kept)
        records.extend(kept)
        sources[source] = len(kept)
    return EvalCorpus(records=records, page_of={r["id"]: r["parent_id"] for r in records}, sources=sources)


def medquad_distractors(data_dir: Path, corpus_dir: Path | None) -> list[dict[str, Any]]:
    """MedQuAD passages as medcite documents: the default corpus's records verbatim when available (so they
    match the default index's documents exactly and can be seeded from it), else derived from the shared data."""
    bundled = Path(corpus_dir) / BUNDLED_MEDQUAD if corpus_dir is not None else None
    if bundled is not None and bundled.is_file():
        return [record for _, record in ds.iter_json_lines(bundled)]
    return [medquad_record(p) for p in ds.load_medquad_passages(ds.data_file(data_dir, "medquad_passages"))]


def _snippets(data_dir: Path) -> list[dict[str, Any]]:
    return [snippet_record(s) for s in ds.load_bioasq_snippets(ds.data_file(data_dir, "bioasq_snippets"))]


def _abstracts(data_dir: Path) -> list[dict[str, Any]]:
    return [pubmedqa_record(c) for c in ds.load_pubmedqa_contexts(ds.data_file(data_dir, "pubmedqa_contexts"))]


def bioasq_corpus(data_dir: Path, corpus_dir: Path | None = None) -> EvalCorpus:
    """BioASQ gold snippets + MedQuAD passages + PubMedQA abstracts (distractors)."""
    return _compose([("bioasq snippets", _snippets(data_dir)),
                     ("medquad passages", medquad_distractors(data_dir, corpus_dir)),
                     ("pubmedqa abstracts", _abstracts(data_dir))])


def pubmedqa_corpus(data_dir: Path, corpus_dir: Path | None = None) -> EvalCorpus:
    """PubMedQA abstracts + BioASQ gold snippets (PubMed text of other articles) as distractors."""
    return _compose([("pubmedqa abstracts", _abstracts(data_dir)), ("bioasq snippets", _snippets(data_dir))])


def corpus_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """Gzip-compressed JSONL with a fixed header (no mtime, no file name): same records, same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as gz:
        for record in records:
            gz.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly these bytes; True when written."""
    if path.is_file() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest():
        return False
    atomic_write_bytes(path, data)
    return True


def ensure_eval_index(corpus: EvalCorpus, eval_dir: Path, settings: Settings, *, index_dir: Path | None = None,
                      build: bool = True, progress: bool = True, seed_from: Iterable[Path] = ()) -> EvalIndex:
    """Write ``eval_dir/corpus.jsonl.gz`` and ingest it into ``index_dir`` (default ``eval_dir/index``).

    A first build is seeded with the documents the ``seed_from`` indexes share with it (see :mod:`evals.seed`).
    With ``build=False`` only the corpus file is written (e.g. when scoring a remote endpoint).
    """
    corpus_path = Path(eval_dir) / CORPUS_FILE
    rewritten = write_if_changed(corpus_path, corpus_bytes(corpus.records))
    target = Path(index_dir) if index_dir is not None else Path(eval_dir) / INDEX_DIR
    if not build:
        return EvalIndex(corpus_path=corpus_path, index_dir=target, corpus_rewritten=rewritten, index_written=False)
    from evals.seed import seed_index
    from ingest.pipeline import ingest

    seeded = seed_index(target, corpus.ids, seed_from, settings, str(corpus_path))
    report = ingest([corpus_path], settings, index_dir=target, progress=progress)
    if not report.ok:
        first = report.failures[0]
        raise EvalError(f"ingesting the eval corpus {corpus_path} failed: {first.path}: {first.reason}")
    return EvalIndex(corpus_path=corpus_path, index_dir=target, corpus_rewritten=rewritten,
                     index_written=report.written or bool(seeded), embedded_chunks=report.embedded_chunks,
                     seconds=report.seconds, failures=[f"{f.path}: {f.reason}" for f in report.failures],
                     seeded_from=seeded)
