"""Alternatives and their drawbacks go under the alternative, not under the main recommendation.

When the bottom line recommends one test or treatment and the recommending statements offer another with it ("CT
scan with contrast ... or MRI of abdomen and pelvis"), sentences about the other option -- its drawback ("The main
drawback with abdominal MRI is that moderate to deep sedation is often required"), where it is preferred ("MRI is
the preferred imaging modality in children with known bilateral Wilms tumors") -- form their own section headed by
that option.

>>> class U:
...     def __init__(self, text): self.text = text
>>> bottom = U("CT scan with contrast or MRI of abdomen and pelvis is performed.")
>>> rest = [U("The main drawback with abdominal MRI is that sedation is often required."),
...         U("CT scan of the abdomen will confirm the renal origin of the mass.")]
>>> groups, left = split_alternatives(bottom, rest, "next_test")
>>> [(h, [u.text[:20] for u in us]) for h, us in groups], [u.text[:20] for u in left]
([('Alternative: MRI', ['The main drawback wi'])], ['CT scan of the abdom'])
"""

from __future__ import annotations

from typing import Protocol, Sequence, TypeVar

from app.query.intents import DRAWBACK, modalities

#: Question kinds whose answers weigh options against each other.
OPTION_INTENTS = frozenset({"next_test", "treatment", "screening", "staging"})
MAX_PER_ALTERNATIVE = 3


class _HasText(Protocol):
    text: str


U = TypeVar("U", bound=_HasText)


def split_alternatives(bottom: _HasText, rest: Sequence[U], intent: str | None,
                       offers: Sequence[_HasText] = ()) -> tuple[list[tuple[str, list[U]]], list[U]]:
    """(``[(heading, statements)]`` per alternative, the statements left for the other sections).

    The primary option is the first test or treatment the bottom line names. Alternatives are the other options
    named together with the primary in the bottom line or in a recommending statement (``offers``). A statement
    goes under an alternative when that is the first option it names and it speaks of a drawback or a narrower
    role, or does not name the primary.
    """
    if intent not in OPTION_INTENTS:
        return [], list(rest)
    named = modalities(bottom.text)
    if not named:
        return [], list(rest)
    primary = named[0]
    others = set(named[1:])
    for offer in offers:
        options = modalities(offer.text)
        if primary in options:
            others.update(options)
    others.discard(primary)
    if not others:
        return [], list(rest)
    groups: dict[str, list[U]] = {}
    left: list[U] = []
    for unit in rest:
        options = modalities(unit.text)
        if options and options[0] in others and options[0] != primary and (
                DRAWBACK.search(unit.text) or primary not in options) and \
                len(groups.get(options[0], [])) < MAX_PER_ALTERNATIVE:
            groups.setdefault(options[0], []).append(unit)
        else:
            left.append(unit)
    return [(f"Alternative: {name}", units) for name, units in groups.items()], left
