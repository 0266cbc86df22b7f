"""Settings of the ingest layer: chunk sizes, and the view of the root settings an ingest needs.

``IngestConfig`` is what :func:`ingest.pipeline.ingest` reads (the root ``app.settings.Settings`` satisfies it);
``IngestSettings`` is a concrete one, e.g. for the ingest worker process.

>>> IngestSettings().chunking.max_tokens
220
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.settings import PathSettings, Section
from index.settings import EmbeddingSettings, IndexSettings
class ChunkSettings(Section):
    max_tokens: int = Field(220, ge=32, le=512, description="Target maximum word-piece tokens per chunk.")
    overlap_tokens: int = Field(40, ge=0, le=200, description="Tokens of trailing sentences repeated in the next chunk.")
    min_tokens: int = Field(12, ge=0, description="Chunks shorter than this are merged into a neighbour.")


class IngestConfig(Protocol):
    """The settings sections an ingest reads."""

    paths: PathSettings
    embedding: EmbeddingSettings
    chunking: ChunkSettings
    index: IndexSettings


class IngestSettings(BaseModel):
    """A stand-alone :class:`IngestConfig` (other sections of a root settings dump are ignored)."""

    model_config = ConfigDict(extra="ignore")

    paths: PathSettings = Field(default_factory=PathSettings, description="Filesystem locations.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Sentence encoder.")
    chunking: ChunkSettings = Field(default_factory=ChunkSettings, description="Chunk sizes.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="On-disk index layout.")
