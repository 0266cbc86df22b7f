"""Load test: N requests from C concurrent clients (asyncio + httpx) against a medcite server on loopback.

Either points at a running server (``--url http://127.0.0.1:8000 --pid PID``) or starts one on a free port over an
index (``--index DIR``, rate limit off, admin key set for the optional upload). Bounded in count (``--requests``)
and time (``--max-seconds``); refuses any host but 127.0.0.1 / localhost. ``--upload FILE`` uploads a document
half-way through and follows its job, so the run shows whether the live index swap fails any query.

``--hostile-share F`` makes that share of the requests hostile, from ``scripts/abuse_bench.py``'s inputs (chat
background-task openers of 224 KB, 2,000-character CJK / DNA / one-letter questions), each with a random bearer
token; their latencies are reported separately and any 5xx counts as an error.

Prints JSON: errors, status counts, p50/p95/p99 latency (ms), throughput (req/s), server RSS before/after (MB).

    python scripts/loadtest.py --index var/index/default --requests 10000 --concurrency 32 --upload doc.md
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


def start_server(index: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MEDCITE_PATHS__INDEX_DIR=str(index), MEDCITE_ADMIN_KEYS=ADMIN_KEY,
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="0", PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.setdefault("MEDCITE_PATHS__DATA_DIR", str(index.parent / "loadtest-var"))
    empty = index.parent / "loadtest-no-corpus"  # reindex = this index + uploads, never the bundled corpus
    empty.mkdir(exist_ok=True)
    env.setdefault("MEDCITE_PATHS__CORPUS_DIR", str(empty))
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="running server (loopback only)")
    parser.add_argument("--pid", type=int, help="server process id (for RSS)")
    parser.add_argument("--index", type=Path, help="start a server over this index instead")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--upload", type=Path, help="document uploaded half-way through")
    parser.add_argument("--admin-key", default=os.environ.get("MEDCITE_LOADTEST_ADMIN_KEY"))
    parser.add_argument("--hostile-share", type=float, default=0.0, help="share of hostile requests (0-1)")
    args = parser.parse_args()
    proc = None
    if args.index:
        proc, url, pid, key = *start_server(args.index), None, ADMIN_KEY
        pid = proc.pid
    elif args.url:
        url, pid, key = args.url.rstrip("/"), args.pid, args.admin_key
    else:
        parser.error("give --url or --index")
    if urlparse(url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("the load test only runs against 127.0.0.1 / localhost")
    if args.upload and not key:
        parser.error("--upload needs --admin-key (or --index, which sets one)")
    try:
        before = rss_mb(pid)
        result = asyncio.run(run(url, args.requests, args.concurrency, args.max_seconds, args.upload, key,
                                 args.hostile_share))
        result.update(rss_before_mb=before, rss_after_mb=rss_mb(pid))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps(result, indent=1))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
