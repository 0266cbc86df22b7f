"""Typo tolerance against the index vocabulary (optimal string alignment distance up to 2, via rapidfuzz).

Consumer questions are full of misspellings ("diahrrea", "Beckwith-Wieddeman"). A misspelt word must not be
mistaken for an unknown drug name (which makes medcite abstain), and its correction helps BM25 find the passage.

Cost is bounded whatever the input: building groups the vocabulary by (first letter, length) in one pass;
correcting a word compares it only with vocabulary words of the same first letter and a length within the allowed
distance (C++ distance kernels), and words longer than :data:`MAX_WORD_LENGTH` -- a DNA sequence, a run of CJK
characters -- are neither indexed nor corrected.

>>> speller = Speller(["diarrhea", "wiedemann", "klippel", "asthma"])
>>> speller.correct("diahrrea"), speller.correct("wieddeman"), speller.correct("zorblaxin")
('diarrhea', 'wiedemann', None)
>>> Speller(["taken", "take"]).correct("takea"), Speller(["take", "taken"], {"taken": 9}.get).correct("takea")
('take', 'taken')
>>> speller.correct("a" * 2000) is None
True
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
from rapidfuzz.distance import OSA
from rapidfuzz.process import cdist

MIN_LENGTH = 5  # shorter words have too many neighbours to correct safely
#: Longer words are never spelling candidates nor corrected (no real word is this long; see index.lexical).
MAX_WORD_LENGTH = 40


def max_edits(length: int) -> int:
    """Edits allowed for a word of ``length`` letters: one under eight letters, two from eight on."""
    return 1 if length < 8 else 2


class Speller:
    """Maps a word to the closest vocabulary word with the same first letter: one edit for words under eight
    letters, two for longer ones. Ties go to the word in more documents (``frequency(word)``, e.g. the lexical
    index's document frequency), then to the alphabetically first: never to the vocabulary's order, which a
    lexical backend may not keep from one build to the next."""

    def __init__(self, vocabulary: Iterable[str], frequency: Callable[[str], int | None] | None = None) -> None:
        self.frequency = frequency or (lambda word: 0)
        self.words: dict[str, int] = {}
        self._buckets: dict[tuple[str, int], list[str]] = {}
        for word in vocabulary:
            if not MIN_LENGTH - 1 <= len(word) <= MAX_WORD_LENGTH or not word.isalpha() or word in self.words:
                continue
            self.words[word] = len(self.words)
            self._buckets.setdefault((word[0], len(word)), []).append(word)

    def __len__(self) -> int:
        return len(self.words)

    def correct(self, word: str) -> str | None:
        """The vocabulary word closest to ``word`` (None when ``word`` is known, too short or long, or has no
        neighbour)."""
        word = word.lower()
        if word in self.words or not MIN_LENGTH <= len(word) <= MAX_WORD_LENGTH or not word.isalpha():
            return None
        limit = max_edits(len(word))
        candidates = [c for n in range(len(word) - limit, len(word) + limit + 1)
                      for c in self._buckets.get((word[0], n), ())]
        if not candidates:
            return None
        distances = cdist([word], candidates, scorer=OSA.distance, score_cutoff=limit, dtype=np.int32)[0]
        close = np.flatnonzero(distances <= limit)
        if len(close) == 0:
            return None
        best = min(close.tolist(), key=lambda i: (int(distances[i]), -(self.frequency(candidates[i]) or 0),
                                                  candidates[i]))
        return candidates[best]
