"""Out-of-corpus questions the answers suite builds itself: medcite should abstain on every one of them.

Two groups: everyday non-medical questions, and medical-sounding questions about made-up drugs and diseases
(names built from fixed syllables with ``random.Random(7)``, so the set is the same on every run).

>>> items = invented_questions(6)
>>> items[0]
'What is the usual dose of zorblaxin?'
>>> len(items), len(set(items))
(6, 6)
"""

from __future__ import annotations

import random

NON_MEDICAL = (
    "How does a liquid-fuel rocket engine regulate its combustion chamber pressure?",
    "What is the specific impulse of a solid rocket booster?",
    "How do I file a tax return as a self-employed freelancer?",
    "What is the difference between a tax deduction and a tax credit?",
    "Can I deduct home office expenses on my income tax?",
    "What is the capital gains tax rate on shares held for two years?",
    "How long should I knead bread dough by hand?",
    "What temperature should I roast a whole chicken at?",
    "How do I make a sourdough starter from scratch?",
    "Why does my risotto turn out gluey?",
    "How many players are on a football team during a match?",
    "What is the offside rule in football?",
    "Who won the first FIFA World Cup?",
    "How is a penalty shootout decided in a football match?",
    "How do I change a flat tyre on a car?",
    "What is the best way to winterize a garden hose?",
    "How do I repot an orchid?",
    "When should I prune apple trees?",
    "How does a mortgage amortization schedule work?",
    "What is the difference between a Roth IRA and a traditional IRA?",
    "How do I reverse a linked list in Python?",
    "What does the HTTP status code 418 mean?",
    "How do I resolve a merge conflict in git?",
    "What is the capital of Australia?",
    "Why did the Roman Empire fall?",
    "How do I tune a guitar to drop D?",
    "What is the chord progression of a twelve-bar blues?",
    "How do solar panels convert sunlight into electricity?",
    "How far is the Moon from the Earth?",
    "How do I remove red wine stains from a carpet?",
    "What is the best way to learn a foreign language as an adult?",
    "How do I set up a freshwater aquarium?",
    "How often should I change the oil in a diesel engine?",
    "What is the rule for castling in chess?",
    "How do I write a cover letter for a job application?",
    "What are the visa requirements for travelling to Japan?",
    "How are interest rates set by a central bank?",
    "What wood is best for building outdoor furniture?",
    "How do I calculate the area of a circle?",
    "How many calories does a marathon runner burn in a race?",
)

_HEADS = ("zor", "krel", "vant", "quib", "drom", "thax", "plim", "gorv", "yul", "snev", "frab", "wexl")
_MIDS = ("bla", "mo", "tri", "zen", "qua", "lo", "vi", "dru", "ska", "pe")
_DRUG_ENDS = ("xin", "prazole", "tamab", "vudine", "floxacin", "dronate", "lukast", "sartan")
_DISEASE_FORMS = ("{} syndrome", "{}'s disease", "{} fever", "{} dystrophy")
DRUG_TEMPLATES = (
    "What is the usual dose of {}?",
    "What are the side effects of {}?",
    "Can I take {} with ibuprofen?",
    "Is {} safe during pregnancy?",
)
DISEASE_TEMPLATES = (
    "What are the symptoms of {}?",
    "How is {} treated?",
    "Is {} inherited?",
    "How is {} diagnosed?",
)


def _name(rng: random.Random, ends: tuple[str, ...] | None) -> str:
    stem = rng.choice(_HEADS) + rng.choice(_MIDS)
    return stem + rng.choice(ends) if ends else stem.capitalize() + rng.choice(("ria", "nova", "lith", "mer"))


def invented_questions(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct questions about made-up drugs and diseases, alternating between the two.

    The first is always about "zorblaxin" (the example in the issue).
    """
    rng = random.Random(seed)
    out: list[str] = ["What is the usual dose of zorblaxin?"] if n else []
    seen = set(out)
    while len(out) < n:
        if len(out) % 2:
            disease = rng.choice(_DISEASE_FORMS).format(_name(rng, None))
            question = rng.choice(DISEASE_TEMPLATES).format(disease)
        else:
            question = rng.choice(DRUG_TEMPLATES).format(_name(rng, _DRUG_ENDS))
        if question not in seen:
            seen.add(question)
            out.append(question)
    return out


def non_medical_questions(n: int | None = None) -> list[str]:
    """The first ``n`` (default all) non-medical questions."""
    return list(NON_MEDICAL[: n if n is not None else len(NON_MEDICAL)])
