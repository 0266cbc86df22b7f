"""HTML of one NGC field made ready for the HTML loader: headings marked, numbers kept, third-party tables out.

* a short paragraph that is entirely bold becomes a heading (``h2`` when underlined or when nothing in the
  field is underlined, else ``h3``): NGC's sub-headings inside "Major Recommendations" and other fields;
* ``<ol start=4><li>x</li>`` becomes ``<div>4. x</div>``: recommendation numbers are part of the text;
* a table reprinted "with permission" of a third party is removed with its caption and source notes.

>>> html, dropped = field_html("text", ['<p><strong><u>Screening</u></strong></p><ol start="3"><li>Test yearly.</li>'
...                                      '</ol><table><tr><td>x</td></tr></table><p>Reprinted with permission.</p>'])
>>> html, dropped
('<h2>Screening</h2><div><div>3. Test yearly.</div></div>', 1)
"""

from __future__ import annotations

import html as html_lib
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

_EMPTY_VALUE = re.compile(r"^(?:none provided|none available|not stated|not applicable|none)\.?$", re.IGNORECASE)
_HEADING_CHARS = 160
_BOLD = "strong, b"
#: A source note of material used by permission of its owner (not public domain).
PERMISSION = re.compile(r"Reprinted with permission|with permission (?:of|from)|Used with permission", re.I)


def field_html(kind: str, values: list[str]) -> tuple[str | None, int]:
    """(HTML of a field with bold paragraphs turned into h2/h3 and ordered items numbered, or None when empty;
    number of third-party tables removed)."""
    if not kind.startswith("text"):  # picklists and organisation lists: one value per line
        items = "".join(f"<li>{v if '<' in v else html_lib.escape(v)}</li>" for v in values)
        return f"<ul>{items}</ul>", 0
    tree = LexborHTMLParser("<body>" + "".join(values) + "</body>")
    body = tree.body
    if body is None or _EMPTY_VALUE.match(" ".join(body.text(separator=" ").split())):
        return None, 0
    dropped = drop_reprinted_tables(body)
    _mark_headings(body)
    _number_ordered_lists(body)
    return body.inner_html, dropped


def drop_reprinted_tables(body: LexborNode) -> int:
    """Remove tables reprinted from a third party with permission, with their caption and source notes."""
    removed = 0
    for table in body.css("table"):
        doomed = [table]
        node = _sibling(table, "next")
        while node is not None and node.tag in ("p", "div") and (
            PERMISSION.search(node.text()) or node.text().lstrip().startswith("*")
        ):
            doomed.append(node)
            node = _sibling(node, "next")
        if not any(PERMISSION.search(n.text()) for n in doomed):
            continue
        caption = _sibling(table, "prev")
        if caption is not None and caption.tag in ("p", "div") and caption.text().strip().startswith("Table"):
            doomed.append(caption)
        for n in doomed:
            n.decompose()
        removed += 1
    return removed


def _sibling(node: LexborNode, direction: str) -> LexborNode | None:
    """The next/previous element sibling, skipping white-space text."""
    sib = node.next if direction == "next" else node.prev
    while sib is not None and sib.tag == "-text" and not (sib.text() or "").strip():
        sib = sib.next if direction == "next" else sib.prev
    return sib if sib is not None and sib.tag != "-text" else None


def _mark_headings(body: LexborNode) -> None:
    """Replace short all-bold paragraphs by h2 (underlined) or h3 (bold only; h2 when nothing is underlined)."""
    found: list[tuple[LexborNode, str, bool]] = []
    for node in body.css("p, div"):
        if node.css_first(_BOLD) is None or any(
            inner.mem_id != node.mem_id for inner in node.css("p, div, ul, ol, table")
        ):
            continue  # no bold text, or a container of other blocks
        text = " ".join(node.text(separator=" ").split()).strip()
        if not text or len(text) > _HEADING_CHARS:
            continue
        rest = node.clone()
        for bold in rest.css(_BOLD):
            bold.decompose()
        if " ".join(rest.text(separator=" ").split()).strip(" :"):
            continue  # part of the paragraph is not bold: an inline label, not a heading
        underlined = node.css_first("u") is not None or "underline" in node.html
        found.append((node, text.rstrip(":").strip(), underlined))
    any_underlined = any(u for _, _, u in found)
    for node, text, underlined in found:
        level = 2 if underlined or not any_underlined else 3
        heading = LexborHTMLParser(f"<h{level}>{html_lib.escape(text)}</h{level}>").css_first(f"h{level}")
        if heading is not None:
            node.replace_with(heading)


def _number_ordered_lists(body: LexborNode) -> None:
    """``<ol start=4><li>x</li>`` -> ``<div>4. x</div>``: the numbers are part of the guideline's text."""
    for ol in reversed(body.css("ol")):  # innermost first, so outer items carry already numbered inner lists
        try:
            number = int(ol.attributes.get("start") or 1)
        except ValueError:
            number = 1
        blocks = []
        for li in ol.iter():
            if li.tag == "li":
                blocks.append(f"<div>{number}. {li.inner_html}</div>")
                number += 1
        replacement = LexborHTMLParser(f"<body><div>{''.join(blocks)}</div></body>").body
        if replacement is not None and replacement.child is not None:
            ol.replace_with(replacement.child)
