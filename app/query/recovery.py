"""The cited sources of an earlier answer, recovered from its Markdown (for clients that send only the text back).

Chat front-ends (Open WebUI, LibreChat) return earlier assistant turns as plain ``content``, without the
structured answer. medcite's Markdown (:mod:`app.query.render`) still names every source: the References section
(``1. *Type* — **Title**. Issuer, year. § Section. <url>``) and, in chat, every ``[n]`` is a link to its source's
URL titled with the source's title (``[[1]](https://... "Title")``), so even a truncated turn (Open WebUI keeps
the first and last 500 characters of a message for its follow-up prompt) names the bottom line's source.

:func:`parse_sources` reads what survives: per reference number the title, the link and the statements citing
it. :class:`SourceFinder` maps them to the loaded index: title and link pick the documents, the statements (source
sentences, verbatim or trimmed) pick the chunks, else the reference's section, else the document's first chunk.

>>> md = '''**CT confirms the renal origin.** [[1]](https://x.example/wilms "Wilms Tumor")
... ### References
... 1. *Evidence summary* — **Wilms Tumor**. NCI, 2025. § Diagnosis. <https://x.example/wilms>'''
>>> [(s.n, s.title, s.url, s.statements) for s in parse_sources(md)]
[(1, 'Wilms Tumor', 'https://x.example/wilms', ('CT confirms the renal origin.',))]
"""

from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from app.query.followup import MAX_CONTEXT_TURNS
from app.query.schemas import Turn
from index.store import ChunkStore

#: A citation rendered as a link: ``[[3]](url "title")`` (brackets possibly backslash-escaped).
_CITE_LINK = re.compile(r'\[\\?\[(\d{1,3})\\?\]\]\(((?:[^()\s]|\([^()\s]*\))+)(?:\s+"((?:[^"\\]|\\.)*)")?\)')
_REFERENCE = re.compile(r"^\s*(\d{1,3})\.\s+\*[^*\n]+\*\s+—\s+\*\*((?:\\.|[^\\*]|\*(?!\*))+)\*\*\.(.*)$")
_URL_AT_END = re.compile(r"<(https?://[^>\s]+)>\s*$")
_LEAD = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}\.\s+|>\s*)?(?:⚠️\s*)?")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[^\W_]+")
#: Shortest statement fragment (canonical characters) worth looking up in chunk texts.
MIN_FRAGMENT_CHARS = 20
#: Documents one reference may stand for (same title and link: e.g. the sections of one patient page).
MAX_CANDIDATE_DOCS = 60
#: Chunks returned per reference found only by its title or link (no statement or section matched).
FALLBACK_CHUNKS = 3
MAX_CHUNKS = 50
#: Bounds on the work one answer text may cause (a client controls it): lines looked at (longer ones are no
#: medcite line), references mapped, statement fragments looked up per reference, chunk rows searched per reference.
MAX_LINE_CHARS = 4000
MAX_REFERENCES = 10
MAX_FRAGMENTS = 4
MAX_ROWS = 600
#: Chunk rows looked at per answer text, over all its references, fragments and the section fallback (a crafted
#: turn of ten references to the longest document cost 40 ms of CPU without it, 3 such turns per request; issue 22,
#: item 2).
MAX_ROW_CHECKS = 2000


class CitedSource(NamedTuple):
    """One reference of a rendered answer, as far as its text survived."""

    n: int
    title: str
    url: str
    section_text: str  # the reference line after the title (issuer, year, § section, date, link), '' if lost
    statements: tuple[str, ...]


def unescape(text: str) -> str:
    r"""Markdown backslash escapes removed: ``\*P\* = .01`` -> ``*P* = .01``."""
    return _ESCAPED.sub(r"\1", text)


def canonical(text: str) -> str:
    """Lower-case letters and digits, single-spaced: how statements and chunk texts are compared.

    >>> canonical("Megestrol acetate | 160–800 mg daily…")
    'megestrol acetate 160 800 mg daily'
    """
    return _NON_WORD.sub(" ", text.lower()).strip()


def split_citations(line: str) -> tuple[str, list[int]] | None:
    """(text, numbers) of a line ending in citations (then maybe an italic grade), else None; linear time.

    >>> split_citations("- Surgery first. [1][3] *(Level of evidence C1 (PDQ))*")
    ('- Surgery first.', [1, 3])
    >>> split_citations("No citation here.") is None
    True
    """
    end = len(line.rstrip())
    if line.endswith(")*", 0, end):
        grade = line.rfind("*(", 0, end)
        if grade != -1:
            end = len(line[:grade].rstrip())
    numbers: list[int] = []
    while line.endswith("]", 0, end):
        start = line.rfind("[", max(0, end - 5), end)
        digits = line[start + 1: end - 1] if start != -1 else ""
        if not digits.isdigit():
            break
        numbers.append(int(digits))
        end = start
    return (line[:end].rstrip(), numbers[::-1]) if numbers else None


def parse_sources(markdown: str) -> list[CitedSource]:
    """The references of a rendered answer (by number) with the statements that cite them; [] for other text."""
    titles: dict[int, str] = {}
    urls: dict[int, str] = {}
    rest: dict[int, str] = {}
    statements: dict[int, list[str]] = {}

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        urls.setdefault(n, match.group(2))
        if match.group(3):
            titles.setdefault(n, unescape(match.group(3)))
        return f"[{n}]"

    for raw in markdown.splitlines():
        if len(raw) > MAX_LINE_CHARS:
            continue
        line = _CITE_LINK.sub(link, raw)
        ref = _REFERENCE.match(line)
        if ref:
            n = int(ref.group(1))
            titles[n] = unescape(ref.group(2)).strip()
            rest[n] = ref.group(3)
            url = _URL_AT_END.search(ref.group(3))
            if url:
                urls[n] = url.group(1)
            continue
        stated = split_citations(line)
        if not stated:
            continue
        text = unescape(_LEAD.sub("", stated[0])).strip().strip("*").strip()
        for n in stated[1]:
            if text and text not in statements.setdefault(n, []):
                statements[n].append(text)
    numbers = sorted(set(titles) | set(urls))[:MAX_REFERENCES]
    return [CitedSource(n, titles.get(n, ""), urls.get(n, ""), rest.get(n, ""), tuple(statements.get(n, [])))
            for n in numbers]


class SourceFinder:
    """Maps recovered references to documents and chunks of one loaded index (lookup tables built once)."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self._by_title: dict[str, list[str]] = {}
        self._by_url: dict[str, list[str]] = {}
        for doc_id, meta in store.documents.items():
            self._by_title.setdefault(canonical(meta.title), []).append(doc_id)
            if meta.url:
                self._by_url.setdefault(meta.url.strip(), []).append(doc_id)

    def documents(self, source: CitedSource) -> list[str]:
        """Documents the reference names: those matching title and link, else title, else link."""
        by_title = self._by_title.get(canonical(source.title), []) if source.title else []
        by_url = self._by_url.get(source.url, []) if source.url else []
        both = [d for d in by_title if d in set(by_url)]
        return (both or by_title or by_url)[:MAX_CANDIDATE_DOCS]

    def with_citations(self, turns: list[Turn], recent: int = MAX_CONTEXT_TURNS) -> list[Turn]:
        """``turns`` where each of the ``recent`` last ones (those follow-up resolution looks at) with an answer
        text but no cited chunk ids gets those its text names."""
        cut = max(0, len(turns) - recent)
        return turns[:cut] + [turn if turn.cited_chunk_ids or not turn.answer
                              else turn.model_copy(update={"cited_chunk_ids": self.chunk_ids(turn.answer)})
                              for turn in turns[cut:]]

    def topics(self, chunk_ids: Sequence[str]) -> list[str]:
        """The topics (focus, else title) of the documents of ``chunk_ids``, in order, unknown ids left out."""
        out: list[str] = []
        for chunk_id in chunk_ids:
            try:
                out.append(self.store.meta_of_row(self.store.row_of(chunk_id)).topic)
            except KeyError:
                continue
        return list(dict.fromkeys(out))

    def chunk_ids(self, markdown: str) -> list[str]:
        """Chunk ids the answer cited, in reference order (at most :data:`MAX_CHUNKS`); [] when none is found."""
        out: list[str] = []
        budget = [MAX_ROW_CHECKS]
        for source in parse_sources(markdown):
            out += self._chunks_of(source, budget)
        return list(dict.fromkeys(out))[:MAX_CHUNKS]

    def _chunks_of(self, source: CitedSource, budget: list[int]) -> list[str]:
        docs = self.documents(source)
        if not docs:
            return []
        store = self.store
        rows = [r for d in docs for r in store.rows_of_document(d)][:MAX_ROWS]
        pieces = [p for s in source.statements for p in s.split("…") if len(canonical(p)) >= MIN_FRAGMENT_CHARS]
        found: list[str] = []
        for piece in pieces[:MAX_FRAGMENTS]:
            # a plain substring test on its longest word narrows the rows; the canonical text then decides, for at
            # most ``budget[0]`` rows over the whole answer text
            probe = max(_WORD.findall(piece), key=len)
            fragment = canonical(piece)
            hits: list[str] = []
            for r in rows:
                if len(hits) == 2 or budget[0] <= 0:
                    break
                budget[0] -= 1
                if probe in store.chunks[r].text and fragment in canonical(store.chunks[r].text):
                    hits.append(store.chunks[r].chunk_id)
            found += hits
        if found:
            return list(dict.fromkeys(found))
        if source.section_text:
            named: dict[tuple, bool] = {}  # rows of one section share the answer: each section is looked at once
            rows = rows[:max(budget[0], 0)]
            budget[0] -= len(rows)
            for r in rows:
                key = (store.chunks[r].doc_id, *store.chunks[r].section_path)
                if key not in named:
                    named[key] = self._section_named(r, source.section_text)
            in_section = [r for r in rows if named[(store.chunks[r].doc_id, *store.chunks[r].section_path)]]
            if in_section:
                return [store.chunks[r].chunk_id for r in in_section[:FALLBACK_CHUNKS]]
        firsts = [store.rows_of_document(d)[0] for d in docs[:FALLBACK_CHUNKS] if store.rows_of_document(d)]
        return [store.chunks[r].chunk_id for r in firsts]

    def _section_named(self, row: int, reference_text: str) -> bool:
        """The reference line shows this chunk's section (``§ A › B.``), as :mod:`app.query.citing` writes it."""
        chunk, meta = self.store.chunks[row], self.store.meta_of_row(row)
        section = " ".join(" › ".join(p for p in chunk.section_path if p != meta.title).split())
        return bool(section) and f"§ {section}." in unescape(reference_text)
