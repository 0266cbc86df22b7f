"""Stage timings of the current request, collected without knowing who serves it.

The query pipeline reports its stage times with :func:`record_timings`; whoever runs a request (the HTTP request-log
middleware) opens a collection with :func:`collect_timings` and reads it afterwards. Outside a collection,
recording is a no-op.

>>> with collect_timings() as stages:
...     record_timings({"embed_query": 4.123})
>>> stages
{'embed_query': 4.12}
>>> record_timings({"ignored": 1.0})
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

_timings: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("medcite_timings", default=None)


def record_timings(timings: dict[str, float]) -> None:
    """Add stage timings (ms) to the current collection (no-op outside one)."""
    current = _timings.get()
    if current is not None:
        current.update({k: round(float(v), 2) for k, v in timings.items()})


@contextmanager
def collect_timings() -> Iterator[dict[str, float]]:
    """Collect the stage timings recorded inside the block into the yielded dictionary."""
    stages: dict[str, float] = {}
    token = _timings.set(stages)
    try:
        yield stages
    finally:
        _timings.reset(token)
