"""Follow-up resolution: rewrite "and in adults?" with the topic of the earlier turns, detect topic shifts.

A question is split into *topic words* (content words that are neither stop words nor generic facet words
such as treat, symptom, dose, adults, hereditary) and cues: a referring pronoun (it/this/they..., not the
dummy "is it safe to") or a leading "and"/"what about". Then, against the recent turns:

* no new topic word, one of the conversation's topic words, or a pronoun cue -> **follow-up** when it has
  a cue or no topic word of its own (the salient topic words of the recent turns are appended and passages
  cited earlier are preferred), else a self-contained **continuation** (cited passages still preferred);
* a new topic word without a pronoun -> the question is compared by embedding with the recent questions:
  below :data:`SHIFT_SIMILARITY` it is a **topic shift** (nothing carried); else a leading cue or a short
  question makes it a follow-up, :data:`SAME_TOPIC_SIMILARITY` or more a continuation, anything else a shift.

With ``topics`` (chunk ids -> the topics of their documents, e.g. "Wilms Tumor and Other Childhood Kidney
Tumors"), the topic of the source an earlier answer cited first (its bottom line's source) counts as that turn's
topic too, weighted :data:`SOURCE_WEIGHT`: "How is it treated?" after a vignette that never names the disease
carries the disease the answer found, not just the vignette's words.

>>> from app.query.schemas import Turn
>>> r = resolve_followup("And in adults?", [Turn(question="How is Wilms tumor treated?")], embed=None)
>>> r.text, r.is_followup, r.carried_terms
('And in adults? (Wilms tumor)', True, ['Wilms', 'tumor'])
>>> flank = Turn(question="Best test for a child with a flank mass?", cited_chunk_ids=["wilms#2"])
>>> resolve_followup("How is it treated?", [flank], None, topics=lambda ids: ["Wilms Tumor"]).carried_terms
['flank', 'mass', 'Wilms', 'Tumor']
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple, Sequence

import numpy as np
import Stemmer
from pydantic import BaseModel, Field

from app.query.intents import question_intent
from app.query.schemas import Turn
from index.lexical import STOP_WORDS

#: Earlier turns looked at (walking back until a self-contained question, inclusive).
MAX_CONTEXT_TURNS = 3
#: Weight of a term from a turn ``age`` turns before the last one: ``RECENCY_DECAY ** age``.
RECENCY_DECAY = 0.6
#: Topic terms appended to a follow-up.
MAX_CARRIED_TERMS = 6
#: Chunk ids cited earlier that retrieval should prefer (most recent turn first).
MAX_PREFER_CHUNKS = 12
#: Cosine similarity (new question vs recent questions, all-MiniLM-L6-v2) under which a question with a new
#: topic word starts a new topic ("What about asthma?" after Wilms tumor: 0.13 fp32 / 0.15 int8; "What about
#: vitamin B12 deficiency?" after metformin: 0.21 fp32 / 0.18 int8, the default encoder; "What about tamoxifen?"
#: after breast cancer: 0.45).
SHIFT_SIMILARITY = 0.17
#: A self-contained question (no cue, not short) this close to the recent questions continues the topic
#: ("side effects of methotrexate" after rheumatoid arthritis: 0.41 fp32 / 0.38 int8; "outlook for glaucoma" after
#: hypertension: 0.32 fp32 / 0.29 int8).
SAME_TOPIC_SIMILARITY = 0.36
#: Questions of at most this many words with a single topic word lean on the context ("Is spirometry needed?").
SHORT_QUESTION_WORDS = 4
#: Weight of a topic word of the source an earlier answer cited first, relative to a word of that turn's question
#: (above 1: the disease the answer found outranks the words of a long vignette).
SOURCE_WEIGHT = 1.5
#: Position offset of source topic words, so carried terms list the question's words first.
_SOURCE_POS = 1000

#: Generic facet, population and question words: they name what is asked, not what it is asked about.
FACET_WORDS = """
treat treated treating treatment treatments therapy therapies manage managed management cure cured curable
medication medications medicine medicines drug drugs surgery operation option options alternative alternatives
symptom symptoms sign signs cause causes caused causing diagnose diagnosed diagnosis diagnostic test tests testing
exam exams screen screening dose doses dosage dosing side effect effects adverse risk risks risky prevent prevented
prevention prognosis outlook survival complication complications hereditary inherited inherit genetic genetics gene
contagious infectious spread transmitted long last lasts recover recovery adult adults child children kid kids
pediatric paediatric elderly older infant infants baby babies newborn newborns teen teens teenager teenagers
pregnancy pregnant breastfeeding women woman men man people patient patients person
common rare frequent serious dangerous safe normal severe mild early late
get gets getting take takes taking taken use used using work works need needs needed could would might must may
much many often best first line type types stage stages information info know tell mean means happen happens
affect affects also else another new latest recommended recommendation recommendations guideline guidelines like
trigger triggers triggered exercise exercises diet diets food foods eat eating lifestyle activity
activities helpful effective useful life expectancy cost costs research study studies trial trials clinical support
resources specialist doctor doctors hospital home remedy remedies natural vaccine vaccines vaccination age years old
related relate relation associated link linked connection monitor monitored monitoring
thing things way ways kind kinds good bad worse better help helps possible likely still anything something
next step steps workup work-up evaluation initial standard preferred appropriate regimen regimens approach
first-line second-line frontline look looks presenting presentation finding findings right left year-old
month-old week-old day-old
""".split()
#: Kinds of ask (app.query.intents) whose answers sit in different sections: a follow-up that changes group
#: ("How is it treated?" after "What imaging for staging?") does not prefer the passages cited for the earlier one.
INTENT_GROUPS = {"next_test": "work-up", "diagnosis": "work-up", "staging": "work-up", "treatment": "management",
                 "dose": "management", "screening": "screening"}
_PRONOUNS = frozenset("it its itself this these those they them their theirs".split())
_THAT_NOUNS = frozenset("condition disease illness disorder drug medication medicine treatment one".split())
_LEADING_CUE = re.compile(r"^\s*(?:and|also|but|so|what about|how about|what if|same for|plus)\b", re.IGNORECASE)
_DUMMY_IT = re.compile(
    r"\bit\s+(?:is\s+|'s\s+)?(?:safe|ok|okay|possible|true|normal|necessary|advisable|better|worse|bad|dangerous|"
    r"common|wise|recommended|important|too late)\s+(?:to|for|that|if|when)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['-][A-Za-z0-9]+)*")


class ResolvedQuery(BaseModel):
    """The retrieval query for a question in its conversation."""

    text: str = Field(description="Query text: the question, plus carried topic terms for a follow-up.")
    is_followup: bool = Field(description="The question leans on earlier turns and was rewritten.")
    topic_shift: bool = Field(description="The question starts a new topic: nothing is carried.")
    carried_terms: list[str] = Field(default_factory=list, description="Terms appended from earlier turns.")
    prefer_chunk_ids: list[str] = Field(default_factory=list, description="Earlier cited chunks, recent first.")
    similarity: float | None = Field(None, description="Cosine to the recent questions, when it was needed.")


class _Words(NamedTuple):
    topic: list[tuple[str, str]]  # (stem, surface) of topic words, in text order
    pronoun: bool  # refers back with it/this/they...
    leading: bool  # opens with and/what about...
    n_words: int
    source: tuple[tuple[str, str], ...] = ()  # topic words of the first cited source's topic (context turns only)


def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


_FACET_STEMS = frozenset(_stemmer().stemWords(FACET_WORDS)) | frozenset(FACET_WORDS)


def analyse(question: str) -> _Words:
    """Topic words (stem, surface), cues and length of a question."""
    stemmer = _stemmer()
    words = _WORD.findall(question.replace("\u2019", "'"))
    lower = [w.lower() for w in words]
    referring = [w.lower() for w in _WORD.findall(_DUMMY_IT.sub(" ", question.replace("\u2019", "'")))]
    pronoun = any(
        w in _PRONOUNS or (w == "that" and (i + 1 == len(referring) or referring[i + 1] in _THAT_NOUNS))
        for i, w in enumerate(referring)
    )
    topic = []
    for surface, w in zip(words, lower, strict=True):
        if w in STOP_WORDS or w in _FACET_STEMS or w.endswith("'s") and w[:-2] in STOP_WORDS:
            continue
        w = w.removesuffix("'s")
        stem = stemmer.stemWord(w)
        acronym = surface.isupper() and len(surface) >= 2
        if stem in _FACET_STEMS or not (len(w) >= 3 or acronym) or w.isdigit():
            continue
        topic.append((stem, surface.removesuffix("'s")))
    return _Words(topic, pronoun, bool(_LEADING_CUE.match(question)), len(words))


Topics = Callable[[Sequence[str]], list[str]]


def _context(turns: Sequence[Turn], topics: Topics | None = None) -> list[tuple[int, Turn, _Words]]:
    """Recent turns (age 0 = last) back to and including the latest self-contained question."""
    out = []
    for age, turn in enumerate(reversed(turns[-MAX_CONTEXT_TURNS:])):
        words = analyse(turn.question)
        first = topics(turn.cited_chunk_ids[:1]) if topics is not None and turn.cited_chunk_ids else []
        if first:
            words = words._replace(source=tuple(analyse(first[0]).topic))
        out.append((age, turn, words))
        if words.topic and not (words.pronoun or words.leading):
            break
    return out


def _carried(context: list[tuple[int, Turn, _Words]], own: set[str]) -> list[str]:
    score: dict[str, float] = {}
    surface: dict[str, str] = {}
    place: dict[str, tuple[int, int]] = {}
    for age, _turn, words in context:
        weighted = [(pos, stem, word, 1.0) for pos, (stem, word) in enumerate(words.topic)]
        weighted += [(_SOURCE_POS + pos, stem, word, SOURCE_WEIGHT) for pos, (stem, word) in enumerate(words.source)]
        for pos, stem, word, weight in weighted:
            if stem in own:
                continue
            score[stem] = score.get(stem, 0.0) + weight * RECENCY_DECAY**age
            if stem not in surface:  # context runs newest first: keep the latest spelling
                surface[stem] = word
            place[stem] = (-age, pos)  # ends on the oldest occurrence: phrases keep their order
    best = sorted(score, key=lambda s: (-score[s], -place[s][0], place[s][1]))[:MAX_CARRIED_TERMS]
    return [surface[s] for s in sorted(best, key=lambda s: place[s])]


def _cited(context: list[tuple[int, Turn, _Words]]) -> list[str]:
    ids = [cid for _age, turn, _w in context for cid in turn.cited_chunk_ids]
    return list(dict.fromkeys(ids))[:MAX_PREFER_CHUNKS]


def resolve_followup(
    question: str, turns: list[Turn], embed: Callable[[list[str]], np.ndarray] | None,
    topics: Topics | None = None,
) -> ResolvedQuery:
    """Rewrite ``question`` against the earlier ``turns`` (oldest first).

    ``embed(texts) -> (n, d)`` unit vectors is called (once) only when a new topic word makes the decision
    depend on meaning; without turns the question is returned unchanged. ``topics(chunk_ids)`` names the topics
    of the documents of cited chunks (unknown ids left out).
    """
    question = question.strip()
    if not turns:
        return ResolvedQuery(text=question, is_followup=False, topic_shift=False)
    words = analyse(question)
    context = _context(turns, topics)
    known = {stem for _age, _turn, w in context for stem, _s in (*w.topic, *w.source)}
    own = {stem for stem, _s in words.topic}
    cue = words.pronoun or words.leading
    similarity = None
    followup = cue or not own
    if own and not own & known and not words.pronoun:
        if embed is None:
            raise ValueError("resolve_followup needs an embed function for a question with a new topic word")
        topical = [turn.question for _age, turn, w in context if w.topic] or [t.question for _a, t, _w in context]
        texts = [question, *topical]
        vectors = np.asarray(embed(texts), dtype=np.float32)
        similarity = float(np.max(vectors[1:] @ vectors[0]))
        short = words.n_words <= SHORT_QUESTION_WORDS and len(own) == 1
        followup = words.leading or short
        if similarity < SHIFT_SIMILARITY or (not followup and similarity < SAME_TOPIC_SIMILARITY):
            return ResolvedQuery(text=question, is_followup=False, topic_shift=True, similarity=similarity)
    cited = _cited(context)
    asks, asked_before = (INTENT_GROUPS.get(question_intent(q) or "") for q in (question, context[0][1].question))
    if asks and asked_before and asks != asked_before:
        cited = []  # "How is it treated?" after a work-up question: the work-up passages answer the earlier ask
    if not followup:  # self-contained question on the conversation's topic
        return ResolvedQuery(text=question, is_followup=False, topic_shift=False, prefer_chunk_ids=cited,
                             similarity=similarity)
    carried = _carried(context, own)
    text = f"{question} ({' '.join(carried)})" if carried else question
    return ResolvedQuery(text=text, is_followup=True, topic_shift=False, carried_terms=carried,
                         prefer_chunk_ids=cited, similarity=similarity)
