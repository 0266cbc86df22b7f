"""HTML loader (selectolax/lexbor): visible body text as blocks, h1-h6 as Heading spans.

Boilerplate elements (script, style, nav, header, footer, aside, noscript, form, iframe, svg, template and
anything ``hidden``/``aria-hidden``/``role=navigation``) are skipped. Block elements become separate lines,
list items get a '- ' prefix, table rows become 'cell | cell' lines, ``<pre>`` keeps its line breaks.

>>> html_to_text("<h1>Flu</h1><nav>Menu</nav><p>Rest and <b>fluids</b>.</p><ul><li>Fever</li><li>Cough</li></ul>")[0]
'Flu\\n\\nRest and fluids.\\n\\n- Fever\\n- Cough'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from core.models import Document, Heading
from ingest.loaders.build import TextBuilder, first_heading_title, make_document
from ingest.loaders.clean import normalize_inline
from ingest.loaders.decode import decode_bytes
from ingest.loaders.sniff import read_bytes

_DROP = frozenset(
    "script style nav header footer aside noscript form iframe svg template object embed canvas select button "
    "head title meta link".split()
)
_BLOCK = frozenset(
    "address article blockquote body caption dd details div dl dt fieldset figcaption figure h1 h2 h3 h4 h5 h6 "
    "hr li main ol p pre section summary table tbody thead tfoot tr ul br html".split()
)
_CELL = frozenset({"td", "th"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_LIST_CONTAINERS = frozenset({"ul", "ol"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def load_html(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """One Document; title from <title>, else the first h1/heading, else the file stem."""
    data = read_bytes(path)
    declared = _META_CHARSET.search(data[:4096])
    source = decode_bytes(data, path, declared.group(1).decode("ascii") if declared else None)
    text, headings, title = html_to_text(source)
    return [make_document(path, text, defaults, title=title, headings=headings)]


def html_to_text(source: str) -> tuple[str, list[Heading], str]:
    """(clean text, headings, title) of an HTML string."""
    tree = LexborHTMLParser(source)
    title_node = tree.head.css_first("title") if tree.head else None
    title = normalize_inline(title_node.text()) if title_node else ""
    root = tree.body or tree.root
    builder = TextBuilder()
    if root is not None:
        _walk(root, builder)
    return builder.text, builder.headings, title or first_heading_title(builder.headings)


def _skip(node: LexborNode) -> bool:
    if node.tag in _DROP:
        return True
    attrs = node.attributes
    return (
        "hidden" in attrs
        or attrs.get("aria-hidden") == "true"
        or attrs.get("role") in ("navigation", "banner", "contentinfo")
    )


class _Flusher:
    """Collects inline text and emits it as one block in the context of the innermost open block."""

    def __init__(self, builder: TextBuilder) -> None:
        self.builder = builder
        self.buffer: list[str] = []
        self.item_started = False  # the current <li> already emitted its first line
        self.line_break = False  # a <br> asked for a plain newline before the next block
        self.in_list_run = False  # the last block was a list item or table row of the same list/table

    def flush(self, open_blocks: list[str]) -> None:
        raw = "".join(self.buffer)
        self.buffer.clear()
        if not raw.strip():
            return
        kind = open_blocks[-1] if open_blocks else "body"
        if kind in _HEADINGS:
            self.builder.add(raw, heading=_HEADINGS[kind])
            return
        in_item = "li" in open_blocks
        text = raw if kind == "pre" else normalize_inline(raw)
        if kind == "tr":
            text = text.strip(" |")
        prefix = "- " if in_item and not self.item_started else ""
        listy = in_item or kind == "tr"
        tight = self.line_break or (listy and self.in_list_run)
        self.builder.add(text, sep="\n" if tight else "\n\n", prefix=prefix)
        self.item_started = self.item_started or in_item
        self.in_list_run = listy
        self.line_break = False


def _walk(root: LexborNode, builder: TextBuilder) -> None:
    """Iterative depth-first walk (no recursion limit on deeply nested pages)."""
    out = _Flusher(builder)
    open_blocks: list[str] = []
    stack: list[tuple[LexborNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        tag = node.tag
        if not entering:  # leaving a block element
            out.flush(open_blocks)
            out.line_break = False
            open_blocks.pop()
            continue
        if tag == "-text":
            out.buffer.append(node.text(deep=False) or "")
            continue
        if tag is None or tag.startswith("-") or _skip(node):
            continue
        if tag in _CELL:
            if out.buffer:
                out.buffer.append(" | ")
        elif tag == "br" and open_blocks and open_blocks[-1] in _HEADINGS:
            out.buffer.append(" ")
        elif tag in _BLOCK:
            out.flush(open_blocks)
            if tag == "li":
                out.item_started = False
            elif tag == "table" or (tag in _LIST_CONTAINERS and "li" not in open_blocks):
                out.in_list_run = False
            elif tag == "br":
                out.line_break = out.builder.length > 0
                continue
            out.line_break = False
            open_blocks.append(tag)
            stack.append((node, False))
        children = list(node.iter(include_text=True))
        stack.extend((child, True) for child in reversed(children))
    out.flush(open_blocks)
