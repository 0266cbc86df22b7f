"""Encode paths of an index build, measured in one run on the same sentence texts: sentences/s and cosine to fp32.

    python scripts/encode_paths.py --index var/index/default [--n 3000] [--paths onnx,onnx-int8,torch-bf16,...]

Texts: a seeded sample of the index's sentence texts as the build embeds them ("topic -- sentence"). A path is an
``EmbeddingSettings.backend`` run in this process on every core. Each path encodes a warm-up batch first (model load and export
are not timed). Prints a Markdown table; the first path is the reference of the cosine columns, and the last row
compares the index's stored sentence vectors (float16) of the same texts with it: what a build actually wrote.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from index.bulk_encode import native_bf16  # noqa: E402
from index.embedding import create_embedder  # noqa: E402
from index.sentence_vectors import SentenceVectors, sentence_texts  # noqa: E402
from index.settings import EmbeddingSettings, IndexSettings  # noqa: E402
from index.storage import open_index  # noqa: E402


def sample_texts(index: Path, n: int, seed: int = 1) -> tuple[list[str], np.ndarray | None]:
    """``n`` distinct sentence texts of ``index`` and their stored vectors (None when it has none)."""
    loaded = open_index(index, IndexSettings())
    store = loaded.store
    texts = sentence_texts(store.chunks, [store.documents[d].topic for d in store.doc_ids])
    first_row = {text: row for row, text in reversed(list(enumerate(texts)))}
    picked = random.Random(seed).sample(sorted(first_row), min(n, len(first_row)))
    stored = SentenceVectors.load(loaded.path)
    if stored is None:
        return picked, None
    vectors = np.asarray(stored.vectors[[first_row[t] for t in picked]], dtype=np.float32)
    return picked, vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def run_path(backend: str, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    embedder = create_embedder(EmbeddingSettings(backend=backend, batch_size=batch_size))
    embedder.encode(texts[:64])  # warm-up: load (or export) the model
    start = time.perf_counter()
    vectors = embedder.encode(texts)
    return len(texts) / (time.perf_counter() - start), vectors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=Path("var/index/default"))
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--paths", default="onnx,onnx-int8,torch-bf16")
    args = ap.parse_args()
    texts, stored = sample_texts(args.index, args.n)
    print(f"{len(texts)} sentence texts from {args.index}; {os.cpu_count()} cores; native bf16: {native_bf16()}\n")
    print("| path | sentences/s | x first | cosine to first: mean | min |")
    print("|---|---|---|---|---|")
    ref, base = None, None
    for path in args.paths.split(","):
        rate, vectors = run_path(path, texts, args.batch_size)
        ref = vectors if ref is None else ref
        base = rate if base is None else base
        cos = (vectors * ref).sum(axis=1)
        print(f"| {path} | {rate:.1f} | {rate / base:.2f} | {cos.mean():.5f} | {cos.min():.4f} |", flush=True)
    if stored is not None and ref is not None:
        cos = (stored * ref).sum(axis=1)
        print(f"| the index's stored vectors ({args.index}) | - | - | {cos.mean():.5f} | {cos.min():.4f} |")


if __name__ == "__main__":
    main()
