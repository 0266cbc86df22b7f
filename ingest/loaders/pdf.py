"""PDF loader (pypdf): page-numbered clean text, running headers/footers removed.

Each PDF is parsed once. Per page the text is normalised, running lines (lines in the top or bottom three
of most pages, compared with digits ignored: page numbers, journal banners, printed URLs) are dropped, and
wrapped lines are re-joined by :func:`join_lines`. Pages are joined with a blank line; ``Document.pages``
holds one span per page that has text.
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PyPdfError

from core.models import Document, PageSpan
from ingest.loaders.build import make_document
from ingest.loaders.clean import normalize_inline, normalize_text
from ingest.loaders.errors import LoadError
from ingest.loaders.sniff import read_bytes

log = logging.getLogger(__name__)

_ZONE = 3  # lines at the top and bottom of a page that may be running headers/footers
_RUNNING_SHARE = 0.5  # a line is running when it recurs on at least this share of pages (and >= 3 pages)
_BULLET_RE = re.compile(r"^[•●▪■◦○‣⁃∙·\uf0a7\uf0b7\uf076\uf0d8]\s*")
_ROMAN_RE = re.compile(r"^[ivxlc]{1,6}$")
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_HYPHEN_END_RE = re.compile(r"([^\W\d_]+(?:-[^\W\d_]+)*)-$")
_BROKEN_WORD_RE = re.compile(r"[^\W\d_]+-\n[^\W\d_]*")
_LEADING_WORD_RE = re.compile(r"[^\W\d_]+")
_SENTENCE_END_RE = re.compile(r"[.!?:;][\"'”’)\]]*$")
_URL_END_RE = re.compile(r"(?:https?://|www\.)\S*[./_-]$")
_URL_PART_RE = re.compile(r"^[a-z0-9][\w%~-]*[./?=&#]")
_FUNCTION_WORDS = frozenset("a an and as at between by for from in into of on or than that the to with without".split())


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs and warns noisily about harmless quirks; mute it while we read (restored afterwards)."""
    logger = logging.getLogger("pypdf")
    old = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old)


def load_pdf(path: Path, defaults: Mapping[str, Any]) -> list[Document]:
    """One Document per PDF; LoadError for truncated, corrupt, encrypted or text-less files."""
    data = _read_complete(path)
    with _quiet_pypdf():
        reader = _open(path, data)
        raw_pages = _extract_pages(path, reader)
        meta_title = _metadata_title(reader)
    pages = clean_pages(raw_pages)
    text, spans = _join_pages(pages)
    if not text:
        raise LoadError(path, "no extractable text (scanned or image-only PDF?)")
    return [make_document(path, text, defaults, title=meta_title, pages=spans)]


def pdf_page_count(path: Path) -> int:
    """Pages of a PDF, read from its page tree without extracting any text (LoadError when unreadable).

    Lets a caller apply a page limit before the expensive extraction (a 100,000-page PDF took 86 s to parse).
    """
    data = _read_complete(path)
    with _quiet_pypdf():
        return len(_open(path, data).pages)


def _read_complete(path: Path) -> bytes:
    data = read_bytes(path)
    if b"%%EOF" not in data[-4096:]:
        raise LoadError(path, "truncated PDF (no %%EOF end marker)")
    return data


def _open(path: Path, data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(path, "encrypted PDF (password required)")
        _ = len(reader.pages)
    except LoadError:
        raise
    except DependencyError as exc:
        raise LoadError(path, f"encrypted PDF needs an extra package to decrypt ({exc})") from None
    except FileNotDecryptedError:
        raise LoadError(path, "encrypted PDF (password required)") from None
    except (LimitReachedError, MemoryError) as exc:
        raise LoadError(path, f"too large to parse: the file inflates past the decompression limit "
                        f"({type(exc).__name__}); a decompression bomb?") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise LoadError(path, f"corrupt PDF ({type(exc).__name__}: {exc})") from None
    return reader


def _extract_pages(path: Path, reader: PdfReader) -> list[str]:
    """Raw text per page; an unreadable page is logged and left empty rather than failing the file."""
    texts: list[str] = []
    failed = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            texts.append(page.extract_text() or "")
        except (LimitReachedError, MemoryError) as exc:  # a decompression bomb: too large, not corrupt
            raise LoadError(path, f"too large to parse: page {number} inflates past the decompression limit "
                            f"({type(exc).__name__}); a decompression bomb?") from None
        except Exception as exc:  # pypdf raises many types on broken content streams
            failed += 1
            log.warning("%s: page %d unreadable (%s: %s); skipped", path, number, type(exc).__name__, exc)
            texts.append("")
    if texts and failed == len(texts):
        raise LoadError(path, "corrupt PDF (no page could be read)")
    return texts


def _metadata_title(reader: PdfReader) -> str:
    """The /Title entry when it looks like a real title (not empty, 'untitled' or a file name)."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:  # broken /Info dictionaries are common and harmless
        return ""
    title = normalize_inline(str(raw or "")).removeprefix("Microsoft Word - ")
    if (
        sum(c.isalpha() for c in title) < 3
        or title.lower() in {"untitled", "title", "document", "slide 1"}
        or re.search(r"\.(?:docx?|pdf|indd|qxd|pptx?|rtf|txt)$", title, re.IGNORECASE)
    ):
        return ""
    return title


def clean_pages(raw_pages: list[str]) -> list[str]:
    """Normalise each page, drop running headers/footers, re-join wrapped lines (pages stay aligned)."""
    lines_per_page = [[ln for ln in normalize_text(p).split("\n") if ln] for p in raw_pages]
    lines_per_page = drop_imprint_lines(drop_running_lines(lines_per_page))
    vocabulary = _vocabulary(lines_per_page)
    return ["\n".join(join_lines(lines, vocabulary)) for lines in lines_per_page]


def _vocabulary(pages: list[list[str]]) -> set[str]:
    """Lower-cased words (hyphenated compounds kept whole) outside line-break hyphenations."""
    words: set[str] = set()
    for lines in pages:
        words.update(w.lower() for w in _WORD_RE.findall(_BROKEN_WORD_RE.sub(" ", "\n".join(lines))))
    return words


def _running_key(line: str) -> str:
    key = re.sub(r"\s+", "", line.lower())
    if _ROMAN_RE.match(key):
        return "#"
    return re.sub(r"\d+", "#", key)


def drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove lines near the top/bottom that recur (digits ignored) on most pages.

    >>> pages = [["MMWR", f"Body text {c}.", f"{i}/9"] for i, c in enumerate("abcd", start=1)]
    >>> drop_running_lines(pages)[0]
    ['Body text a.']
    """
    with_text = sum(1 for lines in pages if lines)
    if with_text < 3:
        return pages
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_running_key(lines[i]) for i in _zone(len(lines))})
    threshold = max(3, math.ceil(_RUNNING_SHARE * with_text))
    running = {key for key, n in counts.items() if n >= threshold}
    if not running:
        return pages
    out = []
    for lines in pages:
        drop = {i for i in _zone(len(lines)) if _running_key(lines[i]) in running}
        out.append([ln for i, ln in enumerate(lines) if i not in drop])
    return out


#: Publisher imprint lines (agency names, publication codes) that print on a page but are not content.
_IMPRINT_RE = re.compile(
    r"^(?:U\.?S\.? Department of(?: Health (?:and|&) Human Services)?|Health (?:and|&) Human Services|"
    r"Centers for Disease(?: Control and Prevention)?|"
    r"Control and Prevention|National Institutes of Health|NIH Publication No\.? [\w-]+(?:,? \w+ \d{4})?|"
    r"(?:CS)?\d{5,7} ?\| ?\w+ \d{4}|www\.cdc\.gov(?:/\S*)?)$",
    re.IGNORECASE,
)


def drop_imprint_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove whole lines that are only a publisher imprint (they otherwise glue onto the last sentence).

    >>> drop_imprint_lines([["Weight loss", "U.S. Department of Health and Human Services", "301332 | October 2023"]])
    [['Weight loss']]
    """
    return [[ln for ln in lines if not _IMPRINT_RE.match(ln.strip())] for lines in pages]


def _zone(n: int) -> set[int]:
    return set(range(min(_ZONE, n))) | set(range(max(0, n - _ZONE), n))


def join_lines(lines: list[str], vocabulary: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Re-join lines wrapped inside a paragraph; keep separate lines (headings, bullets) apart.

    A line is joined to the previous one when the previous ends with a word hyphen (de-hyphenated unless
    the document spells the word with a hyphen, or never unhyphenated while both parts are words in it;
    kept before an uppercase letter or digit, as in 'COVID-19'), inside a URL, or when it does not end a
    sentence and plainly continues: the next line starts lowercase or with '(', or the previous one ends
    with a comma or a function word ('of', 'the').
    Leading bullet glyphs become '- '.

    >>> join_lines(["Treatment of TB is long: the treat-", "ment lasts months for COVID-", "19 patients", "in the"])
    ['Treatment of TB is long: the treatment lasts months for COVID-19 patients in the']
    >>> join_lines(["Symptoms include:", "• cough", "lasting weeks", "Fever"])
    ['Symptoms include:', '- cough lasting weeks', 'Fever']
    >>> join_lines(["evidence-", "based care"], {"evidence-based"})
    ['evidence-based care']
    >>> join_lines(["longer-", "term benefits", "the treat-", "ment"], {"longer", "term", "treat"})
    ['longer-term benefits the treatment']
    """
    out: list[str] = []
    pending_bullet = False  # a bullet glyph alone on its line belongs to the next line
    for raw in lines:
        line, is_bullet = _BULLET_RE.subn("- ", raw)
        if not line.strip("- "):
            pending_bullet = pending_bullet or bool(is_bullet)
            continue
        if pending_bullet and not is_bullet:
            line, is_bullet = "- " + line, 1
        pending_bullet = False
        if out and not is_bullet:
            joined = _join_pair(out[-1], line, vocabulary)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(line)
    return out


def _join_pair(prev: str, line: str, vocabulary: set[str] | frozenset[str]) -> str | None:
    """``prev`` and ``line`` as one line, or None when they should stay separate lines."""
    first = line[0]
    if _URL_END_RE.search(prev) and _URL_PART_RE.match(line):
        return prev + line
    if m := _HYPHEN_END_RE.search(prev):
        if not first.isalpha() or not first.islower():
            return prev + line if first.isalnum() else None
        head = m.group(1).lower()
        tail_match = _LEADING_WORD_RE.match(line)
        tail = tail_match.group(0).lower() if tail_match else ""
        return prev + line if _keep_hyphen(head, tail, vocabulary) else prev[:-1] + line
    if _SENTENCE_END_RE.search(prev) or line.startswith("- "):
        return None
    last_word = prev.rsplit(" ", 1)[-1].lower()
    if first.islower() or first in "([" or prev.endswith(",") or last_word in _FUNCTION_WORDS:
        return f"{prev} {line}"
    return None


def _keep_hyphen(head: str, tail: str, vocabulary: set[str] | frozenset[str]) -> bool:
    """Is 'head-' + 'tail' at a line break a real compound? Decided by how the document spells words."""
    last = head.rsplit("-", 1)[-1]  # 'methicillin-resis' + 'tant' is decided on 'resis' + 'tant'
    if f"{last}{tail}" in vocabulary:
        return False
    if f"{head}-{tail}" in vocabulary or f"{last}-{tail}" in vocabulary:  # 'point-of-care'
        return True
    # both halves are words of the document: 'longer-term' yes, 'treat-ment' / 'pa-renti' no
    return min(len(last), len(tail)) >= 3 and last in vocabulary and tail in vocabulary


def _join_pages(pages: list[str]) -> tuple[str, list[PageSpan]]:
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, page_text in enumerate(pages, start=1):
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        spans.append(PageSpan(page=number, start=offset, end=offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    return "".join(parts), spans
