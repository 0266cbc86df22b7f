"""Block-level helpers and rules for Markdown source: headings, sections, paragraphs and ``|`` tables.

Line-based and aware of fenced code (never touched); used by :mod:`ingest.loaders.mdclean` and the cleaning
profiles. Every rule returns the new Markdown and a count.

>>> heading_of("## Treatment"), _opens_block("| a | b |"), _opens_block("Plain text.")
((2, 'Treatment'), True, False)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
LIST_ITEM = re.compile(r"^[ \t]*(?:\d{1,3}[.)]|[-*+])[ \t]+\S")
TABLE_LINE = re.compile(r"^[ \t]*\|")
_DELIMITER_ROW = re.compile(r"^[ \t]*\|(?:[ \t]*:?-{3,}:?[ \t]*\|)+[ \t]*$")
_EMPTY_ROW = re.compile(r"^[ \t]*\|(?:[ \t]*\|)+[ \t]*$")


def heading_of(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line, else None.

    >>> heading_of("### Stage I ###"), heading_of("#hashtag")
    ((3, 'Stage I'), None)
    """
    m = _ATX.match(line)
    return (len(m.group(1)), m.group(2).strip()) if m else None


def code_mask(lines: list[str]) -> list[bool]:
    """True for lines inside (or fencing) a fenced code block: rules never touch them."""
    mask, fence = [], ""
    for line in lines:
        m = _FENCE.match(line)
        if fence:
            mask.append(True)
            if m and m.group(1) == fence:
                fence = ""
        elif m:
            fence = m.group(1)
            mask.append(True)
        else:
            mask.append(False)
    return mask


def tidy(lines: list[str]) -> str:
    """Join lines, collapse runs of blank lines, strip the ends."""
    return re.sub(r"\n(?:[ \t]*\n){2,}", "\n\n", "\n".join(lines)).strip("\n")


def drop_sections(source: str, is_dropped: Callable[[str], bool]) -> tuple[str, list[str]]:
    """Remove every section whose heading title satisfies ``is_dropped``, up to the next heading of the same or
    a higher level; returns the text and the titles removed.

    >>> md = "# A\\n\\nx\\n\\n## Contact Us\\n\\ny\\n\\n### Sub\\n\\nz\\n\\n## B\\n\\nw"
    >>> drop_sections(md, {"Contact Us"}.__contains__)
    ('# A\\n\\nx\\n\\n## B\\n\\nw', ['Contact Us'])
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    dropped: list[str] = []
    skip_level = 0  # > 0 while inside a dropped section of that level
    for line, in_code in zip(lines, code, strict=True):
        h = None if in_code else heading_of(line)
        if h and skip_level and h[0] <= skip_level:
            skip_level = 0
        if h and not skip_level and is_dropped(h[1]):
            skip_level = h[0]
            dropped.append(h[1])
        if not skip_level:
            out.append(line)
    return tidy(out), dropped


def tidy_tables(source: str) -> tuple[str, int]:
    """Drop empty rows and repeated delimiter rows inside tables (conversion debris: "|  |  |", "| --- |").

    >>> tidy_tables("| A | B |\\n| --- | --- |\\n|  |  |\\n| --- | --- |\\n| x | y |")
    ('| A | B |\\n| --- | --- |\\n| x | y |', 2)
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    count = 0
    row = 0  # position of the line inside the current table block
    for line, in_code in zip(lines, code, strict=True):
        if in_code or not TABLE_LINE.match(line):
            row = 0
            out.append(line)
            continue
        row += 1
        if (row > 2 and _DELIMITER_ROW.match(line)) or _EMPTY_ROW.match(line):
            count += 1
            continue
        out.append(line)
    return "\n".join(out), count


def drop_tables(source: str, classify: Callable[[str], str | None]) -> tuple[str, Counter[str]]:
    """Remove ``|`` table blocks that ``classify`` labels (e.g. 'ajcc'), with their caption line.

    The caption is the one-line paragraph just before the table when it starts with "Table N" or is a short
    line without final punctuation ("Definitions of TNM Stage I"). Returns the text and a count per label.

    >>> md = "Text.\\n\\nTable 1. Stages\\n\\n| a | b |\\n| --- | --- |\\n| x | (c) AJCC |\\n\\nAfter."
    >>> drop_tables(md, lambda t: "ajcc" if "AJCC" in t else None)
    ('Text.\\n\\nAfter.', Counter({'ajcc': 1}))
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    counts: Counter[str] = Counter()
    i = 0
    while i < len(lines):
        if code[i] or not TABLE_LINE.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and not code[j] and TABLE_LINE.match(lines[j]):
            j += 1
        label = classify("\n".join(lines[i:j]))
        if label is None:
            out.extend(lines[i:j])
        else:
            counts[label] += 1
            _drop_caption(out)
        i = j
    return tidy(out), counts


def _drop_caption(out: list[str]) -> None:
    """Pop the caption paragraph (one line, then blank lines) at the end of ``out``, if there is one."""
    k = len(out)
    while k and not out[k - 1].strip():
        k -= 1
    if not k or (k >= 2 and out[k - 2].strip()):
        return  # nothing before, or a multi-line paragraph: not a caption
    line = out[k - 1].strip()
    caption = re.match(r"(?:\*\*)?Table \d", line) or (
        len(line) <= 120 and not heading_of(line) and not LIST_ITEM.match(line) and line[-1] not in ".:;?!,"
    )
    if caption:
        del out[k - 1 :]


def drop_paragraphs(
    source: str, starts: Callable[[str], bool], follows: Callable[[str], bool] = lambda p: False
) -> tuple[str, int]:
    """Remove paragraphs whose first line satisfies ``starts`` and, after each, the paragraphs that satisfy
    ``follows`` (credit lines of a figure caption). A paragraph ends at a blank line or a line that opens
    another block (heading, list item, table). Returns the text and the number of ``starts`` paragraphs.

    >>> drop_paragraphs("A.\\n\\nFigure 1. Map\\nof x.\\n\\n(c) 2009 Wiley\\n- item\\n\\n(c) kept\\n\\nB.",
    ...                 lambda p: p.startswith("Figure 1."), lambda p: "(c)" in p)
    ('A.\\n\\n- item\\n\\n(c) kept\\n\\nB.', 1)
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    count = 0
    i = 0
    following = False  # just removed a matching paragraph: look at the next one with ``follows``
    while i < len(lines):
        line = lines[i]
        if code[i] or not line.strip():
            out.append(line)
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and not code[j] and not _opens_block(lines[j]):
            j += 1
        paragraph = "\n".join(lines[i:j])
        if _opens_block(line) and not LIST_ITEM.match(line):
            following = False
            out.extend(lines[i:j])
        elif starts(paragraph):
            count += 1
            following = True
        elif following and follows(paragraph):
            pass
        else:
            following = False
            out.extend(lines[i:j])
        i = j
    return tidy(out), count


def _opens_block(line: str) -> bool:
    return bool(heading_of(line) or LIST_ITEM.match(line) or TABLE_LINE.match(line))
