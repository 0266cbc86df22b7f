"""Rule-based sentence splitting tuned for medical text (guidelines, patient leaflets, MedQuAD answers).

One regex pass finds break candidates (terminal punctuation, blank lines, single line breaks, inline bullets);
small rules then veto false breaks: abbreviations (``e.g.``, ``Dr.``, ``Fig. 2``, ``U.S.``, ``et al.``), list
markers (``1. Wash hands``), lower-case continuations (``2.5 mg. daily``) and wrapped PDF lines. Decimals never
break because a break needs white space after the punctuation. Pure Python, several MB/s.

>>> text = "Take 2.5 mg (approx. 0.5 mL/kg) daily, e.g. at 8 a.m. Ask Dr. Lee.    - Avoid alcohol."
>>> [text[s:e] for s, e in split_sentences(text)]
['Take 2.5 mg (approx. 0.5 mL/kg) daily, e.g. at 8 a.m. Ask Dr. Lee.', 'Avoid alcohol.']
>>> text = "Key Points\\n- ALL is a cancer.\\n- It is rare.   Treatment   Chemotherapy is used."
>>> [text[s:e] for s, e in split_sentences(text)]
['Key Points', 'ALL is a cancer.', 'It is rare.', 'Treatment', 'Chemotherapy is used.']

A grade tag after a sentence's period belongs to that sentence (USPSTF grades, VA/DoD strengths, PDQ levels):

>>> text = "Screen persons at increased risk. (A recommendation) Treat them. (Level of evidence: C1)"
>>> [text[s:e] for s, e in split_sentences(text)]
['Screen persons at increased risk. (A recommendation)', 'Treat them. (Level of evidence: C1)']
"""

from __future__ import annotations

import re

#: Sentences longer than this many words are split further at ";", " - " and line breaks.
LONG_SENTENCE_WORDS = 60
#: Pieces of a split long sentence are regrouped up to this many words.
LONG_PIECE_WORDS = 40
#: A single line of at most this many characters / words may stand alone as a heading-like sentence.
_HEADING_LINE_CHARS = 80
_HEADING_LINE_WORDS = 12

#: Tokens (lower case, final period removed) after which a period never ends a sentence.
_ABBREVIATIONS = frozenset(
    """e.g i.e eg ie dr drs mr mrs ms prof vs v approx al st sr jr cf viz ca mt gen col lt rev hon dept univ
    assn assoc inc ltd corp incl esp resp spp ssp var sp subsp ed eds govt""".split()
)
#: Tokens that are abbreviations only when a number follows (``Fig. 2``, ``No. 5``; but ``No. It is not.``).
_BEFORE_NUMBER = frozenset(
    """no nos fig figs vol vols p pp ref refs sec eq eqs ch chap art tab tabs n para app suppl
    jan feb mar apr jun jul aug sep sept oct nov dec min max est avg""".split()
)
#: Words after which a wrapped line is certainly continued on the next line.
_CONTINUATION_WORDS = frozenset(
    "a an the and or of to in on for with by from at as than that which who whose is are was were be "
    "not nor but if its their his her our your this these those such into onto per via".split()
)

_CANDIDATE = re.compile(
    r"(?P<para>[ \t\r]*(?:\n[ \t\r]*\n|\f)\s*)"  # blank line or form feed: always a break
    r"|(?P<nl>[ \t\r]*\n[ \t\r]*)"  # single line break: a break when a list item or heading line ends
    r"|(?P<bullet>(?:[ \t]{2,}|(?<=:)[ \t]+)[-\u2013*][ \t]+|[ \t]*[\u2022\u25aa\u25e6\u25cf\u25a0\u27a2\u25ba][ \t]*)"
    r"|(?P<gap>[ \t]{3,}(?=[A-Z]))"  # a wide gap before a capital separates labels (MedQuAD "Treatment   X")
    r"|(?P<term>[.!?\u2026]+[\"'\u201d\u2019)\]]*)(?=\s|$)"  # terminal punctuation followed by white space
)
_LIST_MARKER = re.compile(
    r"(?:[-\u2013*][ \t]|[\u2022\u25aa\u25e6\u25cf\u25a0\u27a2\u25ba]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)][ \t])"
)
_LEADING_JUNK = re.compile(r"(?:\s+|[\u2022\u25aa\u25e6\u25cf\u25a0\u27a2\u25ba\u00b7]|[-\u2013\u2014*](?=\s))*")
_DOTTED_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")
_MARKER_TOKEN = re.compile(r"\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})")
_LONG_SPLIT = re.compile(r";[ \t]+|[ \t]+[-\u2013][ \t]+|[ \t]*\n\s*")
_ALNUM = re.compile(r"\w")
#: A parenthetical evidence grade or recommendation strength that follows a sentence's final punctuation:
#: "(A recommendation)", "(I statement)", "(Strong for; Reviewed, New-added)", "(Level of evidence: C1)",
#: "(Weak Recommendation, Low-Quality Evidence)", "(Consensus\u2013Adapted)", "(Category IB)"; chained with ";".
_GRADE_TAG = re.compile(
    r"[ \t]*;?[ \t]*\((?:"
    r"Level[ \t]+of[ \t]+evidence\b[^()\n]{0,30}"
    r"|(?:Grade[ \t]+)?[A-D][ \t]+recommendation|I[ \t]+statement|Grade[ \t]+[A-DI]\b[^()\n]{0,20}"
    r"|(?:Strong|Weak|Moderate)[ \t]+(?:for|against|recommendation)\b[^()\n]{0,60}"
    r"|Consensus\b[^()\n]{0,30}"
    r"|Category[ \t]+I{1,3}[A-D]?\b[^()\n]{0,20}"
    r"|(?:N/A|Not[ \t]+applicable);[^()\n]{0,40}"
    r")\)(?=[ \t]*(?-i:$|\n|[;A-Z0-9(\"\u201c\u2022-]))",  # then the end, a new line or a new sentence
    re.IGNORECASE,
)
_OPENERS = "\"'\u201c\u2018([-\u2022"


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets into ``text``) inside ``text[start:end]``, trimmed, never empty.

    Leading bullet markers and white space are not part of a sentence; a span without any letter or digit
    (a stray "-" or "*") is dropped. Sentences over ``LONG_SENTENCE_WORDS`` words (tables, run-on lists) are
    split further at ";", " - " and line breaks.
    """
    end = len(text) if end is None else end
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"split_sentences: bad range start={start}, end={end} for a text of {len(text)} chars")
    spans: list[tuple[int, int]] = []
    seg = start  # start of the sentence being built
    seg_opens_item = True  # the sentence begins a block (line, bullet, label), not just after a period
    for m in _CANDIDATE.finditer(text, start, end):
        if m.start() < seg:
            continue  # inside a grade tag already given to the previous sentence
        kind = m.lastgroup
        if kind == "term":
            if not _ends_sentence(text, m.start(), m.end(), seg, end):
                continue
            cut = nxt = _after_grade_tags(text, m.end(), end)
        elif kind == "nl" and not _line_break_ends(text, m.start(), m.end(), seg, seg_opens_item, start, end):
            continue
        else:
            cut, nxt = m.start(), m.end()
        _emit(text, seg, cut, spans)
        seg, seg_opens_item = nxt, kind != "term"
    _emit(text, seg, end, spans)
    return spans


def _after_grade_tags(text: str, pos: int, end: int) -> int:
    """End of the grade tags that directly follow ``pos`` on the same line (``pos`` itself when none)."""
    while (tag := _GRADE_TAG.match(text, pos, end)) is not None:
        pos = tag.end()
    return pos


def _emit(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    """Trim ``text[s:e]`` and append it (split further when very long)."""
    s = _LEADING_JUNK.match(text, s, e).end()  # type: ignore[union-attr]
    if s >= e:
        return
    e = s + len(text[s:e].rstrip())
    if not _ALNUM.search(text, s, e):
        return
    if text.count(" ", s, e) >= LONG_SENTENCE_WORDS:
        _emit_long(text, s, e, out)
    else:
        out.append((s, e))


def _emit_long(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    """Split a very long sentence at ";", " - " and line breaks, regrouping small pieces."""
    pieces: list[tuple[int, int]] = []
    pos = s
    for m in _LONG_SPLIT.finditer(text, s, e):
        cut = m.start() + 1 if text[m.start()] == ";" else m.start()
        pieces.append((pos, cut))
        pos = m.end()
    pieces.append((pos, e))
    group_start, group_end, words = -1, -1, 0
    for ps, pe in pieces:
        ps = _LEADING_JUNK.match(text, ps, pe).end()  # type: ignore[union-attr]
        pe = ps + len(text[ps:pe].rstrip())
        if pe <= ps or not _ALNUM.search(text, ps, pe):
            continue
        n = text.count(" ", ps, pe) + 1
        if group_start >= 0 and words + n > LONG_PIECE_WORDS:
            out.append((group_start, group_end))
            group_start, words = -1, 0
        if group_start < 0:
            group_start = ps
        group_end, words = pe, words + n
    if group_start >= 0:
        out.append((group_start, group_end))


def _next_char(text: str, i: int, end: int) -> str:
    """First non-space character at or after ``i`` (before ``end``), or '' at the end."""
    while i < end:
        c = text[i]
        if not c.isspace():
            return c
        i += 1
    return ""


def _token_before(text: str, p: int, lo: int) -> tuple[int, str]:
    """The white-space-delimited token ending at ``p`` and its start."""
    k = max(text.rfind(" ", lo, p), text.rfind("\n", lo, p), text.rfind("\t", lo, p))
    ts = max(k + 1, lo)
    return ts, text[ts:p]


def _ends_sentence(text: str, ps: int, pe: int, seg: int, end: int) -> bool:
    """Whether the terminal punctuation ``text[ps:pe]`` ends a sentence."""
    nxt = _next_char(text, pe, end)
    if not nxt:
        return True
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
        return False  # lower case, comma, ...: the sentence goes on
    if text[ps] != ".":
        return True  # ? ! and ellipses followed by a capital
    if pe - ps > 1 and text[ps + 1] == ".":
        return True  # "..." followed by a capital
    ts, token = _token_before(text, ps, seg)
    bare = token.lstrip("([\"'\u201c").lower()
    if bare in _ABBREVIATIONS or _DOTTED_ACRONYM.fullmatch(bare):
        return False
    if nxt.isdigit() and bare in _BEFORE_NUMBER:
        return False
    if _MARKER_TOKEN.fullmatch(token):
        if not text[seg:ts].strip(" \t\n-\u2013*\u2022"):
            return False  # "1. Wash your hands": a list marker at the start of a sentence
        if text[seg:ts].rstrip().endswith(":"):
            return False  # "as follows: 1. Take ..."
    return True


def _line_break_ends(text: str, ls: int, le: int, seg: int, seg_opens_item: bool, lo: int, end: int) -> bool:
    """Whether a single line break at ``text[ls:le]`` ends a sentence.

    It does before a list item, and after a short stand-alone line (heading, label) followed by a capital;
    a wrapped line of running text (PDF) does not.
    """
    if le >= end:
        return True
    if _LIST_MARKER.match(text, le):
        return True
    nxt = text[le]
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
        return False
    line_start = max(text.rfind("\n", lo, ls) + 1, lo)
    if seg <= line_start and text[seg:line_start].strip():
        return False  # the line continues a sentence begun on an earlier line
    if seg > line_start and not seg_opens_item:
        return False  # the sentence began after a period in mid-line: a wrapped line of running text
    line = text[max(seg, line_start) : ls].strip()
    if not line or len(line) > _HEADING_LINE_CHARS or line.count(" ") >= _HEADING_LINE_WORDS:
        return False
    if line[-1] in ",;(/&-\u2013" or ". " in line:
        return False
    last = line.rsplit(" ", 1)[-1].lower()
    return last not in _CONTINUATION_WORDS
