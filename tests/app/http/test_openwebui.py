"""A real Open WebUI in front of a live medcite, driven by Playwright with Debian's Chromium (``pytest -m openwebui``).

Open WebUI (the pip package ``open-webui``, 0.12.4) lives in its own virtual environment (``var/openwebui-venv``,
``make openwebui-venv``: ``pip install torch==2.13.0`` first, then ``open-webui``); ``MEDCITE_OPENWEBUI_VENV``
names another one. The test builds a small index (the Wilms tumor PDQ summary and a few distractors: adult renal
cell, transitional cell, retinoblastoma, two small childhood summaries), serves it on a free port, starts
Open WebUI on another free port -- offline, no login, no Ollama, no telemetry, no embedding model, data under a
temporary directory -- pointed at medcite's ``/v1``, and asks the reference question and the follow-up "How is it
treated?" in the browser. Screenshots go to ``var/screenshots/issue13/``.

Run with ``make test-openwebui`` (installs what is missing) or
``python -m pytest -q -m openwebui tests/app/http/test_openwebui.py``.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from app.http.factory import create_app
from app.settings import Settings
from core.contracts import DISCLAIMERS
from test_openai_client import SEED, live_server

REPO = Path(__file__).resolve().parents[3]
VENV = Path(os.environ.get("MEDCITE_OPENWEBUI_VENV", REPO / "var" / "openwebui-venv")).absolute()  # run from a temp dir
OPEN_WEBUI = VENV / "bin" / "open-webui"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "var" / "screenshots" / "issue13"
WILMS = "types-kidney-hp-wilms-treatment-pdq"
WILMS_URL = "https://www.cancer.gov/types/kidney/hp/wilms-treatment-pdq"
#: Adult renal cell cancer (where the follow-up went before issue 13), transitional cell, retinoblastoma (Coats
#: disease, a random follow-up suggestion then) and two small childhood summaries that mention calcification (the
#: Wilms summary never does: without them the question names a word the index lacks, and medcite abstains).
DISTRACTORS = ("types-kidney-hp-kidney-treatment-pdq", "types-kidney-hp-transitional-cell-treatment-pdq",
               "types-retinoblastoma-hp-retinoblastoma-treatment-pdq", "types-brain-hp-child-cranio-treatment-pdq",
               "types-lung-hp-child-pulmonary-inflammatory-myofibroblastic-tumor-treatment-pdq")
BANK_TOPICS = ("wilms", "kidney", "renal", "retinoblastoma", "craniopharyngioma", "coats")
STARTUP_TIMEOUT_S = 240
ANSWER_TIMEOUT_MS = 120_000
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing() -> str | None:
    if not OPEN_WEBUI.exists():
        return f"Open WebUI is not installed at {VENV} (make openwebui-venv)"
    if not CHROMIUM.exists():
        return "Chromium is not installed at /usr/bin/chromium (bash .ci/browser-setup.sh)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (bash .ci/browser-setup.sh)"
    return None


pytestmark = [pytest.mark.openwebui, pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_pdq_corpus(root: Path) -> Path:
    """The Wilms tumor PDQ summary and the distractors with their corpus manifest entries; a small question bank."""
    manifest = json.loads((REPO / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    wanted = {WILMS, *DISTRACTORS}
    entries = [e for e in manifest if Path(e["path"]).name.removesuffix(".md.gz") in wanted]
    assert len(entries) == len(wanted), [e["path"] for e in entries]
    corpus = root / "corpus"
    for entry in entries:
        (corpus / entry["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "corpus" / entry["path"], corpus / entry["path"])
    (corpus / "manifest.json").write_text(json.dumps(entries), encoding="utf-8")
    with gzip.open(REPO / "corpus" / "questions" / "medquad_questions.jsonl.gz", "rt", encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh]
    keep = [q for q in questions if any(t in q["focus"].lower() for t in BANK_TOPICS)][:200]
    (root / "bank.jsonl").write_text("".join(json.dumps(q) + "\n" for q in keep), encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def medcite_url(tmp_path_factory: pytest.TempPathFactory):
    from app.query.pipeline import AnswerPipeline
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("openwebui-medcite")
    corpus = small_pdq_corpus(root)
    settings = Settings()
    settings.paths.data_dir = root / "var"
    settings.paths.index_dir = root / "var" / "index"
    settings.paths.question_bank = root / "bank.jsonl"
    settings.security.rate_limit_per_minute = 0
    t0 = time.perf_counter()
    report = ingest([corpus], settings, progress=False)
    assert report.written and not report.failures, report
    pipeline = AnswerPipeline.from_settings(settings)
    print(f"\nsmall PDQ index: {report.documents} documents, {report.chunks} chunks in {time.perf_counter() - t0:.0f} s")
    with live_server(create_app(settings, pipeline=pipeline)) as url:
        yield url


def openwebui_env(data_dir: Path, medcite_url: str) -> dict[str, str]:
    """Open WebUI offline (``OFFLINE_MODE``: no model downloads, no update check), without login, Ollama, telemetry
    or a local embedding model, its data under ``data_dir``, its only model provider medcite."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OLLAMA_", "WEBUI_"))}
    env.update({
        "DATA_DIR": str(data_dir), "OFFLINE_MODE": "True", "HF_HUB_OFFLINE": "1", "WEBUI_AUTH": "False",
        "WEBUI_SECRET_KEY": secrets.token_hex(16), "ENABLE_OLLAMA_API": "False",
        "OPENAI_API_BASE_URL": f"{medcite_url}/v1", "OPENAI_API_KEY": "not-needed",
        "ENABLE_VERSION_UPDATE_CHECK": "False", "SCARF_NO_ANALYTICS": "true", "DO_NOT_TRACK": "true",
        "ANONYMIZED_TELEMETRY": "false", "RAG_EMBEDDING_MODEL": "", "BYPASS_EMBEDDING_AND_RETRIEVAL": "True",
        "ENABLE_FOLLOW_UP_GENERATION": "True", "ENABLE_TITLE_GENERATION": "True", "ENABLE_TAGS_GENERATION": "True",
    })
    return env


@pytest.fixture(scope="module")
def openwebui_url(medcite_url: str, tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("openwebui-data")
    port = free_port()
    log_path = data / "open-webui.log"
    t0 = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(OPEN_WEBUI), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=openwebui_env(data, medcite_url), cwd=data, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Open WebUI exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Open WebUI did not start in {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        print(f"Open WebUI up in {time.perf_counter() - t0:.0f} s at {url}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(openwebui_url: str):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT_MS)
        page.goto(openwebui_url)
        yield page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "openwebui-last.png"), full_page=True)  # also after a failure
        (SCREENSHOTS / "openwebui-last.html").write_text(page.content(), encoding="utf-8")
        context.close()
        browser.close()


def ask(page, question: str, n: int):
    """Type ``question`` into the chat box, send it, and return the ``n``-th (0-based) assistant reply once it
    has its disclaimer (streaming done)."""
    box = page.locator("#chat-input")
    box.wait_for()
    if page.locator("div[role=dialog]").count():  # the "what's new" dialog of a fresh install
        page.keyboard.press("Escape")
        page.locator("div[role=dialog]").wait_for(state="detached")
    box.click()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    reply = page.locator("#response-content-container").nth(n)
    reply.get_by_text(DISCLAIMERS["clinician"][:60]).wait_for(timeout=ANSWER_TIMEOUT_MS)
    return reply


def follow_ups(page) -> list[str]:
    """Open WebUI's follow-up suggestions under the last reply (from its background follow-up request)."""
    labels = page.locator('button[aria-label^="Follow up:"]').evaluate_all("els => els.map(e => e.innerText)")
    return [label.strip() for label in labels]


def wait_for_new_follow_ups(page, before: list[str], timeout_s: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = follow_ups(page)
        if now and now != before:
            return now
        page.wait_for_timeout(250)
    return follow_ups(page)


def test_open_webui_shows_linked_citations_and_keeps_the_topic(page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    first = ask(page, SEED, 0)
    # the bold bottom line, a citation that links to its source, the References and the disclaimer
    bottom = first.locator("p").first.locator("strong")
    assert len(bottom.inner_text()) > 30
    cite = first.get_by_role("link", name="[1]").first
    assert cite.get_attribute("href") == WILMS_URL
    assert cite.get_attribute("title", timeout=5000).startswith("Wilms Tumor")  # hover shows the source
    references = first.locator("h3", has_text="References")
    assert references.count() == 1
    assert "Wilms Tumor" in first.locator("h3:text-is('References') + ol > li").first.inner_text()
    assert first.locator("em", has_text=DISCLAIMERS["clinician"][:60]).count() == 1
    assert first.locator("h3", has_text="Related questions").count() == 0  # Open WebUI suggests follow-ups itself
    suggested = wait_for_new_follow_ups(page, [])
    assert suggested, "Open WebUI showed no follow-up suggestions"
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "openwebui-answer.png"), full_page=True)
    first.screenshot(path=str(SCREENSHOTS / "openwebui-answer-message.png"))

    second = ask(page, "How is it treated?", 1)
    # the follow-up stays on the Wilms tumor (before issue 13 it answered about adult renal cell cancer)
    assert "Wilms Tumor" in second.locator("h3:text-is('References') + ol > li").first.inner_text()
    assert second.get_by_role("link", name="[1]").first.get_attribute("href") == WILMS_URL
    assert len(second.locator("p").first.locator("strong").inner_text()) > 30
    # its follow-up suggestions (a request that truncates the middle of each message) are about it too
    after = wait_for_new_follow_ups(page, suggested)
    assert after and after != suggested and "Wilms" in after[0], after
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "openwebui-follow-up.png"), full_page=True)
    second.screenshot(path=str(SCREENSHOTS / "openwebui-follow-up-message.png"))
