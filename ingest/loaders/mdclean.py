"""Source-to-source Markdown cleaning rules, each a small pure function ``(markdown, ...) -> (markdown, count)``.

They work on lines (block-level helpers in :mod:`ingest.loaders.mdblocks`), leave fenced code alone and are
idempotent, so a cleaned file can be cleaned again without change. :func:`clean_generic` applies the rules that
suit any front-matter Markdown document; :mod:`ingest.loaders.profiles` adds publisher-specific ones.

>>> md = "# Flu\\n\\nRest helps.[[1](#cit/section_1.1)-[3](#cit/section_1.3)] See [x](/types/x).\\n\\n"
>>> md += "###### References\\n\\n1. Smith: Flu. 2020.\\n\\n## Next\\n\\nIntro:\\n2. Second item"
>>> text, removed = clean_generic(md)
>>> print(text)
# Flu
<BLANKLINE>
Rest helps. See x.
<BLANKLINE>
## Next
<BLANKLINE>
Intro:
<BLANKLINE>
2. Second item
>>> dict(removed)
{'reference_sections': 1, 'citation_links': 1, 'relative_links': 1, 'list_breaks': 1}
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from ingest.loaders.mdblocks import LIST_ITEM, TABLE_LINE, code_mask, drop_sections, heading_of, tidy, tidy_tables

_ORDERED_ITEM = re.compile(r"^\d{1,3}[.)][ \t]+\S")
#: A bracketed run of numeric links to in-page anchors: ``[[161](#cit/section_2.161)]``, ``[[1](#a)-[3](#b)]``.
_CITATION = re.compile(r"[ \t]*\[(?:\[\d{1,4}[a-z]?\]\(#[^)\s]*\)(?:[ \t]*[,;\u2013\u2014-][ \t]*)?)+\]")
#: A link to a relative target ("/types/x", "#_17", "../y"): dead outside its web site, so only its text stays.
_RELATIVE_LINK = re.compile(r"(?<![!\]])\[([^\[\]\n]+)\]\((?:/|#|\./|\.\./)[^)\s]*(?:[ \t]+\"[^\"\n]*\")?\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)\s]*(?:[ \t]+\"[^\"]*\")?\)")
#: Section titles whose whole section is a reference list.
REFERENCE_TITLES = frozenset({"references", "reference", "bibliography", "reference list", "works cited"})

Rule = Callable[[str], tuple[str, int]]


def drop_reference_sections(source: str) -> tuple[str, int]:
    """Remove reference-list sections (``###### References`` and the like)."""
    text, dropped = drop_sections(source, is_reference_title)
    return text, len(dropped)


def is_reference_title(title: str) -> bool:
    """'References', 'Bibliography', 'Key References for X Treatment', ...

    >>> is_reference_title("Key References for CLL Treatment"), is_reference_title("Referral criteria")
    (True, False)
    """
    key = title.strip(" :").lower()
    return key in REFERENCE_TITLES or key.startswith("key references")


def strip_citation_links(source: str) -> tuple[str, int]:
    """Remove bracketed numeric citation links entirely (with the space before them before punctuation).

    >>> strip_citation_links("Staging [[1](#cit/s.1)] is used [[2](#cit/s.2),[4](#cit/s.4)].")
    ('Staging is used.', 2)
    """
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        after = m.string[m.end() : m.end() + 1]
        if not after or after.isspace() or after in ".,;:)]":
            return ""
        return " " if m.group(0)[:1] in " \t" else ""

    return _CITATION.sub(repl, source), count


def unlink_relative(source: str) -> tuple[str, int]:
    """Replace links to relative targets by their text (absolute links stay; the loader keeps their text too).

    >>> unlink_relative("See [Table 2](/types/x#_113) and [NCI](https://www.cancer.gov).")
    ('See Table 2 and [NCI](https://www.cancer.gov).', 1)
    """
    lines = source.split("\n")
    code = code_mask(lines)
    count = 0
    for i, line in enumerate(lines):
        if not code[i] and "](" in line:
            lines[i], n = _RELATIVE_LINK.subn(r"\1", line)
            count += n
    return "\n".join(lines), count


def drop_images(source: str) -> tuple[str, int]:
    """Remove ``![alt](src "title")`` images; a line left without text is removed.

    >>> drop_images("Intro\\n\\n![A chart](c.png \\"A chart\\")\\n\\nText ![x](y.png) here")
    ('Intro\\n\\nText  here', 2)
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    count = 0
    for line, in_code in zip(lines, code, strict=True):
        if not in_code:
            line, n = _IMAGE.subn("", line)
            count += n
            if n and not line.strip():
                continue
        out.append(line)
    return tidy(out), count


def separate_interrupting_lists(source: str) -> tuple[str, int]:
    """Put a blank line before an ordered item ("2. ...") that follows a plain paragraph line.

    CommonMark lets only an item numbered 1 interrupt a paragraph, so without this "Reported:\\n2. A study"
    would read as one run-on paragraph. Items inside a list (a wrapped item line before them) are left alone.
    """
    lines = source.split("\n")
    code = code_mask(lines)
    out: list[str] = []
    count = 0
    in_list = False  # the current run of non-blank lines contains a list item
    for i, line in enumerate(lines):
        if not line.strip() or code[i]:
            in_list = False
            out.append(line)
            continue
        starts_item = bool(LIST_ITEM.match(line))
        prev = out[-1] if out else ""
        if (_ORDERED_ITEM.match(line) and prev.strip() and not in_list and not heading_of(prev)
                and not TABLE_LINE.match(prev)):
            out.append("")
            count += 1
        in_list = in_list or starts_item
        out.append(line)
    return "\n".join(out), count


def apply_rules(source: str, rules: list[tuple[str, Rule]]) -> tuple[str, Counter[str]]:
    """Run named rules in order; the counter holds each rule's non-zero count."""
    removed: Counter[str] = Counter()
    for name, rule in rules:
        source, n = rule(source)
        if n:
            removed[name] += n
    return source, removed


GENERIC_RULES: list[tuple[str, Rule]] = [
    ("reference_sections", drop_reference_sections),
    ("citation_links", strip_citation_links),
    ("relative_links", unlink_relative),
    ("images", drop_images),
    ("table_debris", tidy_tables),
    ("list_breaks", separate_interrupting_lists),
]


def clean_generic(source: str) -> tuple[str, Counter[str]]:
    """The rules for any front-matter Markdown: reference sections, citation links, relative links, images,
    table debris, list breaks."""
    return apply_rules(source, GENERIC_RULES)
