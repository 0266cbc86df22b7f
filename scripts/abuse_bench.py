"""Abuse benchmark: CPU seconds, peak memory and a concurrent ``/healthz`` latency for hostile inputs.

Starts ``medcite serve`` (from ``--src``, default this checkout, so an older checkout can be measured the same
way) over ``--index`` on a free loopback port, then sends each input below once and reads the server process's
CPU time (``/proc/PID/stat``) and peak RSS (``VmHWM``, reset before each input with ``/proc/PID/clear_refs``)
around it, while a second client polls ``/healthz`` to show whether the whole server froze. Inputs are at most
the configured size limits (1 MB bodies, 2,000-character questions, 50 MB uploads):

* chat background-task opener ``"x" + "<chat_history>" * N`` (224 KB and ~1 MB bodies);
* 2,000-character questions made of one long token: CJK, a DNA sequence, one Latin letter repeated;
  on ``/v1/answer``, ``/v1/search`` and the chat route;
* chat requests with 3 and with 20 earlier assistant turns crafted against source recovery (ten references to the
  longest document, statements whose longest word is in every chunk);
* a lone surrogate in a question (status code only);
* 200 requests with a random ``Authorization: Bearer`` each (how many get through a burst of 30);
* 50 wrong admin keys (how many are answered 403 before the failed-auth limit answers 429);
* with ``--uploads``: a Markdown upload holding one 4.9 MB token and a 3 KB file with a 1,500-letter DNA
  sequence; seconds until the job finishes and memory after the index swap.

Prints one JSON object. Budget per input: 1 s of server CPU and 100 MB above the baseline (``ok`` says whether
it was met).

    python scripts/abuse_bench.py --index var/bench/index --uploads
    python scripts/abuse_bench.py --index var/bench/index --src /tmp/medcite-before   # the code before a fix
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "abuse-bench-admin-key"
CPU_BUDGET_S = 1.0
MEMORY_BUDGET_MB = 100.0
REQUEST_TIMEOUT_S = 180.0


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / _ticks()


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def start_server(src: Path, index: Path, work: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    corpus = work / "no-corpus"
    corpus.mkdir(exist_ok=True)
    env = dict(os.environ, MEDCITE_PATHS__INDEX_DIR=str(index), MEDCITE_PATHS__DATA_DIR=str(work / "var"),
               MEDCITE_PATHS__CORPUS_DIR=str(corpus), MEDCITE_ADMIN_KEYS=ADMIN_KEY, PYTHONPATH=str(src),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra_env)
    log = open(work / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    # one serving process: the CPU time and memory read below are this process's (with several workers the
    # supervisor would serve nothing and every reading would be 0); --no-build: an upload job is the only build
    serve = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    if (Path(src) / "app" / "http" / "workers.py").is_file():  # checkouts before worker processes lack the options
        serve += ["--workers", "1", "--no-build"]
    proc = subprocess.Popen(serve, cwd=src, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {work / 'server.log'}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not become ready within 300 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HealthProbe:
    """Polls /healthz on its own connection; ``worst`` is the slowest answer seen since ``reset``."""

    def __init__(self, url: str) -> None:
        self.url, self.worst, self._stop = url, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S) as client:
            while not self._stop.is_set():
                t = time.perf_counter()
                try:
                    client.get("/healthz")
                except httpx.HTTPError:
                    pass
                self.worst = max(self.worst, time.perf_counter() - t)
                time.sleep(0.05)

    def reset(self) -> None:
        self.worst = 0.0

    def stop(self) -> None:
        self._stop.set()


def measure(pid: int, probe: HealthProbe, name: str, send) -> dict:
    """Run ``send()`` (returns an httpx response or a dict) and the resource deltas it caused."""
    rss0 = memory_mb(pid, "VmRSS")
    peak_ok = reset_peak(pid)
    cpu0 = cpu_seconds(pid)
    probe.reset()
    t = time.perf_counter()
    try:
        out = send()
        status = out.status_code if isinstance(out, httpx.Response) else out
    except httpx.HTTPError as exc:
        status = f"{type(exc).__name__}"
    wall = time.perf_counter() - t
    time.sleep(0.2)  # let the probe catch up with a freeze that just ended
    cpu = cpu_seconds(pid) - cpu0
    peak = memory_mb(pid, "VmHWM") if peak_ok else memory_mb(pid, "VmRSS")
    row = {"input": name, "status": status, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
           "peak_growth_mb": round(peak - rss0, 1), "rss_after_mb": round(memory_mb(pid, "VmRSS"), 1),
           "healthz_worst_s": round(probe.worst, 3)}
    row["ok"] = cpu <= CPU_BUDGET_S and row["peak_growth_mb"] <= MEMORY_BUDGET_MB
    return row


def chat_body(content: str) -> dict:
    return {"model": "medcite", "messages": [{"role": "user", "content": content}]}


def crafted_turn(title: str, url: str, refs: int = 10, lines: int = 8) -> str:
    """An assistant turn crafted against source recovery: ``refs`` references to one long document, each cited by
    ``lines`` statements whose longest word ("patients") is in nearly every chunk of it (about 4 KB)."""
    body = "\n".join(f"- Patients are seen {i} times by patients and patients in clinic. [{n}]"
                     for i in range(lines) for n in range(1, refs + 1))
    references = "\n".join(f"{n}. *Evidence summary* — **{title}**. NCI. <{url}>" for n in range(1, refs + 1))
    return f"**Bottom line.** [1]\n{body}\n### References\n{references}"


def crafted_chats(index: Path) -> list[tuple[str, str, dict]]:
    """Chat requests whose earlier assistant turns are :func:`crafted_turn` (3 turns, and 20 turns) against the
    served index's longest document (issue 22, item 2)."""
    version = index / (index / "CURRENT").read_text().strip()
    docs = {}
    for line in (version / "chunks.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)["doc_id"]
        docs[doc] = docs.get(doc, 0) + 1
    longest = max(docs, key=docs.get)
    meta = next(json.loads(line) for line in (version / "documents.jsonl").open(encoding="utf-8")
                if json.loads(line)["doc_id"] == longest)
    turn = crafted_turn(meta["title"], meta.get("url", ""))
    rows = []
    for n in (3, 20):
        messages = []
        for i in range(n):
            messages += [{"role": "user", "content": f"Question {i} about it?"}, {"role": "assistant", "content": turn}]
        messages.append({"role": "user", "content": "How is it treated?"})
        rows.append((f"chat: {n} crafted assistant turns ({len(json.dumps(messages)) // 1024} KB)",
                     "/v1/chat/completions", {"model": "medcite", "messages": messages}))
    return rows


def hostile_inputs(max_body: int) -> list[tuple[str, str, dict]]:
    rng = random.Random(7)
    cjk = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(2000))
    dna = "".join(rng.choice("ACGT") for _ in range(2000))
    latin = "a" * 2000
    opener_small = "x" + "<chat_history>" * 16000
    opener_big = "x" + "<chat_history>" * ((max_body - 200) // len("<chat_history>"))
    rows: list[tuple[str, str, dict]] = [
        ("chat <chat_history> opener, 224 KB", "/v1/chat/completions", chat_body(opener_small)),
        (f"chat <chat_history> opener, {len(opener_big) // 1024} KB", "/v1/chat/completions", chat_body(opener_big)),
    ]
    for label, text in (("CJK", cjk), ("DNA", dna), ("one letter", latin)):
        rows += [
            (f"answer: 2,000 chars {label}", "/v1/answer", {"question": text}),
            (f"search: 2,000 chars {label}", "/v1/search", {"query": text}),
            (f"chat: 2,000 chars {label}", "/v1/chat/completions", chat_body(text)),
        ]
    return rows


def random_bearers(url: str, n: int = 200) -> dict:
    """Requests with a different random bearer token each: how many are served before the limit bites."""
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(n):
            r = client.post("/v1/search", json={"query": "asthma", "top_k": 1},
                            headers={"Authorization": f"Bearer {secrets.token_hex(12)}"})
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
    return {"requests": n, "statuses": statuses}


def wrong_admin_keys(url: str, n: int = 50) -> dict:
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(n):
            r = client.post("/v1/reindex", headers={"Authorization": f"Bearer guess-{secrets.token_hex(6)}"})
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
    return {"requests": n, "statuses": statuses}


def upload_and_wait(url: str, name: str, data: bytes, timeout: float) -> dict:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    t = time.perf_counter()
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
        r = client.post("/v1/documents", files={"file": (name, data, "text/markdown")})
        if r.status_code != 202:
            return {"status": r.status_code, "body": r.text[:300]}
        job_url = r.json()["status_url"]
        while time.perf_counter() - t < timeout:
            job = client.get(job_url).json()
            if job.get("status") in ("done", "failed"):
                ready = client.get("/readyz")
                return {"status": job["status"], "message": job.get("message", "")[:300],
                        "index_swapped": job.get("index_swapped"), "seconds": round(time.perf_counter() - t, 1),
                        "readyz": ready.status_code}
            time.sleep(0.5)
    return {"status": "timeout", "seconds": round(time.perf_counter() - t, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index to serve (copied; never modified)")
    parser.add_argument("--src", type=Path, default=REPO, help="medcite checkout whose code is measured")
    parser.add_argument("--uploads", action="store_true", help="also measure the poisoned uploads")
    parser.add_argument("--max-body", type=int, default=1024 * 1024)
    parser.add_argument("--limits-only", action="store_true", help="only the rate-limit checks (random bearers, "
                        "wrong admin keys)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="medcite-abuse-"))
    shutil.copytree(args.index, work / "index")
    results: dict = {"src": str(args.src), "index": str(args.index), "inputs": []}
    if args.limits_only:
        proc, url = start_server(args.src.resolve(), work / "index", work, {})
        try:
            results["random_bearer_tokens"] = random_bearers(url)
            results["wrong_admin_keys"] = wrong_admin_keys(url)
        finally:
            stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(results, indent=1))
        return 0
    proc, url = start_server(args.src.resolve(), work / "index", work,
                             {"MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE": "0"})
    probe = HealthProbe(url)
    try:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
            client.post("/v1/answer", json={"question": "How is asthma treated?"})  # warm up
            results["baseline_rss_mb"] = round(memory_mb(proc.pid, "VmRSS"), 1)
            for name, path, body in hostile_inputs(args.max_body) + crafted_chats(work / "index"):
                row = measure(proc.pid, probe, name, lambda: client.post(path, json=body))
                results["inputs"].append(row)
                print(json.dumps(row), file=sys.stderr)
                if row["status"] == "ReadTimeout":  # still burning CPU: a fresh server for the next input
                    probe.stop()
                    stop_server(proc)
                    proc, url = start_server(args.src.resolve(), work / "index", work,
                                             {"MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE": "0"})
                    probe = HealthProbe(url)
                    client = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S)
                    client.post("/v1/answer", json={"question": "How is asthma treated?"})
            raw = b'{"question": "what is \\ud800 asthma"}'
            surrogate = {}
            for path, body in (("/v1/answer", raw), ("/v1/search", raw.replace(b"question", b"query")),
                               ("/v1/chat/completions", b'{"messages":[{"role":"user","content":"\\ud800"}]}')):
                surrogate[path] = client.post(path, content=body, headers={"content-type": "application/json"}
                                              ).status_code
            results["lone_surrogate_status"] = surrogate
        if args.uploads:
            uploads = {}
            rng = random.Random(7)
            token = b"# Poison\n\n" + b"a" * (4_900_000) + b"\n"
            dna = b"# Sequence\n\n" + "".join(rng.choice("ACGT") for _ in range(1500)).encode() + b"\n\nSome text.\n"
            for name, data in (("one-token.md", token), ("dna.md", dna)):
                rss0 = memory_mb(proc.pid, "VmRSS")
                row = upload_and_wait(url, name, data, 600)
                row["rss_growth_mb"] = round(memory_mb(proc.pid, "VmRSS") - rss0, 1)
                uploads[name] = row
                print(json.dumps({name: row}), file=sys.stderr)
            results["uploads"] = uploads
        # rate-limit checks last: they run with the limit on, in a fresh server
    finally:
        probe.stop()
        stop_server(proc)
    proc, url = start_server(args.src.resolve(), work / "index", work, {})
    try:
        results["random_bearer_tokens"] = random_bearers(url)
        results["wrong_admin_keys"] = wrong_admin_keys(url)
    finally:
        stop_server(proc)
    results["all_within_budget"] = all(r["ok"] for r in results["inputs"])
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
