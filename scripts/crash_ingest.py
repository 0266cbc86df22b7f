"""Crash-safety check: SIGKILL the ingest at random moments; the previous index must always load and answer.

Builds a small index from generated Markdown files, then ``--kills`` times: adds a new file, starts
``python -m ingest.worker ingest`` (the same child process the server's jobs run), kills it with SIGKILL at a random
moment (half of the kills in the late, index-writing phase) and checks that

* the index opens (``open_index``) and answers a search and a question (``AnswerPipeline``),
* its document count is the previous one or the previous one + 1 (a finished build), never anything else,
* ``.tmp-*`` build directories do not pile up (at most one from the killed process, removed by the next build) and
  the number of version directories stays within ``keep_versions + 2`` (the current one, the kept ones, and at most
  one orphan of a build killed between its rename and its prune, which the next build removes).

With ``--upload-kills N`` it also SIGKILLs a real ``medcite serve`` (loopback) N times while an uploaded document's
job is running, restarts it and checks that the job is still known (never a 404), is resumed and finishes ``done``
with the document in the index (or ``failed`` with a reason), and that no staged file or ``medcite-job-*``
temporary directory is left behind.

Usage: ``python scripts/crash_ingest.py --kills 20 [--upload-kills 8] [--seed 1] [--workdir DIR]`` (prints a JSON
report; exit 1 on any failed check). Runs on local files and loopback only; CPU use is one ingest at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pydantic import BaseModel, Field  # noqa: E402

TOPICS = ["gout", "asthma", "anaemia", "migraine", "eczema", "psoriasis", "angina", "sepsis", "rickets", "scabies",
          "tetanus", "rabies", "malaria", "measles", "mumps", "rubella", "cholera", "typhoid", "leprosy", "yaws"]


class UploadCrashReport(BaseModel):
    kills: int = 0
    killed_while_running: int = 0
    resumed_done: int = 0
    failed_with_reason: int = 0
    checks_passed: int = 0
    failures: list[str] = Field(default_factory=list)
    seconds: float = 0.0


class CrashReport(BaseModel):
    kills: int = 0
    killed_while_running: int = 0
    finished_before_kill: int = 0
    checks_passed: int = 0
    failures: list[str] = Field(default_factory=list)
    max_tmp_dirs: int = 0
    max_versions: int = 0
    tmp_dirs_left: int = 0
    ingest_seconds: float = 0.0
    seconds: float = 0.0


def _doc(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return (f"# {topic.title()} note {i}\n\n{topic.title()} is assessed by history and examination. "
            f"Treatment of {topic} number {i} follows the national guideline. Review the patient after two weeks "
            f"and record the response to treatment of {topic}.\n")


def _child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def _start_ingest(corpus: Path, settings_file: Path, report_file: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ingest.worker", "ingest", "--settings", str(settings_file),
                             "--report", str(report_file), str(corpus)], cwd=REPO, env=_child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(kills: int, workdir: Path, seed: int = 1, log=print) -> CrashReport:
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest, SearchRequest
    from index.embedding import get_embedder
    from app.settings import Settings
    from index.storage import TMP_PREFIX, VERSION_RE, cleanup_stale, open_index
    from ingest.pipeline import ingest

    t_start = time.perf_counter()
    rng = random.Random(seed)
    report = CrashReport()
    corpus, root = workdir / "corpus", workdir / "index"
    corpus.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    settings.paths.index_dir = root
    settings.paths.data_dir = workdir / "var"
    settings.paths.question_bank = workdir / "no-bank.jsonl"
    settings_file = workdir / "settings.json"
    settings_file.write_text(settings.model_dump_json(exclude={"security"}), encoding="utf-8")
    for i in range(4):
        (corpus / f"doc-{i:03d}.md").write_text(_doc(i), encoding="utf-8")
    ingest([corpus], settings, progress=False)
    embedder = get_embedder(settings.embedding)

    # one uninterrupted run to learn how long an incremental ingest takes
    n_docs = 4
    (corpus / f"doc-{n_docs:03d}.md").write_text(_doc(n_docs), encoding="utf-8")
    t = time.perf_counter()
    proc = _start_ingest(corpus, settings_file, workdir / "report.json")
    proc.wait()
    duration = report.ingest_seconds = time.perf_counter() - t
    n_docs += 1
    expected = n_docs

    for k in range(kills):
        (corpus / f"doc-{n_docs:03d}.md").write_text(_doc(n_docs), encoding="utf-8")
        n_docs += 1
        delay = rng.uniform(0.1, duration) if k % 2 == 0 else rng.uniform(0.6 * duration, 1.1 * duration)
        proc = _start_ingest(corpus, settings_file, workdir / "report.json")
        time.sleep(delay)
        running = proc.poll() is None
        if running:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        report.kills += 1
        report.killed_while_running += running
        report.finished_before_kill += not running
        tmp_dirs = [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX)]
        versions = [p for p in root.iterdir() if VERSION_RE.match(p.name)]
        report.max_tmp_dirs = max(report.max_tmp_dirs, len(tmp_dirs))
        report.max_versions = max(report.max_versions, len(versions))
        problem = None
        try:
            index = open_index(root, settings.index, expect_model=embedder.info)
            docs = len(index.store.documents)
            if docs not in (expected, n_docs):
                problem = f"index has {docs} documents; expected {expected} (old) or {n_docs} (new)"
            expected = docs
            pipe = AnswerPipeline(index, embedder, settings, None)
            hits = pipe.search(SearchRequest(query="treatment of gout", top_k=3)).passages
            answer = pipe.answer(AnswerRequest(question="How is gout treated?"))
            if not hits or not (answer.abstained or answer.references):
                problem = "the index loaded but returned no passages"
        except Exception as exc:  # any failure to load or answer is what this script looks for
            problem = f"{type(exc).__name__}: {exc}"
        if len(tmp_dirs) > 1:
            problem = f"{len(tmp_dirs)} temporary build directories left: {[p.name for p in tmp_dirs]}"
        if len(versions) > settings.index.keep_versions + 2:
            problem = f"{len(versions)} version directories (keep_versions={settings.index.keep_versions})"
        if problem:
            report.failures.append(f"kill {k + 1} after {delay:.2f} s: {problem}")
        else:
            report.checks_passed += 1
        log(f"kill {k + 1:>3}/{kills} after {delay:5.2f} s ({'killed' if running else 'had finished'}): "
            f"{problem or f'ok, {expected} documents, {len(tmp_dirs)} tmp dir(s)'}")
    cleanup_stale(root)
    report.tmp_dirs_left = sum(1 for p in root.iterdir() if p.name.startswith(TMP_PREFIX))
    if report.tmp_dirs_left:
        report.failures.append(f"{report.tmp_dirs_left} temporary directories left after cleanup")
    report.seconds = round(time.perf_counter() - t_start, 1)
    return report


ADMIN_KEY = "crash-admin-key"


def _serve(workdir: Path, port: int) -> subprocess.Popen:
    env = dict(_child_env(), MEDCITE_PATHS__INDEX_DIR=str(workdir / "index"),
               MEDCITE_PATHS__DATA_DIR=str(workdir / "var"), MEDCITE_PATHS__CORPUS_DIR=str(workdir / "corpus"),
               MEDCITE_PATHS__QUESTION_BANK=str(workdir / "no-bank.jsonl"), MEDCITE_ADMIN_KEYS=ADMIN_KEY,
               MEDCITE_SECURITY__RATE_LIMIT_PER_MINUTE="0")
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=log)


def _wait_ready(url: str, timeout: float = 180.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def run_uploads(kills: int, workdir: Path, seed: int = 1, log=print) -> UploadCrashReport:
    """Kill the server during upload jobs; after each restart the job must be resumed or failed visibly."""
    import socket

    import httpx

    rng = random.Random(seed + 1000)
    report = UploadCrashReport()
    t_start = time.perf_counter()
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = _serve(workdir, port)
    try:
        if not _wait_ready(url):
            report.failures.append("the server did not start")
            return report
        for k in range(kills):
            text = _doc(1000 + k).replace("note", f"upload {k} note")
            r = httpx.post(f"{url}/v1/documents", headers=headers, files={"file": (f"u{k}.md", text.encode())})
            if r.status_code != 202:
                report.failures.append(f"upload {k}: HTTP {r.status_code} {r.text[:200]}")
                continue
            job_id = r.json()["job_id"]
            time.sleep(rng.uniform(0.05, 1.2))
            running = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json().get("status") in ("queued", "running")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            report.kills += 1
            report.killed_while_running += running
            proc = _serve(workdir, port)
            problem = None
            if not _wait_ready(url):
                problem = "the server did not become ready after the kill"
            else:
                deadline = time.monotonic() + 300
                job: dict = {}
                while time.monotonic() < deadline:
                    got = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers)
                    if got.status_code != 200:
                        problem = f"job {job_id} answered HTTP {got.status_code} after the restart"
                        break
                    job = got.json()
                    if job["status"] in ("done", "failed"):
                        break
                    time.sleep(0.5)
                if problem is None and job.get("status") == "done":
                    report.resumed_done += 1
                    hits = httpx.post(f"{url}/v1/search", json={"query": f"upload {k} note", "top_k": 3}).json()
                    if not any(p["title"].lower().endswith(f"upload {k} note {1000 + k}") for p in hits["passages"]):
                        problem = f"job {job_id} is done but the uploaded document is not searchable"
                elif problem is None and job.get("status") == "failed" and job.get("message"):
                    report.failed_with_reason += 1
                elif problem is None:
                    problem = f"job {job_id} did not finish: {job}"
                staging = workdir / "var" / "uploads" / ".staging"
                leftovers = [p.name for p in staging.glob("*")] if staging.is_dir() else []
                tmp = [p.name for p in (workdir / "var" / "tmp").glob("medcite-job-*")]
                if problem is None and (leftovers or tmp):
                    problem = f"left behind: staged {leftovers}, temporary {tmp}"
            if problem:
                report.failures.append(f"upload kill {k + 1}: {problem}")
            else:
                report.checks_passed += 1
            log(f"upload kill {k + 1:>3}/{kills} ({'during the job' if running else 'after it'}): {problem or 'ok'}")
    finally:
        proc.kill()
        proc.wait()
    report.seconds = round(time.perf_counter() - t_start, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--upload-kills", type=int, default=0, help="also kill a live server during upload jobs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary directory")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="medcite-crash-"))
    report = run(args.kills, workdir, args.seed)
    out = {"ingest_kills": report.model_dump()}
    failed = bool(report.failures)
    if args.upload_kills:
        uploads = run_uploads(args.upload_kills, workdir, args.seed)
        out["upload_kills"] = uploads.model_dump()
        failed = failed or bool(uploads.failures)
    print(json.dumps(out, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
