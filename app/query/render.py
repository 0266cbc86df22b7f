"""Markdown rendering of an ``Answer``, shared by the CLI and the chat API.

Layout: safety notice, bold bottom line, sections of bullets ending in [n], References (type label, title, issuer,
year, pages, link), Related questions, disclaimer. Every piece of source text, metadata and user text is escaped
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


def _statement(st: Statement) -> str:
    grade = f" *({_inline(st.grade)})*" if st.grade else ""
    return f"{_inline(st.text)} {format_citations(st.citations)}{grade}"


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


def render_markdown(answer: Answer) -> str:
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
        out += [f"**{_inline(answer.bottom_line.text)}** {format_citations(answer.bottom_line.citations)}{grade}", ""]
    if answer.currency_notice:  # medcite's own wording (contracts.SUPERSEDED_NOTICE): its [n] are citations
        out += [f"> ⚠️ {answer.currency_notice}", ""]
    out += _review_lines(answer)
    for section in answer.sections:
        out += [f"### {_inline(section.heading)}", ""]
        out += [f"{f'{i}.' if section.ordered else '-'} {_statement(st)}"
                for i, st in enumerate(section.statements, start=1)]
        out.append("")
    if answer.references:
        out += ["### References", ""]
        out += [render_reference(ref) for ref in answer.references]
        out.append("")
    if answer.related_questions:
        out += ["### Related questions", ""]
        out += [f"- {_inline(q)}" for q in answer.related_questions]
        out.append("")
    out += ["---", f"*{answer.disclaimer}*"]
    return "\n".join(out)
