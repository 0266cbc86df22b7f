"""The review line of an answer in Markdown (issue 14): approved by whom and when, else the pending notice."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from app.query.render import render_markdown
from app.query.schemas import Answer, ReviewInfo, Statement
from core.contracts import APPROVED_TEMPLATE, DISCLAIMERS, PENDING_REVIEW_NOTICE

AT = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


def _answer(**update: object) -> Answer:
    base = Answer(question="How is gout treated?", resolved_question="How is gout treated?", audience="clinician",
                  bottom_line=Statement(text="Gout is treated with colchicine.", citations=[1], chunk_id="g#0"),
                  disclaimer=DISCLAIMERS["clinician"], review_notice=PENDING_REVIEW_NOTICE)
    return base.model_copy(update=update)


def _info(status: str, label: str, reviewer: str | None = None) -> ReviewInfo:
    return ReviewInfo(article_id="a-AAAAAAAAAAAA", url="/a/a-AAAAAAAAAAAA", status=status, label=label, version=3,
                      approved_by=reviewer, approved_at=AT if reviewer else None, updated_at=AT)


def test_an_unstored_answer_carries_the_pending_notice_after_the_bottom_line():
    lines = render_markdown(_answer()).splitlines()
    assert lines[2] == f"> ⚠️ {PENDING_REVIEW_NOTICE}"
    assert lines[0].startswith("**Gout is treated")


def test_a_stored_answer_names_its_status_and_an_approved_one_its_reviewer():
    pending = render_markdown(_answer(review=_info("needs_re_review", "Needs re-review")))
    assert f"> ⚠️ *Review status: Needs re-review.* {PENDING_REVIEW_NOTICE}" in pending
    line = APPROVED_TEMPLATE.format(reviewer="Dr Lee", date="2026-03-01")
    approved = render_markdown(_answer(review=_info("approved", "Approved", "Dr Lee"), review_notice=line))
    assert "> ✅ **Approved by Dr Lee on 2026-03-01**" in approved and PENDING_REVIEW_NOTICE not in approved


def test_a_reviewer_name_cannot_inject_markup():
    line = APPROVED_TEMPLATE.format(reviewer="<img src=x onerror=alert(1)>*Dr*", date="2026-03-01")
    text = render_markdown(_answer(review=_info("approved", "Approved", "x"), review_notice=line))
    assert re.search(r"(?<!\\)<img", text) is None and "\\<img" in text and "\\*Dr\\*" in text


def test_an_abstention_has_no_review_line():
    abstained = _answer(bottom_line=None, abstained=True, abstain_reason="Not covered.", review_notice=None)
    assert "review" not in render_markdown(abstained).lower()
