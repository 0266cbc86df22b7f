"""Markdown loader (markdown-it-py, CommonMark + tables): ATX and setext headings become Heading spans.

Inline markup is reduced to plain text (emphasis dropped, link text kept, images give their alt text,
inline HTML dropped); list items get '- ' or 'N. ' prefixes; table rows become 'cell | cell' lines; code
blocks keep their lines. A leading YAML front-matter block is removed and its ``title:`` used.

>>> source = "# Asthma\\n\\nUse an *inhaler*, see [NHS](https://nhs.uk).\\n\\nTriggers\\n---\\n- dust"
>>> text, headings, title = markdown_to_text(source)
>>> text
'Asthma\\n\\nUse an inhaler, see NHS.\\n\\nTriggers\\n\\n- dust'
>>> [(h.title, h.level) for h in headings], title
([('Asthma', 1), ('Triggers', 2)], 'Asthma')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from selectolax.lexbor import LexborHTMLParser

from core.models import Document, Heading
from ingest.loaders.build import TextBuilder, first_heading_title, make_document
from ingest.loaders.decode import decode_bytes
from ingest.loaders.sniff import read_bytes

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"""^title:[ \t]*["']?(.*?)["']?[ \t]*$""", re.MULTILINE)


def load_markdown(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """One Document; title from front matter, else the first h1/heading, else the file stem."""
    text, headings, title = markdown_to_text(decode_bytes(read_bytes(path), path))
    return [make_document(path, text, defaults, title=title, headings=headings)]


def markdown_to_text(source: str) -> tuple[str, list[Heading], str]:
    """(clean text, headings, title) of a Markdown string."""
    source = source.replace("\r\n", "\n").lstrip("\ufeff")
    title = ""
    if m := _FRONT_MATTER.match(source):
        if t := _FRONT_TITLE.search(m.group(1)):
            title = t.group(1).strip()
        source = source[m.end() :]
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    builder = TextBuilder()
    _render_blocks(parser.parse(source), builder)
    return builder.text, builder.headings, title or first_heading_title(builder.headings)


def _render_blocks(tokens: Sequence[Token], builder: TextBuilder) -> None:
    lists: list[str] = []  # token types of the open lists, innermost last
    prefix = ""  # marker waiting for the first block of the current list item
    row: list[str] | None = None  # cells of the current table row
    row_sep = "\n\n"
    tight = False  # inside a list, after its first block: items are separated by single newlines
    for i, tok in enumerate(tokens):
        kind = tok.type
        sep = "\n" if tight else "\n\n"
        if kind in ("bullet_list_open", "ordered_list_open"):
            tight = bool(lists)
            lists.append(kind)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            tight = bool(lists)
        elif kind == "list_item_open":
            ordered = lists and lists[-1] == "ordered_list_open"
            prefix = f"{tok.info}{tok.markup} " if ordered else "- "
        elif kind == "table_open":
            row_sep = "\n\n"
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            builder.add(" | ".join(row), sep=row_sep)
            row, row_sep = None, "\n"
        elif kind == "inline":
            text = inline_text(tok.children or [])
            opener = tokens[i - 1]
            if row is not None:
                row.append(" ".join(text.split()))
            elif opener.type == "heading_open":
                builder.add(text, heading=int(opener.tag[1]))
            else:
                builder.add(text, sep=sep, prefix=prefix)
                prefix, tight = "", bool(lists)
        elif kind in ("fence", "code_block"):
            builder.add(tok.content, sep=sep, prefix=prefix)
            prefix, tight = "", bool(lists)
        elif kind == "html_block":
            builder.add(_html_text(tok.content), sep=sep)


def inline_text(children: Sequence[Token]) -> str:
    """Plain text of an inline token's children."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


def _html_text(fragment: str) -> str:
    tree = LexborHTMLParser(fragment)
    for node in tree.css("script, style"):
        node.decompose()
    root = tree.body or tree.root
    return root.text(separator=" ") if root is not None else ""
