"""Streaming with the llm generator (issue 20 item 3): the extractive answer first, then the verified model-written
answer after a divider (or why it was not used); the final chunk carries the answer shown last."""

from __future__ import annotations

import json
import re

import httpx
from fastapi.testclient import TestClient

from app.http.factory import create_app
from app.http.routers.chat import WRITTEN_DIVIDER
from app.query.llm_client import LLMClient
from app.query.llm_generator import LLMGenerator
from app.query.pipeline import AnswerPipeline
from app.query.settings import LLMSettings

QUESTION = "How is Wilms tumor treated?"
LLM = LLMSettings(base_url="http://llm.test/v1", model="test-model", timeout_s=5)


def _app(small_settings, pipeline, handler):
    pipe = AnswerPipeline(pipeline.index, pipeline.embedder, pipeline.settings, pipeline.bank)
    pipe._generators["llm"] = LLMGenerator(pipeline.settings.answer, LLM, pipe._encode,
                                           client=LLMClient(LLM, transport=httpx.MockTransport(handler)))
    settings = small_settings.model_copy(deep=True)
    settings.security = settings.security.model_copy(update={"rate_limit_per_minute": 0})
    return TestClient(create_app(settings, pipeline=pipe))


def _stream(client: TestClient) -> tuple[str, dict]:
    r = client.post("/v1/chat/completions", json={"model": "medcite", "stream": True, "medcite": {"generator": "llm"},
                                                  "messages": [{"role": "user", "content": QUESTION}]})
    assert r.status_code == 200
    frames = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    text = "".join(f["choices"][0]["delta"].get("content", "") for f in frames if f["choices"])
    assert r.text.rstrip().endswith("data: [DONE]")
    return text, frames[-1]["medcite"]


def test_the_stream_shows_the_extractive_answer_then_the_verified_written_one(small_settings, pipeline):
    def handler(request: httpx.Request) -> httpx.Response:
        user = json.loads(request.content)["messages"][-1]["content"]
        first = re.search(r"^\[1\] \([^)]*\) (.*?[.!?])(?:\s|$)", user, re.M).group(1)
        body = {"bottom_line": {"text": first, "cites": [1]}, "sections": []}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(body)},
                                                      "finish_reason": "stop"}]})

    text, final = _stream(_app(small_settings, pipeline, handler))
    before, divider, after = text.partition(WRITTEN_DIVIDER.strip())
    assert divider and "Written by a language model (test-model)" in after and "Written by" not in before
    assert before.lstrip().startswith("**") and "### References" in before  # a whole extractive answer came first
    assert final["generator"] == "llm:test-model" and final["bottom_line"]["verified"]
    assert final["bottom_line"]["text"] in after


def test_a_failing_model_leaves_the_extractive_answer_and_says_why(small_settings, pipeline):
    text, final = _stream(_app(small_settings, pipeline, lambda r: httpx.Response(503)))
    assert WRITTEN_DIVIDER.strip() not in text and "HTTP 503" in text
    assert final["generator"] == "extractive"
