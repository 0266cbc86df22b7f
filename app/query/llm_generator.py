"""The ``llm`` answer generator: a language model writes the answer from the retrieved passages, and every sentence
it writes is verified against the passages it cites before it is kept (issue 20).

1. The extractive draft is made first (:meth:`LLMGenerator.generate`): its signals decide abstention exactly as
   without an LLM (an abstention never reaches the model), it chooses the passages the model sees first, and it is
   the fallback. The pipeline then calls :meth:`LLMGenerator.write`.
2. The model gets the question, the audience, earlier questions and up to ``llm.max_passages`` numbered passages,
   and returns JSON (:mod:`app.query.llm_client`): a bottom line and sections, each sentence with passage numbers.
3. :func:`verify` checks each sentence: it cites only passages it was given; every number and every drug name in it
   occurs in those passages; and its cosine to the best sentence of those passages (both encoded by the shipped
   sentence encoder, without the title prefix the index uses) reaches ``llm.min_support``. A sentence that is on
   topic but fails a number or drug check is replaced by that best source sentence; one below the support
   threshold is dropped.
4. If the bottom line does not verify, or the server is down, slow, refuses or writes garbage, the answer is the
   extractive draft with a notice saying why -- never a 500.

Statements keep medcite's contract: each cites numbered references built from the passages it rests on, and the
JSON says per statement ``generated``, ``verified`` and ``support``.

>>> sorted(numbers_in("Give 15 mg/kg every 8 hours, max 1,5 g."))
['1.5', '15', '8']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from app.query.assemble import Candidate
from app.query.citing import Numbering, normalise_statement
from app.query.generator import Draft, Evidence, ExtractiveGenerator
from app.query.llm_client import SYSTEM_PROMPT, LLMClient, LLMError, Written, parse_reply, user_prompt
from app.query.schemas import Section, Statement
from app.query.settings import AnswerSettings, LLMSettings

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def numbers_in(text: str) -> set[str]:
    """The numbers a text states (decimal commas read as points)."""
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


@dataclass
class Check:
    """The verdict on one generated sentence."""

    kept: bool
    text: str  # the generated text, or the source sentence that replaced it
    generated: bool
    support: float
    cited: list[Candidate] = field(default_factory=list)
    problem: str = ""


def verify(written: Written, passages: Sequence[Candidate], vector: np.ndarray, min_support: float,
           passage_vectors: Sequence[np.ndarray], find_drugs: Callable[[str], list[str]] | None = None) -> Check:
    """Whether ``written`` (its embedding: ``vector``) is supported by the passages it cites; ``passage_vectors[i]``
    are the embeddings of ``passages[i]``'s sentences, encoded like ``vector`` (no title prefix: a shared title
    would make any sentence look supported)."""
    if not written.cites or any(not 1 <= c <= len(passages) for c in written.cites):
        return Check(False, written.text, True, 0.0, problem="cites a passage it was not given")
    numbers = list(dict.fromkeys(written.cites))
    cited = [passages[c - 1] for c in numbers]
    best, best_text = -1.0, ""
    for n, cand in zip(numbers, cited):
        matrix = passage_vectors[n - 1]
        if len(matrix):
            sims = matrix @ vector
            i = int(np.argmax(sims))
            if float(sims[i]) > best:
                best = float(sims[i])
                best_text = normalise_statement(cand.chunk.sentences[i].text) if cand.chunk.sentences else ""
    source = " ".join(c.chunk.text for c in cited)
    missing_numbers = numbers_in(written.text) - numbers_in(source)
    missing_drugs = set(find_drugs(written.text)) - set(find_drugs(source)) if find_drugs else set()
    if best < min_support:
        return Check(False, written.text, True, best, cited, f"support {best:.2f} below {min_support:g}")
    if missing_numbers or missing_drugs:
        what = sorted(missing_numbers) + sorted(missing_drugs)
        if best_text:  # on topic but states something the passage does not: say what the passage says
            return Check(True, best_text, False, best, cited, f"states {', '.join(what)} not in its passage")
        return Check(False, written.text, True, best, cited, f"states {', '.join(what)} not in its passage")
    return Check(True, written.text, True, best, cited)


@dataclass
class _Cited:
    """What :class:`~app.query.citing.Numbering` cites: the text, its main passage and every passage it rests on."""

    text: str
    cand: Candidate
    support: list[Candidate]


class LLMGenerator:
    """Model-written answers over an OpenAI-compatible server, verified sentence by sentence, extractive fallback."""

    name = "llm"

    def __init__(self, settings: AnswerSettings, llm: LLMSettings, encode: Callable[[list[str]], np.ndarray],
                 extractive: ExtractiveGenerator | None = None, client: LLMClient | None = None) -> None:
        self.settings, self.llm, self.encode = settings, llm, encode
        self.extractive = extractive or ExtractiveGenerator(settings)
        self._client = client

    @property
    def label(self) -> str:
        return f"llm:{self.llm.model}"

    def _passages(self, evidence: Evidence, draft: Draft) -> list[Candidate]:
        """The extractive draft's cited passages first, then the best-ranked others, at most ``max_passages``."""
        by_id = {c.chunk.chunk_id: c for c in evidence.candidates}
        order = [cid for ref in draft.references for cid in (ref.chunk_ids or [ref.chunk_id])]
        order += [c.chunk.chunk_id for c in sorted(evidence.candidates, key=lambda c: c.rank)]
        return [by_id[c] for c in dict.fromkeys(order) if c in by_id][: self.llm.max_passages]

    def generate(self, evidence: Evidence) -> Draft:
        """The extractive draft: abstention reads its signals before the model is asked (:meth:`write`)."""
        return self.extractive.generate(evidence)

    def write(self, evidence: Evidence, draft: Draft) -> Draft:
        """The model-written answer over ``draft``'s evidence, verified; ``draft`` with a notice when unusable."""
        if draft.bottom_line is None:
            return draft
        passages = self._passages(evidence, draft)
        try:
            client = self._client or LLMClient(self.llm)
            self._client = client
            reply = client.complete(SYSTEM_PROMPT, user_prompt(
                evidence.question, [(c.meta.title, c.chunk.text[: self.llm.passage_chars]) for c in passages],
                evidence.audience, evidence.conversation))
            written = parse_reply(reply)
        except LLMError as exc:
            return _fallback(draft, str(exc))
        if written.bottom_line is None or not written.bottom_line.text:
            return _fallback(draft, "the model found no answer in the passages")
        sentences = [written.bottom_line] + [w for _, ws in written.sections for w in ws]
        sizes = [len(c.chunk.sentences) for c in passages]
        encoded = self.encode([w.text for w in sentences] + [s.text for c in passages for s in c.chunk.sentences])
        vectors, rest = encoded[: len(sentences)], encoded[len(sentences):]
        bounds = np.cumsum([0, *sizes])
        passage_vectors = [rest[bounds[i]:bounds[i + 1]] for i in range(len(passages))]
        checks = [verify(w, passages, v, self.llm.min_support, passage_vectors, evidence.find_drugs)
                  for w, v in zip(sentences, vectors)]
        tally = {"written": len(checks), "verified": sum(c.kept and c.generated for c in checks),
                 "replaced": sum(c.kept and not c.generated for c in checks),
                 "dropped": sum(not c.kept for c in checks)}
        if not checks[0].kept or not checks[0].generated:
            out = _fallback(draft, f"the model's bottom line did not verify ({checks[0].problem})")
            out.tally = tally
            return out
        numbering = Numbering(self.settings.max_sentence_chars, self.settings.stale_after_years)
        bottom = self._statement(numbering, checks[0])
        sections, i, seen = [], 1, {bottom.text}
        for heading, ws in written.sections:
            statements = []
            for check in checks[i:i + len(ws)]:
                if check.kept and check.text not in seen:
                    seen.add(check.text)
                    statements.append(self._statement(numbering, check))
            i += len(ws)
            if statements:
                sections.append(Section(heading=heading, statements=statements))
        out = Draft(bottom, sections, numbering.references(), draft.covered_topics, draft.signals)
        out.generator, out.tally = self.label, tally
        return out

    @staticmethod
    def _statement(numbering: Numbering, check: Check) -> Statement:
        statement = numbering.cite(_Cited(check.text, check.cited[0], check.cited))
        if not check.generated:  # a source sentence replaced the generated one
            return statement
        return statement.model_copy(update={"generated": True, "verified": True, "support": round(check.support, 4)})


def _fallback(draft: Draft, reason: str) -> Draft:
    draft.notice = f"The language model's answer was not used ({reason}); this answer states source sentences."
    return draft
