"""Calibrate the abstention threshold: evidence scores of in-corpus vs out-of-corpus questions.

    python scripts/calibrate_abstention.py --index var/index/default --n 300

In-corpus: MedQuAD dev questions (fixed seed) whose gold passages are in the index. Out-of-corpus: non-medical
questions and questions about made-up drugs/diseases (listed below). Prints, per threshold, the answer rate on
in-corpus questions and the abstention rate on out-of-corpus ones, as the pipeline decides (all abstention rules).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NON_MEDICAL = [
    "How do rocket engines produce thrust in a vacuum?", "Who won the football world cup in 2018?",
    "How do I bake sourdough bread at home?", "What is the capital gains tax rate on shares?",
    "How do I change a flat tire on a bicycle?", "What is the best way to learn the piano as an adult?",
    "How does a blockchain reach consensus?", "What are the rules of cricket?",
    "How do I repot an orchid?", "Which programming language is fastest for web servers?",
    "How far is the moon from the earth?", "What causes inflation in an economy?",
    "How do I train a puppy to sit?", "What is the plot of Hamlet?", "How do solar panels generate electricity?",
    "What is the difference between a violin and a viola?", "How do I write a cover letter for a job?",
    "When was the Eiffel Tower built?", "How do airplanes stay in the air?", "What is quantum entanglement?",
    "How do I make a cappuccino with an espresso machine?", "What is the offside rule in soccer?",
    "How many moons does Jupiter have?", "How do I set up a home wifi network?", "What is the best chess opening?",
    "How does a car engine work?", "How should I invest for retirement?", "What is machine learning?",
    "How do volcanoes form?", "What is the tallest mountain in Africa?",
]
MADE_UP = [
    "What is the recommended daily dose of zorblaxin for adults?", "What are the side effects of Xylotrexa in children?",
    "How is Brennik-Sollau syndrome treated?", "Is quintaprazole safe during pregnancy?",
    "What causes Valdrumian fever?", "How is Morvath disease diagnosed?", "Can I take fentrozamine with ibuprofen?",
    "What is the prognosis of Kellisand dystrophy?", "What are the symptoms of Ostrelli palsy?",
    "How does trivoxamab work?", "What is the maximum dose of plenzocort?", "Is Drubeck anemia inherited?",
    "What are the symptoms of glimmerpox?", "How long does Tarnwell encephalitis last?",
    "What is the treatment for Zentharic lung disease?",
]


def main() -> None:
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import load_settings
    from core.fileio import iter_jsonl
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    settings = load_settings()
    settings.paths.index_dir = args.index
    settings.answer.abstain_threshold = -1.0  # record raw evidence; thresholds are applied below
    pipe = AnswerPipeline.from_settings(settings)
    medquad = [r["question"] for r in iter_jsonl(args.data / "medquad" / "questions_dev.jsonl.gz")]
    in_corpus = random.Random(7).sample(medquad, args.n)

    def run(questions: list[str]) -> list[tuple[float, bool]]:
        out = []
        for q in questions:
            a = pipe.answer(AnswerRequest(question=q, debug=True))
            out.append((a.trace.evidence_score or 0.0, a.abstained))  # abstained here = the other rules fired
        return out

    liveqa = list(iter_jsonl(args.data / "liveqa-med-2017" / "test_questions_dev.jsonl"))
    covered = [r["nist_paraphrase"] for r in liveqa
               if any(j["grade"] >= 2 and j["text_in_corpus"] for j in r["medquad_judgments"])]
    inside, live, outside = run(in_corpus), run(covered), run(NON_MEDICAL + MADE_UP)
    print(f"MedQuAD n={len(inside)}, LiveQA covered n={len(live)}, out-of-corpus n={len(outside)}")
    print("| threshold | MedQuAD answered | LiveQA answered | out-of-corpus abstained |")
    print("|---|---|---|---|")

    def answered(rows: list[tuple[float, bool]], t: float) -> float:
        return sum(1 for e, ab in rows if e >= t and not ab) / len(rows)

    for t in [x / 100 for x in range(20, 66, 3)]:
        abstained = 1 - answered(outside, t)
        print(f"| {t:.2f} | {answered(inside, t):.3f} | {answered(live, t):.3f} | {abstained:.3f} |")


if __name__ == "__main__":
    main()
