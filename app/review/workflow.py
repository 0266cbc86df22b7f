"""The review workflow: statuses and the one table of allowed transitions.

==================  =============================================  ==========================================
from                allowed next                                   why
==================  =============================================  ==========================================
submitted           under_review                                   a reviewer picks it up
under_review        approved, changes_requested                    the reviewer's decision
changes_requested   under_review                                   looked at again (e.g. after a fix)
approved            needs_re_review, under_review                  cited passages changed (set by ``recheck``,
                                                                   reviewer ``system``) or a reviewer
                                                                   withdraws the approval to review it again
needs_re_review     under_review, approved, changes_requested      re-review: take it up, confirm it as it
                                                                   stands, or ask for changes
==================  =============================================  ==========================================

Every change is recorded with the reviewer's name, the time and a note. An article is served as approved only
in ``approved``; every other status carries the pending-review notice.

>>> [s.value for s in allowed_next(Status.under_review)]
['approved', 'changes_requested']
>>> is_allowed(Status.submitted, Status.approved)
False
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """Review status of an article (values match ``core.contracts.REVIEW_STATUS_LABELS``)."""

    submitted = "submitted"
    under_review = "under_review"
    approved = "approved"
    changes_requested = "changes_requested"
    needs_re_review = "needs_re_review"


#: THE transition table: status -> statuses it may move to (in display order).
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.submitted: (Status.under_review,),
    Status.under_review: (Status.approved, Status.changes_requested),
    Status.changes_requested: (Status.under_review,),
    Status.approved: (Status.needs_re_review, Status.under_review),
    Status.needs_re_review: (Status.under_review, Status.approved, Status.changes_requested),
}

#: Statuses listed in the reviewer queue (everything not approved).
QUEUE_STATUSES: tuple[Status, ...] = (
    Status.submitted, Status.under_review, Status.needs_re_review, Status.changes_requested,
)

#: Reviewer name of automatic transitions (re-review after an index change).
SYSTEM_REVIEWER = "system"


def allowed_next(current: Status) -> tuple[Status, ...]:
    """Statuses an article in ``current`` may move to."""
    return TRANSITIONS[Status(current)]


def is_allowed(current: Status, to: Status) -> bool:
    """Whether the table has an edge ``current -> to``."""
    return Status(to) in allowed_next(current)
