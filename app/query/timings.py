"""Stage timings of the current request, collected without knowing who serves it.

The query pipeline reports its stage times with :func:`record_timings`; whoever runs a request (the HTTP request-log
middleware) opens a collection with :func:`collect_timings` and reads it afterwards. Outside a collection,
recording is a no-op.

>>> with collect_timings() as stages:
...     record_timings({"embed_query": 4.123})
>>> stages
{'embed_query': 4.12}
>>> record_timings({"ignored": 1.0})

Process-wide listeners (the Prometheus metrics) also get every recording, with the operation and its outcome
labels (never question text), whether or not a collection is open:

>>> seen = []
>>> listener = lambda operation, timings, outcome: seen.append((operation, timings, outcome))
>>> add_listener(listener)
>>> record_timings({"assembly": 9.5}, "answer", {"outcome": "abstained"})
>>> remove_listener(listener)
>>> seen
[('answer', {'assembly': 9.5}, {'outcome': 'abstained'})]
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Callable, Iterator

_timings: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("medcite_timings", default=None)

#: ``listener(operation, timings_ms, outcome)``; a listener that raises is ignored (it must never fail a query).
Listener = Callable[[str, dict[str, float], dict[str, str]], None]
_listeners: list[Listener] = []


def record_timings(timings: dict[str, float], operation: str = "query", outcome: dict[str, str] | None = None) -> None:
    """Add stage timings (ms) to the current collection (no-op outside one) and tell the listeners."""
    current = _timings.get()
    if current is not None:
        current.update({k: round(float(v), 2) for k, v in timings.items()})
    for listener in tuple(_listeners):
        try:
            listener(operation, timings, outcome or {})
        except Exception:  # metrics are never worth a failed answer
            pass


def add_listener(listener: Listener) -> None:
    """Send every later recording to ``listener`` as well (process-wide; adding it twice has no effect)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


@contextmanager
def collect_timings() -> Iterator[dict[str, float]]:
    """Collect the stage timings recorded inside the block into the yielded dictionary."""
    stages: dict[str, float] = {}
    token = _timings.set(stages)
    try:
        yield stages
    finally:
        _timings.reset(token)
