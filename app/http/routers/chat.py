"""OpenAI-compatible chat API: ``POST /v1/chat/completions`` (plain and streamed) and ``GET /v1/models``.

Chat front-ends (Open WebUI, LibreChat, the ``openai`` package) talk to medcite as to any OpenAI model:

* The whole ``messages`` list is the conversation. The last user message is the question; each earlier user
  message becomes a ``Turn`` whose ``answer`` is the assistant message after it. When that assistant message
  carries the structured answer back in its ``medcite`` field, the chunks it cited become ``cited_chunk_ids``;
  when it is plain ``content`` (Open WebUI, LibreChat), the pipeline recovers them from the Markdown's
  References and citation links (``app.query.recovery``). An over-long reply keeps its start and its end
  (where the References are).
* Audience: model ``medcite`` answers clinicians, ``medcite-patient`` patients; a system message saying
  ``audience: patient`` / ``audience: clinician`` (or "for patients", "plain language", "for clinicians",
  "healthcare professional") overrides the model name.
* The reply ``content`` is the Markdown answer (``app.query.render.render_markdown``): bold bottom line, sections,
  bullets with [n], References, Related questions, disclaimer, so front-ends that drop unknown fields still show
  the citations. Each [n] links to its source's URL (``chat.link_citations``); the Related questions are left out
  when the client suggests follow-ups itself (``chat.related_questions``, ``medcite.related_questions``): Open
  WebUI then gets them through its follow-up request instead of showing them twice. The structured ``Answer``
  rides along in the extra top-level field ``medcite`` of the completion (of the last chunk when streaming).
* Streaming sends server-sent events: a first chunk with the role, the Markdown line by line, a last chunk with
  ``finish_reason: "stop"``, an optional usage chunk (``stream_options.include_usage``), then ``data: [DONE]``.
  With the llm generator (``{"medcite": {"generator": "llm"}}`` or ``answer.generator = 'llm'``) a stream shows the
  extractive answer at once, then -- after a divider -- the model-written answer once it has been verified (or the
  reason it was not used); the last chunk's ``medcite`` is the answer shown last. Non-streamed replies are the
  llm answer alone (extractive with a notice when it fails). Why this and not token streaming: a sentence can only
  be shown after it is verified, and a small CPU model takes seconds per answer, so the reader gets the cited
  extractive answer without waiting and never sees unverified text.
* ``usage`` counts approximate tokens as whitespace-separated words (medcite generates no tokens; the counts
  exist for front-ends that display them). ``max_tokens`` and sampling parameters are accepted and ignored:
  an answer is never cut, so its citations and disclaimer always arrive.
* Background prompts for a chat title, tags or follow-up suggestions get short replies (``app.http.chat_tasks``)
  from what survives of their (possibly truncated) history: follow-up suggestions are the related questions of
  the last question asked in its conversation, tags name the topic of the cited sources.
* ``tools`` (Open WebUI sends ~26 KB of tool definitions with every chat request) are accepted and ignored.
* Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: 400 for bad input, 404 for an
  unknown model, 503 while the index loads.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from app.http.chat_tasks import detect_task, reply_to_task, suggests_follow_ups
from app.http.chat_wire import (ChatCompletionRequest, ChatError, ChatOptions, ModelCard, ModelList, OpenAIRoute,
                           Usage)
from app.query.followup import MAX_CONTEXT_TURNS
from app.query.render import render_markdown
from app.query.schemas import Answer, AnswerRequest, Turn
from core.contracts import MAX_TURNS
from core.models import Audience

#: Model ids offered by ``/v1/models`` and the audience each one answers.
MODELS: dict[str, Audience] = {"medcite": "clinician", "medcite-patient": "patient"}
MAX_TURN_ANSWER_CHARS = 20000
_AUDIENCE_EXPLICIT = re.compile(r"audience\s*[:=]\s*[\"']?(clinician|patient)", re.I)
_AUDIENCE_HINTS: tuple[tuple[Audience, re.Pattern[str]], ...] = (
    ("patient", re.compile(r"\b(?:for patients|plain language|lay ?person|lay audience)\b", re.I)),
    ("clinician", re.compile(r"\b(?:for clinicians|healthcare professionals?|for physicians)\b", re.I)),
)


# ------------------------------------------------------------------------------------ conversation -> request
def select_audience(request: ChatCompletionRequest) -> Audience:
    """Extension field, then a system message, then the model name."""
    if request.medcite and request.medcite.audience:
        return request.medcite.audience
    system = "\n".join(m.text() for m in request.messages if m.role in ("system", "developer"))
    explicit = _AUDIENCE_EXPLICIT.search(system)
    if explicit:
        return "patient" if explicit.group(1).lower() == "patient" else "clinician"
    for audience, hint in _AUDIENCE_HINTS:
        if hint.search(system):
            return audience
    return MODELS[request.model]


def to_answer_request(request: ChatCompletionRequest, max_turns: int = MAX_TURNS) -> AnswerRequest:
    """The last user message is the question; earlier user messages with their replies become the turns (the most
    recent ``max_turns`` of them: the configured limit, ``LimitSettings.max_turns``)."""
    convo = [(i, m) for i, m in enumerate(request.messages) if m.role in ("user", "assistant")]
    users = [pos for pos, (_, m) in enumerate(convo) if m.role == "user"]
    if not users:
        raise ChatError(400, "messages: no user message to answer", param="messages", code="no_user_message")
    turns: list[Turn] = []
    for n, pos in enumerate(users[:-1]):
        question = convo[pos][1].text().strip()[:2000]
        replies = [m for _, m in convo[pos + 1: users[n + 1]] if m.role == "assistant"]
        answer = clip_reply("\n\n".join(m.text() for m in replies)) or None
        cited = [cid for m in replies if m.medcite for cid in m.medcite.cited_chunk_ids()][:50]
        if question:
            turns.append(Turn(question=question, answer=answer, cited_chunk_ids=cited))
    index, last = convo[users[-1]]
    opts = request.medcite or ChatOptions()
    try:
        return AnswerRequest(question=last.text(), turns=turns[-max_turns:] if max_turns else [], audience=select_audience(request),
                             top_k=opts.top_k, filters=opts.filters, generator=opts.generator)
    except ValidationError as exc:
        msg = str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise ChatError(400, f"messages[{index}].content: {msg}", param=f"messages[{index}].content",
                        code="invalid_value") from None


def clip_reply(text: str, limit: int = MAX_TURN_ANSWER_CHARS) -> str:
    """``text`` within ``limit`` characters: its start and its end (the References), joined by a line "…".

    >>> clip_reply("a" * 8 + "b" * 8, limit=11)
    'aaaaa\\n…\\nbbb'
    """
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2 + 1
    return f"{text[:head]}\n…\n{text[len(text) - (limit - 3 - head):]}"


def history_turns(history: list[tuple[str, str]]) -> list[Turn]:
    """The (role, text) messages of a background prompt's history as turns: each user message with the assistant
    replies after it (the last question keeps its answer too: it is the context of what to suggest next)."""
    turns: list[Turn] = []
    for role, text in history:
        if role == "user" and text.strip():
            turns.append(Turn(question=text.strip()[:2000]))
        elif role == "assistant" and turns:
            joined = f"{turns[-1].answer}\n\n{text}" if turns[-1].answer else text
            turns[-1] = Turn(question=turns[-1].question, answer=clip_reply(joined))
    return turns


def words(text: str) -> int:
    """Approximate token count: whitespace-separated words.

    >>> words("Wilms tumor [1]\\n is treated")
    5
    """
    return len(text.split())


# ------------------------------------------------------------------------------------------------ responses
class _Reply(BaseModel):
    model: str
    content: str
    answer: Answer | None = None
    prompt_tokens: int

    def usage(self) -> dict[str, int]:
        done = words(self.content)
        return Usage(prompt_tokens=self.prompt_tokens, completion_tokens=done,
                     total_tokens=self.prompt_tokens + done).model_dump()


def _completion(reply: _Reply, cid: str, created: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": cid, "object": "chat.completion", "created": created, "model": reply.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": reply.usage(),
    }
    if reply.answer is not None:
        body["medcite"] = reply.answer.model_dump(mode="json")
    return body


def _frame(base: dict[str, Any], delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    """One SSE chunk frame of the completion ``base`` (id, object, created, model)."""
    body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _chunk_base(model: str, cid: str, created: int) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}


def _content_frames(base: dict[str, Any], content: str) -> Iterator[str]:
    for line in content.splitlines(keepends=True):
        yield _frame(base, {"content": line})


def _end_frames(reply: _Reply, base: dict[str, Any], include_usage: bool) -> Iterator[str]:
    """Finish (with the structured answer), usage, [DONE]."""
    extra = {"medcite": reply.answer.model_dump(mode="json")} if reply.answer is not None else {}
    yield _frame(base, {}, "stop", **extra)
    if include_usage:
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': reply.usage()})}\n\n"
    yield "data: [DONE]\n\n"


def _chunks(reply: _Reply, cid: str, created: int, include_usage: bool) -> Iterator[str]:
    """SSE frames: role, the content line by line, finish (with the structured answer), usage, [DONE]."""
    base = _chunk_base(reply.model, cid, created)
    yield _frame(base, {"role": "assistant", "content": ""})
    yield from _content_frames(base, reply.content)
    yield from _end_frames(reply, base, include_usage)


def _respond(request: Request, body: ChatCompletionRequest, generator: str | None = None) -> _Reply:
    if body.model not in MODELS:
        raise ChatError(404, f"The model '{body.model}' does not exist; available: {', '.join(MODELS)}",
                        param="model", code="model_not_found")
    prompt_tokens = sum(words(m.text()) for m in body.messages)
    pipeline = request.app.state.medcite.pipeline
    task = detect_task([(m.role, m.text()) for m in body.messages])
    if task is not None:
        max_turns = getattr(getattr(pipeline, "settings", None), "limits", None)
        max_turns = max_turns.max_turns if max_turns is not None else MAX_TURNS

        def related(question: str, history: list[tuple[str, str]]) -> list[str]:
            if pipeline is None:
                return []
            turns = history_turns(history)[-max_turns:] if max_turns else []
            return pipeline.answer(AnswerRequest(question=question[:2000], turns=turns)).related_questions

        weigh = _idf_weigher(pipeline)
        content = reply_to_task(task, related, weigh, _source_topics(pipeline))
        return _Reply(model=body.model, content=content, prompt_tokens=prompt_tokens)
    limits = getattr(getattr(pipeline, "settings", None), "limits", None)
    answer_request = to_answer_request(body, limits.max_turns if limits is not None else MAX_TURNS)
    if generator is not None:
        answer_request = answer_request.model_copy(update={"generator": generator})
    if pipeline is None:
        state = request.app.state.medcite
        raise ChatError(503, state.error or "medcite is still loading its index and model; retry in a few seconds",
                        "server_error", code="loading")
    try:
        answer = request.app.state.review_desk.answer(pipeline, answer_request)  # approved articles, storing
    except ValueError as exc:  # the request breaks a configured limit or has contradictory filters
        raise ChatError(400, str(exc)) from None
    chat = request.app.state.medcite.settings.chat
    show_related = (body.medcite.related_questions if body.medcite and body.medcite.related_questions is not None
                    else chat.related_questions == "always" or chat.related_questions == "auto"
                    and not suggests_follow_ups(body.tool_names(), dict(request.headers)))
    content = render_markdown(answer, link_citations=chat.link_citations, related=show_related)
    return _Reply(model=body.model, content=content, answer=answer, prompt_tokens=prompt_tokens)


def _source_topics(pipeline: Any) -> Callable[[list[tuple[str, str]]], list[str]] | None:
    """history -> topics of the sources its assistant messages cite (recovered from their Markdown); None without
    an index."""
    sources = getattr(pipeline, "sources", None)
    if sources is None:
        return None

    def topics(history: list[tuple[str, str]]) -> list[str]:
        # the recent answers only, as follow-up resolution reads (each costs up to MAX_ROW_CHECKS comparisons)
        answers = [text for role, text in reversed(history) if role == "assistant"][:MAX_CONTEXT_TURNS]
        found = [t for text in answers for t in sources.topics(sources.chunk_ids(text))]
        return list(dict.fromkeys(found))

    return topics


def _idf_weigher(pipeline: Any) -> Callable[[str], dict[str, float]] | None:
    """word -> IDF in the loaded index, for picking title words; None without an index.

    Words the index never saw are rarer than any it knows, so they weigh as much as the rarest known word.
    """
    lexical = getattr(getattr(pipeline, "index", None), "lexical", None)
    if lexical is None:
        return None
    from index.lexical import tokenize

    def weigh(text: str) -> dict[str, float]:
        weights = lexical.term_weights(text)
        out = {w.lower(): max((weights.get(t, 0.0) for t in tokenize(w)), default=0.0) for w in text.split()}
        top = max(out.values(), default=1.0)
        return {w: v or top for w, v in out.items()}

    return weigh


# ---------------------------------------------------------------------------------------------------- router
router = APIRouter(route_class=OpenAIRoute, tags=["chat"])


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completion (plain or streamed)",
             response_description="A chat.completion object, or chat.completion.chunk server-sent events.")
def chat_completions(body: ChatCompletionRequest, request: Request):
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    if body.stream and _writes(request, body):
        first = _respond(request, body, generator="extractive")  # ready in milliseconds
        return StreamingResponse(_written_chunks(request, body, first, cid, created, include_usage),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    reply = _respond(request, body)
    if not body.stream:
        return JSONResponse(_completion(reply, cid, created))
    return StreamingResponse(_chunks(reply, cid, created, include_usage), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _writes(request: Request, body: ChatCompletionRequest) -> bool:
    """Whether this message asks for the llm generator (its extension field, else the server's setting)."""
    asked = body.medcite.generator if body.medcite else None
    return (asked or request.app.state.medcite.settings.answer.generator) == "llm"


#: Put between the extractive answer and the model-written one that follows it in a stream.
WRITTEN_DIVIDER = "\n\n---\n\n**The same sources, written by a language model (every sentence verified):**\n\n"


def _written_chunks(request: Request, body: ChatCompletionRequest, first: _Reply, cid: str, created: int,
                    include_usage: bool) -> Iterator[str]:
    """Streaming with the llm generator: the extractive answer at once, then -- when the model's answer verifies --
    that answer after a divider, else the reason it was not used. The final frame carries the answer shown last."""
    base = _chunk_base(first.model, cid, created)
    yield _frame(base, {"role": "assistant", "content": ""})
    yield from _content_frames(base, first.content)  # the finish frame comes after the written answer
    final = first
    served = first.answer is not None and first.answer.review is not None and first.answer.review.served_from_article
    if first.answer is not None and not first.answer.abstained and not served:  # an approved article is the answer
        try:
            written = _respond(request, body, generator="llm")
        except ChatError:
            written = None
        answer = written.answer if written is not None else None
        if answer is not None and answer.generator.startswith("llm"):
            final = written
            text = WRITTEN_DIVIDER + written.content
        else:
            notice = answer.generator_notice if answer is not None else "the language model could not be asked"
            text = f"\n\n> ℹ️ {notice}\n"
        yield from _content_frames(base, text)
    yield from _end_frames(final, base, include_usage)


@router.get("/v1/models", response_model=ModelList, summary="Models: medcite (clinicians), medcite-patient")
def list_models() -> ModelList:
    return ModelList(data=[ModelCard(id=name) for name in MODELS])


@router.get("/v1/models/{model}", response_model=ModelCard, summary="One model")
def get_model(model: str) -> ModelCard:
    if model not in MODELS:
        raise ChatError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return ModelCard(id=model)
