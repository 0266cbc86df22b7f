"""Key-fact matching: does an answer's text state a fact, given the fact's acceptable spellings?

A fact is a list of spellings; it is present in a text when at least one spelling occurs in it. Both sides are
normalised by :func:`normalize` first:

1. Unicode NFKC (no-break and thin spaces become spaces, ``µ`` becomes ``μ``, full-width forms become ASCII);
2. comparison signs to ASCII: ``≥ ⩾ ≧`` -> ``>=``, ``≤ ⩽ ≦`` -> ``<=``;
3. dashes and minus signs (U+2010-U+2015, U+2212) -> ``-``; curly quotes -> straight quotes;
4. case folding (``str.casefold``);
5. whitespace runs -> one space; no space between a comparison sign and the number after it (``≥ 50`` = ``>=50``);
   no space between a number and ``%`` (``90 %`` = ``90%``).

A spelling occurs when it is a substring of the text at *token boundaries*: if it starts with a letter or digit,
the character before it is not a letter or digit; if it starts with a digit, it is not preceded by a decimal point
or comma after a digit either (``5%`` is not found in ``8.5%``, ``4%`` not in ``14%``); if it ends with a digit, the
character after it is not a digit, nor a point or comma followed by a digit (``age 8`` is not found in ``age 80``).
A spelling ending in a letter may continue (spellings like ``ultrasonograph`` or ``actinic keratos`` are stems).
Nothing else is normalised: no stemming, no number words (``three`` vs ``3``), no unit synonyms (``mcg`` vs ``μg``).

>>> fact_present([["≥50", "50 MME"]], "Reassess at >= 50 morphine milligram equivalents")
[True]
>>> fact_present([["4%"], ["age 8"]], "Risk is 14% by age 80.")
[False, False]
>>> fact_present([["ultrasonograph"]], "Abdominal ULTRASONOGRAPHY every 3 months")
[True]
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

_SIGNS = {"≥": ">=", "⩾": ">=", "≧": ">=", "≤": "<=", "⩽": "<=", "≦": "<="}
_DASHES = {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}
_TABLE = str.maketrans({**_SIGNS, **_DASHES, **_QUOTES})
_SIGN_SPACE = re.compile(r"(>=|<=|[<>=])\s+(?=\d)")
_PERCENT_SPACE = re.compile(r"(?<=\d)\s+%")


def normalize(text: str) -> str:
    """The text as key facts are matched against (see the module docstring for every step).

    >>> normalize("Systolic\u00a0goal  \u2264 150\u2009mm Hg \u2013 90 %")
    'systolic goal <=150 mm hg - 90%'
    """
    text = unicodedata.normalize("NFKC", text).translate(_TABLE).casefold()
    text = " ".join(text.split())
    return _PERCENT_SPACE.sub("%", _SIGN_SPACE.sub(r"\1", text))


def _number_continues(text: str, i: int) -> bool:
    """True when position ``i`` continues a number: a digit, or a point/comma followed by a digit."""
    if i >= len(text):
        return False
    return text[i].isdigit() or (text[i] in ".," and i + 1 < len(text) and text[i + 1].isdigit())


def _number_before(text: str, i: int) -> bool:
    """True when the character(s) before position ``i`` end a number part: a digit, or digit + point/comma."""
    if i <= 0:
        return False
    return text[i - 1].isdigit() or (text[i - 1] in ".," and i >= 2 and text[i - 2].isdigit())


def occurs(spelling: str, text: str) -> bool:
    """Whether normalised ``spelling`` occurs in normalised ``text`` at token boundaries.

    >>> occurs("once", "concerned"), occurs("once", "screen once between 18 and 79")
    (False, True)
    >>> occurs("0.57", "hazard ratio 10.57"), occurs("0.57", "hazard ratio 0.57.")
    (False, True)
    """
    if not spelling:
        return False
    start = 0
    while (i := text.find(spelling, start)) >= 0:
        end = i + len(spelling)
        left_ok = not (spelling[0].isalnum() and i > 0 and text[i - 1].isalnum())
        if left_ok and spelling[0].isdigit():
            left_ok = not _number_before(text, i)
        right_ok = not (spelling[-1].isdigit() and _number_continues(text, end))
        if left_ok and right_ok:
            return True
        start = i + 1
    return False


def fact_present(facts: Sequence[Sequence[str]], *texts: str) -> list[bool]:
    """For each fact, whether one of its spellings occurs in one of ``texts`` (each text matched on its own, so a
    spelling never spans two statements)."""
    normalised = [normalize(t) for t in texts if t]
    return [any(occurs(normalize(s), t) for s in fact for t in normalised) for fact in facts]


def recall(hits: Iterable[bool]) -> float | None:
    """Share of facts present (``None`` for an item without facts).

    >>> recall([True, False, True])
    0.6666666666666666
    """
    values = list(hits)
    return sum(values) / len(values) if values else None
