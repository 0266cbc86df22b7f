"""Load test: N requests from C concurrent clients (asyncio + httpx) against a medcite server on loopback.

Either points at a running server (``--url http://127.0.0.1:8000 --pid PID``) or starts one on a free port over an
index (``--index DIR``, rate limit off, admin key set for the optional upload). Bounded in count (``--requests``)
and time (``--max-seconds``); refuses any host but 127.0.0.1 / localhost. ``--upload FILE`` uploads a document
half-way through and follows its job, so the run shows whether the live index swap fails any query.

``--hostile-share F`` makes that share of the requests hostile, from ``scripts/abuse_bench.py``'s inputs (chat
background-task openers of 224 KB, 2,000-character CJK / DNA / one-letter questions), each with a random bearer
token; their latencies are reported separately and any 5xx counts as an error.

Prints JSON: errors, status counts, p50/p95/p99 latency (ms), throughput (req/s), server RSS before/after (MB),
and the memory of every server process after the run (the supervisor and its workers): RSS, PSS and USS (private
pages) in MB from ``/proc/<pid>/smaps_rollup``.

``--workers N`` starts the server with N worker processes (``medcite serve --workers N``). ``--compare 1,2
--rounds 2`` runs the same load against a server with each worker count in turn, interleaved (1, 2, 1, 2), in one
session, and adds a summary: throughput per worker count (median over rounds) and the ratio to the first.

    python scripts/loadtest.py --index var/index/default --requests 10000 --concurrency 32 --upload doc.md
    python scripts/loadtest.py --index var/index/default --requests 3000 --concurrency 32 --compare 1,2 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = ["How is gout treated?", "What are the symptoms of tuberculosis?", "How is Wilms tumor diagnosed?",
             "What causes asthma attacks?", "Treatment of iron deficiency anaemia", "How is malaria prevented?"]
ADMIN_KEY = "loadtest-admin-key"


def rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def smaps_mb(pid: int) -> dict[str, float] | None:
    """RSS, PSS and USS (private clean + dirty) of one process, MB."""
    try:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value, *_ = line.split()
            fields[name.rstrip(":")] = int(value) / 1024
    except (OSError, ValueError):
        return None
    return {"rss": round(fields.get("Rss", 0), 1), "pss": round(fields.get("Pss", 0), 1),
            "uss": round(fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0), 1)}


def server_pids(pid: int | None) -> list[int]:
    """The server process and its children (the worker processes)."""
    if not pid:
        return []
    try:
        return [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def process_memory(pid: int | None) -> dict | None:
    """Memory of the server process and of its child processes (the workers), plus the PSS total."""
    if not pid:
        return None
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    procs = {str(p): smaps_mb(p) for p in [pid, *children]}
    procs = {k: v for k, v in procs.items() if v is not None}
    return {"processes": procs, "total_pss_mb": round(sum(v["pss"] for v in procs.values()), 1),
            "workers": len(children)}


def start_server(index: Path, workers: int | None = None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCITE_PATHS__INDEX_DIR=str(index), MEDCITE_ADMIN_KEYS=ADMIN_KEY,
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="0", PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.setdefault("MEDCITE_PATHS__DATA_DIR", str(index.parent / "loadtest-var"))
    empty = index.parent / "loadtest-no-corpus"  # reindex = this index + uploads, never the bundled corpus
    empty.mkdir(exist_ok=True)
    env.setdefault("MEDCITE_PATHS__CORPUS_DIR", str(empty))
    extra = ["--workers", str(workers)] if workers else []
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), *extra], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not become ready within 180 s")


def _hostile_inputs() -> list[tuple[str, str, dict]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("abuse_bench", REPO / "scripts" / "abuse_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    return [row for row in bench.hostile_inputs(1024 * 1024) if "1023 KB" not in row[0]]


async def run(url: str, total: int, concurrency: int, max_seconds: float, upload: Path | None,
              admin_key: str | None, hostile_share: float = 0.0) -> dict:
    import secrets

    hostile = _hostile_inputs() if hostile_share > 0 else []
    every = max(1, round(1 / hostile_share)) if hostile_share > 0 else 0
    hostile_latencies: list[float] = []
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    counter = iter(range(total))
    deadline = time.monotonic() + max_seconds
    upload_result: dict = {}
    ends: list[float] = []

    async def client(session: httpx.AsyncClient) -> None:
        for i in counter:
            if time.monotonic() > deadline:
                return
            bad = bool(every) and i % every == every - 1
            headers = {}
            if bad:
                _, path, body = hostile[(i // every) % len(hostile)]
                headers = {"Authorization": f"Bearer {secrets.token_hex(8)}"}
            else:
                body = {"question": QUESTIONS[i % len(QUESTIONS)]}
                path = "/v1/answer" if i % 4 else "/v1/search"
                if path == "/v1/search":
                    body = {"query": body["question"], "top_k": 5}
            t = time.perf_counter()
            try:
                r = await session.post(path, json=body, headers=headers)
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                if r.status_code != 200 and not (bad and r.status_code < 500):
                    errors.append(f"{path}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                statuses["exception"] = statuses.get("exception", 0) + 1
                errors.append(f"{path}: {type(exc).__name__}")
            (hostile_latencies if bad else latencies).append((time.perf_counter() - t) * 1000)
            ends.append(time.perf_counter())

    async def uploader(session: httpx.AsyncClient) -> None:
        while len(latencies) < total // 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        headers = {"Authorization": f"Bearer {admin_key}"}
        r = await session.post("/v1/documents", headers=headers,
                               files={"file": (upload.name, upload.read_bytes())})
        upload_result.update(status=r.status_code, response=r.json())
        if r.status_code == 202:
            job_url = r.json()["status_url"]
            while time.monotonic() < deadline:
                job = (await session.get(job_url, headers=headers)).json()
                if job["status"] in ("done", "failed"):
                    upload_result["job"] = {k: job.get(k) for k in ("status", "message", "errors", "index_swapped",
                                                                    "timings_ms")}
                    upload_result["queries_done_when_swapped"] = len(latencies)
                    return
                await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=concurrency + 2)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as session:
        tasks = [client(session) for _ in range(concurrency)]
        if upload is not None:
            tasks.append(uploader(session))
        await asyncio.gather(*tasks)
    wall = (max(ends) if ends else time.perf_counter()) - t0  # queries only, not the upload's tail
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99 if lat else [0.0] * 99
    return {"requests": len(lat), "concurrency": concurrency, "errors": len(errors), "statuses": statuses,
            "first_errors": errors[:5], "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1),
            "p99_ms": round(q[98], 1), "max_ms": round(lat[-1], 1) if lat else 0.0,
            "throughput_rps": round((len(lat) + len(hostile_latencies)) / wall, 1), "seconds": round(wall, 1),
            "hostile_requests": len(hostile_latencies),
            "hostile_p95_ms": round(sorted(hostile_latencies)[int(0.95 * (len(hostile_latencies) - 1))], 1)
            if hostile_latencies else None,
            "upload": upload_result or None}


def one_run(args: argparse.Namespace, workers: int | None) -> dict:
    """Start a server (``--index``) or use ``--url``, run the load, measure memory; the result."""
    proc = None
    if args.index:
        proc, url = start_server(args.index, workers)
        pid, key = proc.pid, ADMIN_KEY
    else:
        url, pid, key = args.url.rstrip("/"), args.pid, args.admin_key
    try:
        before = rss_mb(pid)
        pids = server_pids(pid)
        cpu0, client0, load0 = cpu_seconds(pids), time.process_time(), os.getloadavg()[0]
        result = asyncio.run(run(url, args.requests, args.concurrency, args.max_seconds, args.upload, key,
                                 args.hostile_share))
        result.update(rss_before_mb=before, rss_after_mb=rss_mb(pid), memory=process_memory(pid),
                      server_workers=workers, server_cpu_s=round(cpu_seconds(pids) - cpu0, 1),
                      client_cpu_s=round(time.process_time() - client0, 1),
                      load_average_before=round(load0, 2), load_average_after=list(os.getloadavg()))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    return result


def summarize(runs: list[dict]) -> dict:
    by_workers: dict[int, list[dict]] = {}
    for r in runs:
        by_workers.setdefault(r["server_workers"], []).append(r)
    rps = {w: statistics.median(r["throughput_rps"] for r in rs) for w, rs in by_workers.items()}
    first = next(iter(rps))
    return {"throughput_rps": {str(w): [r["throughput_rps"] for r in rs] for w, rs in by_workers.items()},
            "median_rps": {str(w): v for w, v in rps.items()},
            "ratio_to_first": {str(w): round(v / rps[first], 2) for w, v in rps.items()},
            "p50_ms": {str(w): [r["p50_ms"] for r in rs] for w, rs in by_workers.items()},
            "errors": sum(r["errors"] for r in runs),
            "total_pss_mb": {str(w): [(r["memory"] or {}).get("total_pss_mb") for r in rs]
                             for w, rs in by_workers.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="running server (loopback only)")
    parser.add_argument("--pid", type=int, help="server process id (for RSS)")
    parser.add_argument("--index", type=Path, help="start a server over this index instead")
    parser.add_argument("--workers", type=int, help="worker processes of the started server (default: its setting)")
    parser.add_argument("--compare", help="comma-separated worker counts run in turn, e.g. 1,2 (needs --index)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --compare (interleaved)")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--upload", type=Path, help="document uploaded half-way through")
    parser.add_argument("--admin-key", default=os.environ.get("MEDCITE_LOADTEST_ADMIN_KEY"))
    parser.add_argument("--hostile-share", type=float, default=0.0, help="share of hostile requests (0-1)")
    args = parser.parse_args()
    if not (args.index or args.url):
        parser.error("give --url or --index")
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("the load test only runs against 127.0.0.1 / localhost")
    if args.upload and not (args.index or args.admin_key):
        parser.error("--upload needs --admin-key (or --index, which sets one)")
    if args.compare and not args.index:
        parser.error("--compare starts its servers: give --index")
    if args.compare:
        counts = [int(c) for c in args.compare.split(",") if c.strip()]
        runs = [one_run(args, w) for _ in range(args.rounds) for w in counts]
        result: dict = {"runs": runs, "summary": summarize(runs)}
        errors = result["summary"]["errors"]
    else:
        result = one_run(args, args.workers)
        errors = result["errors"]
    print(json.dumps(result, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
