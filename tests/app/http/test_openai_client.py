"""The official ``openai`` package against a live medcite server on 127.0.0.1 (uvicorn in a background thread):
plain and streamed completions carry citations and the disclaimer; a follow-up in the history reaches the pipeline
as turns (fake pipeline, fast) and stays on topic (real small index, slow)."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from app.http.factory import create_app
from core.contracts import CITATION_RE, DISCLAIMERS
from app.settings import Settings
from test_chat import RELATED, FakePipeline

SEED = ("What is the most appropriate next diagnostic test for a pediatric patient presenting with a left flank mass "
        "and ultrasound findings of a mass with internal calcification?")

try:
    import openai
except ImportError:  # the browser tests import live_server from here; only these tests need openai
    openai = None

pytestmark = pytest.mark.skipif(openai is None, reason="the openai package is not installed (pip install openai)")


@contextmanager
def live_server(app: FastAPI, lifespan: str = "on") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a daemon thread; yields the base URL.

    ``lifespan="off"`` keeps an app built without a pipeline in its loading state (no load thread)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="medcite-test-server")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_client(base_url: str):
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="not-needed", max_retries=0, timeout=60,
                         http_client=openai.DefaultHttpxClient(trust_env=False))


@pytest.fixture(scope="module")
def fake() -> FakePipeline:
    return FakePipeline()


@pytest.fixture(scope="module")
def client(fake: FakePipeline):
    with live_server(create_app(Settings(), pipeline=fake)) as url:
        yield make_client(url)


def test_models_list(client) -> None:
    assert [m.id for m in client.models.list()] == ["medcite", "medcite-patient"]


def test_plain_completion_has_citations_disclaimer_and_structured_answer(client) -> None:
    completion = client.chat.completions.create(
        model="medcite", messages=[{"role": "user", "content": "How is Wilms tumor diagnosed?"}])
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert CITATION_RE.search(content) and "[2]" in content
    assert DISCLAIMERS["clinician"] in content
    assert completion.usage.completion_tokens == len(content.split())
    structured = completion.model_extra["medcite"]
    assert structured["related_questions"] == RELATED and structured["references"][0]["n"] == 1


def test_streamed_completion_arrives_in_pieces_with_citations_and_disclaimer(client) -> None:
    stream = client.chat.completions.create(
        model="medcite-patient", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "What is neuroblastoma?"}])
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    text = "".join(pieces)
    assert len(pieces) > 5
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "[1]" in text and DISCLAIMERS["patient"] in text
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"]
    assert finish[0].model_extra["medcite"]["audience"] == "patient"
    assert chunks[-1].usage.completion_tokens == len(text.split())


def test_follow_up_history_reaches_the_pipeline_as_turns(client, fake: FakePipeline) -> None:
    first = client.chat.completions.create(
        model="medcite", messages=[{"role": "user", "content": "How is Wilms tumor diagnosed?"}])
    history = [{"role": "user", "content": "How is Wilms tumor diagnosed?"},
               {"role": "assistant", "content": first.choices[0].message.content,
                "medcite": first.model_extra["medcite"]},
               {"role": "user", "content": "And how is it treated?"}]
    stream = client.chat.completions.create(model="medcite", messages=history, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "[1]" in text
    request = fake.requests[-1]
    assert request.question == "And how is it treated?"
    assert [t.question for t in request.turns] == ["How is Wilms tumor diagnosed?"]
    assert request.turns[0].cited_chunk_ids == ["wilms#3", "wilms#4", "nb#1"]


def test_errors_raise_the_matching_openai_exceptions(client) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="medcite", messages=[{"role": "system", "content": "Be brief."}])
    assert bad.value.code == "no_user_message" and "no user message" in bad.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"


@pytest.mark.slow
def test_real_index_follow_up_stays_on_topic(pipeline) -> None:
    """Over the small real index: the follow-up "And how is it treated?" is answered about Wilms tumour."""
    with live_server(create_app(pipeline.settings, pipeline=pipeline)) as url:
        client = make_client(url)
        question = "What is Wilms tumor?"
        first = client.chat.completions.create(model="medcite", messages=[{"role": "user", "content": question}])
        assert "[1]" in first.choices[0].message.content
        follow = client.chat.completions.create(model="medcite", messages=[
            {"role": "user", "content": question},
            {"role": "assistant", "content": first.choices[0].message.content, "medcite": first.model_extra["medcite"]},
            {"role": "user", "content": "And how is it treated?"}])
        title = client.chat.completions.create(model="medcite", messages=[{"role": "user", "content": (
            '### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n'
            '### Output:\nJSON format: { "title": "your concise title here" }\n### Chat History:\n<chat_history>\n'
            f'USER: {SEED}\nASSISTANT: {first.choices[0].message.content}\n</chat_history>')}])
    # title words ranked by IDF in the index: the specific ones, not "appropriate next diagnostic test"
    assert json.loads(title.choices[0].message.content) == {"title": "Pediatric Flank Mass Internal Calcification"}
    answer = follow.model_extra["medcite"]
    assert not answer["abstained"], answer["abstain_reason"]
    assert "wilms" in answer["resolved_question"].lower()
    assert any("wilms" in ref["title"].lower() for ref in answer["references"])
    assert DISCLAIMERS["clinician"] in follow.choices[0].message.content
