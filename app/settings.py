"""The one settings object of medcite, composed of every layer's sections.

Values come from (highest first) explicit arguments, ``MEDCITE_*`` environment variables (nested with
``__``, e.g. ``MEDCITE_RETRIEVAL__RRF_K=30``), a named preset (``MEDCITE_PRESET=fast``) and the defaults of each
section (defined next to the layer that reads it: ``core.settings``, ``index.settings``, ``ingest.settings``,
``app.query.settings``, ``app.http.settings``, ``app.review.settings``).

>>> s = Settings()
>>> s.chunking.max_tokens
220
>>> Settings.from_preset("fast").retrieval.candidates
40
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.http.settings import ChatSettings, SecuritySettings, ServerSettings
from app.query.settings import AnswerSettings, LimitSettings, LLMSettings, RetrievalSettings
from app.review.settings import ReviewSettings
from core.settings import PathSettings, deep_merge
from index.settings import EmbeddingSettings, IndexSettings
from ingest.settings import ChunkSettings, IngestSettings

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"retrieval": {"candidates": 40, "top_k": 6}, "embedding": {"batch_size": 64}},
    "quality": {"retrieval": {"candidates": 200, "top_k": 10}},
}


class Settings(BaseSettings):
    """The one settings object; pass it down, never mutate a global."""

    model_config = SettingsConfigDict(
        env_prefix="MEDCITE_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    preset: str = Field("default", description=f"Named preset applied under explicit values: {sorted(PRESETS)}.")
    paths: PathSettings = Field(default_factory=PathSettings, description="Filesystem locations.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Sentence encoder.")
    chunking: ChunkSettings = Field(default_factory=ChunkSettings, description="Chunk sizes.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="On-disk index layout.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Hybrid retrieval.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Answer assembly.")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Request limits.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Optional OpenAI-compatible LLM for written "
                             "answers (answer.generator = 'llm'), every sentence verified.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP service.")
    security: SecuritySettings = Field(default_factory=SecuritySettings, description="Keys, limits, CORS, logging.")
    chat: ChatSettings = Field(default_factory=ChatSettings, description="Chat API rendering for front-ends.")
    review: ReviewSettings = Field(
        default_factory=ReviewSettings, description="Review store: stored articles, reviewers, matching, retention."
    )

    @model_validator(mode="after")
    def _reviewer_keys_are_not_admin_keys(self) -> "Settings":
        shared = set(self.review.reviewer_keys.values()) & set(self.security.admin_keys)
        if shared:
            raise ValueError("a reviewer key is also an admin key: the reviewer role needs keys of its own")
        return self

    def ingest_settings(self) -> IngestSettings:
        """The sections an ingest reads, as a stand-alone object (e.g. for the ingest worker process)."""
        return IngestSettings(paths=self.paths, embedding=self.embedding, chunking=self.chunking, index=self.index)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "Settings":
        """Settings from a named preset, then environment, then ``overrides`` (highest)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        base = cls(preset=name, **overrides)
        merged = deep_merge(PRESETS[name], base.model_dump(exclude_unset=True))
        return cls(**merged)


def load_settings(**overrides: Any) -> Settings:
    """Settings honouring ``MEDCITE_PRESET`` (via the environment) and explicit overrides."""
    probe = Settings(**overrides)
    return Settings.from_preset(probe.preset, **overrides)
