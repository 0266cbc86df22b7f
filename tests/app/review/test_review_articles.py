"""Articles: create/get round trip, unknown ids, the storage policy, input validation, views, feedback, queue."""

from __future__ import annotations

from datetime import timezone

import pytest

from app.review import (
    ArticleNotFoundError,
    InvalidInputError,
    ReviewService,
    Status,
    StorageDisabledError,
    cited_chunk_ids,
)
from app.review.content import ARTICLE_ID_RE
from app.query.schemas import Trace
from review_helpers import FakeClock, cited_of, make_answer, unit


def test_create_then_get_round_trips_the_article(service: ReviewService):
    answer = make_answer().model_copy(update={"trace": Trace(resolved_query="wilms")})
    cited = cited_of(answer)
    created = service.create_article("  How is Wilms tumour treated?  ", "clinician", answer, "v-2026-a", cited,
                                     unit(1))
    assert ARTICLE_ID_RE.match(created.id)
    got = service.get(created.id)
    assert got == created
    assert got.question == "How is Wilms tumour treated?"
    assert got.answer == answer.model_copy(update={"trace": None})  # the debug trace is not stored
    assert got.cited == cited and set(got.cited) == {"wilms#0", "wilms#1", "nb#3"}
    assert (got.status, got.version, got.views, got.index_version) == (Status.submitted, 1, 0, "v-2026-a")
    assert got.created_at.tzinfo is timezone.utc and got.created_at == got.updated_at
    assert got.has_vector and got.approved_by is None and got.approved_at is None
    events = service.history(created.id)
    assert [(e.from_status, e.to_status, e.reviewer) for e in events] == [(None, Status.submitted, "system")]


def test_ids_are_distinct(service, new_article):
    assert len({new_article().id for _ in range(5)}) == 5


@pytest.mark.parametrize("bad_id", ["a-doesnotexist", "a-AAAAAAAAAAAA", "", "x" * 5000, "a-'; DROP TABLE x"])
def test_unknown_ids_raise_not_found(service: ReviewService, new_article, bad_id):
    new_article()
    for call in (service.get, service.record_view, service.history, service.feedback):
        with pytest.raises(ArticleNotFoundError, match="no article"):
            call(bad_id)
    with pytest.raises(ArticleNotFoundError):
        service.transition(bad_id, "under_review", "dr-lee")
    with pytest.raises(ArticleNotFoundError):
        service.add_feedback(bad_id, "helpful")


@pytest.mark.parametrize("mode, kept, stored", [
    ("off", False, False), ("off", True, False), ("opt_in", False, False), ("opt_in", True, True),
    ("all", False, True), ("all", True, True),
])
def test_the_storage_policy_decides_what_is_stored(make_service, mode, kept, stored):
    svc = make_service(store_answers=mode)
    assert svc.should_store(kept=kept) is stored
    answer = make_answer()
    if stored:
        article = svc.create_article("q?", "clinician", answer, "v1", cited_of(answer), kept=kept)
        assert svc.get(article.id).question == "q?"
    else:
        with pytest.raises(StorageDisabledError, match="store_answers"):
            svc.create_article("q?", "clinician", answer, "v1", cited_of(answer), kept=kept)
        assert svc.queue() == []


def test_default_settings_store_nothing(make_service):
    svc = make_service(store_answers="off")
    assert svc.review.store_answers == "off"
    with pytest.raises(StorageDisabledError):
        svc.create_article("q?", "clinician", make_answer(), "v1", cited_of(make_answer()))


def _bad_inputs():
    answer = make_answer()
    cited = cited_of(answer)
    fewer = {k: v for k, v in cited.items() if k != "nb#3"}
    return [
        ({"question": "   "}, "question is empty"),
        ({"question": "x" * 2001}, "question is 2001 characters"),
        ({"question": "bad \ud800"}, "lone surrogate"),
        ({"question": "nul\x00"}, "NUL"),
        ({"audience": "vet"}, "unknown audience"),
        ({"audience": "patient"}, "made for 'clinician'"),
        ({"answer": answer.model_dump()}, "must be an app.query.schemas.Answer"),
        ({"index_version": ""}, "index_version is empty"),
        ({"cited": fewer}, "lacks the hash of 1 cited chunk\\(s\\): nb#3"),
        ({"cited": {**cited, "nb#3": "ABC"}}, "not 16 lowercase hex"),
        ({"question_vector": [0.0, 0.0]}, "all zeros"),
        ({"question_vector": [[1.0, 2.0]]}, "1-dimensional"),
        ({"question_vector": [1.0, float("nan")]}, "NaN"),
    ]


@pytest.mark.parametrize("change, message", _bad_inputs())
def test_bad_article_input_is_refused_naming_the_problem(service: ReviewService, change, message):
    answer = make_answer()
    args = {"question": "q?", "audience": "clinician", "answer": answer, "index_version": "v1",
            "cited": cited_of(answer), "question_vector": None, **change}
    with pytest.raises(InvalidInputError, match=message):
        service.create_article(**args)
    assert service.queue() == []  # nothing half-stored


def test_cited_chunk_ids_cover_statements_and_references():
    assert cited_chunk_ids(make_answer()) == ["wilms#0", "wilms#1", "nb#3"]


def test_views_count_without_changing_the_version(service: ReviewService, new_article):
    article = new_article()
    assert [service.record_view(article.id) for _ in range(3)] == [1, 2, 3]
    got = service.get(article.id)
    assert (got.views, got.version, got.updated_at) == (3, 1, article.updated_at)


def test_feedback_is_stored_and_listed(service: ReviewService, new_article):
    article = new_article()
    a = service.add_feedback(article.id, "helpful")
    b = service.add_feedback(article.id, "report", statement_index=3, reason="outdated", note="newer COG protocol")
    c = service.add_feedback(article.id, "not_helpful", statement_index=0)
    assert [f.kind for f in service.feedback(article.id)] == ["helpful", "report", "not_helpful"]
    assert (b.statement_index, b.reason, b.note, b.article_id) == (3, "outdated", "newer COG protocol", article.id)
    assert a.statement_index is None and a.at.tzinfo is timezone.utc and c.id > b.id > a.id


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "love"}, "kind"),
    ({"kind": "report"}, "needs a reason"),
    ({"kind": "report", "reason": "boring"}, "reason"),
    ({"kind": "helpful", "reason": "wrong"}, "takes no reason"),
    ({"kind": "helpful", "statement_index": -1}, "statement_index"),
    ({"kind": "report", "reason": "wrong", "statement_index": 4},
     "out of range: the answer has 4 statements \\(0-3\\)"),
    ({"kind": "helpful", "note": "x" * 2001}, "note"),
    ({"kind": "helpful", "note": "bad \ud800"}, "^note: "),
])
def test_bad_feedback_is_refused_naming_the_problem(service: ReviewService, new_article, kwargs, message):
    article = new_article()
    with pytest.raises(InvalidInputError, match=message):
        service.add_feedback(article.id, **kwargs)
    assert service.feedback(article.id) == []


def test_queue_orders_by_reports_then_views_then_age(make_service, new_article):
    svc = make_service(clock=FakeClock())
    a, b, c, d, e = (new_article(svc, question=f"question {n}?") for n in "abcde")
    for _ in range(5):
        svc.record_view(a.id), svc.record_view(d.id)
    for _ in range(10):
        svc.record_view(c.id)
    svc.add_feedback(b.id, "report", reason="wrong")
    svc.add_feedback(b.id, "report", reason="outdated")
    svc.add_feedback(c.id, "report", reason="unsupported")
    svc.add_feedback(a.id, "not_helpful"), svc.add_feedback(a.id, "helpful"), svc.add_feedback(a.id, "helpful")
    for _ in range(9):  # an approved article is not in the queue, whatever its reports
        svc.add_feedback(e.id, "report", reason="wrong")
    svc.transition(e.id, "under_review", "dr-lee")
    svc.transition(e.id, "approved", "dr-lee")

    queue = svc.queue()
    assert [q.article.id for q in queue] == [b.id, c.id, a.id, d.id]  # a and d tie on 0 reports, 5 views: older first
    assert [(q.reports, q.article.views) for q in queue] == [(2, 0), (1, 10), (0, 5), (0, 5)]
    assert (queue[2].helpful, queue[2].not_helpful) == (2, 1)
    assert [q.article.id for q in svc.queue(limit=2)] == [b.id, c.id]
    with pytest.raises(InvalidInputError, match="limit"):
        svc.queue(limit=0)


def test_a_burst_of_the_same_report_or_of_views_does_not_jump_the_queue(make_service, new_article):
    """Issue 22 item 7: 50 copies of one report lifted an article above one with two different problems reported."""
    svc = make_service(clock=FakeClock())
    burst, real = (new_article(svc, question=f"question {n}?") for n in "ab")
    for _ in range(50):
        svc.add_feedback(burst.id, "report", statement_index=0, reason="wrong")
    svc.add_feedback(real.id, "report", statement_index=0, reason="wrong")
    svc.add_feedback(real.id, "report", reason="outdated")
    queue = svc.queue()
    assert [q.article.id for q in queue] == [real.id, burst.id]
    assert [q.reports for q in queue] == [2, 50]  # every report is kept and shown


def test_queue_holds_every_status_but_approved(service: ReviewService, new_article):
    ids = {}
    for status, path in {
        "submitted": [], "under_review": ["under_review"], "changes_requested": ["under_review", "changes_requested"],
        "needs_re_review": ["under_review", "approved", "needs_re_review"], "approved": ["under_review", "approved"],
    }.items():
        article = new_article()
        for step in path:
            service.transition(article.id, step, "dr-lee")
        ids[status] = article.id
    assert {q.article.status.value for q in service.queue()} == {"submitted", "under_review", "changes_requested",
                                                                  "needs_re_review"}
    assert ids["approved"] not in {q.article.id for q in service.queue()}
