"""Train the learned sentence selector (:class:`app.query.selection.LearnedScorer`) on silver clinician questions.

    python -m evals.train_selector --sets var/eval/sets --out app/query/models/sentence-selector-v1.txt
    # or: make train-selector   (builds the sets first)

For every question of ``silver-train.jsonl`` the pipeline retrieves and assembles as it does when answering (same
settings, hand scorer), and every candidate sentence becomes one row of :data:`app.query.selection.FEATURES`.
A sentence is positive when it comes from the gold document and states at least half of the item's key facts
(:func:`evals.keyfacts.fact_present`), so the model learns which sentences state the answer, not which words the
question repeats. Questions with no positive sentence among the candidates teach nothing and are left out.
LightGBM (binary, deterministic: fixed seed, one thread order, row-wise histograms) is trained with early stopping
on ``silver-dev.jsonl``; the model file and a model card (``.md`` beside it: data, metrics, size) are written.

>>> label(["Give ATRA and arsenic trioxide."], "apl", "apl", [["ATRA"], ["arsenic"]])
[1]
>>> label(["Give ATRA."], "apl", "aml", [["ATRA"]])
[0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from app.query.selection import FEATURES
from evals.keyfacts import fact_present

PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
          "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "seed": 7,
          "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1}
MAX_ROUNDS = 600
MIN_FACT_SHARE = 0.5


def label(texts: Sequence[str], doc_id: str, gold: str, facts: list[list[str]]) -> list[int]:
    """1 for a sentence of the gold document stating at least :data:`MIN_FACT_SHARE` of the key facts."""
    out = []
    for text in texts:
        found = fact_present(facts, text) if facts else []
        out.append(int(doc_id == gold and bool(found) and sum(found) / len(found) >= MIN_FACT_SHARE))
    return out


def rows_for(pipe, items: list[dict]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Feature rows, labels and group sizes (one group per question with a positive) for ``items``."""
    from app.query.generator import ExtractiveGenerator
    from app.query.schemas import AnswerRequest

    # the candidate sentences and their features do not depend on the scorer (only MMR's choice does)
    gen = ExtractiveGenerator(pipe.settings.answer.model_copy(update={"selection": "hand"}))
    xs, ys, groups = [], [], []
    for item in items:
        evidence = pipe.gather(AnswerRequest(question=item["question"]), {}).evidence
        kept: list = []
        gen.generate(evidence, keep_features=kept)
        if not kept:
            continue
        gold = item["gold_doc"].rsplit(".", 1)[0]
        labels = [label([u.text], u.cand.chunk.doc_id, gold, item["key_facts"])[0] for u, _ in kept]
        if not any(labels):
            continue
        xs.append(np.stack([row for _, row in kept]))
        ys.append(np.asarray(labels))
        groups.append(len(labels))
    return np.concatenate(xs), np.concatenate(ys), groups


def top1_precision(scores: np.ndarray, labels: np.ndarray, groups: list[int]) -> float:
    """Share of questions whose best-scored sentence is a positive."""
    hits, start = 0, 0
    for g in groups:
        hits += int(labels[start + int(np.argmax(scores[start:start + g]))])
        start += g
    return hits / max(len(groups), 1)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    import lightgbm

    from app.query.pipeline import AnswerPipeline
    from app.query.selection import HandScorer
    from app.settings import load_settings

    parser = argparse.ArgumentParser(description="Train the learned sentence selector on the silver sets.")
    parser.add_argument("--sets", type=Path, default=Path("var/eval/sets"))
    parser.add_argument("--out", type=Path, default=Path("app/query/models/sentence-selector-v1.txt"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    settings = load_settings()
    pipe = AnswerPipeline.from_settings(settings)
    train_items, dev_items = _read(args.sets / "silver-train.jsonl"), _read(args.sets / "silver-dev.jsonl")
    xtr, ytr, gtr = rows_for(pipe, train_items)
    xdv, ydv, gdv = rows_for(pipe, dev_items)
    t_features = time.perf_counter() - t0
    names = list(FEATURES)
    train = lightgbm.Dataset(xtr, ytr, feature_name=names, free_raw_data=False)
    dev = lightgbm.Dataset(xdv, ydv, feature_name=names, reference=train)
    booster = lightgbm.train(PARAMS, train, MAX_ROUNDS, valid_sets=[dev],
                             callbacks=[lightgbm.early_stopping(40, verbose=False)])
    t_train = time.perf_counter() - t0 - t_features
    args.out.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(args.out), num_iteration=booster.best_iteration)
    learned = lightgbm.Booster(model_file=str(args.out))
    dev_learned = top1_precision(learned.predict(xdv), ydv, gdv)
    dev_hand = top1_precision(HandScorer().score(xdv), ydv, gdv)
    gain = dict(zip(names, learned.feature_importance("gain").round(1).tolist()))
    card = {
        "model": args.out.name, "kind": "LightGBM binary classifier over app.query.selection.FEATURES",
        "params": PARAMS, "rounds": learned.num_trees(), "bytes": args.out.stat().st_size,
        "train": {"file": "silver-train.jsonl", "questions": len(train_items), "with_positive": len(gtr),
                  "sentences": int(len(ytr)), "positives": int(ytr.sum())},
        "dev": {"file": "silver-dev.jsonl", "questions": len(dev_items), "with_positive": len(gdv),
                "sentences": int(len(ydv)), "positives": int(ydv.sum())},
        "dev_top1_precision": {"learned": round(dev_learned, 4), "hand": round(dev_hand, 4)},
        "feature_gain": gain, "seconds": {"features": round(t_features, 1), "train": round(t_train, 1)},
        "encoder": settings.embedding.backend,
    }
    _model_card(args.out.with_suffix(".md"), card)
    print(json.dumps(card, indent=2))
    return 0


def _model_card(path: Path, card: dict) -> None:
    lines = [f"# Model card: {card['model']}", "",
             "Learned sentence selection for medcite's extractive answers (app.query.selection.LearnedScorer).",
             "Trained by `python -m evals.train_selector` (`make train-selector`) on silver clinician questions "
             "generated from the NCI PDQ HP and NGC summaries (evals/silver.py; public domain), split by document "
             "(evals/sets.py). Label: the sentence comes from the gold document and states at least half of the "
             "item's key facts. Not trained on the 82 clinician dev items or the silver test split.", "",
             "```json", json.dumps(card, indent=2), "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
