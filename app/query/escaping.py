"""Safe output of untrusted text: Markdown/HTML escaping and strict URL validation.

Document text and metadata come from uploads and corpora, and questions from users; none of it may become live
markup in a client that renders Markdown with HTML enabled. :func:`md_escape` backslash-escapes every character
that could open markup (CommonMark treats an escaped character as a literal), and :func:`safe_url` keeps only
plain ``http``/``https`` URLs that cannot break out of a Markdown link or autolink.

>>> md_escape('<script>alert(1)</script> [click](javascript:alert(1)) *P* = .01')
'\\\\<script\\\\>alert(1)\\\\</script\\\\> \\\\[click\\\\](javascript:alert(1)) \\\\*P\\\\* = .01'
>>> md_escape("1. Not a list; # not a heading")
'1\\\\. Not a list; # not a heading'
>>> safe_url("https://www.cancer.gov/types/kidney/hp/wilms-treatment-pdq#_900")
'https://www.cancer.gov/types/kidney/hp/wilms-treatment-pdq#_900'
>>> [safe_url(u) for u in ("javascript:alert(1)", "https://x.example/x>[y](javascript:alert(1))", "http:///x")]
[None, None, None]
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Characters that can open inline markup or raw HTML anywhere in a line.
_INLINE = re.compile(r"([\\`*_\[\]<>~])|&(?=#?\w+;)")
#: Block markers that only matter at the start of a line (headings, quotes, list items, thematic breaks).
_BLOCK_START = re.compile(r"^(\s*)(?:(#{1,6}|>|[-+=])(?=\s|$)|(\d{1,9})([.)])(?=\s|$))")
#: Characters a URL may contain here: RFC 3986 unreserved and reserved characters and '%', minus brackets and
#: the apostrophe -- no spaces, quotes, angle brackets, backslashes or backticks, so it can sit inside ``<...>`` or
#: ``(...)`` in Markdown and in an HTML attribute.
_URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#@!$&()*+,;=%]+$")
MAX_URL_CHARS = 2000


def md_escape(text: str) -> str:
    """``text`` with Markdown and HTML markup characters escaped (it renders as the same visible text)."""
    escaped = _INLINE.sub(lambda m: "\\" + (m.group(1) or "&"), text)
    return "\n".join(_BLOCK_START.sub(_escape_block, line) for line in escaped.split("\n"))


def _escape_block(match: re.Match[str]) -> str:
    lead, marker, number, dot = match.groups()
    return f"{lead}{number}\\{dot}" if number else f"{lead}\\{marker}"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and only plain URL characters, else None."""
    if not url or len(url) > MAX_URL_CHARS or not _URL_CHARS.match(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if url.count("(") != url.count(")"):
        return None
    return url


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: object, where: str = "") -> str | None:
    """Where the first lone surrogate (invalid Unicode, e.g. JSON ``"\\ud800"``) sits in a JSON-like value, else None.

    >>> lone_surrogate({"messages": [{"content": "ok"}, {"content": "bad \\ud800"}]})
    'messages[1].content'
    >>> lone_surrogate({"question": "fine"}) is None
    True
    """
    if isinstance(value, str):
        return where or "value" if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for path, item in items:
        found = lone_surrogate(item, path)
        if found:
            return found
    return None


def reject_lone_surrogates(data: object) -> object:
    """Pydantic ``mode="before"`` model validator: a lone surrogate anywhere in the input is a clear error (it
    cannot be encoded as UTF-8, so it would otherwise fail deep inside tokenizers or response encoding)."""
    where = lone_surrogate(data)
    if where:
        raise ValueError(f"{where} contains a lone surrogate (invalid Unicode); send valid UTF-8 text")
    return data
