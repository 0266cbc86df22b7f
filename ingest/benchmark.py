"""Ingest benchmark: pipeline throughput against raw ``encode`` of the same texts, in the same run.

    python -m ingest.benchmark --limit 1500            # pipeline vs raw encode on 1,500 MedQuAD passages
    python -m ingest.benchmark --backends torch,onnx,onnx-int8 --limit 300   # encode paths compared
    python -m ingest.benchmark --index var/index/default --stats-only         # size/chunks of a built index
    python -m ingest.benchmark --stats-only --quality 400 --backends onnx,onnx-int8  # retrieval cost of int8

Prints a Markdown table; numbers are ratios within one run, so a busy machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.fileio import iter_jsonl  # noqa: E402
from index.embedding import create_embedder  # noqa: E402
from index.sentence_vectors import sentence_texts  # noqa: E402
from index.storage import open_index  # noqa: E402
from ingest.chunker import Chunker  # noqa: E402
from ingest.loaders import load_path  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402
from ingest.settings import IngestSettings as Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PASSAGES = REPO / "corpus" / "medquad" / "passages.jsonl.gz"


def _subset(limit: int, out: Path) -> Path:
    path = out / "subset.jsonl"
    with gzip.open(PASSAGES, "rt", encoding="utf-8") as src, path.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= limit:
                break
            dst.write(line)
    return path


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stats(index_dir: Path, settings: Settings) -> dict:
    idx = open_index(index_dir, settings.index)
    m = idx.manifest
    return {"documents": m.counts.get("documents"), "chunks": m.counts.get("chunks"), "pages": m.counts.get("pages"),
            "index_bytes": _dir_size(idx.path), "model": m.model.name, "created": m.created.isoformat()}


def pipeline_vs_raw(limit: int, settings: Settings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        subset = _subset(limit, tmp_path)
        embedder = create_embedder(settings.embedding)
        docs = load_path(subset)
        chunker = Chunker(settings.chunking, embedder.count_tokens)
        chunks = [c for d in docs for c in chunker.chunk(d)]
        titles = {d.doc_id: d.meta.title for d in docs}
        texts = list(dict.fromkeys(sentence_texts(chunks, [titles[c.doc_id] for c in chunks])))
        embedder.encode(texts[:64])  # warm-up: model load and ONNX export are not part of either timing
        t = time.perf_counter()
        embedder.encode(texts)
        raw = time.perf_counter() - t
        settings.paths.index_dir = tmp_path / "index"
        report = ingest([subset], settings, rebuild=True, progress=False)
        return {"documents": len(docs), "chunks": len(chunks), "unique_sentences": len(texts),
                "raw_encode_s": round(raw, 2), "pipeline_s": round(report.seconds, 2),
                "raw_chunks_per_s": round(len(chunks) / raw, 1),
                "pipeline_chunks_per_s": round(report.chunks / report.seconds, 1),
                "overhead_pct": round(100 * (report.seconds - raw) / raw, 1)}


def backends(limit: int, settings: Settings, names: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        docs = load_path(_subset(limit, Path(tmp)))
    base = create_embedder(settings.embedding)
    chunker = Chunker(settings.chunking, base.count_tokens)
    chunks = [c for d in docs for c in chunker.chunk(d)]
    titles = {d.doc_id: d.meta.title for d in docs}
    texts = list(dict.fromkeys(sentence_texts(chunks, [titles[c.doc_id] for c in chunks])))
    rows, reference = [], None
    for name in names:
        emb = create_embedder(settings.embedding.model_copy(update={"backend": name}))
        emb.encode(texts[:64])
        t = time.perf_counter()
        vecs = emb.encode(texts)
        secs = time.perf_counter() - t
        if reference is None:
            reference = vecs
        rows.append({"backend": name, "sentences_per_s": round(len(texts) / secs, 1), "seconds": round(secs, 2),
                     "mean_cos_vs_first": round(float((vecs * reference).sum(axis=1).mean()), 4)})
    return rows


def retrieval_quality(pages: int, settings: Settings, names: list[str], data: Path) -> list[dict]:
    """Dense retrieval of MedQuAD dev questions over indexes built with each encode backend (same passages).

    Passages of ``pages`` random MedQuAD pages (fixed seed) are indexed; every dev question whose gold passages are
    all in that subset is a query; passage-level recall@10 and MRR@10 of the dense retriever are reported.
    """
    import random

    from index.embedding import get_embedder

    records = list(iter_jsonl(PASSAGES))
    parents = sorted({r["parent_id"] for r in records})
    chosen = set(random.Random(3).sample(parents, pages))
    subset = [r for r in records if r["parent_id"] in chosen]
    ids = {r["id"] for r in subset}
    queries = [q for q in iter_jsonl(data / "medquad" / "questions_dev.jsonl.gz")
               if set(q["relevant_passage_ids"]) <= ids]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subset.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in subset), encoding="utf-8")
        for name in names:
            s = settings.model_copy(deep=True)
            s.embedding.backend = name
            s.paths.index_dir = Path(tmp) / f"index-{name}"
            report = ingest([path], s, rebuild=True, progress=False)
            idx = open_index(s.paths.index_dir, s.index)
            embedder = get_embedder(s.embedding)
            recall = mrr = 0.0
            for q in queries:  # dense ranking straight from the vector store (the query side is not needed)
                matches = idx.vectors.search(embedder.encode_query(q["question"]), 30)[0]
                found = (idx.store.chunks[idx.store.row_of(chunk)].doc_id for chunk, _ in matches)
                docs = list(dict.fromkeys(found))[:10]
                ranks = [i for i, d in enumerate(docs, 1) if d in q["relevant_passage_ids"]]
                recall += bool(ranks)
                mrr += 1 / ranks[0] if ranks else 0.0
            rows.append({"backend": name, "passages": len(subset), "queries": len(queries),
                         "build_s": round(report.seconds, 1), "recall@10": round(recall / len(queries), 4),
                         "mrr@10": round(mrr / len(queries), 4)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1500, help="MedQuAD passages used for the timing runs")
    parser.add_argument("--index", type=Path, default=None, help="also report size/counts of this built index")
    parser.add_argument("--stats-only", action="store_true", help="only report the built index's size and counts")
    parser.add_argument("--backends", default="", help="comma list of encode backends to compare (torch,onnx,...)")
    parser.add_argument("--quality", type=int, default=0, metavar="PAGES",
                        help="dense retrieval quality per backend on this many MedQuAD pages (needs --backends)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    settings = Settings()
    out: dict = {}
    if args.index:
        out["index"] = stats(args.index, settings)
    if not args.stats_only:
        out["pipeline_vs_raw"] = pipeline_vs_raw(args.limit, settings)
    if args.backends and not args.quality:
        out["backends"] = backends(args.limit, settings, args.backends.split(","))
    if args.quality:
        out["quality"] = retrieval_quality(args.quality, settings, args.backends.split(","), args.data)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
