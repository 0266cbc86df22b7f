"""Sections of a document: heuristic heading detection for PDFs and heading-nested section spans.

PDF text (pypdf) has no heading markup, so :func:`detect_pdf_headings` looks for short stand-alone lines in
ALL CAPS, Title Case or numbered ("2.1 Hand Hygiene", "Recommendation 3"). Precision comes first: a line is a
heading only if the line before it ends a sentence or block, the line after it does not continue it in lower
case, and it is not a running header repeated across pages.

>>> from core.models import Document, DocumentMeta, Heading
>>> text = "Intro text.\\nMethods\\nWe did it.\\nDosing\\nTake 2 mg."
>>> doc = Document(meta=DocumentMeta(doc_id="d", title="T"), text=text, headings=[
...     Heading(start=12, end=19, level=1, title="Methods"), Heading(start=31, end=37, level=2, title="Dosing")])
>>> [(path, text[s:e].strip()) for path, s, e in section_spans(doc)]
[([], 'Intro text.'), (['Methods'], 'We did it.'), (['Methods', 'Dosing'], 'Take 2 mg.')]
"""

from __future__ import annotations

import bisect
import re
import statistics
from collections import Counter
from dataclasses import dataclass

from core.models import Document, Heading

_MAX_HEADING_CHARS = 90
_MAX_HEADING_WORDS = 12
_MAX_MERGED_LINES = 3
#: A line repeated (letters only) on at least this share of pages (and >= 3 pages) is a running header/footer.
_RUNNING_SHARE = 0.25
#: Lines this close to the top or bottom of a page are checked for running headers.
_EDGE_LINES = 3

_SMALL_WORDS = frozenset(
    "a an the and or nor but of to in on for with by at from as vs via per into onto about than over under "
    "after before during without within between among your you is are".split()
)
_CONTINUATION_WORDS = frozenset("a an the and or of to in on for with by at from as into than".split())
_SECTION_WORDS = frozenset(
    """abstract introduction background methods methodology results discussion conclusion conclusions summary
    references recommendations objectives scope purpose definitions glossary acknowledgments acknowledgements
    appendix appendices contents overview rationale implementation foreword preface abbreviations bibliography
    evidence limitations resources treatment diagnosis symptoms prevention causes""".split()
)
_NUMBERED = re.compile(r"(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\S.*)")
_KEYWORD = re.compile(
    r"(?i:(chapter|part|appendix|annex|section|recommendation))\s+(\d{1,3}|[A-Z]|[IVX]{1,5})\b[:.]?\s*(.*)"
)
_KEYWORD_LEVEL = {"chapter": 1, "part": 1, "appendix": 1, "annex": 1, "section": 2, "recommendation": 3}
_REJECT_START = re.compile(  # captions, notes, page labels, people, bullets
    r"(?:(?:Fig(?:ure)?|Table|Box|Sources?|Notes?:|Page|Version|Last|Dr|Prof|Professor|Mr|Mrs|Ms)\b"
    r"|[-\u2022\u25aa\u25cf*\u2013])",
    re.I,
)
_REJECT_ANY = re.compile(r"\.\.\.|\u2026|\. |;|http|www\.|@|\[|\]|\u00a9|_{2,}| {2,}\S+ {2,}")
_PAGE_NUMBER = re.compile(r"(?i:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|[ivxlc]{1,6}")
_URL = re.compile(r"https?://|www\.|@")
_LIST_START = re.compile(r"[-\u2022\u25aa\u25cf*\u2013]|\(?\d{1,2}[.)]\s")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")


@dataclass(frozen=True)
class _Line:
    start: int  # offsets of the stripped line in doc.text
    end: int
    text: str
    page: int  # index into doc.pages, -1 outside every page
    blank_before: bool  # a blank line or a page start precedes it


def section_spans(doc: Document) -> list[tuple[list[str], int, int]]:
    """``(section_path, start, end)`` for each section of ``doc.text``, in text order.

    ``section_path`` holds the heading titles from the outermost to the current one (a heading closes every open
    heading of the same or a deeper level); text before the first heading has the path ``[]``. Heading lines are
    not body text: a section starts after its heading, and the previous one ends at the start of the heading's
    line when only markup (like ``## ``) precedes the heading on that line.
    """
    text = doc.text
    spans: list[tuple[list[str], int, int]] = []
    stack: list[tuple[int, str]] = []
    path: list[str] = []
    pos = 0
    for h in sorted(doc.headings, key=lambda h: (h.start, h.end)):
        if h.start < pos or h.end > len(text) or h.end < h.start:
            continue  # overlapping or out-of-range heading: ignore it rather than corrupt offsets
        line_start = text.rfind("\n", 0, h.start) + 1
        cut = line_start if line_start >= pos and not any(c.isalnum() for c in text[line_start : h.start]) else h.start
        if cut > pos:
            spans.append((list(path), pos, cut))
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        stack.append((h.level, h.title.strip()))
        path = [title for _, title in stack]
        pos = h.end
    if pos < len(text) or not spans:
        spans.append((list(path), pos, len(text)))
    return spans


def detect_pdf_headings(doc: Document) -> Document:
    """A copy of a paged document (PDF) with ``headings`` found heuristically; other documents unchanged.

    Documents without pages, or that already have headings, are returned as they are. Levels: the depth of a
    numbered heading ("2.1" -> 2), 1 for ALL CAPS and chapter-like headings, 2 for Title Case ones and
    "Section N", 3 for "Recommendation N". A heading wrapped over up to three lines becomes one heading whose
    title joins the lines with single spaces.
    """
    if not doc.pages or doc.headings or not doc.text.strip():
        return doc
    lines = _lines(doc)
    running = _running_keys(lines, len(doc.pages))
    forms = [None if _letters_key(line.text) in running else _heading_form(line.text) for line in lines]
    widths = [len(line.text) for line in lines if len(line.text) >= 20]
    wide = 0.7 * (statistics.median(widths) if widths else 60.0)
    per_page = Counter((line.page, _letters_key(line.text)) for line in lines)
    blocks: list[tuple[int, int, int, str]] = []  # first line, last line, level, title
    i = 0
    while i < len(lines):
        form = forms[i]
        prev = lines[i - 1] if i else None
        after_heading = bool(blocks) and blocks[-1][1] == i - 1
        if form is None or not _stands_alone(lines[i], prev, running, wide, after_heading):
            i += 1
            continue
        j, title = i, lines[i].text
        while j + 1 < len(lines) and j - i + 1 < _MAX_MERGED_LINES and _wraps_into(lines[j], lines[j + 1], title, wide):
            j += 1
            title = f"{title} {lines[j].text}"
        nxt = lines[j + 1] if j + 1 < len(lines) else None
        ok = nxt is not None and _opens_body(nxt.text, forms[j + 1], form[1])
        ok = ok and not (form[0] == "title" and len(title.split()) >= 3 and _continues_name(title, nxt.text))
        ok = ok and not (_acronym_entry(title, True) and any(_acronym_entry(x.text) for x in (prev, nxt) if x))
        ok = ok and _last_word(title) not in _CONTINUATION_WORDS
        ok = ok and per_page[(lines[i].page, _letters_key(lines[i].text))] == 1
        ok = ok and not (form[0] == "title" and len(lines[j].text) >= wide)  # a full-width line runs on
        if ok:
            blocks.append((i, j, form[1], title))
            i = j + 1
        else:
            i += 1
    headings = [Heading(start=lines[a].start, end=lines[b].end, level=lvl, title=t) for a, b, lvl, t in blocks]
    return doc.model_copy(update={"headings": headings})


def page_furniture(doc: Document) -> list[tuple[int, int]]:
    """Spans of running headers/footers and page-number lines of a paged document, in text order.

    These lines are not content: the chunker leaves them out of sentences. ``[]`` for documents without pages.
    """
    if not doc.pages:
        return []
    lines = _lines(doc)
    running = _running_keys(lines, len(doc.pages))
    spans: list[tuple[int, int]] = []
    for page_lines in _by_page(lines).values():
        for k, line in enumerate(page_lines):
            edge = k < _EDGE_LINES or k >= len(page_lines) - _EDGE_LINES
            if _letters_key(line.text) in running or (edge and _PAGE_NUMBER.fullmatch(line.text)):
                spans.append((line.start, line.end))
    return sorted(spans)


def _lines(doc: Document) -> list[_Line]:
    """Non-blank lines with stripped offsets, their page index and whether a blank line or page start precedes."""
    starts = [p.start for p in doc.pages]
    out: list[_Line] = []
    last_end, last_page = -1, -2
    for m in re.finditer(r"[^\n\f]+", doc.text):
        raw = m.group()
        stripped = raw.strip()
        if not stripped:
            continue
        s = m.start() + (len(raw) - len(raw.lstrip()))
        idx = bisect.bisect_right(starts, s) - 1
        page = idx if idx >= 0 and s < doc.pages[idx].end else -1
        gap = doc.text[last_end:m.start()] if last_end >= 0 else "\n\n"
        blank = gap.count("\n") >= 2 or "\f" in gap or page != last_page
        out.append(_Line(s, s + len(stripped), stripped, page, blank))
        last_end, last_page = m.end(), page
    return out


def _by_page(lines: list[_Line]) -> dict[int, list[_Line]]:
    by_page: dict[int, list[_Line]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    return by_page


def _letters_key(line: str) -> str:
    return "".join(c for c in line.lower() if c.isalpha())


def _running_keys(lines: list[_Line], n_pages: int) -> set[str]:
    """Letter-only keys of running headers and footers.

    A key is running when it occurs on many pages, or among the first or last lines of three consecutive pages
    (a chapter's running title); a heading that merely happens to open several pages is not running.
    """
    pages_of: dict[str, set[int]] = {}
    edge_pages_of: dict[str, set[int]] = {}
    for page, page_lines in _by_page(lines).items():
        for k, line in enumerate(page_lines):
            key = _letters_key(line.text)
            if not key:
                continue
            pages_of.setdefault(key, set()).add(page)
            if k < _EDGE_LINES or k >= len(page_lines) - _EDGE_LINES:
                edge_pages_of.setdefault(key, set()).add(page)
    threshold = max(3, _RUNNING_SHARE * n_pages)
    running = {key for key, pages in pages_of.items() if len(pages) >= threshold}
    consecutive = {key for key, pages in edge_pages_of.items() if sum(p + 1 in pages for p in pages) >= 2}
    return running | consecutive


def _last_word(line: str) -> str:
    return line.rsplit(None, 1)[-1].lower() if line.strip() else ""


def _heading_form(line: str) -> tuple[str, int] | None:
    """``(style, level)`` a line would have as a heading by its form alone, or None when it cannot be one.

    >>> _heading_form("2.1 Hand Hygiene"), _heading_form("INTRODUCTION"), _heading_form("Take 5 mg daily.")
    (('numbered', 2), ('caps', 1), None)
    """
    if not 3 <= len(line) <= _MAX_HEADING_CHARS or _REJECT_ANY.search(line) or _REJECT_START.match(line):
        return None
    if line.count("(") != line.count(")") or line.count(",") > 1 or len(line.split()) > _MAX_HEADING_WORDS:
        return None
    words = _WORD.findall(line)
    letters = sum(len(w) for w in words)
    if letters < 3 or letters < 0.5 * len(line.replace(" ", "")):
        return None
    if m := _KEYWORD.match(line):
        rest = m.group(3).strip()
        ok = not rest or _is_caps(rest) or _is_title(rest)
        return ("keyword", _KEYWORD_LEVEL[m.group(1).lower()]) if ok and line[-1] not in ".," else None
    if line[-1] in ".,;:/-(&" or line.split()[-1].isdigit():
        return None  # ends a sentence, runs on, or is a table-of-contents entry
    if m := _NUMBERED.fullmatch(line):
        depth = m.group(1).count(".") + 1
        rest = m.group(2)
        marked = depth > 1 or line[len(m.group(1))] == "." or "  " in line or _is_caps(rest)
        marked = marked or rest.lower() in _SECTION_WORDS  # "1 Information Way" is an address, not a heading
        styled = _is_caps(rest) or _is_title(rest) or (depth >= 2 and len(rest.split()) <= 8)
        if marked and rest[0].isupper() and styled:
            return ("numbered", min(depth, 6))
        return None
    if line[0].isdigit():
        return None
    if _is_caps(line):
        plain = not any(c.isdigit() or c in "/_" for c in line)
        return ("caps", 1) if plain and letters >= 4 and (len(words) > 1 or letters >= 5) else None
    if ":" in line or (line.endswith("?") and len(words) < 2):
        return None
    if _is_title(line) and (len(words) > 1 or line.lower() in _SECTION_WORDS):
        return ("title", 2)
    return None


def _is_caps(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _is_title(s: str) -> bool:
    words = _WORD.findall(s)
    if not words or not words[0][0].isupper():
        return False
    return all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words)


def _stands_alone(line: _Line, prev: _Line | None, running: set[str], wide: float, after_heading: bool) -> bool:
    """Whether ``line`` starts a block: nothing on the previous line runs on into it."""
    if prev is None or line.blank_before or after_heading:
        return True
    if prev.text[-1] in ".!?:;)" or _letters_key(prev.text) in running or not any(c.isalpha() for c in prev.text):
        return True
    short = len(prev.text) < wide
    return short and prev.text[-1] not in ",-(/&" and _last_word(prev.text) not in _CONTINUATION_WORDS


def _wraps_into(cur: _Line, nxt: _Line, title: str, wide: float) -> bool:
    """Whether ``nxt`` is the next line of a heading (so far ``title``) wrapped over several lines."""
    if nxt.blank_before or nxt.page != cur.page or len(title) + len(nxt.text) > _MAX_HEADING_CHARS + 30:
        return False
    text = nxt.text
    if _is_caps(title) and _is_caps(text) and text[-1] not in ".:;," and not any(c.isdigit() for c in text):
        return True
    fragment = (
        len(text.split()) <= 6
        and text[-1] not in ".:;,/-"
        and not (_REJECT_ANY.search(text) or _REJECT_START.match(text) or any(c.isdigit() for c in text))
        and (_is_title(text.lstrip("(&")) or _is_caps(text))
    )
    if not fragment:
        return False
    runs_on = _last_word(title) in _CONTINUATION_WORDS or title[-1] in "-/&"
    return runs_on or text[0] in "(&" or (len(cur.text) >= wide and _heading_form(text) is None)


def _opens_body(text: str, form: tuple[str, int] | None, level: int) -> bool:
    """Whether a line can start the body under a heading of ``level``: running text, not a sibling heading.

    Lines of names, addresses and references (no lower-case word, a URL or an e-mail address) do not open a body.
    """
    if text[0].islower() or (form is not None and form[1] <= level) or _URL.search(text, 0, 40):
        return False  # a continuation, a heading of the same rank (the candidate heads nothing), a reference
    if _LIST_START.match(text) or text[-1] in ".!?:" or form is not None:
        return True  # a sentence, a list or a sub-heading
    words = _WORD.findall(text)
    return len(words) >= 8 or (len(words) >= 3 and any(w[0].islower() and w not in _SMALL_WORDS for w in words))


def _continues_name(title: str, text: str) -> bool:
    """Whether ``text`` starts with two new capitalised words: the tail of a wrapped Title Case name.

    "Implementation of the OSHA Bloodborne" + "Pathogens Standard has helped ..." is one sentence, while
    "Adhere to Standard Precautions" + "Standard Precautions are ..." is a heading whose body repeats it.
    """
    first = text.split()[:2]
    if len(first) < 2 or _is_caps(text) or first[0].strip("(),:").lower() in title.lower().split():
        return False
    return all(w[0].isupper() and w.lower() not in _SMALL_WORDS for w in first)


def _acronym_entry(text: str, spelled_out: bool = False) -> bool:
    """An abbreviation-list entry such as "IHR International Health Regulations" (or "ICU intensive care")."""
    head, _, rest = text.partition(" ")
    if not (len(head) >= 2 and head.isalpha() and head.isupper() and rest and not _is_caps(rest)):
        return False
    return not spelled_out or rest[0] == head[0]  # the expansion starts like the acronym
