"""Rate-limit buckets shared by every worker process of one server (issue 19 item 4).

With ``medcite serve --workers N`` each worker used to keep its own buckets, so a client got N times its rate. A
:class:`SharedTokenBucket` keeps the buckets in one anonymous shared memory map made by the supervisor before it
forks: every worker reads and writes the same table under one cross-process lock, so the configured rate holds
for the whole server. No file, no external service; the table is bounded (``slots`` clients; when it is full the
least recently seen client in the probed neighbourhood is forgotten, which only ever gives that client a fresh
bucket). Clients are stored as 64-bit hashes, never as addresses or keys.

>>> b = SharedTokenBucket(60, 2, clock=lambda: 0.0)
>>> b.take("a"), b.take("a"), b.take("a"), b.take("b")
(0.0, 0.0, 1.0, 0.0)
>>> b.wait_time("a") > 0, b.wait_time("c")
(True, 0.0)
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import time
from typing import Callable, NamedTuple, Protocol

import numpy as np

from app.http.settings import SecuritySettings

#: Slots probed for one client before the least recently used of them is taken over.
PROBES = 8
_ROW = np.dtype([("key", "<u8"), ("tokens", "<f8"), ("last", "<f8")])


class Bucket(Protocol):
    """What the guard needs of a set of per-client token buckets."""

    def take(self, client: str) -> float: ...

    def wait_time(self, client: str) -> float: ...


class SharedTokenBucket:
    """Per-client token buckets in shared memory: ``rate_per_minute`` sustained, ``burst`` at once, for all the
    processes forked after it was made (``time.monotonic`` is one clock for every process of a machine)."""

    def __init__(self, rate_per_minute: int, burst: int, slots: int = 16384,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_minute <= 0 or burst <= 0 or slots < PROBES:
            raise ValueError("rate_per_minute and burst must be positive and slots at least 8")
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.slots = slots
        self.clock = clock
        self._map = mmap.mmap(-1, slots * _ROW.itemsize)  # anonymous and MAP_SHARED: children see the same pages
        self._rows = np.frombuffer(self._map, dtype=_ROW)
        self._lock = multiprocessing.get_context("fork").Lock()

    def _slot(self, key: int) -> int:
        """The slot of ``key``: its own, else a free one, else the least recently used one it may probe."""
        start = key % self.slots
        probe = [(start + i) % self.slots for i in range(PROBES)]
        keys = self._rows["key"]
        for slot in probe:
            if keys[slot] == key:
                return slot
        for slot in probe:
            if keys[slot] == 0:
                return slot
        return min(probe, key=lambda s: self._rows["last"][s])

    def _state(self, client: str, now: float) -> tuple[int, float]:
        key = int.from_bytes(hashlib.blake2b(client.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                             "little") or 1
        slot, rows = self._slot(key), self._rows
        if int(rows["key"][slot]) != key:
            rows["key"][slot], rows["tokens"][slot], rows["last"][slot] = key, self.burst, now
        tokens = min(self.burst, float(rows["tokens"][slot]) + max(0.0, now - float(rows["last"][slot])) * self.rate)
        return slot, tokens

    def _store(self, slot: int, tokens: float, now: float) -> None:
        self._rows["tokens"][slot], self._rows["last"][slot] = tokens, now

    def take(self, client: str) -> float:
        """0.0 when a request may go ahead, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            slot, tokens = self._state(client, now)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._store(slot, tokens, now)
        return wait

    def wait_time(self, client: str) -> float:
        """Seconds until ``client`` could take a token (0.0 = now), without taking one."""
        now = self.clock()
        with self._lock:
            slot, tokens = self._state(client, now)
            self._store(slot, tokens, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


class Limits(NamedTuple):
    """The guard's two sets of buckets: requests per client, failed authentications per address (None = off)."""

    requests: Bucket | None
    failures: Bucket | None


def shared_limits(settings: SecuritySettings) -> Limits:
    """Buckets for every worker of one server, made in the supervisor before it forks."""
    per_minute, failures = settings.rate_limit_per_minute, settings.auth_failures_per_minute
    return Limits(SharedTokenBucket(per_minute, settings.rate_limit_burst) if per_minute else None,
                  SharedTokenBucket(failures, failures) if failures else None)
