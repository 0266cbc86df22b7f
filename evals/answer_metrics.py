"""Scores of one structured answer: citation support, reference numbering, overlap with reference answers.

>>> rouge_l("the cat sat on the mat", "the cat lay on the mat")
0.8333333333333334
>>> token_f1("metformin lowers glucose", "metformin lowers blood glucose")
0.8571428571428571
>>> is_supported("Metformin lowers glucose…", "In adults, metformin  lowers glucose and weight.")
True
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Sequence

from app.query.schemas import Answer, Statement

#: Token F1 between a statement and a window of the cited passage above which it counts as supported.
SIMILARITY_THRESHOLD = 0.8
_WORD = re.compile(r"\w+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+")
_ELLIPSES = "…. "


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, underscore)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def token_f1(candidate: str | Sequence[str], reference: str | Sequence[str]) -> float:
    """SQuAD-style bag-of-tokens F1 (0 when either side is empty)."""
    a = tokens(candidate) if isinstance(candidate, str) else list(candidate)
    b = tokens(reference) if isinstance(reference, str) else list(reference)
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Crochemore et al. 2001): O(len(b)) big-int ops.

    >>> lcs_length("ABCBDAB", "BDCABA")
    4
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1) over :func:`tokens`."""
    a, b = tokens(candidate), tokens(reference)
    lcs = lcs_length(a, b)
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def best_against(candidate: str, references: Sequence[str]) -> tuple[float | None, float | None]:
    """(best ROUGE-L, best token F1) of ``candidate`` over ``references``; ``(None, None)`` without references."""
    refs = [r for r in references if r.strip()]
    if not refs:
        return None, None
    return max(rouge_l(candidate, r) for r in refs), max(token_f1(candidate, r) for r in refs)


def _windows(passage: str, size: int = 3) -> list[str]:
    sentences = [s for s in _SENTENCE_SPLIT.split(passage) if s.strip()]
    return [" ".join(sentences[i:i + n]) for n in range(1, size + 1) for i in range(len(sentences) - n + 1)]


def is_supported(statement: str, passage: str) -> bool:
    """Statement text (minus leading/trailing ellipses) contained in the normalised passage, or token F1 with
    one to three consecutive passage sentences >= :data:`SIMILARITY_THRESHOLD`."""
    claim = normalize(statement).strip(_ELLIPSES)
    if not claim:
        return False
    if claim in normalize(passage):
        return True
    claim_tokens = tokens(claim)
    return any(token_f1(claim_tokens, tokens(w)) >= SIMILARITY_THRESHOLD for w in _windows(passage))


def statements(answer: Answer) -> list[Statement]:
    """Bottom line first, then every section's statements, in reading order."""
    out = [answer.bottom_line] if answer.bottom_line is not None else []
    return out + [s for section in answer.sections for s in section.statements]


def answer_text(answer: Answer) -> str:
    """The answer's statements as plain text (a bottom line repeated in a section counts once)."""
    return " ".join(dict.fromkeys(s.text.strip() for s in statements(answer)))


def citation_support(answer: Answer) -> tuple[int, int]:
    """(statements, supported statements): supported = cites >= 1 resolvable reference whose passage supports it."""
    passages = {r.n: r.passage for r in answer.references}
    items = statements(answer)
    supported = sum(1 for s in items if any(n in passages and is_supported(s.text, passages[n]) for n in s.citations))
    return len(items), supported


def reference_problems(answer: Answer) -> list[str]:
    """Why the reference numbering is inconsistent; empty when references are numbered 1..n by first use, without
    gaps or duplicates, every cited number resolves and every reference is cited."""
    problems: list[str] = []
    numbers = [r.n for r in answer.references]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"reference numbers are {numbers}, not 1..{len(numbers)} in order")
    first_use: list[int] = []
    for statement in statements(answer):
        if not statement.citations:
            problems.append(f"statement without citation: {statement.text[:60]!r}")
        for n in sorted(set(statement.citations)):
            if n not in first_use:
                first_use.append(n)
    if first_use != list(range(1, len(first_use) + 1)):
        problems.append(f"citations first used in the order {first_use[:12]}, not 1, 2, 3, ...")
    missing = sorted(set(first_use) - set(numbers))
    if missing:
        problems.append(f"cited numbers without a reference: {missing}")
    unused = sorted(set(numbers) - set(first_use))
    if unused:
        problems.append(f"references never cited: {unused}")
    return problems
