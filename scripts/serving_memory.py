"""Serving memory against corpus size (issue 19 item 3): RSS and private memory of a process that loads the answer
pipeline and answers the clinician dev questions, over the real index and over synthetic indexes k times its size.

    python scripts/serving_memory.py --index var/index/default --scales 1,4,15 --work var/scale

A synthetic index of scale k repeats every document and chunk of the real one k times under new ids (``doc~j``),
with the chunk vectors tiled plus a little noise (so search is not degenerate), the sentence vectors tiled, and a
BM25 index built over the repeated texts by the real builder; it is written once by ``index.storage.write_index``
and reused. Each measurement runs in its own child process, with chunks read on demand (``lazy_chunks``, the
default) and, for comparison, with every chunk held in memory. Prints one JSON object; MB from
/proc/self/smaps_rollup: RSS = anonymous (the process's own heap: objects, arrays read into memory, the model) +
file-backed (pages of the memory-mapped index files, held by the page cache and shared by every worker and index
version that maps them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from swap_memory import memory_mb  # noqa: E402 -- RSS, private, anonymous and file-backed MB of this process


def build_scaled(real: Path, k: int, root: Path) -> None:
    """Write a version under ``root`` holding the real index ``k`` times (skipped when one is there)."""
    sys.path.insert(0, str(REPO))
    import numpy as np

    from core.models import Chunk
    from index.lexical import build_lexical_index
    from index.manifest import Manifest
    from index.sentence_vectors import SentenceVectors
    from index.settings import IndexSettings
    from index.storage import index_exists, open_index, write_index
    from index.store import ChunkStore

    if index_exists(root):
        return
    settings = IndexSettings()
    src = open_index(real, settings)
    n = len(src.store)
    docs, chunks = {}, []
    base = list(src.store.chunks)
    for j in range(k):
        for doc_id, meta in src.store.documents.items():
            docs[f"{doc_id}~{j}"] = meta.model_copy(update={"doc_id": f"{doc_id}~{j}"})
        chunks += [Chunk.model_construct(**(c.__dict__ | {"chunk_id": f"{c.doc_id}~{j}#{c.ordinal}",
                                                          "doc_id": f"{c.doc_id}~{j}"})) for c in base]
    store = ChunkStore(docs, chunks)
    entries = {f"{d}~{j}": e for j in range(k) for d, e in src.manifest.documents.items()}
    manifest = Manifest(**(src.manifest.model_dump(exclude={"documents", "corpus_hash", "counts"}) |
                           {"documents": entries}))
    raw = np.asarray(src.raw_vectors(), dtype=np.float32)
    rng = np.random.default_rng(0)
    vectors = np.concatenate([raw] + [raw + rng.normal(0, 0.02, raw.shape).astype(np.float32) for _ in range(k - 1)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sv = SentenceVectors.load(src.path)
    offsets = sv.offsets
    total = int(offsets[-1])
    tiled = np.concatenate([offsets[:-1] + j * total for j in range(k)] + [[k * total]]).astype(np.int64)
    texts = [c.embed_text(docs[c.doc_id].topic) for c in chunks]
    lexical = build_lexical_index(texts, settings)
    del texts, base, raw

    def extra(directory: Path) -> None:
        SentenceVectors(np.concatenate([np.asarray(sv.vectors)] * k), tiled).save(directory)

    write_index(root, manifest, store, vectors, settings, lexical=lexical, extra=extra)
    print(f"built scale {k}: {k * n} chunks", file=sys.stderr)


def measure(index_dir: Path, lazy: bool) -> dict:
    sys.path.insert(0, str(REPO))
    import numpy as np

    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import load_settings

    start = memory_mb()
    t0 = time.perf_counter()
    settings = load_settings()
    settings.paths.index_dir = index_dir
    settings.index.lazy_chunks = lazy
    pipe = AnswerPipeline.from_settings(settings)
    load_s = time.perf_counter() - t0
    loaded = memory_mb()
    rows = [json.loads(line) for line in (REPO / "var/eval/sets/clinician-dev.jsonl").read_text().splitlines()]
    times = []
    for row in rows:
        t = time.perf_counter()
        pipe.answer(AnswerRequest(question=row["question"]))
        times.append((time.perf_counter() - t) * 1000)
    return {"chunks": len(pipe.index.store), "lazy_chunks": lazy, "load_s": round(load_s, 1), "start": start,
            "loaded": loaded, "after_answers": memory_mb(), "answers": len(times),
            "answer_p50_ms": round(float(np.percentile(times, 50)), 1),
            "answer_p95_ms": round(float(np.percentile(times, 95)), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/serving_memory.py", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--scales", default="1,4,15", help="comma-separated multiples of the real index")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "scale")
    parser.add_argument("--eager", action="store_true", help="also measure with every chunk held in memory")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lazy", choices=["on", "off"], default="on", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        build_scaled(args.index, args.build, args.work / f"x{args.build}")
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure, args.lazy == "on")))
        return 0
    rows = []
    for k in [int(s) for s in args.scales.split(",")]:
        root = args.index if k == 1 else args.work / f"x{k}"
        if k != 1:
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--index", str(args.index), "--work", str(args.work),
                            "--build", str(k)], check=True)
            build_s = round(time.perf_counter() - t, 1)
        for lazy in (["on", "off"] if args.eager else ["on"]):
            done = subprocess.run([sys.executable, __file__, "--measure", str(root), "--lazy", lazy],
                                  capture_output=True, text=True)
            row = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                   {"scale": k, "lazy_chunks": lazy == "on", "error": done.stderr.strip().splitlines()[-3:]})
            row["scale"] = k
            if k != 1:
                row["build_or_reuse_s"] = build_s
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    print(json.dumps({"index": str(args.index), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
