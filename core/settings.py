"""The settings machinery every layer shares: the section base class, the shared paths, environment helpers.

Each layer defines its own sections next to its code (``index.settings``, ``ingest.settings``,
``app.query.settings``, ``app.http.settings``, ``app.review.settings``); ``app.settings.Settings`` composes them into
the one root object, which is passed down (never a global).

>>> PathSettings().index_dir.as_posix()
'var/index/default'
>>> deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}})
{'a': {'b': 1, 'c': 3}}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """Base of every settings section: unknown fields are an error, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathSettings(Section):
    """Where the corpus, the index and every built artefact live."""

    data_dir: Path = Field(Path("var"), description="Root for every built artefact (indexes, uploads, reports).")
    index_dir: Path = Field(
        Path("var/index/default"), description="Directory of the index that `serve`, `ask` and `eval` open."
    )
    corpus_dir: Path = Field(Path("corpus"), description="Directory of the bundled default corpus.")
    question_bank: Path = Field(
        Path("corpus/questions/medquad_questions.jsonl.gz"),
        description="Questions offered as 'related questions' (JSONL with a 'question' field).",
    )
    drug_names: Path = Field(
        Path("corpus/vocab/drug_names.tsv.gz"),
        description="Drug-name vocabulary (variant<TAB>canonical, gzip; corpus/derive_drugs.py) the answer's "
        "consistency check reads.",
    )
    condition_names: Path = Field(
        Path("corpus/vocab/condition_names.tsv.gz"),
        description="Condition-name vocabulary (variant<TAB>canonical, gzip; corpus/derive_conditions.py) the "
        "answer's consistency check reads.",
    )


def env_list(name: str) -> list[str]:
    """Comma-separated values of environment variable ``name`` (empty entries dropped)."""
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def deep_merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``, merging nested dictionaries."""
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
