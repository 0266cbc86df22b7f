"""Markdown rendering escapes untrusted text and links only strict http(s) URLs (issue 9, finding 6).

The rendered Markdown is parsed the way a front-end with HTML enabled would (markdown-it, ``html=True``) and the
resulting HTML must hold no live element or link that the source text or metadata put there.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from app.query.escaping import md_escape, safe_url
from app.query.render import render_markdown
from app.query.schemas import Answer, Reference, Section, Statement
from core.contracts import DISCLAIMER_CLINICIAN
from core.models import DocType

HOSTILE = [
    "[click](javascript:alert(1))",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "<img src=x onerror=alert(1)>",
    "![pixel](https://tracker.example/p.png)",
    "<https://x.example>",
    "`code` and **bold** and ~~struck~~ and a_b_c",
    "# heading\n> quote\n1. item",
]
BAD_URLS = ["javascript:alert(1)", "https://x.example/x>[y](javascript:alert(1))", "https://x.example/a b",
            'https://x.example/"onmouseover="alert(1)', "data:text/html,<script>alert(1)</script>", "//x.example"]


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


def _answer(text: str, url: str = "https://www.cdc.gov/tb/") -> Answer:
    statement = Statement(text=text, citations=[1], chunk_id="d#0")
    return Answer(
        question=text, resolved_question=text, audience="clinician", disclaimer=DISCLAIMER_CLINICIAN,
        bottom_line=statement, sections=[Section(heading=text, statements=[statement])],
        references=[Reference(n=1, type=DocType.guideline, title=text, issuer=text, year=2020, url=url,
                              section=text, chunk_id="d#0", doc_id="d", passage=text)],
        related_questions=[text],
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_untrusted_text_never_becomes_markup(text: str):
    html = _html(render_markdown(_answer(text)))
    assert not re.search(r"<(?:script|img|iframe|svg|code|del|s|h[1245]|blockquote|a\s+href=\"j)\b", html), html
    assert html.count("<h3>") == 3  # only medcite's own: the section, References, Related questions
    assert html.count("<ol>") == 1  # the reference list
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert all(h.startswith("https://www.cdc.gov/") for h in hrefs), hrefs
    assert "onerror" not in html.split(">", 1)[0]
    visible = re.sub(r"<[^>]+>", "", html)
    first_line = text.split("\n")[0]
    for word in re.findall(r"[A-Za-z]{4,}", first_line):  # the text stays readable, only neutralised
        assert word in visible


@pytest.mark.parametrize("url", BAD_URLS)
def test_unsafe_urls_are_never_linked(url: str):
    assert safe_url(url) is None
    html = _html(render_markdown(_answer("A plain statement about tuberculosis.", url=url)))
    assert re.findall(r'href="([^"]*)"', html) == []


def test_escaping_keeps_ordinary_medical_text_readable():
    text = "Give 0.4 to 0.8 mg (400-800 μg) of folic acid daily (A recommendation); P = .01, ≥90 MME/day."
    assert md_escape(text) == text
    assert _html(md_escape(text)).strip() == f"<p>{text}</p>"
