"""``medcite serve`` with several worker processes that share one loaded index (pre-fork, copy-on-write).

The supervisor (the process ``medcite serve`` starts in) binds the listening socket, loads the index and the
model once, moves every object it made into the garbage collector's permanent generation (``gc.freeze()``: a
worker's collections then never write to those pages) and forks the workers. Each runs uvicorn on the inherited
socket with its own app over the supervisor's pipeline; the kernel hands each new connection to one of them. The
vectors, chunks, BM25 arrays and the model stay shared until a worker writes to a page (reference counts of what a
request touches do; ``scripts/loadtest.py`` reports each process's PSS and USS).

* **Threads**: each worker runs the encoder with one thread unless ``MEDCITE_EMBEDDING__TORCH_THREADS`` says
  otherwise (the workers already use every core; no thread pool is forked half-made).
* **Index swaps**: every worker follows ``CURRENT`` (:mod:`app.http.refresh`), so an upload's new version, made
  current by the worker that ran the job, is served by all workers within ``index_poll_seconds``. A version
  swapped in after start is loaded by each worker on its own (private memory) until the next restart.
* **Jobs**: a job runs in the worker that accepted it; builds of one index never overlap (a lock in
  :func:`app.http.jobs.run_ingest`), job status is read from the job files by any worker, and only worker 0
  of the first start resumes interrupted jobs. Jobs of a worker that died are resumed at the next start.
* **Rate limits** are shared by all workers (:mod:`app.http.limits`: buckets in shared memory made before the fork),
  so a client gets the configured rate and failed-authentication allowance from the whole server, not per worker.
* **Metrics**: prometheus-client multiprocess mode under ``<data_dir>/metrics`` (emptied at start).
* **Supervision**: a worker that dies is started again (the same number); SIGTERM or SIGINT stop the workers
  gracefully (uvicorn finishes running requests) and then the supervisor; workers die with the supervisor.

"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from app.settings import Settings

log = logging.getLogger("medcite.api")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: A worker that dies sooner than this after its start counts as failing to start.
EARLY_EXIT_SECONDS = 10.0
MAX_EARLY_EXITS = 5


def prepare_metrics_dir(data_dir: Path) -> Path:
    """Empty ``<data_dir>/metrics`` and point ``PROMETHEUS_MULTIPROC_DIR`` at it (before prometheus-client is
    imported: it picks its mode at import)."""
    if "prometheus_client" in sys.modules and not os.environ.get(MULTIPROC_ENV):
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    path = Path(data_dir) / "metrics"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def preload(settings: Settings) -> Any:
    """The warmed-up pipeline, or None when the index or model cannot load (each worker then keeps trying and
    reports the reason on /readyz, like a single-process server)."""
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest

    try:
        pipeline = AnswerPipeline.from_settings(settings)
        pipeline.answer(AnswerRequest(question="warm up the model"))
        return pipeline
    except Exception as exc:
        log.error("index or model failed to load before forking: %s: %s", type(exc).__name__, exc)
        return None


class Supervisor:
    """Forks ``count`` workers running ``target(number)``, restarts the ones that die, stops them on a signal."""

    def __init__(self, count: int, target: Callable[[int], None], on_exit: Callable[[int], None] = lambda pid: None):
        self.count = count
        self.target = target
        self.on_exit = on_exit
        self.children: dict[int, int] = {}  # pid -> worker number
        self.started: dict[int, float] = {}
        self.generation: dict[int, int] = {}  # worker number -> times started
        self.stopping = False
        self.early_exits = 0

    def spawn(self, number: int) -> int:
        self.generation[number] = self.generation.get(number, 0) + 1
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent()
                self.target(number)
            except BaseException:  # noqa: BLE001 -- report, then leave without the parent's cleanup
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        self.children[pid] = number
        self.started[pid] = time.monotonic()
        return pid

    def stop(self, *_args: Any) -> None:
        if self.stopping:  # a second signal: no more waiting
            for pid in self.children:
                _kill(pid, signal.SIGKILL)
            return
        self.stopping = True
        for pid in self.children:
            _kill(pid, signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for number in range(self.count):
            self.spawn(number)
        code = 0
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            number = self.children.pop(pid, None)
            if number is None:
                continue
            self.on_exit(pid)
            lived = time.monotonic() - self.started.pop(pid, 0.0)
            if self.stopping:
                continue
            log.error("worker %d (pid %d) exited with status %d after %.0f s; starting it again", number, pid,
                      os.waitstatus_to_exitcode(status), lived)
            self.early_exits = self.early_exits + 1 if lived < EARLY_EXIT_SECONDS else 0
            if self.early_exits >= MAX_EARLY_EXITS:
                log.error("workers keep failing at start; stopping")
                code = 1
                self.stop()
                continue
            time.sleep(min(5.0, 0.5 * self.early_exits))
            self.spawn(number)
        return code


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """Linux: SIGTERM to this worker when the supervisor dies (no orphaned workers holding the port)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(settings: Settings, host: str, port: int, workers: int, uvicorn_options: dict[str, Any]) -> int:
    """Bind ``host:port``, preload, fork ``workers`` workers and supervise them until a signal; the exit code."""
    prepare_metrics_dir(settings.paths.data_dir)
    import uvicorn

    from app.http.factory import create_app
    from app.http.metrics import mark_process_dead

    from app.http.limits import shared_limits

    settings = settings.model_copy(deep=True)
    limits = shared_limits(settings.security)  # before the fork: one set of buckets for every worker
    if settings.embedding.torch_threads is None:
        settings.embedding.torch_threads = 1
    sock = socket.create_server((host, port), backlog=2048)
    sock.set_inheritable(True)
    pipeline = preload(settings)
    mark_process_dead(os.getpid())  # the metrics made at import here are not a serving process's
    gc.collect()
    gc.freeze()  # what the supervisor made stays out of the workers' collections: their pages stay shared

    def worker(number: int) -> None:
        app = create_app(settings, pipeline, limits)
        first_start = supervisor.generation.get(number, 1) == 1
        app.state.medcite.recovers_jobs = number == 0 and first_start
        config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options)
        uvicorn.Server(config).run(sockets=[sock])

    supervisor = Supervisor(workers, worker, on_exit=mark_process_dead)
    try:
        return supervisor.run()
    finally:
        sock.close()
