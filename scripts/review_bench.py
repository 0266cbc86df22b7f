"""Cost of the review desk on ``POST /v1/answer`` (issue 14): the same questions with storage off and with
``store_answers=opt_in`` and N approved articles, interleaved per question so machine load hits both alike.

    python scripts/review_bench.py --index var/index/default --questions 80 --approved 40 --rounds 3

Prints the p50 of each side, the median paired difference (questions answered by an approved article, and the
others), and the desk's own steps (published-set query, question embedding, vector pre-filter, related questions).
The review database is a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "corpus" / "questions" / "medquad_questions.jsonl.gz"


def _p(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank below)."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--approved", type=int, default=40, help="how many of the questions get an approved article")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.review.settings import ReviewSettings
    from app.settings import Settings

    settings = Settings()
    settings.paths.index_dir = args.index
    pipe = AnswerPipeline.from_settings(settings)
    with gzip.open(QUESTIONS, "rt", encoding="utf-8") as fh:
        pool = [json.loads(line)["question"] for _, line in zip(range(args.questions * 40), fh)]
    questions = pool[::40][: args.questions]

    def client(**review: object) -> TestClient:
        s = settings.model_copy(deep=True)
        s.paths.data_dir = Path(tempfile.mkdtemp(prefix="medcite-review-bench-"))
        s.security = s.security.model_copy(update={"rate_limit_per_minute": 0})
        s.review = ReviewSettings(reviewer_keys={"bench": "bench-key"}, **review)
        return TestClient(create_app(s, pipeline=pipe))

    off, on = client(), client(store_answers="opt_in")
    key = {"Authorization": "Bearer bench-key"}
    approved = 0
    for question in questions[: args.approved]:
        r = on.post("/v1/articles", json={"question": question})
        if r.status_code != 201:
            continue  # an abstention cannot be kept
        article = r.json()["review"]["article_id"]
        on.post(f"/v1/articles/{article}/review", json={"to": "under_review"}, headers=key)
        on.post(f"/v1/articles/{article}/review", json={"to": "approved"}, headers=key)
        approved += 1

    def timed(c: TestClient, question: str) -> float:
        t = time.perf_counter()
        assert c.post("/v1/answer", json={"question": question}).status_code == 200
        return (time.perf_counter() - t) * 1000

    for question in questions[:5]:  # warm both
        timed(off, question), timed(on, question)
    pairs: dict[str, list[tuple[float, float]]] = {"approved": [], "unapproved": []}
    for rnd in range(args.rounds):
        for i, question in enumerate(questions):
            if rnd % 2 == 0:
                a, b = timed(off, question), timed(on, question)
            else:
                b, a = timed(on, question), timed(off, question)
            pairs["approved" if i < args.approved else "unapproved"].append((a, b))
    print(f"{approved} approved articles; {len(questions)} questions x {args.rounds} rounds")
    for kind, values in pairs.items():
        if not values:
            continue
        offs, ons = [a for a, _ in values], [b for _, b in values]
        diff = statistics.median(b - a for a, b in values)
        print(f"{kind:10s} n={len(values):4d}  off p50 {statistics.median(offs):7.1f} ms  on p50 "
              f"{statistics.median(ons):7.1f} ms  median paired difference {diff:+.1f} ms")

    desk = on.app.state.review_desk
    steps: dict[str, list[float]] = {"published set": [], "embedding": [], "pre-filter": [], "related": []}
    for question in questions[args.approved:] or questions:
        request = AnswerRequest(question=question)
        answer = pipe.answer(request)
        t0 = time.perf_counter()
        published = desk._published(pipe, "clinician")
        t1 = time.perf_counter()
        vector = pipe.embedder.encode_query(answer.resolved_question)
        t2 = time.perf_counter()
        if published is not None:
            published.closest(vector)
        t3 = time.perf_counter()
        desk._with_related(pipe, published, request, answer, vector)
        t4 = time.perf_counter()
        for name, a, b in (("published set", t0, t1), ("embedding", t1, t2), ("pre-filter", t2, t3),
                           ("related", t3, t4)):
            steps[name].append((b - a) * 1000)
    for name, values in steps.items():
        print(f"{name:14s} p50 {statistics.median(values):6.2f} ms  p95 {_p(values, 0.95):6.2f} ms")


if __name__ == "__main__":
    main()
