"""Reviewer identification: which configured reviewer a presented key belongs to (constant-time).

>>> from app.review.settings import ReviewSettings
>>> review = ReviewSettings(reviewer_keys={"dr-lee": "k-lee-1234", "dr-osei": "k-osei-5678"})
>>> reviewer_for_key(review, "k-osei-5678")
'dr-osei'
>>> reviewer_for_key(review, "k-osei-567") is None
True
"""

from __future__ import annotations

import hmac

from app.review.settings import ReviewSettings
def reviewer_for_key(review: ReviewSettings, key: str | None) -> str | None:
    """The reviewer's name for ``key``, or None (unknown, empty or no reviewers configured).

    Every configured key is compared (``hmac.compare_digest``), so the time taken does not reveal which key,
    or how much of one, matched.
    """
    if not key:
        return None
    presented = key.encode("utf-8", "surrogatepass")
    found: str | None = None
    for name, configured in review.reviewer_keys.items():
        if hmac.compare_digest(presented, configured.encode("utf-8", "surrogatepass")):
            found = name
    return found
