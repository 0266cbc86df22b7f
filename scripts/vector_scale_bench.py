"""Vector search at scale (issue 21 item 4): build time, memory, disk, p50/p95 search latency and recall@10 against
exact search, for FAISS (flat and approximate factories) and Milvus (Lite here; a server by --milvus-uri), on
synthetic 384-d unit vectors with the clustered shape of sentence embeddings.

    python scripts/vector_scale_bench.py --real var/index/default/<version>/vectors.npy --sizes 250000 \
        --out var/bench/vector-scale.json
    python scripts/vector_scale_bench.py --sizes 1000000 --factories "Flat;HNSW32" --no-milvus

``--real`` adds a row per backend on the index's own chunk vectors (queries: 200 of them, perturbed, so the
nearest neighbours are not the query itself). Factories are separated by ``;`` (a factory string holds commas).

Each (backend, size) runs in a child process so its peak RSS (``ru_maxrss``) is its own. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DIM, QUERIES, K = 384, 200, 10


def vectors(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 256 centres (embeddings of a corpus are clustered, not uniform)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((256, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        out[start:start + m] = centres[rng.integers(0, 256, m)] + 0.6 * rng.standard_normal((m, DIM)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_top(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    top = np.empty((len(queries), K), dtype=np.int64)
    for i in range(0, len(queries), 50):
        scores = queries[i:i + 50] @ data.T
        top[i:i + 50] = np.argsort(-scores, axis=1)[:, :K]
    return top


def real_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.ascontiguousarray(np.load(path, mmap_mode="r"), dtype=np.float32)
    rng = np.random.default_rng(3)
    queries = data[rng.choice(len(data), QUERIES, replace=False)] + 0.05 * rng.standard_normal((QUERIES, data.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    return data, queries


def run_one(backend: str, n: int, factory: str, milvus_uri: str | None, real: Path | None = None) -> dict:
    """One measurement, in this process (the parent starts one child per case)."""
    sys.path.insert(0, str(REPO))
    from index.settings import IndexSettings
    from index.vectors import create_vector_store

    data, queries = real_vectors(real) if real else (vectors(n, 1), vectors(QUERIES, 2))
    n = len(data)
    truth = exact_top(data, queries)
    ids = [str(i) for i in range(n)]
    work = Path(tempfile.mkdtemp(prefix="medcite-scale-"))
    settings = IndexSettings(vector_backend=backend, faiss_factory=factory,
                             milvus_uri=milvus_uri or str(work / "milvus.db"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    store = create_vector_store(settings, DIM)
    for start in range(0, n, 50_000):
        store.add(ids[start:start + 50_000], data[start:start + 50_000])
    store.save(work / "store")
    build_s = time.perf_counter() - t
    latencies, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = store.search(q, K)[0]
        latencies.append((time.perf_counter() - t) * 1000)
        found.append([int(i) for i, _ in hits])
    recall = float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)]))
    disk = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    shutil.rmtree(work, ignore_errors=True)
    return {"backend": backend if backend != "faiss" else f"faiss {factory}", "n": n,
            "data": "real chunk vectors" if real else "synthetic", "build_s": round(build_s, 1),
            "search_p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "search_p95_ms": round(float(np.percentile(latencies, 95)), 2), "recall_at_10": round(recall, 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
            "rss_before_build_mb": round(rss_before, 0), "disk_mb": round(disk / 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/vector_scale_bench.py", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="65966,250000")
    parser.add_argument("--factories", default="Flat;HNSW32;IVF1024,PQ48")
    parser.add_argument("--real", type=Path, help="the index's chunk vectors (vectors.npy) for a real-data row")
    parser.add_argument("--no-milvus", action="store_true")
    parser.add_argument("--milvus-uri", help="a Milvus server (default: Milvus Lite in a temp file)")
    parser.add_argument("--one", nargs=3, metavar=("BACKEND", "N", "FACTORY"), help=argparse.SUPPRESS)
    parser.add_argument("--one-real", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2], args.milvus_uri, args.one_real)))
        return 0
    cases = [("faiss", f) for f in args.factories.split(";")] + ([] if args.no_milvus else [("milvus", "Flat")])
    rows = []
    sizes: list[int | Path] = ([args.real] if args.real else []) + [int(s) for s in args.sizes.split(",") if s]
    for n in sizes:
        for backend, factory in cases:
            cmd = [sys.executable, __file__, "--one", backend, "0" if isinstance(n, Path) else str(n), factory]
            if isinstance(n, Path):
                cmd += ["--one-real", str(n)]
            if args.milvus_uri:
                cmd += ["--milvus-uri", args.milvus_uri]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            row = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else \
                {"backend": backend, "n": n, "error": done.stderr.strip().splitlines()[-1:]}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    report = {"dimension": DIM, "queries": QUERIES, "k": K, "rows": rows}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
