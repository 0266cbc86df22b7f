"""Markdown rendering of an ``Answer``, shared by the CLI and the chat API.

Layout: safety notice, bold bottom line, sections of bullets ending in [n], References (type label, title, issuer,
year, pages, link), Related questions, disclaimer. With ``link_citations`` (the chat API) each [n] is a Markdown link
to its source's URL titled with the source's title, ``[[1]](https://... "Title")``: chat front-ends render it as a
clickable "[1]" (Open WebUI opens links in a new tab and gives headings no ids, so an in-message anchor such as
``#ref-1`` would lead nowhere), and a turn sent back as text still names its sources (:mod:`app.query.recovery`).
A reference without a URL keeps a plain [n]. Every piece of source text, metadata and user text is escaped
(:func:`app.query.escaping.md_escape`) and links are strict http(s) URLs (:func:`app.query.escaping.safe_url`), so a document
or a question cannot inject markup or a ``javascript:`` link into a client that renders Markdown with HTML on.
"""

from __future__ import annotations

from app.query.escaping import md_escape, safe_url
from app.query.schemas import Answer, Reference, Statement
from core.contracts import ABSTENTION_COVERED_PREFIX, PARTIAL_INDEX_NOTICE, format_citations


def _inline(text: str) -> str:
    """One line of escaped text: untrusted text can neither open markup nor start a new block."""
    return md_escape(" ".join(text.split()))


Links = dict[int, tuple[str, str]]


def _cites(numbers: list[int], links: Links | None) -> str:
    """``[1][2]``, or with ``links`` (n -> (url, title)) ``[[1]](url "title")`` for each number that has a URL.

    >>> _cites([2, 1], {1: ("https://x.example/a", "Wilms Tumor")})
    '[[1]](https://x.example/a "Wilms Tumor")[2]'
    """
    if not links:
        return format_citations(numbers)
    out = []
    for n in sorted(set(numbers)):
        if n in links:
            url, title = links[n]
            out.append(f'[[{n}]]({url} "{title}")')
        else:
            out.append(f"[{n}]")
    return "".join(out)


def citation_links(answer: Answer) -> Links:
    """Reference number -> (safe URL, escaped title for a link title) of every reference with a URL."""
    return {ref.n: (url, _inline(ref.title).replace('"', '\\"')) for ref in answer.references
            if (url := safe_url(ref.url))}


#: Marks a statement the language model wrote (verified against its citations); explained once per answer.
GENERATED_MARK = "†"


def _statement(st: Statement, links: Links | None = None) -> str:
    grade = f" *({_inline(st.grade)})*" if st.grade else ""
    mark = GENERATED_MARK if st.generated else ""
    return f"{_inline(st.text)}{mark} {_cites(st.citations, links)}{grade}"


def render_reference(ref: Reference) -> str:
    """One reference line, e.g. ``1. *Guideline* — **Title**. CDC, 2022. p. 4. § Section. Released 2022-11. <url>``."""
    parts = [f"{ref.n}. *{ref.type.value}* — **{_inline(ref.title)}**."]
    who = ", ".join(str(x) for x in (ref.issuer, ref.year) if x)
    if who:
        parts.append(f"{_inline(who)}.")
    if ref.pages:
        pages = ref.pages
        parts.append(f"p. {pages[0]}." if len(pages) == 1 else f"pp. {pages[0]}–{pages[-1]}.")
    if ref.section:
        parts.append(f"§ {_inline(ref.section)}.")
    if ref.date:
        parts.append(f"{_inline(ref.date[:1].upper() + ref.date[1:])}.")
    if ref.possibly_superseded:
        parts.append("**May be superseded** (older than the configured age).")
    if ref.status:
        parts.append(f"*{_inline(ref.status)}*")
    if url := safe_url(ref.url):
        parts.append(f"<{url}>")
    return " ".join(parts)


def _review_lines(answer: Answer) -> list[str]:
    """The review line (issue 14): approved by whom and when, or the pending-human-review notice with the status."""
    if not answer.review_notice:
        return []
    review = answer.review
    if review is not None and review.status == "approved":
        return [f"> ✅ **{_inline(answer.review_notice)}**", ""]
    status = f"*Review status: {_inline(review.label)}.* " if review is not None else ""
    return [f"> ⚠️ {status}{_inline(answer.review_notice)}", ""]


def render_markdown(answer: Answer, *, link_citations: bool = False, related: bool = True) -> str:
    """The answer as Markdown; ``link_citations`` links each [n] to its source, ``related=False`` leaves out the
    related questions (for clients that suggest follow-ups themselves)."""
    links = citation_links(answer) if link_citations else None
    out: list[str] = []
    if answer.safety_notice:
        out += [f"> ⚠️ **{answer.safety_notice}**", ""]
    if answer.index is not None and answer.index.partial:  # still building: say what served the answer
        out += [f"> ⏳ {answer.index.notice or PARTIAL_INDEX_NOTICE}", ""]
    if answer.abstained:
        out += [f"**{_inline(answer.abstain_reason or 'No answer.')}**", ""]
        if answer.covered_topics:
            out += [f"{ABSTENTION_COVERED_PREFIX} " + "; ".join(map(md_escape, answer.covered_topics)) + ".", ""]
    elif answer.bottom_line:
        grade = f" *({_inline(answer.bottom_line.grade)})*" if answer.bottom_line.grade else ""
        mark = GENERATED_MARK if answer.bottom_line.generated else ""
        out += [f"**{_inline(answer.bottom_line.text)}**{mark} {_cites(answer.bottom_line.citations, links)}{grade}",
                ""]
    if not answer.abstained and answer.generator.startswith("llm"):
        out += [f"> {GENERATED_MARK} Written by a language model ({_inline(answer.generator[4:])}) from the cited "
                "passages; every such sentence was checked against the passage it cites (its numbers, drug names and "
                "meaning).", ""]
    elif answer.generator_notice:
        out += [f"> ℹ️ {_inline(answer.generator_notice)}", ""]
    if answer.currency_notice:  # medcite's own wording (contracts.SUPERSEDED_NOTICE): its [n] are citations
        out += [f"> ⚠️ {answer.currency_notice}", ""]
    out += _review_lines(answer)
    for section in answer.sections:
        out += [f"### {_inline(section.heading)}", ""]
        out += [f"{f'{i}.' if section.ordered else '-'} {_statement(st, links)}"
                for i, st in enumerate(section.statements, start=1)]
        out.append("")
    if answer.references:
        out += ["### References", ""]
        out += [render_reference(ref) for ref in answer.references]
        out.append("")
    if answer.related_questions and related:
        out += ["### Related questions", ""]
        out += [f"- {_inline(q)}" for q in answer.related_questions]
        out.append("")
    out += ["---", f"*{answer.disclaimer}*"]
    return "\n".join(out)
