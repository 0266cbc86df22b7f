"""OpenAI's chat-completions wire format: request and response models, and errors in OpenAI's shape.

Errors look like ``{"error": {"message", "type", "param", "code"}}``. Routes built with :class:`OpenAIRoute`
answer every failure that way: request validation (400, ``param`` names the field, e.g. ``messages[0].role``),
:class:`ChatError` raised by the endpoint, and unexpected exceptions (500, logged, no stack trace sent).

>>> _param(("body", "messages", 0, "role"))
'messages[0].role'
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Literal

from starlette.exceptions import HTTPException
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.query.escaping import reject_lone_surrogates
from app.query.schemas import Filters
from core.models import Audience

log = logging.getLogger("medcite.chat")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class RiddenReference(BaseModel):
    model_config = ConfigDict(extra="ignore")
    chunk_id: str
    chunk_ids: list[str] = Field(default_factory=list)


class RiddenAnswer(BaseModel):
    """The part of a structured answer sent back on an assistant message that follow-ups use."""

    model_config = ConfigDict(extra="ignore")
    references: list[RiddenReference] = Field(default_factory=list)

    def cited_chunk_ids(self) -> list[str]:
        ids = [cid for ref in self.references for cid in (ref.chunk_ids or [ref.chunk_id])]
        return list(dict.fromkeys(ids))[:50]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    medcite: RiddenAnswer | None = Field(None, description="Structured answer of an earlier medcite reply.")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.text and p.type in ("text", "input_text"))
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatOptions(BaseModel):
    """medcite extensions, sent as the extra body field ``medcite``."""

    model_config = ConfigDict(extra="forbid")
    audience: Audience | None = None
    top_k: int | None = Field(None, ge=1, le=50)
    filters: Filters | None = None
    related_questions: bool | None = Field(None, description="Related questions in the Markdown (default: the "
                                           "chat.related_questions setting).")
    generator: Literal["extractive", "llm"] | None = Field(None, description="Answer generator for this message "
                                                           "(default: answer.generator).")


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body; sampling fields are accepted and ignored, unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str = "medcite"
    messages: list[ChatMessage] = Field(..., description="The conversation, oldest first; the last user "
                                        "message is the question.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice is produced.")
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    tools: list[Any] | None = Field(None, description="Accepted and ignored (medcite calls no tools); their names "
                                    "tell which front-end is asking.")
    medcite: ChatOptions | None = None

    def tool_names(self) -> list[str]:
        """Names of the offered tools (OpenAI shape ``{"type": "function", "function": {"name": ...}}``)."""
        names = []
        for tool in self.tools or []:
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                names.append(function["name"])
        return names

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: object) -> object:
        if isinstance(data, dict) and "tools" in data:  # ignored, and the walk over ~26 KB of them cost ~0.3 ms
            reject_lone_surrogates({k: v for k, v in data.items() if k != "tools"})
            return data
        return reject_lone_surrogates(data)

    @field_validator("messages")
    @classmethod
    def _not_empty(cls, value: list[ChatMessage]) -> list[ChatMessage]:
        if not value:
            raise ValueError("must contain at least one message")
        return value


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "medcite"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ChatError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"Retry-After": "5"} if self.status == 503 else None
        return JSONResponse(status_code=self.status, content=body, headers=headers)


def _param(loc: tuple[Any, ...]) -> str:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role``."""
    out = ""
    for part in loc:
        if part == "body":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _validation_error(errors: list[dict[str, Any]]) -> ChatError:
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return ChatError(400, f"the request body is not valid JSON ({detail})".replace(" ()", ""), code="invalid_json")
    problems = [f"{_param(tuple(e.get('loc', ())))}: {str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
                for e in errors[:5]]
    return ChatError(400, "; ".join(problems), param=_param(tuple(first.get("loc", ()))), code="invalid_value")


class OpenAIRoute(APIRoute):
    """Route class answering every failure of its endpoints in OpenAI's error shape."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation_error(list(exc.errors())).response()
            except ChatError as exc:
                return exc.response()
            except HTTPException as exc:  # e.g. an unparseable body: keep its 4xx status, in OpenAI's shape
                kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
                return ChatError(exc.status_code, str(exc.detail), kind).response()
            except Exception as exc:  # never a bare stack trace for a chat client
                log.exception("chat completion failed")
                return ChatError(500, f"internal error ({type(exc).__name__}); see the server log",
                                 "server_error").response()

        return route
