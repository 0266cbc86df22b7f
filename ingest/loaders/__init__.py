"""Document loaders: a file in (PDF, HTML, Markdown, plain text, JSON Lines; optionally gzipped), Documents out.

Every loader returns :class:`core.models.Document` objects with clean text and exact spans:
``doc.text[h.start:h.end] == h.title`` for each heading and page spans (PDF) that cover the text in order.
Bad input raises :class:`LoadError`, whose message names the file and the problem.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = Path(tmp) / "flu-basics.md"
...     _ = path.write_text("# Flu\\n\\nRest and drink *fluids*.\\n", encoding="utf-8")
...     [doc] = load_path(path, {"issuer": "CDC", "year": "2024"})
>>> doc.meta.doc_id, doc.meta.title, doc.meta.issuer, doc.meta.year, doc.text
('flu-basics', 'Flu', 'CDC', 2024, 'Flu\\n\\nRest and drink fluids.')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.models import Document, DocumentMeta
from ingest.loaders.errors import LoadError
from ingest.loaders.frontmatter import load_markdown_file
from ingest.loaders.html import load_html
from ingest.loaders.jsonl import load_jsonl
from ingest.loaders.meta import check_defaults
from ingest.loaders.ngc import load_ngc_xml
from ingest.loaders.pdf import load_pdf
from ingest.loaders.sniff import Format, sniff_format
from ingest.loaders.text import load_text

__all__ = ["Format", "LoadError", "load_path", "sniff_format"]

_LOADERS: dict[str, Callable[[Path, Mapping[str, Any]], list[Document]]] = {
    "pdf": load_pdf,
    "html": load_html,
    "markdown": load_markdown_file,  # plain Markdown, or Markdown with YAML front matter (frontmatter.py)
    "text": load_text,
    "jsonl": load_jsonl,
    "xml": load_ngc_xml,  # National Guideline Clearinghouse summaries (ngc.py)
}


def load_path(path: Path | str, defaults: Mapping[str, Any] | DocumentMeta | None = None) -> list[Document]:
    """Load one file into Documents (one per file, or one per record for JSONL).

    ``defaults`` are DocumentMeta fields (title, issuer, year, date, date_kind, status, type, audience, url,
    license, doc_id, parent_id, focus) applied to every document of the file: they override what the file says
    about itself (Markdown front matter, NGC identifying fields); for JSONL a record's own fields override them
    and ``doc_id`` always comes from the record's ``id``. Unknown keys raise ValueError.
    """
    path = Path(path)
    meta_defaults = check_defaults(defaults)
    fmt = sniff_format(path)
    return _LOADERS[fmt](path, meta_defaults)
