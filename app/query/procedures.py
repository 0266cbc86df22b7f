"""Ordered procedures: a numbered list in a source section (diagnostic work-up, staging steps) kept in its order.

When one of the best-ranked passages sits in a section that holds a numbered list ("1. Physical examination and
history. 2. Complete blood count. ... 6. Abdominal imaging."), the answer shows the steps as their own numbered
section, in the source's order, each step its first sentence with a citation -- like a clinical algorithm --
instead of scattering a few of them among the bullets. The list may run over several chunks of the section; the
caller supplies every chunk of that section (``section_chunks``).

>>> _step_number("6. Abdominal imaging."), _step_number("- Abdominal x-ray."), _step_number("12) Biopsy or resection.")
(6, None, 12)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from app.query.citing import normalise_statement

if TYPE_CHECKING:
    from app.query.assemble import Candidate

_STEP = re.compile(r"^\s*(\d{1,2})[.)]\s+(?=\S)")
#: A procedure has at least this many consecutive steps; longer ones are cut here.
MIN_STEPS, MAX_STEPS = 3, 12
#: Only the passages ranked this high may open a procedure (it must be about the question).
TOP_RANKS = 3


@dataclass
class Step:
    """One step of a procedure, citable like any statement."""

    text: str
    cand: Candidate
    start: int  # offset of the step in its document (removes overlap duplicates)
    support: list[Candidate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.support = self.support or [self.cand]


def _step_number(sentence: str) -> int | None:
    m = _STEP.match(sentence)
    return int(m.group(1)) if m else None


def _steps_of(chunks: Sequence[Candidate]) -> list[tuple[int, Step]]:
    """(number, step) for every numbered sentence of ``chunks`` (document order, overlaps removed)."""
    seen: set[int] = set()
    out: list[tuple[int, Step]] = []
    for cand in sorted(chunks, key=lambda c: c.chunk.ordinal):
        for sentence in cand.chunk.sentences:
            number = _step_number(sentence.text)
            if number is None or sentence.start in seen:
                continue
            seen.add(sentence.start)
            out.append((number, Step(normalise_statement(sentence.text), cand, sentence.start)))
    return out


def _longest_run(numbered: list[tuple[int, Step]]) -> list[Step]:
    """The longest run numbered 1, 2, 3, ... (a list restarting at 7 after a sub-list continues the run)."""
    best: list[Step] = []
    run: list[Step] = []
    expect = 1
    for number, step in numbered:
        if number == expect:
            run.append(step)
            expect += 1
        elif number == 1:
            run, expect = [step], 2
        if len(run) > len(best):
            best = list(run)
    return best


def find_procedure(candidates: Sequence[Candidate], relevant_section: Callable[[list[str]], bool],
                   section_chunks: Callable[[Candidate], list[Candidate]]) -> list[Step]:
    """The steps of the numbered procedure in the section of a top-ranked passage, or ``[]``.

    ``relevant_section(section_path)`` says whether a section is where the question's answer sits (e.g. a
    diagnostic-evaluation section for a next-test question); ``section_chunks(candidate)`` returns all chunks of
    that candidate's section, as candidates.
    """
    for cand in sorted(candidates, key=lambda c: c.rank)[:TOP_RANKS]:
        if not relevant_section(cand.chunk.section_path):
            continue
        steps = _longest_run(_steps_of(section_chunks(cand)))
        if len(steps) >= MIN_STEPS:
            return steps[:MAX_STEPS]
    return []
