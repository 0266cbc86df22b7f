"""Settings of the HTTP side: where the service listens, keys, rate limits, body limits, CORS, logging.

>>> ServerSettings().port, SecuritySettings(admin_keys=[]).rate_limit_per_minute
(8000, 120)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.settings import Section, env_flag, env_list


class ChatSettings(Section):
    """How the OpenAI-compatible chat API renders answers for chat front-ends."""

    link_citations: bool = Field(
        True, description="Render each [n] as a Markdown link to its source's URL (titled with the source's title); "
        "false = plain [n] as in the CLI."
    )
    related_questions: Literal["auto", "always", "never"] = Field(
        "auto", description="Related questions in the chat Markdown: 'auto' leaves them out when the client suggests "
        "follow-ups itself (Open WebUI, recognised by its built-in tools or headers; it then gets them through its "
        "follow-up request), 'always' or 'never'. A request can override it with medcite.related_questions."
    )


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Bind address for `medcite serve`.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port for `medcite serve`.")
    build_on_start: bool = Field(
        False, description="Build the index in the background at start (app.http.build): a first run serves a "
        "lexical-only version within minutes, then the complete one; an existing index is updated incrementally. "
        "`medcite serve` turns it on (--no-build turns it off)."
    )
    build_timeout_s: float = Field(7200.0, gt=0, description="Time limit for one stage of the background build.")
    workers: int = Field(
        2, ge=1, le=32, description="Worker processes of `medcite serve`. Above 1 the index and model are loaded "
        "once and the workers forked from that process share them copy-on-write (app.http.workers); 2 was "
        "fastest on 2 cores (var/notes/issue13-ops.md). 1 serves from a single process."
    )
    index_poll_seconds: float = Field(
        2.0, ge=0, description="How often each serving process checks the index's CURRENT pointer and swaps in a "
        "version another process made current (0 = never)."
    )
    mcp: bool = Field(True, description="Serve the MCP tools over streamable HTTP at /v1/mcp (needs the 'mcp' extra).")
    metrics: bool = Field(True, description="Serve Prometheus metrics at GET /metrics.")


class SecuritySettings(Section):
    admin_keys: list[str] = Field(
        default_factory=lambda: env_list("MEDCITE_ADMIN_KEYS"), repr=False,
        description="API keys for the admin endpoints (upload, delete, reindex, jobs), sent as "
        "'Authorization: Bearer KEY'; read from MEDCITE_ADMIN_KEYS (comma-separated). Empty = admin API disabled.",
    )
    query_keys: list[str] = Field(
        default_factory=lambda: env_list("MEDCITE_QUERY_KEYS"), repr=False,
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
        default_factory=lambda: env_flag("MEDCITE_LOG_QUESTIONS"),
        description="Include question text in request logs (MEDCITE_LOG_QUESTIONS=true); off by default.",
    )
