"""Contract constants shared by code and tests: one place, imported everywhere.

>>> format_citations([2, 1, 2])
'[1][2]'
>>> [int(n) for n in CITATION_RE.findall("Wilms tumour is treated with surgery [1][3].")]
[1, 3]
"""

from __future__ import annotations

import re
from typing import Iterable

#: Version of the on-disk index layout; bump on any incompatible change
#: (2: vector store by chunk id in ``vectors/``, lexical index with its backend in ``lexical/``).
INDEX_FORMAT_VERSION = 2

#: A citation in rendered text is a bracketed reference number: ``[n]``.
CITATION_RE = re.compile(r"\[(\d+)\]")

DISCLAIMER_CLINICIAN = (
    "This information is intended for healthcare professionals. Any medical decision-making should rely on "
    "clinical judgment and independently verified information. The content is extracted from the indexed "
    "guidelines and patient-information sources; verify it against the primary literature and current local "
    "guidance before acting on it."
)
DISCLAIMER_PATIENT = (
    "This information is for general education and is not medical advice. It does not replace a consultation "
    "with a doctor, nurse or pharmacist who knows your situation. If you are worried about your health, contact "
    "a healthcare professional; in an emergency, call your local emergency number."
)
DISCLAIMERS = {"clinician": DISCLAIMER_CLINICIAN, "patient": DISCLAIMER_PATIENT}

#: Bottom line of an abstention; the reason and nearest covered topics follow it.
ABSTENTION_TEXT = (
    "The indexed guidelines do not cover this question well enough to answer it; nothing is stated without a "
    "supporting passage."
)
ABSTENTION_COVERED_PREFIX = "The indexed sources do cover related topics:"

EMERGENCY_NOTICE = (
    "This may be a medical emergency. Call your local emergency number (911 in the US) or go to the nearest "
    "emergency department now; do not wait for an online answer."
)

#: Appended to an answer citing sources older than ``AnswerSettings.stale_after_years``; {refs} = "[2][3]".
SUPERSEDED_NOTICE = (
    "Sources {refs} are more than {years} years old and may have been superseded: check for a current version "
    "before relying on them."
)

#: Shown with an answer served while the index is still being built (lexical stage of a first build).
PARTIAL_INDEX_NOTICE = (
    "The index is still being built: this answer comes from keyword search only (semantic search is not ready "
    "yet), so it may miss passages a complete index would find."
)

#: Shown with every stored answer that no reviewer has approved (submitted, under review, changes requested,
#: needs re-review), like the disclaimer.
PENDING_REVIEW_NOTICE = (
    "This answer is pending human review: no medical reviewer has approved it yet, so exercise caution and check "
    "the cited sources before relying on it."
)
#: Shown with an approved answer; {reviewer} = the reviewer's name, {date} = the approval date (YYYY-MM-DD, UTC).
APPROVED_TEMPLATE = "Approved by {reviewer} on {date}"
#: Review status of a stored answer ("article") -> the label shown to readers.
REVIEW_STATUS_LABELS = {
    "submitted": "Submitted",
    "under_review": "Under review",
    "approved": "Approved",
    "changes_requested": "Changes requested",
    "needs_re_review": "Needs re-review",
}

#: Embedding text layout (MedRAG style) so that short sections stay findable.
EMBED_SEPARATOR = " -- "


def format_citations(numbers: Iterable[int]) -> str:
    """Render reference numbers as ``[1][2]``: sorted, de-duplicated."""
    return "".join(f"[{n}]" for n in sorted(set(numbers)))

#: Schema caps of a request: the configured limits (``LimitSettings``) may be lower, never higher.
MAX_QUESTION_CHARS = 2000
MAX_TURNS = 20
