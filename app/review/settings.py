"""Settings of the review store: where it lives, what is stored, who reviews, matching and retention.

>>> ReviewSettings(reviewer_keys={}).store_answers
'off'
"""

from __future__ import annotations

import os
from typing import Literal, Protocol

from pydantic import Field, field_validator

from core.settings import PathSettings, Section


def parse_reviewer_keys(text: str) -> dict[str, str]:
    """Reviewer keys from ``"name:key,name:key"`` (the format of ``MEDCITE_REVIEWER_KEYS``): name -> key.

    The key is everything after the first ``:`` of a pair; blanks around names and keys are dropped.

    >>> parse_reviewer_keys("dr-lee:k3y-one, dr-osei:key:two")
    {'dr-lee': 'k3y-one', 'dr-osei': 'key:two'}
    >>> parse_reviewer_keys("dr-lee")
    Traceback (most recent call last):
    ...
    ValueError: reviewer key entry 1 is not 'name:key' (no ':')
    """
    keys: dict[str, str] = {}
    for number, pair in enumerate((p.strip() for p in text.split(",")), 1):
        if not pair:
            continue
        name, sep, key = pair.partition(":")
        name, key = name.strip(), key.strip()
        if not sep:
            raise ValueError(f"reviewer key entry {number} is not 'name:key' (no ':')")
        if not name or not key:
            raise ValueError(f"reviewer key entry {number} has an empty {'name' if not name else 'key'}")
        if name in keys:
            raise ValueError(f"reviewer {name!r} is listed twice")
        keys[name] = key
    return keys


def _env_reviewer_keys() -> dict[str, str]:
    try:
        return parse_reviewer_keys(os.environ.get("MEDCITE_REVIEWER_KEYS", ""))
    except ValueError as exc:
        raise ValueError(f"MEDCITE_REVIEWER_KEYS: {exc}") from None


class ReviewSettings(Section):
    database_url: str | None = Field(
        None, repr=False,
        description="SQLAlchemy URL of the review store (articles, review history, feedback), e.g. "
        "'postgresql+psycopg://user:password@host:5432/medcite' (needs `pip install 'medcite[postgres]'`); "
        "None = the SQLite file <data_dir>/review.db, created with its schema on first use.",
    )
    store_answers: Literal["off", "opt_in", "all"] = Field(
        "off",
        description="Which answers become stored articles: 'off' = none (questions can hold patient details); "
        "'opt_in' = only answers a user explicitly keeps; 'all' = every answered question.",
    )
    reviewer_keys: dict[str, str] = Field(
        default_factory=_env_reviewer_keys, repr=False,
        description="Reviewer name -> API key for the review workflow (a role distinct from admin); read from "
        "MEDCITE_REVIEWER_KEYS as comma-separated 'name:key' pairs. Empty = nobody can review.",
    )
    match_similarity: float = Field(
        0.95, gt=0, le=1,
        description="Cosine similarity of question vectors at or above which a question is answered with an "
        "approved article of the same audience (when its index version or its cited passages are unchanged).",
    )
    retention_days: int | None = Field(
        30, ge=1,
        description="Days after which a stored article that no reviewer has acted on (status 'submitted') is "
        "deleted with its feedback (questions can hold patient details, so unreviewed ones do not stay forever); "
        "None (env: 'never') = keep forever.",
    )
    max_unreviewed: int = Field(
        10000, ge=1,
        description="Most stored articles no reviewer has acted on (status 'submitted'); past it, store_answers "
        "= 'all' stores nothing more (answers are still served) and 'keep this answer' is refused with 503, until "
        "reviewers or retention make room. Identical questions (same words, case and spacing aside) share one "
        "article either way.",
    )
    busy_timeout_s: float = Field(
        5.0, ge=0, le=600,
        description="How long a SQLite writer waits for another writer's lock before failing with a "
        "'database is locked' error.",
    )

    @field_validator("retention_days", mode="before")
    @classmethod
    def _never(cls, value: object) -> object:
        """'never' / 'none' / 'null' / '' (as an environment variable can say it) = keep forever."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "never", "none", "null") else value

    @field_validator("reviewer_keys", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        return parse_reviewer_keys(value) if isinstance(value, str) else value

    @field_validator("reviewer_keys")
    @classmethod
    def _distinct_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for name, key in value.items():
            if not name.strip() or not key.strip():
                raise ValueError("reviewer names and keys must not be empty")
            if name.strip().lower() == "system":
                raise ValueError("'system' is reserved for automatic review changes; choose another reviewer name")
        if len(set(value.values())) != len(value):
            raise ValueError("two reviewers share one key: every reviewer needs a key of their own")
        return value


class ReviewConfig(Protocol):
    """The settings sections the review service reads (the root ``app.settings.Settings`` satisfies it)."""

    paths: PathSettings
    review: ReviewSettings
