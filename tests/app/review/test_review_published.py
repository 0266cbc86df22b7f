"""Approved articles: matching a new question, re-review when cited passages change, listing, retention."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from app.review import ArticleNotFoundError, InvalidInputError, ReviewService, Status
from app.review.tables import ArticleRow, EventRow, FeedbackRow
from core.contracts import PENDING_REVIEW_NOTICE
from review_helpers import TEXTS, FakeClock, cited_of, hashes_of, make_answer, near, unit


def _approve(service: ReviewService, article_id: str, who: str = "dr-lee"):
    service.transition(article_id, "under_review", who)
    return service.transition(article_id, "approved", who, "matches the PDQ summary")


class Calls:
    """A ``current_hashes`` callback that records what it was asked."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.inner, self.asked = hashes_of(texts), []

    def __call__(self, ids: list[str]) -> dict[str, str | None]:
        self.asked.append(list(ids))
        return self.inner(ids)


def test_a_near_identical_question_gets_the_approved_article(service, new_article):
    v = unit(1)
    approved = _approve(service, new_article(vector=v).id)
    calls = Calls(TEXTS)
    match = service.find_approved_match(near(v, 0.99), "clinician", "v1", calls)
    assert match is not None and match.id == approved.id and match.status is Status.approved
    assert match.review_line.startswith("Approved by dr-lee on ")
    assert calls.asked == []  # same index version: passages need no check
    assert service.find_approved_match(near(v, 0.90), "clinician", "v1", calls) is None  # below 0.95
    assert service.find_approved_match(v, "patient", "v1", calls) is None  # other audience
    assert service.find_approved_match(unit(1, dim=8), "clinician", "v1", calls) is None  # other model's vectors


def test_the_threshold_is_a_setting(make_service, new_article):
    svc = make_service(match_similarity=0.85)
    v = unit(2)
    article = _approve(svc, new_article(svc, vector=v).id)
    assert svc.find_approved_match(near(v, 0.90), "clinician", "v1", hashes_of(TEXTS)).id == article.id
    assert svc.find_approved_match(near(v, 0.80), "clinician", "v1", hashes_of(TEXTS)) is None


def test_on_another_index_version_only_unchanged_cited_passages_match(service, new_article):
    v = unit(3)
    article = _approve(service, new_article(vector=v, index_version="v1").id)
    calls = Calls(TEXTS)
    assert service.find_approved_match(v, "clinician", "v2", calls).id == article.id
    assert calls.asked == [["nb#3", "wilms#0", "wilms#1"]]  # one batched look-up
    changed = {**TEXTS, "wilms#1": "Ultrasound or CT is the first imaging test."}
    assert service.find_approved_match(v, "clinician", "v2", hashes_of(changed)) is None
    vanished = {k: t for k, t in TEXTS.items() if k != "nb#3"}
    assert service.find_approved_match(v, "clinician", "v2", hashes_of(vanished)) is None
    assert service.find_approved_match(v, "clinician", "v1", hashes_of(changed)).id == article.id  # same version


def test_only_approved_articles_match_and_the_closest_wins(service, new_article):
    v = unit(4)
    new_article(vector=v)  # submitted: never served
    pending = new_article(vector=v)
    service.transition(pending.id, "under_review", "dr-lee")
    assert service.find_approved_match(v, "clinician", "v1", hashes_of(TEXTS)) is None
    close = _approve(service, new_article(vector=near(v, 0.99, seed=1)).id)
    closer = _approve(service, new_article(vector=near(v, 0.995, seed=2)).id)
    _approve(service, new_article().id)  # no vector: listed, never matched
    assert service.find_approved_match(v, "clinician", "v1", hashes_of(TEXTS)).id == closer.id
    ranked = service.similar_approved(v, "clinician", limit=5)
    assert [a.id for a, _ in ranked] == [closer.id, close.id]
    assert ranked[0][1] == pytest.approx(0.995, abs=2e-3)
    with pytest.raises(InvalidInputError, match="question_vector"):
        service.find_approved_match([0.0] * 16, "clinician", "v1", hashes_of(TEXTS))


def test_recheck_moves_approved_articles_whose_passages_changed_or_vanished(service, new_article):
    approved = _approve(service, new_article().id)
    under_review = new_article()
    service.transition(under_review.id, "under_review", "dr-lee")
    submitted = new_article()
    assert service.recheck(hashes_of(TEXTS)) == []  # nothing changed: nothing moves
    now = {**TEXTS, "wilms#1": "Ultrasound or CT is the first imaging test."}
    del now["nb#3"]
    assert service.recheck(hashes_of(now)) == [approved.id]
    assert service.get(under_review.id).status is Status.under_review  # only approved articles are rechecked
    assert service.get(submitted.id).status is Status.submitted
    moved = service.get(approved.id)
    assert (moved.status, moved.version) == (Status.needs_re_review, approved.version + 1)
    last = service.history(approved.id)[-1]
    assert (last.from_status, last.to_status, last.reviewer) == (Status.approved, Status.needs_re_review, "system")
    assert last.note == "cited passages changed: wilms#1 (changed), nb#3 (vanished)"
    assert service.recheck(hashes_of(now)) == []  # idempotent


def test_recheck_moves_exactly_the_articles_that_cite_a_changed_chunk(service):
    texts = {"a#0": "Text a.", "b#0": "Text b.", "c#0": "Text c.", "d#0": "Text d."}

    def answer_citing(chunk_id: str):
        answer = make_answer()
        bottom = answer.bottom_line.model_copy(update={"chunk_id": chunk_id, "text": texts[chunk_id]})
        return answer.model_copy(update={"bottom_line": bottom, "sections": [], "references": []})

    ids = {}
    for chunk_id in texts:
        answer = answer_citing(chunk_id)
        article = service.create_article(f"about {chunk_id}?", "clinician", answer, "v1",
                                         cited_of(answer, texts), unit(7))
        ids[chunk_id] = article.id
        if chunk_id != "d#0":
            _approve(service, article.id)
    now = {**texts, "b#0": "Text b, revised."}
    del now["c#0"]
    del now["d#0"]  # d's article is only submitted: not rechecked
    moved = service.recheck(hashes_of(now))
    assert sorted(moved) == sorted([ids["b#0"], ids["c#0"]])
    statuses = {c: service.get(i).status for c, i in ids.items()}
    assert statuses == {"a#0": Status.approved, "b#0": Status.needs_re_review, "c#0": Status.needs_re_review,
                        "d#0": Status.submitted}
    # no longer served as approved, listed or matched; re-approval serves it again
    assert {a.id for a in service.approved()} == {ids["a#0"]}
    assert service.find_approved_match(unit(7), "clinician", "v1", hashes_of(now)).id == ids["a#0"]
    stale = service.get(ids["b#0"])
    assert stale.review_line == PENDING_REVIEW_NOTICE and stale.approved_by is None
    again = service.transition(ids["b#0"], "approved", "dr-osei", "new text says the same")
    assert again.review_line.startswith("Approved by dr-osei")


def test_approved_lists_by_audience_most_viewed_first(service, new_article):
    a = _approve(service, new_article().id)
    b = _approve(service, new_article().id)
    p = _approve(service, new_article(audience="patient").id)
    new_article()
    service.record_view(b.id)
    assert [x.id for x in service.approved("clinician")] == [b.id, a.id]
    assert [x.id for x in service.approved("patient")] == [p.id]
    assert {x.id for x in service.approved()} == {a.id, b.id, p.id}
    assert len(service.approved(limit=1)) == 1


def test_retention_purges_only_unreviewed_articles_past_the_limit(make_service, new_article):
    clock = FakeClock()
    svc = make_service(clock=clock, retention_days=30)
    old = new_article(svc)
    svc.add_feedback(old.id, "report", reason="wrong")
    old_reviewed = new_article(svc)
    svc.transition(old_reviewed.id, "under_review", "dr-lee")
    old_approved = _approve(svc, new_article(svc).id)
    clock.now += timedelta(days=29)
    recent = new_article(svc)
    now = clock.now + timedelta(days=2)  # `old` and friends are 31 days old, `recent` 2
    assert svc.purge_expired(now) == [old.id]
    with pytest.raises(ArticleNotFoundError):
        svc.get(old.id)
    for kept in (old_reviewed, old_approved, recent):
        svc.get(kept.id)
    with svc.store.session(write=False) as session:
        for table in (EventRow, FeedbackRow):
            assert session.scalar(select(func.count()).select_from(table).where(table.article_id == old.id)) == 0
    assert svc.purge_expired(now) == []


def test_without_retention_nothing_is_purged(make_service, new_article):
    service = make_service(retention_days=None)
    article = new_article(service)
    far = article.created_at + timedelta(days=10_000)
    assert service.review.retention_days is None
    assert service.purge_expired(far) == [] and service.get(article.id) == article


def test_vectors_are_stored_as_float16(service, new_article):
    v = unit(9, dim=384)
    article = new_article(vector=v)
    with service.store.session(write=False) as session:
        blob = session.scalar(select(ArticleRow.question_vector).where(ArticleRow.id == article.id))
    assert len(blob) == 384 * 2
    assert float(np.frombuffer(blob, dtype="<f2").astype(np.float32) @ v) == pytest.approx(1.0, abs=1e-3)


def test_hashes_come_from_the_index_chunk_store(service):
    """cited_hashes / current_hashes over a real ChunkStore: a re-ingested chunk with new text, or a removed one,
    sends the approved article back to re-review."""
    from app.review import cited_hashes, current_hashes
    from core.models import Chunk, DocumentMeta
    from index.store import ChunkStore

    def store(texts: dict[str, str]) -> ChunkStore:
        docs = {d: DocumentMeta(doc_id=d, title=d) for d in {c.split("#")[0] for c in texts}}
        chunks = [Chunk(chunk_id=c, doc_id=c.split("#")[0], ordinal=int(c.split("#")[1]), text=t, start=0, sentences=[],
                        end=len(t)) for c, t in texts.items()]
        return ChunkStore(docs, chunks)

    before = store(TEXTS)
    answer = make_answer()
    assert cited_hashes(answer, before) == cited_of(answer)
    article = service.create_article("q?", "clinician", answer, "v1", cited_hashes(answer, before), unit(3))
    _approve(service, article.id)
    assert service.recheck(current_hashes(before)) == []
    after = store({**TEXTS, "nb#3": "Neuroblastoma may show calcification on CT."})
    assert current_hashes(after)(["nb#3", "gone#0"])["gone#0"] is None
    assert service.recheck(current_hashes(after)) == [article.id]
    assert service.find_approved_match(unit(3), "clinician", "v2", current_hashes(after)) is None


def test_published_questions_and_their_signature(service, new_article):
    """What related questions may offer: approved articles of the audience with a vector, nothing else; the
    signature changes whenever one is approved or leaves approved."""
    assert service.approved_signature("clinician") == () and service.approved_questions("clinician") == []
    submitted = new_article(vector=unit(5), question="Submitted, never offered?")
    published = _approve(service, new_article(vector=unit(6), question="Published question?").id)
    _approve(service, new_article(audience="patient", vector=unit(7)).id)
    _approve(service, new_article(question="No vector?").id)
    signature = service.approved_signature("clinician")
    assert signature == ((published.id, published.version),)
    rows = service.approved_questions("clinician")
    assert [(i, q) for i, q, _ in rows] == [(published.id, "Published question?")]
    assert float(rows[0][2] @ unit(6)) == pytest.approx(1.0, abs=1e-3) and submitted.id not in str(rows)
    service.transition(published.id, "under_review", "dr-osei", "withdrawn for a second look")
    assert service.approved_signature("clinician") == () and service.approved_questions("clinician") == []


@pytest.mark.parametrize("approved_q, asked_q", [
    ("What is the treatment for low-risk neuroblastoma?", "What is the treatment for high-risk neuroblastoma?"),
    ("How is stage I Wilms tumor treated?", "How is stage IV Wilms tumor treated?"),
    ("How is favorable histology Wilms tumor treated?", "How is unfavorable histology Wilms tumor treated?"),
    ("Should a child with Wilms tumor receive radiation therapy?",
     "Should a child with Wilms tumor not receive radiation therapy?"),
    ("How is Hodgkin lymphoma treated in children?", "How is Hodgkin lymphoma treated in adults?"),
    ("Is tamoxifen used after surgery for breast cancer?", "Is letrozole used after surgery for breast cancer?"),
])
def test_an_approved_answer_is_never_served_for_a_clinically_different_question(service, new_article, approved_q,
                                                                                 asked_q):
    """Issue 22, item 1: the pairs read alike (fp32 MiniLM question cosines up to 0.989, README security section) but differ in stage,
    risk group, histology, negation, population or drug: the article is not served for the other one."""
    from app.http.reviewing import same_clinical_question

    v = unit(9)
    approved = _approve(service, new_article(vector=v, question=approved_q).id)
    calls = Calls(TEXTS)
    assert service.find_approved_match(near(v, 0.99), "clinician", "v1", calls,
                                       same_clinical_question(asked_q)) is None
    same = approved_q.replace("?", " ?").replace("  ", " ")  # the same question, spelt a little differently
    assert service.find_approved_match(near(v, 0.99), "clinician", "v1", calls,
                                       same_clinical_question(same)).id == approved.id
