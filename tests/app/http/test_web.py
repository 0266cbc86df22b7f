"""The web page in a real browser: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``) against a
live server over the small real index (``pipeline`` fixture of conftest.py).

Set up with ``bash .ci/browser-setup.sh``; run with ``python -m pytest -m browser tests/app/test_web.py``.
Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.http.factory import create_app
from core.contracts import DISCLAIMERS
from app.settings import Settings
from test_openai_client import SEED, live_server

CHROMIUM = Path("/usr/bin/chromium")


def _missing() -> str | None:
    """Why the browser tests cannot run here, if they cannot (checked before the index fixture is built)."""
    if not CHROMIUM.exists():
        return "Chromium is not installed at /usr/bin/chromium (bash .ci/browser-setup.sh)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (bash .ci/browser-setup.sh)"
    return None


pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(pipeline):
    with live_server(create_app(pipeline.settings, pipeline=pipeline)) as url:
        yield url


@pytest.fixture()
def page(browser, site):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.requests_seen = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests_seen.append(r.url))  # type: ignore[attr-defined]
    page.goto(site)
    yield page
    context.close()


def test_seed_question_citations_related_question_and_follow_up(page, site) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert page.title().startswith("medcite")
    # Labelled controls: the question box and the audience switch are reachable by their labels.
    question = page.get_by_label("Ask a clinical question")
    assert page.get_by_label("Healthcare professional").is_checked()
    assert not page.get_by_label("Patient", exact=True).is_checked()

    # An empty question gets a readable error, not a request.
    page.get_by_role("button", name="Ask").click()
    assert page.locator("#error").inner_text() == "Type a question first."

    question.fill(SEED)
    question.press("Enter")  # Enter asks
    answer = page.locator("article.answer").first
    answer.locator(".disclaimer").wait_for()
    assert page.locator("#error").is_hidden()
    headline = answer.locator(".bottom-line .headline")
    assert len(headline.inner_text()) > 30
    assert headline.locator("a.cite").count() >= 1
    assert answer.locator(".answer-section li").count() >= 1
    refs = answer.locator("ol.ref-list > li.ref")
    assert refs.count() >= 1
    first_ref = refs.first
    assert first_ref.locator(".badge").inner_text().strip().lower() in {
        "guideline", "patient information", "research", "other"}
    assert first_ref.locator(".ref-title").inner_text().strip()
    assert answer.locator(".disclaimer").inner_text() == DISCLAIMERS["clinician"]
    # every citation points at a reference of this answer
    numbers = {int(t) for t in answer.locator("a.cite").all_inner_texts()}
    assert numbers == set(range(1, refs.count() + 1))

    # A citation (via the keyboard) jumps to its reference, which is focused and highlighted.
    cite = answer.locator(".answer-section a.cite").last
    target = cite.get_attribute("data-ref")
    cite.focus()
    page.keyboard.press("Enter")
    highlighted = page.locator(f"#{target}")
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=target)
    assert "highlight" in (highlighted.get_attribute("class") or "")
    assert page.locator(".ref.highlight").count() == 1
    # ... and a mouse click on the headline's citation moves the highlight.
    head_cite = headline.locator("a.cite").first
    head_cite.click()
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id",
                           arg=head_cite.get_attribute("data-ref"))
    assert page.locator(".ref.highlight").count() == 1
    page.wait_for_timeout(600)  # let the smooth scroll and the highlight transition finish
    page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)

    # A related question asks itself, inside the same conversation.
    related = answer.locator("button.related-question")
    assert related.count() >= 1
    related_text = related.first.inner_text()
    with page.expect_request("**/v1/answer") as sent:
        related.first.click()
    assert sent.value.post_data_json["question"] == related_text
    assert [t["question"] for t in sent.value.post_data_json["turns"]] == [SEED]
    second = page.locator("article.answer").nth(1)
    second.locator(".disclaimer").wait_for()
    assert second.locator(".asked").inner_text() == related_text

    # A follow-up keeps the conversation: earlier turns go along with the chunks they cited.
    followup = page.get_by_label("Ask a follow-up")
    followup.fill("How is it treated?")
    with page.expect_request("**/v1/answer") as sent:
        page.get_by_role("button", name="Send").click()
    turns = sent.value.post_data_json["turns"]
    assert [t["question"] for t in turns] == [SEED, related_text]
    assert turns[0]["cited_chunk_ids"] and turns[0]["answer"]
    third = page.locator("article.answer").nth(2)
    third.locator(".disclaimer").wait_for()
    assert third.locator(".bottom-line .headline, .abstain").count() == 1
    assert followup.input_value() == ""

    # Every request stayed on the server: no CDN, no external fonts.
    assert page.requests_seen and all(u.startswith(site) or u.startswith("data:") for u in page.requests_seen)


def test_phone_width_patient_audience_and_new_conversation(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("Patient", exact=True).check()
    page.get_by_label("Ask a clinical question").fill("What are the symptoms of neuroblastoma?")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("article.answer").first
    answer.locator(".disclaimer").wait_for()
    assert answer.locator(".disclaimer").inner_text() == DISCLAIMERS["patient"]
    assert answer.locator(".audience-tag").inner_text() == "For patients"
    # nothing wider than the phone: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ask_box = page.get_by_role("button", name="Ask").bounding_box()
    assert ask_box is not None and ask_box["width"] > 300  # full-width button on phones
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-answer-phone.png"), full_page=True)
    page.get_by_role("button", name="Start a new conversation").click()
    assert page.locator("article.answer").count() == 0
    assert page.locator("#followup-form").is_hidden()


def test_loading_server_shows_a_readable_error(browser) -> None:
    with live_server(create_app(Settings(), pipeline=None), lifespan="off") as url:  # stays "loading"
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_label("Ask a clinical question").fill("How is Wilms tumor treated?")
        page.get_by_role("button", name="Ask").click()
        error = page.locator("#error")
        error.wait_for()
        assert "still loading" in error.inner_text()
        assert page.get_by_role("button", name="Ask").is_enabled()  # loading state cleared
        assert page.locator(".loading-card").count() == 0
        context.close()


def test_safety_notice_comes_first_and_abstention_shows_covered_topics(page) -> None:
    page.get_by_label("Ask a clinical question").fill(
        "What is the dose of zorblaxin for migraine? I have chest pain and can't breathe")
    page.get_by_role("button", name="Ask").click()
    answer = page.locator("article.answer").first
    answer.locator(".disclaimer").wait_for()
    blocks = answer.locator(":scope > *").evaluate_all("nodes => nodes.map(n => n.className)")
    assert blocks[:3] == ["answer-head", "safety", "abstain"]  # the notice before anything else
    assert "emergency" in answer.locator(".safety").inner_text().lower()
    abstain = answer.locator(".abstain")
    assert "zorblaxin" in abstain.inner_text()
    assert abstain.locator("ul.covered li").count() >= 1
    assert answer.locator(".bottom-line, ol.ref-list").count() == 0  # nothing stated without a passage
