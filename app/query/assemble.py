"""Extractive answer assembly: score source sentences, pick a bottom line, fill sections with MMR, number references.

Nothing is generated: every statement is a source sentence (whitespace-normalised, leading bullet removed, or
trimmed at a clause boundary with a closing ellipsis) and cites the chunk it comes from, plus other retrieved chunks
that state the same thing (near-identical sentence vectors).
"""

from __future__ import annotations

import re
from datetime import date
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from app.query.citing import Numbering, normalise_statement, trim  # noqa: F401  (re-exported)
from app.query.alternatives import split_alternatives
from app.query.facets import heading, question_facet, sentence_facet, sentence_facets
from app.query.intents import answers_intent, question_intent, section_matches
from app.query.procedures import Step, find_procedure
from app.query.entities import has_dose
from app.query.schemas import Reference, Section, Statement
from app.query.selection import FEATURES, HandScorer, SentenceScorer
from core.models import Chunk, DocType, DocumentMeta
from app.query.settings import AnswerSettings
_BOILERPLATE = re.compile(
    r"^(?:key points|see (?:the )?|this (?:pdq )?summary|it may not mention|check with your doctor if you have any|"
    r"for more information|these resources|the following (?:pdq|organizations)|click here|visit |"
    r"read more|related (?:pdq|topics)|to learn more|information about (?:ongoing )?clinical trials|"
    r"use our clinical trial search)",
    re.I,
)
_TENTATIVE = re.compile(r"\b(?:being (?:studied|tested)|clinical trials?|may be (?:studied|tested)|research(?:ers)? (?:is|are))\b", re.I)
_ANAPHORA = re.compile(
    r"^(?:this|these|that|those|it|its|they|their|such|other|another|both|either|also|otherwise|however|"
    r"in addition|additionally|moreover|furthermore|therefore|thus|then|for example|for these reasons|"
    r"in this case|in these cases|as a result)\b",
    re.I,
)
_NUMBER = re.compile(r"\d")
_DENSE_GAP = FEATURES.index("dense_gap")
SUPPORT_SIM = 0.92  # a sentence this similar in another retrieved chunk also supports the statement
DUPLICATE_SIM = 0.88  # a candidate this similar to a chosen statement is redundant
SAME_TEXT_JACCARD = 0.85
MIN_WORDS = 5
MAX_PER_SECTION = 4
#: Question kinds whose sources' numbered procedures are shown in order, with their section heading.
PROCEDURE_KINDS = {
    "next_test": "Recommended evaluation, in the source's order",
    "staging": "Staging evaluation, in the source's order",
    "diagnosis": "Diagnostic evaluation, in the source's order",
    "screening": "Screening and follow-up, in the source's order",
    "treatment": "Treatment steps, in the source's order",
}


@dataclass
class Candidate:
    """A retrieved chunk handed to assembly."""

    row: int
    rank: int  # 1-based fused rank
    chunk: Chunk
    meta: DocumentMeta
    sentence_vectors: np.ndarray  # (len(chunk.sentences), dim), L2-normalised


@dataclass
class _Unit:
    text: str
    vector: np.ndarray
    cand: Candidate
    dense: float
    lexical: float
    facet: str | None
    position: int = 0  # sentence index within its chunk
    tokens: frozenset[str] = frozenset()
    score: float = 0.0
    support: list[Candidate] = field(default_factory=list)
    answers: bool = False  # names an answer of the question's intent (app.query.intents)
    start: int = -1  # offset of the sentence in its document


@dataclass
class Assembled:
    bottom_line: Statement | None
    sections: list[Section]
    references: list[Reference]
    evidence: float  # best dense similarity of a usable sentence
    coverage: float  # share of the question's lexical weight found in the chosen statements
    covered_topics: list[str]


def _units(cands: list[Candidate], max_chars: int) -> list[tuple[str, np.ndarray, Candidate, int, int]]:
    """(text, vector, candidate, position in chunk, document offset) of the candidates' sentences (a 'following:'
    lead-in merged with its list), de-duplicated by span."""
    seen: set[tuple[str, int]] = set()
    out: list[tuple[str, np.ndarray, Candidate, int, int]] = []
    for cand in cands:
        sents, base = cand.chunk.sentences, cand.chunk.start
        i = 0
        while i < len(sents):
            j = i
            if sents[i].text.rstrip().endswith(":"):  # lead-in: keep its list items with it
                while j + 1 < len(sents) and sents[j + 1].end - sents[i].start <= max_chars:
                    j += 1
                    if sents[j].text.rstrip().endswith((".", "!", "?")) and j - i >= 4:
                        break
            key = (cand.chunk.doc_id, sents[i].start)
            if key not in seen:
                seen.add(key)
                raw = cand.chunk.text[sents[i].start - base : sents[j].end - base]
                vec = cand.sentence_vectors[i : j + 1].mean(axis=0)
                position = i if cand.chunk.ordinal == 0 else i + 1
                out.append((normalise_statement(raw), vec / (np.linalg.norm(vec) or 1.0), cand, position,
                            sents[i].start))
            i = j + 1
    return out


def _usable(text: str) -> bool:
    """A statement candidate: long enough, not a question, heading, caption or boilerplate."""
    words = text.split()
    if len(words) < MIN_WORDS or text.endswith("?") or _BOILERPLATE.match(text):
        return False
    if text.endswith((".", "!", ":", ")", "…", '"', "”")):
        return True
    capitalised = sum(w[:1].isupper() for w in words if w[:1].isalpha())
    return len(words) >= 12 and capitalised < 0.5 * len(words)  # a long Title Case line is a heading or caption


def assemble(
    question: str,
    qvec: np.ndarray,
    query_weights: Mapping[str, float],
    candidates: list[Candidate],
    tokenize: Callable[[str], list[str]],
    settings: AnswerSettings,
    prefer_types: tuple[DocType, ...] = (),
    today: date | None = None,
    section_chunks: Callable[[Candidate], list[Candidate]] | None = None,
    audience: str | None = None,
    scorer: SentenceScorer | None = None,
    asked_drugs: Sequence[str] = (),
    find_drugs: Callable[[str], list[str]] | None = None,
    keep_features: list | None = None,
    asked: str = "",
) -> Assembled:
    """Build the cited parts of an answer from retrieved chunks (the pipeline adds the rest).

    ``section_chunks(candidate)`` (all chunks of a candidate's section) lets a numbered procedure that runs over
    several chunks be shown whole, in order (:mod:`app.query.procedures`). Sources written for another ``audience``
    weigh less and give the bottom line only when no source for this audience is among the best statements.
    Sentences are scored by ``scorer`` (:mod:`app.query.selection`; the hand-weighted sum by default) over their
    features; ``asked`` (a follow-up as the user typed it) decides the question's intent and facet when it names
    one; ``keep_features`` (a list) receives (unit, feature row) pairs, for training the learned scorer.
    """
    topics = list(dict.fromkeys(c.meta.title for c in candidates if c.meta.title))[:5]
    total_weight = sum(query_weights.values()) or 1.0
    # a follow-up's own words say what it asks ("How is it treated?"), not the topic terms carried into it
    q_facet = (asked and question_facet(asked)) or question_facet(question)
    q_intent = (asked and question_intent(asked)) or question_intent(question)
    title_cache: dict[str, set[str]] = {}

    def title_terms(title: str) -> set[str]:
        if title not in title_cache:
            title_cache[title] = set(tokenize(title))
        return title_cache[title]

    units: list[_Unit] = []
    rows: list[list[float]] = []
    per_doc: dict[str, int] = {}
    for c in candidates:
        per_doc[c.chunk.doc_id] = per_doc.get(c.chunk.doc_id, 0) + 1
    wanted_drugs = set(asked_drugs)
    for text, vec, cand, position, start in _units(candidates, settings.max_sentence_chars * 2):
        if not _usable(text):
            continue
        toks = set(tokenize(text))
        with_title = toks | title_terms(cand.meta.topic)
        lexical = 0.5 * (sum(w for t, w in query_weights.items() if t in toks)
                         + sum(w for t, w in query_weights.items() if t in with_title)) / total_weight
        unit = _Unit(text, vec, cand, float(vec @ qvec), lexical, sentence_facet(text), position, frozenset(toks),
                     answers=answers_intent(text, q_intent), start=start)
        named = set(find_drugs(text)) if find_drugs is not None else set()
        rows.append([
            unit.dense, lexical, 1.0 / np.sqrt(cand.rank), float(bool(q_facet) and unit.facet == q_facet),
            float(unit.answers), float(section_matches(cand.chunk.section_path, q_intent)),
            float(cand.meta.type in prefer_types), float(bool(audience) and cand.meta.audience != audience),
            float(bool(_ANAPHORA.match(text))), float(position == 0), len(text.split()) / 50.0,
            float(has_dose(text)), float(bool(_NUMBER.search(text))), float(bool(_TENTATIVE.search(text))),
            float(text.endswith(":")), float(bool(named & wanted_drugs)),
            float(bool(named) and not named & wanted_drugs),
            0.0, per_doc[cand.chunk.doc_id] / len(candidates),
        ])
        units.append(unit)
    if not units:
        return Assembled(None, [], [], 0.0, 0.0, topics)
    matrix = np.asarray(rows, dtype=np.float64)
    matrix[:, _DENSE_GAP] = matrix[:, 0] - matrix[:, 0].max()
    for unit, score in zip(units, (scorer or HandScorer()).score(matrix)):
        unit.score = float(score)
    if keep_features is not None:
        keep_features.extend(zip(units, matrix))
    evidence = max(u.dense for u in units)
    units.sort(key=lambda u: -u.score)
    chosen = _mmr(units, settings)
    _attach_support(chosen, units)
    coverage = _coverage(chosen, query_weights, total_weight, tokenize)
    bottom, rest = _pick_bottom_line(chosen, q_facet, audience)
    steps = _procedure(candidates, q_intent or q_facet, section_chunks)
    stepped = {(s.cand.chunk.doc_id, s.start) for s in steps}
    step_texts = [s.text for s in steps]
    rest = [u for u in rest if (u.cand.chunk.doc_id, u.start) not in stepped  # a step, or a lead-in holding steps
            and not any(t in u.text for t in step_texts[:2])]
    alternatives, rest = split_alternatives(bottom, rest, q_intent, offers=[u for u in chosen if u.answers])
    sections = _sections(rest, q_facet, settings.max_sections)
    numbering = Numbering(settings.max_sentence_chars, settings.stale_after_years, today)
    bottom_st = numbering.cite(bottom)
    section_models = [numbering.section(h, us) for h, us in sections[:1]]
    if steps:
        section_models.append(numbering.section(_procedure_heading(q_intent or q_facet), steps, ordered=True))
    section_models += [numbering.section(h, us) for h, us in alternatives]
    section_models += [numbering.section(h, us) for h, us in sections[1:]]
    return Assembled(bottom_st, section_models, numbering.references(), evidence, coverage, topics)


def _procedure(candidates: list[Candidate], kind: str | None,
               section_chunks: Callable[[Candidate], list[Candidate]] | None) -> list[Step]:
    if kind not in PROCEDURE_KINDS:
        return []
    return find_procedure(candidates, lambda path: section_matches(path, kind), section_chunks or (lambda c: [c]))


def _procedure_heading(kind: str | None) -> str:
    return PROCEDURE_KINDS.get(kind or "", "Steps, in the source's order")


def _mmr(units: list[_Unit], settings: AnswerSettings) -> list[_Unit]:
    """Greedy maximal marginal relevance; near-duplicates of a chosen statement leave the pool."""
    floor = max(0.55 * units[0].score, 0.0)
    lam = settings.mmr_lambda
    chosen: list[_Unit] = []
    pool = [u for u in units if u.score >= floor] or units[:1]  # the best unit always qualifies
    while pool and len(chosen) < settings.max_statements + 1:
        if chosen:
            mat = np.stack([c.vector for c in chosen])
            pick = max(pool, key=lambda u: lam * u.score - (1 - lam) * float(np.max(mat @ u.vector)))
        else:
            pick = pool[0]
        chosen.append(pick)
        pool = [u for u in pool if u is not pick and float(u.vector @ pick.vector) < DUPLICATE_SIM
                and not _same_text(u, pick)]
    return chosen


def _same_text(a: _Unit, b: _Unit) -> bool:
    """Near-identical wording (token Jaccard >= 0.85): the same sentence published on two pages."""
    ta, tb = a.tokens, b.tokens
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= SAME_TEXT_JACCARD


def _attach_support(chosen: list[_Unit], units: list[_Unit]) -> None:
    for c in chosen:
        c.support = [c.cand]
        for u in units:
            if u.cand.chunk.doc_id != c.cand.chunk.doc_id and u.cand not in c.support \
                    and (float(u.vector @ c.vector) >= SUPPORT_SIM or _same_text(u, c)):
                c.support.append(u.cand)
        c.support = c.support[:3]


def _coverage(chosen: list[_Unit], weights: Mapping[str, float], total: float,
              tokenize: Callable[[str], list[str]]) -> float:
    toks: set[str] = set()
    for c in chosen:
        toks.update(tokenize(c.text))
    return sum(w for t, w in weights.items() if t in toks) / total


def _pick_bottom_line(chosen: list[_Unit], q_facet: str | None,
                      audience: str | None = None) -> tuple[_Unit, list[_Unit]]:
    """The most relevant short declarative statement, preferring one on the question's facet; when some of the
    best statements name what the question asks for (a test, a treatment, a dose...), it is one of them."""
    def key(u: _Unit) -> float:
        words = len(u.text.split())
        fit = 0.0 if 6 <= words <= 45 else -0.05
        anaphoric = 0.05 if _ANAPHORA.match(u.text) else 0.0  # "These and other signs..." needs its context
        tentative = 0.15 if _TENTATIVE.search(u.text) else 0.0  # "X is being studied" is no bottom line
        lead = 0.02 if u.position == 0 else 0.0  # a passage's opening sentence tends to summarise it
        return (u.score + fit + lead + (0.03 if q_facet and u.facet == q_facet else 0.0)
                - (0.04 if u.text.endswith(":") else 0.0) - anaphoric - tentative)
    same = [u for u in chosen if not audience or u.cand.meta.audience == audience] or chosen
    pool = [u for u in same[:6] if u.answers][:4] or same[: min(4, len(same))]
    bottom = max(pool, key=key)
    return bottom, [u for u in chosen if u is not bottom]


def _sections(units: list[_Unit], q_facet: str | None, max_sections: int) -> list[tuple[str, list[_Unit]]]:
    """Group statements by facet heading, the question's facet first; at most MAX_PER_SECTION per group, the
    overflow moves to its next facet or to a general section; the weakest groups fold into one."""
    groups: dict[str, list[_Unit]] = {}
    for u in sorted(units, key=lambda u: -u.score):
        facets = [f for f in sentence_facets(u.text) if f != u.facet]
        for h in [heading(u.facet)] + [heading(f) for f in facets] + [heading(None)]:
            if len(groups.get(h, [])) < MAX_PER_SECTION:
                groups.setdefault(h, []).append(u)
                break  # a statement no section has room for is dropped (the weakest, as units come best first)
    order = sorted(groups, key=lambda h: (h == heading(None), h != heading(q_facet) if q_facet else False,
                                          -max(u.score for u in groups[h])))
    if len(order) > max_sections:  # fold the weakest groups into one
        keep, spill = order[: max_sections - 1], order[max_sections - 1 :]
        merged = sorted((u for h in spill for u in groups[h]), key=lambda u: -u.score)[:MAX_PER_SECTION]
        groups = {h: groups[h] for h in keep} | {heading(None): merged}
        order = keep + [heading(None)]
    return [(h, sorted(groups[h], key=lambda u: -u.score)) for h in order if groups[h]]
