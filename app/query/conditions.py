"""Condition names in a text: what the consistency check compares between a question and a cited passage.

The vocabulary is ``corpus/vocab/condition_names.tsv.gz`` (MedQuAD disorder foci and synonyms, CC BY 4.0;
``corpus/derive_conditions.py``). :meth:`ConditionNames.find` returns every condition a text names, including the
ones inside a longer name ("community-acquired pneumonia" names pneumonia too), so a passage on pneumonia fits a
question on community-acquired pneumonia. Short abbreviations ("AIDS", "CML") count only when written in capitals,
so "two walking aids" names no condition.

>>> names = ConditionNames.from_pairs([("pneumonia", "pneumonia"), ("copd", "copd"), ("aids", "hiv/aids"),
...     ("community-acquired pneumonia", "community-acquired pneumonia"), ("wilms tumor", "wilms tumor")])
>>> names.find("A 68-year-old with COPD has community-acquired pneumonia")
['copd', 'community-acquired pneumonia', 'pneumonia']
>>> names.find("Wilms tumors in children; hearing aids")
['wilms tumor']
>>> names.find("Patients with AIDS")
['hiv/aids']
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

#: Longest name looked up, in words (the vocabulary keeps names of up to 6 words).
MAX_WORDS = 6
#: A variant this short, without a space, is an abbreviation: it must be written in capitals.
ABBREVIATION_CHARS = 6
DEFAULT_CONDITIONS = Path(__file__).resolve().parents[2] / "corpus" / "vocab" / "condition_names.tsv.gz"
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-/]*")
#: British spellings folded to the vocabulary's American ones (leukaemia, oesophagus, tumour, coeliac).
_BRITISH = ((re.compile(r"(?<=[a-z])ae(?=[a-z])"), "e"), (re.compile(r"^oe|(?<=[a-z])oe(?=[a-z])"), "e"),
            (re.compile(r"(?<=[a-z]{2})our(?=s?$)"), "or"))
#: Words that say what kind of condition, not which one: two names sharing only these are different conditions.
GENERIC_WORDS = frozenset(
    "disease diseases syndrome syndromes disorder disorders cancer cancers tumor tumors neoplasm neoplasms "
    "carcinoma type types chronic acute primary secondary familial hereditary congenital cell cells of the and "
    "with in or to due deficiency infection infections 1 2 3 4 i ii iii iv a b".split())


class ConditionNames:
    """Condition look-up: ``find(text)`` -> canonical names of the conditions ``text`` names, in order."""

    def __init__(self, variants: dict[str, str]) -> None:
        self.variants = variants
        self.abbreviations = {v for v, c in variants.items()
                              if " " not in v and len(v) <= ABBREVIATION_CHARS and v != c}
        self._spellings: dict[str, list[str]] | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> "ConditionNames":
        return cls({v.lower(): c.lower() for v, c in pairs})

    @classmethod
    def load(cls, path: Path) -> "ConditionNames":
        """The vocabulary file (``variant<TAB>canonical`` lines, gzip); FileNotFoundError names the path."""
        if not path.is_file():
            raise FileNotFoundError(f"condition-name vocabulary not found: {path} (python corpus/derive_conditions.py)")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return cls(dict(line.rstrip("\n").split("\t", 1) for line in fh if "\t" in line))

    def find(self, text: str) -> list[str]:
        """Canonical names of every condition ``text`` names (longer names first at each position)."""
        words = [m.group(0) for m in _WORD.finditer(text)]
        lower = [fold(w) for w in words]
        found: dict[str, None] = {}
        for i in range(len(words)):
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                phrase = " ".join(lower[i:i + n])
                name = self._lookup(phrase)
                if name is None:
                    continue
                if n == 1 and phrase in self.abbreviations and not words[i].isupper():
                    continue
                found.setdefault(name)
        return list(found)

    def words_of(self, canonical: Iterable[str]) -> set[str]:
        """The distinctive words of conditions under every name they go by ("gerd" -> gastroesophageal, reflux...).

        >>> sorted(ConditionNames.from_pairs([("gerd", "gerd"), ("acid reflux", "gerd")]).words_of(["gerd"]))
        ['acid', 'gerd', 'reflux']
        """
        if self._spellings is None:
            spellings: dict[str, list[str]] = {}
            for variant, name in self.variants.items():
                spellings.setdefault(name, []).append(variant)
            self._spellings = spellings
        names = list(canonical)
        return distinctive_words(names + [v for c in names for v in self._spellings.get(c, [])])

    def _lookup(self, phrase: str) -> str | None:
        name = self.variants.get(phrase)
        if name is None and phrase.endswith("s") and len(phrase) > 4:  # "tumors", "cancers"
            name = self.variants.get(phrase[:-1])
        return name


def fold(word: str) -> str:
    """A word lower-cased, with British spelling folded: ``fold("Leukaemia")`` -> 'leukemia'.

    >>> [fold(w) for w in ("Oesophagus", "tumours", "coeliac", "four", "haemoglobin")]
    ['esophagus', 'tumors', 'celiac', 'four', 'hemoglobin']
    """
    word = word.lower().strip("'-")
    for rx, repl in _BRITISH:
        word = rx.sub(repl, word)
    return word


def distinctive_words(names: Iterable[str]) -> set[str]:
    """The words of condition names that say which condition (not "disease", "cancer", "type 2").

    >>> sorted(distinctive_words(["small cell lung cancer", "diabetes mellitus type 2"]))
    ['diabetes', 'lung', 'mellitus', 'small']
    """
    return {w for name in names for w in (fold(t) for t in _WORD.findall(name)) if w not in GENERIC_WORDS}


def text_words(text: str) -> set[str]:
    """The folded words of ``text`` (singular and plural both)."""
    words = {fold(w) for w in _WORD.findall(text)}
    return words | {w[:-1] for w in words if w.endswith("s") and len(w) > 4}


@lru_cache(maxsize=4)
def condition_names(path: Path = DEFAULT_CONDITIONS) -> ConditionNames:
    """The vocabulary at ``path``, loaded once per process (about 13,000 names)."""
    return ConditionNames.load(path)
