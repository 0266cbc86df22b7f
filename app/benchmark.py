"""Answer latency benchmark: ``/v1/answer`` in-process and over HTTP, p50/p95 per stage.

    python -m app.benchmark --index var/index/default --n 240

Questions are a fixed-seed mix from ``../shared/data`` (MedQuAD, LiveQA, MedicationQA, BioASQ, PubMedQA). The HTTP
run starts uvicorn on 127.0.0.1 (a free port) in this process and sends the questions one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import threading
import time
from pathlib import Path

from core.fileio import iter_jsonl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def _jsonl(path: Path) -> list[dict]:
    return list(iter_jsonl(path))


def load_questions(data: Path, n: int, seed: int = 7) -> list[str]:
    """A fixed-seed mix of real questions from the shared data files."""
    pools = {
        "medquad": [r["question"] for r in _jsonl(data / "medquad" / "questions_dev.jsonl.gz")],
        "liveqa": [r["nist_paraphrase"] or r["message"] for r in _jsonl(data / "liveqa-med-2017" / "test_questions_dev.jsonl")],
        "medicationqa": [r["question"] for r in _jsonl(data / "medicationqa" / "medicationqa_dev.jsonl")],
        "bioasq": [r["body"] for r in _jsonl(data / "bioasq" / "questions_dev.jsonl.gz")],
        "pubmedqa": [r["question"] for r in _jsonl(data / "pubmedqa" / "questions_dev.jsonl")],
    }
    rng = random.Random(seed)
    per = -(-n // len(pools))
    out: list[str] = []
    for name in sorted(pools):
        pool = [q.strip()[:2000] for q in pools[name] if q and q.strip()]
        out += rng.sample(pool, min(per, len(pool)))
    rng.shuffle(out)
    return out[:n]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(index: Path, n: int, data: Path) -> dict:
    import httpx
    import uvicorn

    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import load_settings
    settings = load_settings()
    settings.paths.index_dir = index
    settings.security.rate_limit_per_minute = 0  # one local client sending back-to-back requests on purpose
    pipeline = AnswerPipeline.from_settings(settings)
    questions = load_questions(data, n)
    for q in questions[:5]:  # warm-up
        pipeline.answer(AnswerRequest(question=q))
    stages: dict[str, list[float]] = {}
    wall: list[float] = []
    abstained = 0
    for q in questions:
        t = time.perf_counter()
        answer = pipeline.answer(AnswerRequest(question=q, debug=True))
        wall.append((time.perf_counter() - t) * 1000)
        abstained += answer.abstained
        for stage, ms in (answer.trace.timings_ms if answer.trace else {}).items():
            stages.setdefault(stage, []).append(ms)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, pipeline=pipeline), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    http: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for q in questions:
            t = time.perf_counter()
            r = client.post("/v1/answer", json={"question": q})
            http.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
    server.should_exit = True
    thread.join(timeout=10)

    def summary(values: list[float]) -> dict:
        return {"p50": round(statistics.median(values), 2), "p95": round(pct(values, 95), 2),
                "mean": round(statistics.fmean(values), 2)}

    return {"questions": len(questions), "abstained": abstained, "in_process_ms": summary(wall),
            "http_ms": summary(http), "stages_ms": {k: summary(v) for k, v in sorted(stages.items())},
            "index": str(index), "chunks": len(pipeline.index.store)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("var/index/default"))
    parser.add_argument("--n", type=int, default=240, help="questions (at least 200 for the README figures)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    print(json.dumps(run(args.index, args.n, args.data), indent=2))


if __name__ == "__main__":
    main()
