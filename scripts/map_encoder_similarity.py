"""Map the int8 encoder's similarities onto fp32's, so abstention keeps its operating point on either encoder.

    python scripts/map_encoder_similarity.py --index var/index/default --sets var/eval/sets

For clinician questions (the 82 dev items and the silver dev split) the pipeline retrieves as when answering;
the question and the sentences of the retrieved passages (as indexed: "topic -- sentence") are embedded with
both encoders (ONNX fp32 and ONNX int8 of all-MiniLM-L6-v2), and int8 cosine = a * fp32 cosine + b is fitted
by least squares over every (question, sentence) pair. Prints a, b, R^2, the mean absolute residual and the
int8 values of the fp32-calibrated thresholds: put (a, b) in ``AnswerSettings.int8_similarity_map``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
MAX_SENTENCES = 24


def main() -> int:
    from app.query.abstention import STRONG_EVIDENCE
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import load_settings
    from index.embedding import get_embedder
    from index.sentence_vectors import sentence_texts

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--sets", type=Path, default=REPO / "var" / "eval" / "sets")
    args = parser.parse_args()
    settings = load_settings()
    settings.paths.index_dir = args.index
    pipe = AnswerPipeline.from_settings(settings)
    questions = [json.loads(line)["question"] for f in ("clinician-dev.jsonl", "silver-dev.jsonl")
                 for line in (args.sets / f).read_text().splitlines() if line.strip()]
    pairs: list[tuple[str, list[str]]] = []
    for q in questions:
        cands = pipe.gather(AnswerRequest(question=q), {}).evidence.candidates
        texts = sentence_texts([c.chunk for c in cands], [c.meta.topic for c in cands])[:MAX_SENTENCES]
        pairs.append((q, texts))
    sims = {}
    for backend in ("onnx", "onnx-int8"):
        emb = get_embedder(settings.embedding.model_copy(update={"backend": backend}))
        qv = emb.encode([q for q, _ in pairs])
        out = []
        for i, (_, texts) in enumerate(pairs):
            out.append(emb.encode(texts) @ qv[i])
        sims[backend] = np.concatenate(out)
    x, y = sims["onnx"], sims["onnx-int8"]
    a, b = np.polyfit(x, y, 1)
    resid = y - (a * x + b)
    r2 = 1 - resid.var() / y.var()
    fp32 = settings.answer.abstain_threshold
    print(json.dumps({"pairs": int(len(x)), "questions": len(pairs), "a": round(float(a), 4), "b": round(float(b), 4),
                      "r2": round(float(r2), 4), "mean_abs_residual": round(float(np.abs(resid).mean()), 4),
                      "int8_abstain_threshold": round(float(a * fp32 + b), 4),
                      "int8_strong_evidence": round(float(a * STRONG_EVIDENCE + b), 4)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
