"""Rate-limit buckets shared across forked worker processes (issue 19 item 4)."""

from __future__ import annotations

import os

import pytest

from app.http.limits import SharedTokenBucket, shared_limits
from app.http.settings import SecuritySettings


def test_a_forked_process_spends_the_same_tokens():
    bucket = SharedTokenBucket(60, 5, clock=lambda: 100.0)
    pid = os.fork()
    if pid == 0:  # the child takes three of the client's five tokens
        code = 0 if [bucket.take("ip:10.0.0.1") for _ in range(3)] == [0.0] * 3 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [bucket.take("ip:10.0.0.1") for _ in range(3)] == [0.0, 0.0, 1.0]  # two left, not five
    assert bucket.take("ip:10.0.0.2") == 0.0  # another client: its own bucket


def test_tokens_refill_at_the_rate_and_a_full_table_forgets_the_oldest():
    now = [0.0]
    bucket = SharedTokenBucket(60, 1, slots=8, clock=lambda: now[0])
    assert bucket.take("a") == 0.0 and bucket.take("a") == pytest.approx(1.0)
    now[0] = 1.0
    assert bucket.take("a") == 0.0  # one token a second at 60 per minute
    for n in range(50):  # many more clients than slots: bounded memory, each gets a bucket
        now[0] += 0.01
        assert bucket.take(f"c{n}") == 0.0
    assert bucket._rows.size == 8


def test_settings_choose_the_buckets():
    limits = shared_limits(SecuritySettings(rate_limit_per_minute=0, auth_failures_per_minute=3))
    assert limits.requests is None and isinstance(limits.failures, SharedTokenBucket)
    with pytest.raises(ValueError, match="positive"):
        SharedTokenBucket(0, 1)
