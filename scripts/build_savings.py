"""Where the dense build's time goes, and what each candidate saving would change (issue 12).

    python scripts/build_savings.py --index var/index/default [--sample 3000] [--out var/logs/build-savings.json]

From the sentence texts of a built index it reports:

* the shares of duplicate sentence texts (embedded once: the cache keys by text), of very short fragments (under
  five words: never a statement on their own) and of title-prefix tokens ("Title -- sentence");
* encode throughput (sentences/s) on one fixed random sample of distinct sentence texts for each encode backend
  (onnx fp32, onnx-int8), batch size (16, 32, 64, 128), ONNX thread count (1, 2), with and without the title
  prefix, and without the short fragments -- every variant encodes the same texts in the same run;
* the retrieval effect of dropping the title prefix: dense recall@10 and MRR@10 of MedQuAD dev questions over the
  passages of a fixed random subset of MedQuAD pages, chunk vectors from sentence vectors with and without prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.contracts import EMBED_SEPARATOR  # noqa: E402
from core.fileio import iter_jsonl  # noqa: E402
from index.embedding import create_embedder  # noqa: E402
from index.settings import EmbeddingSettings, IndexSettings  # noqa: E402
from index.sentence_vectors import MAX_SENTENCE_CHARS  # noqa: E402
from index.storage import open_index  # noqa: E402

import numpy as np  # noqa: E402

SHORT_WORDS = 5


def rate(embedder, texts: list[str], batch: int) -> float:
    embedder.encode(texts[:64], batch_size=batch)  # warm: session and tokenizer loaded
    t = time.perf_counter()
    embedder.encode(texts, batch_size=batch)
    return round(len(texts) / (time.perf_counter() - t), 1)


def corpus_stats(index, embedder) -> tuple[dict, list[tuple[str, str]]]:
    pairs = [(index.store.documents[c.doc_id].topic.strip(), s.text[:MAX_SENTENCE_CHARS])
             for c in index.store.chunks for s in c.sentences]
    texts = [f"{t}{EMBED_SEPARATOR}{s}" if t else s for t, s in pairs]
    distinct = list({t: p for t, p in zip(texts, pairs)}.items())
    short = [p for _, p in distinct if len(p[1].split()) < SHORT_WORDS]
    rng = random.Random(5)
    sample = rng.sample(distinct, min(2000, len(distinct)))
    tok_full = sum(embedder.count_tokens(t) for t, _ in sample)
    tok_plain = sum(embedder.count_tokens(p[1]) for _, p in sample)
    return {
        "sentence_occurrences": len(texts), "distinct_texts": len(distinct),
        "duplicate_share": round(1 - len(distinct) / len(texts), 4),
        "short_fragment_share": round(len(short) / len(distinct), 4),
        "title_prefix_token_share": round(1 - tok_plain / tok_full, 4),
        "mean_tokens_with_prefix": round(tok_full / len(sample), 1),
        "mean_tokens_without_prefix": round(tok_plain / len(sample), 1),
    }, [p for _, p in distinct]


def speed(pairs: list[tuple[str, str]], sample_size: int) -> list[dict]:
    rng = random.Random(11)
    sample = rng.sample(pairs, min(sample_size, len(pairs)))
    with_prefix = [f"{t}{EMBED_SEPARATOR}{s}" if t else s for t, s in sample]
    plain = [s for _, s in sample]
    long_only = [x for x, (_, s) in zip(with_prefix, sample) if len(s.split()) >= SHORT_WORDS]
    rows = []
    for backend in ("onnx", "onnx-int8"):
        for threads in (2, 1):
            embedder = create_embedder(EmbeddingSettings(backend=backend, torch_threads=threads))
            for batch in (16, 32, 64, 128):
                if threads == 1 and batch != 32:
                    continue
                rows.append({"backend": backend, "threads": threads, "batch": batch, "texts": "title -- sentence",
                             "sentences_per_s": rate(embedder, with_prefix, batch)})
            if threads == 2:
                rows.append({"backend": backend, "threads": 2, "batch": 32, "texts": "sentence only",
                             "sentences_per_s": rate(embedder, plain, 32)})
                per_s = rate(embedder, long_only, 32)
                rows.append({"backend": backend, "threads": 2, "batch": 32, "texts": "no short fragments",
                             "sentences_per_s": per_s,
                             "equivalent_per_s_of_all": round(per_s * len(with_prefix) / len(long_only), 1)})
    return rows


def prefix_quality(data: Path, pages: int, backend: str) -> list[dict]:
    """Dense recall@10 / MRR@10 over a MedQuAD subset with chunk (passage) vectors = mean of sentence vectors."""
    from ingest.sentences import split_sentences

    records = list(iter_jsonl(REPO / "corpus" / "medquad" / "passages.jsonl.gz"))
    parents = sorted({r["parent_id"] for r in records})
    chosen = set(random.Random(3).sample(parents, pages))
    subset = [r for r in records if r["parent_id"] in chosen]
    ids = [r["id"] for r in subset]
    queries = [q for q in iter_jsonl(data / "medquad" / "questions_dev.jsonl.gz")
               if set(q["relevant_passage_ids"]) <= set(ids)]
    embedder = create_embedder(EmbeddingSettings(backend=backend))
    qvecs = embedder.encode([q["question"] for q in queries])
    out = []
    for variant in ("title -- sentence", "sentence only"):
        vectors = []
        for r in subset:
            title = (r.get("focus") or r.get("title") or "").strip()
            sents = [r["text"][a:b][:MAX_SENTENCE_CHARS] for a, b in split_sentences(r["text"])] or [r["text"]]
            texts = [f"{title}{EMBED_SEPARATOR}{s}" if variant.startswith("title") and title else s for s in sents]
            v = embedder.encode(texts).mean(axis=0)
            vectors.append(v / (np.linalg.norm(v) or 1.0))
        matrix = np.stack(vectors)
        recall = mrr = 0.0
        for q, qv in zip(queries, qvecs):
            top = np.argsort(-(matrix @ qv))[:10]
            ranks = [i for i, row in enumerate(top, 1) if ids[row] in q["relevant_passage_ids"]]
            recall += bool(ranks)
            mrr += 1 / ranks[0] if ranks else 0.0
        out.append({"variant": variant, "backend": backend, "passages": len(subset), "queries": len(queries),
                    "recall@10": round(recall / len(queries), 4), "mrr@10": round(mrr / len(queries), 4)})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=Path("var/index/default"))
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--pages", type=int, default=400, help="MedQuAD pages for the prefix quality check")
    parser.add_argument("--out", type=Path, default=Path("var/logs/build-savings.json"))
    args = parser.parse_args()
    index = open_index(args.index, IndexSettings())
    stats, pairs = corpus_stats(index, create_embedder(EmbeddingSettings()))
    result = {"corpus": stats, "speed": speed(pairs, args.sample),
              "prefix_quality": prefix_quality(args.data, args.pages, "onnx-int8"),
              "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
