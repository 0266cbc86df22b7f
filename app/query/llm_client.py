"""Talking to an OpenAI-compatible chat server for written answers: the prompt, the JSON shape, defensive parsing.

One ``POST {base_url}/chat/completions`` per answer (temperature 0 by default) with ``response_format`` set to the
:data:`ANSWER_SCHEMA` JSON schema, which llama.cpp's ``llama-server``, vLLM and OpenAI turn into a grammar. Whatever
comes back is parsed defensively (code fences, text around the JSON, wrong types): anything unusable raises
:class:`LLMError` with a reason the answer's notice can show, never a stack trace.

>>> parse_reply('```json\\n{"bottom_line": {"text": "Use CT.", "cites": [1]}, "sections": []}\\n```').bottom_line
Written(text='Use CT.', cites=(1,))
>>> parse_reply("I cannot help with that.")
Traceback (most recent call last):
...
app.query.llm_client.LLMError: the model's reply holds no JSON object
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

import httpx

from app.query.settings import LLMSettings

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "bottom_line": {"$ref": "#/$defs/statement"},
        "sections": {"type": "array", "maxItems": 5, "items": {
            "type": "object",
            "properties": {"heading": {"type": "string", "maxLength": 60},
                           "statements": {"type": "array", "maxItems": 6, "items": {"$ref": "#/$defs/statement"}}},
            "required": ["heading", "statements"]}},
    },
    "required": ["bottom_line", "sections"],
    "$defs": {"statement": {"type": "object", "properties": {
        "text": {"type": "string", "maxLength": 300},  # bounded: a small model cannot loop inside one string
        "cites": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 4}},
        "required": ["text", "cites"]}},
}
SYSTEM_PROMPT = (
    "You are a clinical evidence assistant. Answer the clinician's question ONLY from the numbered passages. "
    "Every sentence must restate what its cited passages say, with their numbers, drug names and doses exactly as "
    "written; never add facts, doses or recommendations that the passages do not state. Reply with JSON only: "
    '{"bottom_line": {"text": one sentence that answers the question, "cites": [passage numbers]}, '
    '"sections": [{"heading": e.g. "Why this is recommended", "Alternatives and why not first", '
    '"Recommended approach", "statements": [{"text": one sentence, "cites": [passage numbers]}]}]}. '
    "Use at most 4 sections of at most 4 sentences. If the passages do not answer the question, reply "
    '{"bottom_line": {"text": "", "cites": [1]}, "sections": []}.'
)


class LLMError(Exception):
    """The server could not give a usable answer: down, slow, an HTTP error, a refusal or malformed output."""


@dataclass(frozen=True)
class Written:
    """One sentence the model wrote and the passage numbers it cites."""

    text: str
    cites: tuple[int, ...]


@dataclass(frozen=True)
class WrittenAnswer:
    bottom_line: Written | None
    sections: list[tuple[str, list[Written]]]


def user_prompt(question: str, passages: Sequence[tuple[str, str]], audience: str,
                conversation: Sequence[str] = ()) -> str:
    """The user message: earlier questions (context only), the question, the audience and the numbered passages
    ``(title, text)``."""
    lines = []
    if conversation:
        lines.append("Earlier questions in this conversation: " + " | ".join(conversation[-3:]))
    lines.append(f"Question: {question}")
    lines.append("Write for " + ("a patient, in plain words." if audience == "patient" else "a clinician."))
    lines.append("Passages:")
    for n, (title, text) in enumerate(passages, start=1):
        lines.append(f"[{n}] ({title}) {text}")
    return "\n".join(lines)


def _json_object(text: str) -> dict[str, Any]:
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise LLMError("the model's reply holds no JSON object")
    try:
        value = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise LLMError(f"the model's reply is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise LLMError("the model's reply is not a JSON object")
    return value


def _written(value: Any) -> Written | None:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    text = " ".join(value["text"].split())
    cites = value.get("cites")
    numbers = tuple(c for c in cites if isinstance(c, int) and not isinstance(c, bool)) if isinstance(cites, list) \
        else ()
    return Written(text, numbers) if text else None


def parse_reply(content: str) -> WrittenAnswer:
    """The answer in the model's reply (LLMError when there is none)."""
    data = _json_object(content)
    sections = []
    for raw in data.get("sections") or []:
        if not isinstance(raw, dict):
            continue
        heading = " ".join(str(raw.get("heading") or "").split())[:80] or "Details"
        statements = [w for w in map(_written, raw.get("statements") or []) if w is not None]
        if statements:
            sections.append((heading, statements))
    return WrittenAnswer(_written(data.get("bottom_line")), sections)


class LLMClient:
    """One OpenAI-compatible server (``settings``); ``transport`` lets tests stand in for the network."""

    def __init__(self, settings: LLMSettings, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.base_url:
            raise LLMError("no LLM server is configured (set MEDCITE_LLM__BASE_URL)")
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._http = httpx.Client(base_url=settings.base_url.rstrip("/"), headers=headers, transport=transport,
                                  timeout=httpx.Timeout(settings.timeout_s, connect=min(5.0, settings.timeout_s)),
                                  trust_env=False)

    def complete(self, system: str, user: str) -> str:
        """The reply text of one chat completion (LLMError for every failure, with its reason)."""
        body: dict[str, Any] = {"model": self.settings.model, "temperature": self.settings.temperature,
                                "max_tokens": self.settings.max_tokens,
                                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
        if self.settings.json_schema:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA}}
        try:
            response = self._http.post("/chat/completions", json=body)
        except httpx.TimeoutException:
            raise LLMError(f"the LLM server did not answer within {self.settings.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise LLMError(f"the LLM server cannot be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise LLMError(f"the LLM server answered HTTP {response.status_code}")
        try:
            choice = response.json()["choices"][0]
            content = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise LLMError("the LLM server's reply is not an OpenAI chat completion") from None
        if choice.get("finish_reason") == "content_filter" or not content.strip():
            raise LLMError("the model refused or wrote nothing")
        return content

    def close(self) -> None:
        self._http.close()
