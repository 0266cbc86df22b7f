"""The review workflow in a real browser (issue 14, "done when"): ask -> keep the answer (opt-in storage) -> a reviewer
approves it in the reviewer view -> a second user (a new browser context) asking the same question sees "Approved by
<reviewer> on <date>" -> a re-ingest that changes the cited passage puts it back to "Needs re-review".

Playwright drives Debian's Chromium against a live server over a tiny corpus indexed in the test (so the test may
change it). Screenshots go to ``var/screenshots/issue14/``.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.http.factory import create_app
from app.review.settings import ReviewSettings
from app.settings import Settings
from core.contracts import PENDING_REVIEW_NOTICE
from test_openai_client import live_server
from test_review_reingest import CORPUS, GOUT_CHANGED, GOUT_Q
from test_web import CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS, _missing

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]
SHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots" / "issue14"
REVIEWER_KEY, ADMIN_KEY = "rk-lee-0001", "admin-key-0001"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from app.query.pipeline import AnswerPipeline
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("review-browser")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings()
    settings.paths.data_dir = root / "var"
    settings.paths.index_dir = root / "var" / "index"
    settings.paths.corpus_dir = corpus
    settings.paths.question_bank = root / "no-bank.jsonl"
    settings.security = settings.security.model_copy(update={"admin_keys": [ADMIN_KEY], "rate_limit_per_minute": 0})
    settings.review = ReviewSettings(store_answers="opt_in", reviewer_keys={"dr-lee": REVIEWER_KEY})
    assert ingest([corpus], settings, progress=False).written
    app = create_app(settings, pipeline=AnswerPipeline.from_settings(settings))
    with live_server(app) as url:
        yield url, app, settings


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _page(browser, url: str):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return context, page


def _ask(page, question: str):
    page.get_by_label("Ask a clinical question").fill(question)
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("article.answer").last
    answer.locator(".disclaimer").wait_for()
    return answer


def _reindex(url: str, app) -> None:
    request = urllib.request.Request(f"{url}/v1/reindex", method="POST", data=b"",
                                     headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        job_id = json.loads(response.read())["job_id"]
    job = app.state.admin.jobs.wait(job_id, timeout=300)
    assert job is not None and job.status == "done" and job.index_swapped, job


def test_ask_keep_approve_second_user_sees_approval_then_reingest_needs_re_review(served, browser) -> None:
    url, app, settings = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    today = datetime.now(timezone.utc).date().isoformat()

    # 1. A clinician asks; the answer is unreviewed and not stored until they keep it.
    first_ctx, first = _page(browser, url)
    answer = _ask(first, GOUT_Q)
    status = answer.locator(".review-status")
    assert status.inner_text().strip() == PENDING_REVIEW_NOTICE and status.get_attribute("data-status") == "unreviewed"
    first.get_by_role("button", name="Keep this answer for review").click()
    kept = first.locator("article.answer .review-status[data-status='submitted']")
    kept.wait_for()
    assert "Review status: Submitted" in kept.inner_text() and PENDING_REVIEW_NOTICE in kept.inner_text()
    article_path = kept.locator("a.review-link").get_attribute("href")
    assert article_path and article_path.startswith("/a/a-")
    first.screenshot(path=str(SHOTS / "1-kept-for-review.png"), full_page=True)

    # 2. The reviewer opens the queue with their key, starts the review and approves with a note.
    rev_ctx, reviewer = _page(browser, f"{url}/review")
    assert reviewer.locator("#ask-form").is_hidden()
    reviewer.get_by_label("Reviewer key").fill("wrong-key")
    reviewer.get_by_role("button", name="Show queue").click()
    reviewer.locator("#reviewer-message.error-text").wait_for()
    assert "refused" in reviewer.locator("#reviewer-message").inner_text()
    reviewer.get_by_label("Reviewer key").fill(REVIEWER_KEY)
    reviewer.get_by_role("button", name="Show queue").click()
    item = reviewer.locator(f"li.queue-item[data-article='{article_path[3:]}']")
    item.wait_for()
    assert item.locator(".queue-status").inner_text() == "Submitted"
    assert item.locator(".queue-question").inner_text() == GOUT_Q
    item.get_by_role("button", name="Show the answer and its feedback").click()
    item.locator(".queue-detail article.answer .disclaimer").wait_for()
    item.get_by_role("button", name="Start review").click()
    reviewer.locator(f"li.queue-item[data-article='{article_path[3:]}'][data-status='under_review']").wait_for()
    item = reviewer.locator(f"li.queue-item[data-article='{article_path[3:]}']")
    assert item.get_by_label("Published question").input_value() == GOUT_Q  # editable before it is published
    item.get_by_label("Note").fill("Checked against the gout guideline.")
    item.get_by_role("button", name="Approve").click()
    message = reviewer.locator("#reviewer-message")
    reviewer.wait_for_function("() => document.getElementById('reviewer-message').textContent.startsWith('Approved')")
    assert f"Approved by dr-lee on {today}" in message.inner_text()
    # approved articles leave the queue (the list is fetched again after the message shows: wait for it, bounded)
    reviewer.wait_for_function("() => document.querySelectorAll('.queue-item').length === 0", timeout=10_000)
    reviewer.screenshot(path=str(SHOTS / "2-reviewer-approved.png"), full_page=True)

    # 3. Another user, in a new browser context, asks the same question: the approved article answers it.
    second_ctx, second = _page(browser, url)
    answer = _ask(second, GOUT_Q)
    approved = answer.locator(".review-status.approved")
    approved.wait_for()
    assert f"Approved by dr-lee on {today}" in approved.inner_text()
    assert PENDING_REVIEW_NOTICE not in answer.inner_text()
    answer.get_by_role("button", name="Helpful", exact=True).click()
    answer.locator(".feedback-done", has_text="Thank you").wait_for()
    answer.locator("details.report summary").click()
    answer.get_by_label("Problem").select_option("outdated")
    answer.get_by_role("button", name="Send report").click()
    answer.locator(".feedback-done", has_text="report goes to the reviewers").wait_for()
    second.screenshot(path=str(SHOTS / "3-second-user-sees-approved.png"), full_page=True)

    # 4. The cited passage changes and the index is rebuilt: the article needs re-review and is not served as approved.
    (settings.paths.corpus_dir / "gout.md").write_text(GOUT_CHANGED, encoding="utf-8")
    _reindex(url, app)
    second.goto(f"{url}{article_path}")
    line = second.locator("article.answer .review-status")
    line.wait_for()
    assert "Review status: Needs re-review" in line.inner_text() and PENDING_REVIEW_NOTICE in line.inner_text()
    assert line.get_attribute("data-status") == "needs_re_review"
    second.screenshot(path=str(SHOTS / "4-article-needs-re-review.png"), full_page=True)
    second.goto(url)
    again = _ask(second, GOUT_Q)
    assert "Approved by" not in again.locator(".review-status").inner_text()
    reviewer.get_by_role("button", name="Show queue").click()
    back = reviewer.locator(f"li.queue-item[data-article='{article_path[3:]}'][data-status='needs_re_review']")
    back.wait_for()
    assert back.locator(".queue-status").inner_text() == "Needs re-review"
    assert "1 report" in back.locator(".queue-meta").inner_text()
    reviewer.screenshot(path=str(SHOTS / "5-queue-needs-re-review.png"), full_page=True)
    for ctx in (first_ctx, rev_ctx, second_ctx):
        ctx.close()


def test_with_query_keys_the_page_asks_for_a_key_and_the_reviewer_reads_articles(served, browser) -> None:
    """Issue 22 item 3: with query keys set the page sent no key (unusable) and the reviewer view's article reads were
    refused (403, counted as failed logins)."""
    from app.query.pipeline import AnswerPipeline

    _, _, base = served
    settings = base.model_copy(deep=True)
    settings.paths.data_dir = base.paths.data_dir.parent / "keyed-var"
    settings.security = settings.security.model_copy(update={"query_keys": ["qk-page-0001"],
                                                             "auth_failures_per_minute": 3})
    app = create_app(settings, pipeline=AnswerPipeline.from_settings(settings))
    with live_server(app) as url:
        ctx, page = _page(browser, url)
        page.get_by_label("Ask a clinical question").fill(GOUT_Q)
        page.get_by_role("button", name="Ask").click()
        form = page.locator("#key-form")
        form.wait_for()
        assert "asks for an API key" in page.locator("#key-message").inner_text()
        page.get_by_label("Key for this server").fill("qk-page-0001")
        page.get_by_role("button", name="Use this key").click()
        answer = page.locator("article.answer").last
        answer.locator(".disclaimer").wait_for()  # the question is asked again with the key
        assert form.is_hidden()
        page.get_by_role("button", name="Keep this answer for review").click()
        kept = page.locator("article.answer .review-status[data-status='submitted']")
        kept.wait_for()
        article_id = kept.locator("a.review-link").get_attribute("href")[3:]
        page.screenshot(path=str(SHOTS / "6-page-with-api-key.png"), full_page=True)
        rev_ctx, reviewer = _page(browser, f"{url}/review")
        reviewer.get_by_label("Reviewer key").fill(REVIEWER_KEY)
        reviewer.get_by_role("button", name="Show queue").click()
        item = reviewer.locator(f"li.queue-item[data-article='{article_id}']")
        for _ in range(4):  # more reads than the failed-login budget: none of them is refused
            item.get_by_role("button", name="Show the answer and its feedback").click()
            item.locator(".queue-detail article.answer .disclaimer").wait_for()
            item.get_by_role("button", name="Hide the answer").click()
        assert not reviewer.locator("#reviewer-message.error-text").is_visible()
        for c in (ctx, rev_ctx):
            c.close()
    app.state.review_desk.close()
