"""First-run benchmark: from a fresh clone, seconds until `make serve` answers, and until the index is complete.

    python scripts/first_run_bench.py [--repo .] [--keep DIR] [--port 8790] [--out var/logs/first-run.json]

Clones ``--repo`` (its committed HEAD) into a temporary directory, runs ``make serve`` there (a new venv: torch
from the local wheel, the rest from the warm pip cache; a cold embedding cache and no index), and records:

* ``install_s``: until the server process answers ``/healthz``;
* ``lexical_s``: until ``/readyz`` is ready with a partial (lexical-only) index;
* ``first_answer_s``: until the reference question gets a non-abstained ``/v1/answer`` (polled every 2 s);
* ``full_s``: until the complete index is served (``/readyz``: not partial, build done);
* ``build``: the dense stage's sentences and sentences/s (from the build progress), and the raw encoder's
  sentences/s on a sample of the same sentence texts, encoded in the same run after the build (same model, same
  batch size), with their ratio;
* ``peak_rss_mb``: the highest summed RSS of the server and its children (sampled every second).

Not a timed test: run it by hand on an otherwise idle machine; the README's figures come from it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REFERENCE = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank "
             "mass and ultrasound findings of a mass with internal calcification?")


def tree_rss_mb(pid: int) -> float:
    """Summed RSS of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = pages
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total * os.sysconf("SC_PAGE_SIZE") / 1e6


def raw_encode_rate(clone: Path, index: Path, sample: int) -> float:
    """Sentences/s of the raw encoder on ``sample`` random sentence texts of the built index, in the clone's venv."""
    code = f"""
import json, random, time
from app.settings import Settings
from index.embedding import create_embedder
from index.sentence_vectors import sentence_texts
from index.storage import open_index
s = Settings(); idx = open_index({str(index)!r}, s.index)
texts = sentence_texts(idx.store.chunks, [idx.store.documents[d].topic for d in idx.store.doc_ids])
texts = random.Random(1).sample(sorted(set(texts)), min({sample}, len(set(texts))))
e = create_embedder(s.embedding); e.encode(texts[:64])
t = time.perf_counter(); e.encode(texts); print(json.dumps(len(texts) / (time.perf_counter() - t)))
"""
    out = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", code], cwd=clone, capture_output=True,
                         text=True, check=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary directory)")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--sample", type=int, default=8000, help="sentences for the raw encode rate")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--out", type=Path, default=Path("var/logs/first-run.json"))
    args = parser.parse_args()

    clone = args.keep or Path(tempfile.mkdtemp(prefix="medcite-first-run-")) / "medcite"
    subprocess.run(["git", "clone", "-q", str(args.repo), str(clone)], check=True)
    env = dict(os.environ, MEDCITE_SERVER__PORT=str(args.port))
    env.pop("VIRTUAL_ENV", None)
    url = f"http://127.0.0.1:{args.port}"
    result: dict = {"clone": str(clone), "commit": subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"],
                                                                  capture_output=True, text=True).stdout.strip()}
    log = (clone.parent / "serve.log").open("wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(["make", "serve"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    peak, rate_points = 0.0, []
    try:
        while time.monotonic() - t0 < args.timeout:
            if proc.poll() is not None:
                raise SystemExit(f"make serve exited with {proc.returncode}; see {clone.parent / 'serve.log'}")
            peak = max(peak, tree_rss_mb(proc.pid))
            now = time.monotonic() - t0
            try:
                ready = httpx.get(f"{url}/readyz", timeout=5)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            result.setdefault("install_s", round(now, 1))
            body = ready.json()
            build = body.get("build") or {}
            if build.get("stage") == "dense" and build.get("step") == "embed" and build.get("done"):
                rate_points.append((now, build["done"], build["total"]))
            if ready.status_code == 200 and body.get("partial"):
                result.setdefault("lexical_s", round(now, 1))
            if ready.status_code == 200 and "first_answer_s" not in result:
                reply = httpx.post(f"{url}/v1/answer", json={"question": REFERENCE}, timeout=60)
                answer = reply.json()
                # with several workers another one may not have swapped the first version in yet (503 for up to
                # server.index_poll_seconds): only a 200 that answers counts
                if reply.status_code == 200 and not answer.get("abstained"):
                    result["first_answer_s"] = round(time.monotonic() - t0, 1)
                    result["first_answer"] = {"bottom_line": (answer.get("bottom_line") or {}).get("text"),
                                              "partial": answer["index"]["partial"],
                                              "references": [r["title"] for r in answer["references"][:3]]}
            if ready.status_code == 200 and not body.get("partial") and build.get("state") in ("done", None):
                result["full_s"] = round(now, 1)
                result["index"] = {k: body.get(k) for k in ("documents", "chunks", "version", "model")}
                break
            time.sleep(1)
        else:
            raise SystemExit("timed out")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    result["peak_rss_mb"] = round(peak)
    if len(rate_points) >= 2:
        (ta, da, total), (tb, db, _) = rate_points[0], rate_points[-1]
        result["build"] = {"sentences": total, "build_sentences_per_s": round((db - da) / (tb - ta), 1)}
        raw = raw_encode_rate(clone, clone / "var" / "index" / "default", args.sample)
        result["build"].update(raw_sentences_per_s=round(raw, 1),
                               build_vs_raw=round(result["build"]["build_sentences_per_s"] / raw, 3))
    result["load_average"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
