"""Follow-ups through the chat route, sent the way plain chat front-ends send them, against the structured path.

Open WebUI and LibreChat send earlier assistant turns back as plain ``content`` (medcite's Markdown) without the
``medcite`` field that carries the structured answer. This script asks conversations through
``POST /v1/chat/completions`` (in process, the real app over a real index) three ways in the same run:

* ``structured``: each earlier assistant message carries its ``medcite`` field (what medcite's own clients do);
* ``content``: the same messages with ``content`` only (what Open WebUI sends);
* ``none``: user messages only (no assistant turns at all: what is left to go on without any earlier answer).

Items: the clinician dev follow-ups (``clinician_qa_dev.jsonl`` items with ``turns``: gold = the item's gold
document) and, with ``--generic``, every in-corpus dev question followed by generic follow-ups ("How is it
treated?", ...): the topic is kept when the follow-up's answer cites the first question's gold document.

    python scripts/chat_followups.py --index var/index/default --generic --out var/eval/chat-followups.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GENERIC_FOLLOWUPS = ("How is it treated?", "What is the prognosis?")
WAYS = ("structured", "content", "none")
DEV = REPO.parent / "shared" / "data" / "clinician-qa" / "clinician_qa_dev.jsonl"
REFERENCE = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left "
             "flank mass and ultrasound findings of a mass with internal calcification?")


def ask(client: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One chat completion; the structured answer of the reply."""
    response = client.post("/v1/chat/completions", json={"model": "medcite", "messages": messages})
    response.raise_for_status()
    body = response.json()
    return {"content": body["choices"][0]["message"]["content"], "medcite": body["medcite"]}


def conversation(client: Any, questions: list[str], way: str) -> dict[str, Any]:
    """Ask ``questions`` in order, sending the history ``way``; the last reply."""
    messages: list[dict[str, Any]] = []
    reply: dict[str, Any] = {}
    for question in questions:
        messages.append({"role": "user", "content": question})
        reply = ask(client, messages)
        if way == "structured":
            messages.append({"role": "assistant", "content": reply["content"], "medcite": reply["medcite"]})
        elif way == "content":
            messages.append({"role": "assistant", "content": reply["content"]})
    return reply


def row(item_id: str, questions: list[str], gold: str, replies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item_id, "questions": questions, "gold": gold}
    for way, reply in replies.items():
        answer = reply["medcite"]
        refs = {r["n"]: r["doc_id"] for r in answer["references"]}
        bottom = answer.get("bottom_line") or {}
        out[way] = {
            "resolved": answer["resolved_question"],
            "gold_in_refs": gold in refs.values(),
            "gold_in_bottom_line": any(refs.get(n) == gold for n in bottom.get("citations", [])),
            "first_ref": refs.get(1),
        }
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    out: dict[str, Any] = {"n": n}
    for way in WAYS:
        out[way] = {k: round(sum(r[way][k] for r in rows) / n, 3) if n else None
                    for k in ("gold_in_refs", "gold_in_bottom_line")}
    out["same_first_reference_content_vs_structured"] = (
        round(sum(r["content"]["first_ref"] == r["structured"]["first_ref"] for r in rows) / n, 3) if n else None)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "var" / "index" / "default")
    parser.add_argument("--data", type=Path, default=DEV)
    parser.add_argument("--generic", action="store_true", help="also every in-corpus item + generic follow-ups")
    parser.add_argument("--limit", type=int, default=0, help="at most this many generic items (0 = all)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline
    from app.settings import Settings
    from evals.datasets import load_clinician_qa

    settings = Settings()
    settings.paths.index_dir = args.index
    settings.security.rate_limit_per_minute = 0
    t0 = time.perf_counter()
    pipeline = AnswerPipeline.from_settings(settings)
    client = TestClient(create_app(settings, pipeline=pipeline))
    items = load_clinician_qa(args.data)
    print(f"loaded {args.index} in {time.perf_counter() - t0:.1f} s; {len(items)} items", file=sys.stderr)

    followups = [i for i in items if i.turns and i.in_corpus and i.gold_doc_id]
    sets: dict[str, list[dict[str, Any]]] = {"dev_followups": [], "reference": [], "generic": []}
    for item in followups:
        questions = [t.question for t in item.turns] + [item.question]
        sets["dev_followups"].append(row(item.id, questions, item.gold_doc_id or "",
                                         {w: conversation(client, questions, w) for w in WAYS}))
    reference = [REFERENCE, "How is it treated?"]
    wilms = "types-kidney-hp-wilms-treatment-pdq"
    sets["reference"].append(row("reference", reference, wilms,
                                 {w: conversation(client, reference, w) for w in WAYS}))
    if args.generic:
        firsts = [i for i in items if not i.turns and i.in_corpus and i.gold_doc_id]
        if args.limit:
            firsts = firsts[: args.limit]
        for item in firsts:
            for followup in GENERIC_FOLLOWUPS:
                questions = [item.question, followup]
                sets["generic"].append(row(f"{item.id}+{followup}", questions, item.gold_doc_id or "",
                                           {w: conversation(client, questions, w) for w in WAYS}))
    report = {name: {"summary": summarise(rows), "rows": rows} for name, rows in sets.items() if rows}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    for name, part in report.items():
        if name != "seconds":
            print(name, json.dumps(part["summary"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
