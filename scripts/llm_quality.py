"""How the llm generator fares on clinician questions against a running OpenAI-compatible server: seconds per answer,
how often its answer is used (bottom line verified) or falls back, and the share of model-written sentences that
verify, are replaced by their source sentence, or are dropped (issue 20).

    python scripts/llm_server.py --port 18090 &
    MEDCITE_LLM__BASE_URL=http://127.0.0.1:18090/v1 python scripts/llm_quality.py \\
        --questions var/eval/sets/clinician-dev.jsonl --limit 30 --out var/eval/llm-quality.json

Prints one JSON object (also written to ``--out``); the model, server and machine are named in it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/llm_quality.py", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with a 'question' field per line")
    parser.add_argument("--limit", type=int, default=30, help="sample N questions with random.Random(7)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import load_settings

    settings = load_settings()
    if not settings.llm.base_url:
        print("set MEDCITE_LLM__BASE_URL to the server's /v1 URL", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = random.Random(7).sample(rows, min(args.limit, len(rows)))
    pipeline = AnswerPipeline.from_settings(settings)
    tally: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    seconds: list[float] = []
    for row in rows:
        t = time.perf_counter()
        answer = pipeline.answer(AnswerRequest(question=row["question"][:2000], generator="llm", debug=True))
        if answer.abstained:
            outcomes["abstained"] += 1
            continue
        seconds.append(time.perf_counter() - t)
        tally.update(answer.trace.generation if answer.trace else {})
        notice = answer.generator_notice or ""
        outcomes["llm answer" if answer.generator.startswith("llm") else
                 "fallback: " + notice.split("(", 1)[-1].split(";")[0].split(" (")[0].rstrip(")")] += 1
    written = tally.get("written", 0)
    seconds.sort()
    report = {
        "model": settings.llm.model, "server": settings.llm.base_url, "machine": f"{platform.processor() or 'cpu'}, "
        f"{os.cpu_count()} cores", "questions": len(rows), "answered": len(seconds),
        "outcomes": dict(outcomes), "sentences": dict(tally),
        "verified_share": round(tally.get("verified", 0) / written, 3) if written else None,
        "seconds_per_answer_p50": round(seconds[len(seconds) // 2], 1) if seconds else None,
        "seconds_per_answer_max": round(seconds[-1], 1) if seconds else None,
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
