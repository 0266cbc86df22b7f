"""Typo tolerance against the index vocabulary (symmetric-delete lookup, edit distance up to 2).

Consumer questions are full of misspellings ("diahrrea", "Beckwith-Wieddeman"). A misspelt word must not be
mistaken for an unknown drug name (which makes medcite abstain), and its correction helps BM25 find the passage.

>>> speller = Speller(["diarrhea", "wiedemann", "klippel", "asthma"])
>>> speller.correct("diahrrea"), speller.correct("wieddeman"), speller.correct("zorblaxin")
('diarrhea', 'wiedemann', None)
"""

from __future__ import annotations

from typing import Iterable

MIN_LENGTH = 5  # shorter words have too many neighbours to correct safely


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class Speller:
    """Maps a word to the closest vocabulary word with the same first letter: one edit for words under eight
    letters, two for longer ones (ties: the first-listed word)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.words: dict[str, int] = {}
        self.index: dict[str, list[str]] = {}
        for word in vocabulary:
            if len(word) < MIN_LENGTH - 1 or not word.isalpha() or word in self.words:
                continue
            self.words[word] = len(self.words)
            for key in {word} | _deletes(word) | {d2 for d in _deletes(word) for d2 in _deletes(d)}:
                self.index.setdefault(key, []).append(word)

    def correct(self, word: str) -> str | None:
        """The vocabulary word closest to ``word`` (None when ``word`` is known, too short or has no neighbour)."""
        word = word.lower()
        if word in self.words or len(word) < MIN_LENGTH or not word.isalpha():
            return None
        keys = {word} | _deletes(word) | {d2 for d in _deletes(word) for d2 in _deletes(d)}
        candidates = {c for k in keys for c in self.index.get(k, ())}
        best = min(((_distance(word, c), self.words[c], c) for c in candidates if c[0] == word[0]), default=None)
        if best is None or best[0] > (1 if len(word) < 8 else 2):  # short names differ from real words by 2+ edits
            return None
        return best[2]
