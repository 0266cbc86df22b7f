"""The review workflow: every legal and illegal transition, history, optimistic locking under real concurrency,
and a crash (or an error) mid-transition leaving the previous state."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from app.review import (
    TRANSITIONS,
    Article,
    ConflictError,
    IllegalTransitionError,
    InvalidInputError,
    ReviewService,
    Status,
    TransitionRejected,
    allowed_next,
)
from app.review import transitions as transitions_module
from app.review.tables import EventRow
from app.review.transitions import apply_transition
from core.contracts import REVIEW_STATUS_LABELS

REPO = Path(__file__).resolve().parents[3]
LEGAL = [(a, b) for a, nexts in TRANSITIONS.items() for b in nexts]
ILLEGAL = [(a, b) for a, b in itertools.product(Status, Status) if (a, b) not in LEGAL]


def _path_to(status: Status) -> list[Status]:
    """Shortest chain of legal moves from submitted to ``status``."""
    seen, todo = {Status.submitted: []}, deque([Status.submitted])
    while todo:
        here = todo.popleft()
        for nxt in TRANSITIONS[here]:
            if nxt not in seen:
                seen[nxt] = seen[here] + [nxt]
                todo.append(nxt)
    return seen[status]


def _article_in(service: ReviewService, new_article, status: Status) -> Article:
    article = new_article()
    for step in _path_to(status):
        article = service.transition(article.id, step, "dr-setup")
    assert article.status is status
    return article


def test_the_table_covers_every_status_and_each_is_reachable():
    assert set(TRANSITIONS) == set(Status)
    assert set(REVIEW_STATUS_LABELS) == {s.value for s in Status}
    for status in Status:
        _path_to(status)  # reachable from submitted
        assert status not in TRANSITIONS[status]


@pytest.mark.parametrize("current, to", LEGAL, ids=[f"{a.value}->{b.value}" for a, b in LEGAL])
def test_every_legal_transition_is_applied_and_recorded(service, new_article, current, to):
    article = _article_in(service, new_article, current)
    moved = service.transition(article.id, to.value, " Dr Lee ", "checked against the PDQ summary",
                               expected_version=article.version)
    assert (moved.status, moved.version) == (to, article.version + 1)
    assert moved.updated_at > article.updated_at
    last = service.history(article.id)[-1]
    assert (last.from_status, last.to_status, last.reviewer, last.note) == (
        current, to, "Dr Lee", "checked against the PDQ summary")
    assert last.at == moved.updated_at
    if to is Status.approved:
        assert (moved.approved_by, moved.approved_at) == ("Dr Lee", moved.updated_at)
        assert moved.review_line == f"Approved by Dr Lee on {moved.updated_at.date().isoformat()}"
    else:
        assert moved.approved_by is None and moved.approved_at is None


@pytest.mark.parametrize("current, to", ILLEGAL, ids=[f"{a.value}->{b.value}" for a, b in ILLEGAL])
def test_every_illegal_transition_is_refused_naming_the_allowed_ones(service, new_article, current, to):
    article = _article_in(service, new_article, current)
    events = len(service.history(article.id))
    with pytest.raises(IllegalTransitionError) as info:
        service.transition(article.id, to, "dr-lee")
    err = info.value
    assert (err.current, err.version, err.allowed) == (current, article.version, allowed_next(current))
    assert f"allowed next: {', '.join(s.value for s in allowed_next(current))}" in str(err)
    assert err.allowed_names == [s.value for s in TRANSITIONS[current]]
    assert service.get(article.id) == article and len(service.history(article.id)) == events


def test_transition_input_is_checked(service, new_article):
    article = new_article()
    with pytest.raises(InvalidInputError, match="unknown status 'published'"):
        service.transition(article.id, "published", "dr-lee")
    with pytest.raises(InvalidInputError, match="reviewer is empty"):
        service.transition(article.id, "under_review", "  ")
    with pytest.raises(InvalidInputError, match="reserved"):
        service.transition(article.id, "under_review", "System")
    with pytest.raises(InvalidInputError, match="note is 2001 characters"):
        service.transition(article.id, "under_review", "dr-lee", "x" * 2001)
    assert service.get(article.id).version == 1


def test_history_keeps_every_step_in_order(service, new_article):
    article = new_article()
    steps = [("under_review", "dr-lee", "taking it"), ("changes_requested", "dr-lee", "cite the COG trial"),
             ("under_review", "dr-osei", "second look"), ("approved", "dr-osei", "fine now")]
    for to, who, note in steps:
        service.transition(article.id, to, who, note)
    history = service.history(article.id)
    assert [(e.to_status.value, e.reviewer, e.note) for e in history[1:]] == steps
    assert [e.from_status for e in history] == [None, Status.submitted, Status.under_review,
                                                Status.changes_requested, Status.under_review]
    assert [e.at for e in history] == sorted(e.at for e in history)
    final = service.get(article.id)
    assert (final.version, final.approved_by) == (5, "dr-osei")


def test_a_stale_expected_version_is_a_conflict_naming_the_state_that_won(service, new_article):
    article = _article_in(service, new_article, Status.under_review)
    service.transition(article.id, "approved", "dr-lee", expected_version=article.version)
    with pytest.raises(ConflictError) as info:
        service.transition(article.id, "changes_requested", "dr-osei", expected_version=article.version)
    err = info.value
    assert (err.current, err.version, err.expected_version) == (Status.approved, article.version + 1, article.version)
    assert "'approved' at version 3" in str(err) and "allowed next: needs_re_review, under_review" in str(err)


def test_the_update_matches_only_the_version_read(service, new_article):
    """The optimistic lock itself: an UPDATE for a version that is no longer current changes nothing."""
    article = _article_in(service, new_article, Status.under_review)
    service.transition(article.id, "approved", "dr-lee")
    with pytest.raises(ConflictError, match="now 'approved' at version 3"):
        with service.store.session(write=True) as session:
            apply_transition(session, article.id, Status.under_review, article.version, Status.changes_requested,
                             "dr-osei", "", article.updated_at)
    assert service.get(article.id).status is Status.approved and len(service.history(article.id)) == 3


@pytest.mark.parametrize("shared", [True, False], ids=["one-service", "two-services"])
@pytest.mark.parametrize("with_version", [True, False], ids=["expected-version", "no-version"])
def test_concurrent_reviews_of_one_article_cannot_both_win(make_service, new_article, shared, with_version):
    base = make_service()
    clients = [base, base] if shared else [make_service(), make_service()]
    for _ in range(4):
        article = _article_in(base, new_article, Status.under_review)
        barrier = threading.Barrier(2)
        results: list[object] = [None, None]
        expected = article.version if with_version else None

        def review(i: int, to: str, article_id: str, expected: int | None, barrier: threading.Barrier,
                   results: list[object]) -> None:
            barrier.wait()
            try:
                results[i] = clients[i].transition(article_id, to, f"reviewer-{i}", "race",
                                                   expected_version=expected)
            except TransitionRejected as exc:
                results[i] = exc

        threads = [threading.Thread(target=review, args=(i, to, article.id, expected, barrier, results))
                   for i, to in enumerate(("approved", "changes_requested"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        winners = [r for r in results if isinstance(r, Article)]
        losers = [r for r in results if isinstance(r, TransitionRejected)]
        assert len(winners) == 1 and len(losers) == 1, results
        winner, loser = winners[0], losers[0]
        if with_version:
            assert isinstance(loser, ConflictError)
        assert (loser.current, loser.version) == (winner.status, article.version + 1)
        final = base.get(article.id)
        assert (final.status, final.version) == (winner.status, article.version + 1)
        history = base.history(article.id)
        assert len(history) == 3 and history[-1].to_status is winner.status


def test_an_error_inside_the_transaction_leaves_the_previous_state(service, new_article, monkeypatch):
    article = _article_in(service, new_article, Status.under_review)

    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure after the UPDATE, before the event row")

    monkeypatch.setattr(transitions_module, "new_event", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        service.transition(article.id, "approved", "dr-lee")
    monkeypatch.undo()

    def fail_commit(session):
        raise RuntimeError("simulated failure at commit, after the UPDATE and the event row")

    event.listen(service.store._write, "before_commit", fail_commit)
    try:
        with pytest.raises(RuntimeError, match="at commit"):
            service.transition(article.id, "approved", "dr-lee")
    finally:
        event.remove(service.store._write, "before_commit", fail_commit)
    assert service.get(article.id) == article
    with service.store.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(EventRow)
                              .where(EventRow.article_id == article.id)) == 2
    assert service.transition(article.id, "approved", "dr-lee").version == article.version + 1


CRASH = """
import os, sys
from sqlalchemy import event
from sqlalchemy.orm import Session
from app.review import ReviewService
from app.settings import Settings
settings = Settings(paths={"data_dir": sys.argv[1]}, review={"database_url": sys.argv[2] or None})
service = ReviewService(settings)
service.get(sys.argv[3])
event.listen(Session, "before_commit", lambda session: os._exit(17))  # die with the UPDATE and INSERT sent
service.transition(sys.argv[3], "approved", "dr-crash", "never committed")
"""


def test_a_process_killed_mid_transition_leaves_the_previous_state(make_settings, make_service, new_article):
    settings = make_settings()
    service = make_service()
    article = _article_in(service, new_article, Status.under_review)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", CRASH, str(settings.paths.data_dir),
                           settings.review.database_url or "", article.id],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 17, proc.stderr
    after = make_service()
    assert after.get(article.id) == article
    assert [e.reviewer for e in after.history(article.id)] == ["system", "dr-setup"]
    again = after.transition(article.id, "approved", "dr-lee", expected_version=article.version)
    assert again.status is Status.approved
