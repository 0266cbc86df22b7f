"""The llm generator (issue 20) against a stand-in OpenAI-compatible server (httpx.MockTransport): kept sentences are
verified against the passages they cite, invented facts and foreign citations never reach the answer, and every
fault of the server falls back to the extractive answer with a notice."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from app.query.llm_client import LLMClient
from app.query.llm_generator import LLMGenerator
from app.query.pipeline import AnswerPipeline
from app.query.render import GENERATED_MARK, render_markdown
from app.query.schemas import AnswerRequest
from app.query.settings import LLMSettings

QUESTION = "How is Wilms tumor treated?"
LLM = LLMSettings(base_url="http://llm.test/v1", model="test-model", timeout_s=5)


def passages_of(request: httpx.Request) -> dict[int, str]:
    user = json.loads(request.content)["messages"][-1]["content"]
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] \([^)]*\) (.*)$", user, re.M)}


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip())[0]


def completion(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content},
                                                  "finish_reason": "stop"}]})


def with_llm(pipeline: AnswerPipeline, handler) -> tuple[AnswerPipeline, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    other = AnswerPipeline(pipeline.index, pipeline.embedder, pipeline.settings, pipeline.bank)
    client = LLMClient(LLM, transport=httpx.MockTransport(record))
    other._generators["llm"] = LLMGenerator(pipeline.settings.answer, LLM, other._encode, client=client)
    return other, seen


def test_kept_sentences_are_verified_and_invented_ones_never_shown(pipeline):
    def handler(request: httpx.Request) -> httpx.Response:
        p = passages_of(request)
        body = {"bottom_line": {"text": first_sentence(p[1]), "cites": [1]}, "sections": [
            {"heading": "Recommended approach", "statements": [
                {"text": first_sentence(p[2]), "cites": [2]},
                {"text": "Give 500 mg of zorbamycin twice daily for ten weeks.", "cites": [1]},
                {"text": first_sentence(p[1]) + " It works in 97% of children.", "cites": [1]},
                {"text": first_sentence(p[2]), "cites": [9]}]}]}
        return completion(json.dumps(body))

    llm, seen = with_llm(pipeline, handler)
    answer = llm.answer(AnswerRequest(question=QUESTION, generator="llm", debug=True))
    assert len(seen) == 1 and json.loads(seen[0].content)["response_format"]["type"] == "json_schema"
    tally = answer.trace.generation
    assert tally["written"] == 5 and tally["dropped"] >= 2 and tally["verified"] >= 2  # zorbamycin, passage [9]
    assert tally["verified"] + tally["replaced"] + tally["dropped"] == 5
    assert answer.generator == "llm:test-model" and answer.generator_notice is None and not answer.abstained
    bottom = answer.bottom_line
    assert bottom.generated and bottom.verified and bottom.support >= LLM.min_support
    statements = [st for sec in answer.sections for st in sec.statements]
    text = " ".join(st.text for st in [bottom, *statements])
    assert "zorbamycin" not in text and "500" not in text and "97%" not in text  # invented facts never shown
    assert all(st.verified for st in statements if st.generated)
    assert all(not st.generated for st in statements if "97" in st.text)
    passages = {ref.n: ref.passage for ref in answer.references}
    assert [ref.n for ref in answer.references] == list(range(1, len(answer.references) + 1))
    for st in [bottom, *statements]:  # every kept sentence rests on a passage that says it
        assert st.citations and all(n in passages for n in st.citations)
        assert not st.generated or st.support >= LLM.min_support
        if not st.generated:
            assert st.text[:40] in " ".join(passages[n] for n in st.citations)
    markdown = render_markdown(answer)
    assert f"{GENERATED_MARK} Written by a language model (test-model)" in markdown
    assert f"{bottom.text}**{GENERATED_MARK}" in markdown


@pytest.mark.parametrize("reply,notice", [
    (lambda r: httpx.Response(500, json={"error": "boom"}), "HTTP 500"),
    (lambda r: completion("Sorry, I can only talk about cooking."), "no JSON object"),
    (lambda r: completion('{"bottom_line": {"text": "Wilms tumor is treated'), "no JSON object"),
    (lambda r: completion(""), "refused or wrote nothing"),
    (lambda r: httpx.Response(200, text="<html>proxy error</html>"), "not an OpenAI chat completion"),
    (lambda r: completion(json.dumps({"bottom_line": {"text": "The moon is made of cheese.", "cites": [1]},
                                      "sections": []})), "bottom line did not verify"),
    (lambda r: completion(json.dumps({"bottom_line": {"text": "", "cites": [1]}, "sections": []})),
     "found no answer"),
])
def test_server_faults_fall_back_to_the_extractive_answer(pipeline, reply, notice):
    extractive = pipeline.answer(AnswerRequest(question=QUESTION))
    llm, _ = with_llm(pipeline, reply)
    answer = llm.answer(AnswerRequest(question=QUESTION, generator="llm"))
    assert answer.generator == "extractive" and notice in answer.generator_notice
    assert answer.bottom_line == extractive.bottom_line and answer.sections == extractive.sections
    assert f"ℹ️ {answer.generator_notice}"[:40] in render_markdown(answer)


@pytest.mark.parametrize("error,notice", [(httpx.ReadTimeout("slow"), "did not answer within 5 s"),
                                          (httpx.ConnectError("refused"), "cannot be reached")])
def test_a_slow_or_missing_server_falls_back(pipeline, error, notice):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    llm, _ = with_llm(pipeline, handler)
    answer = llm.answer(AnswerRequest(question=QUESTION, generator="llm"))
    assert answer.generator == "extractive" and notice in answer.generator_notice and answer.bottom_line


def test_without_a_configured_server_llm_requests_get_the_extractive_answer(pipeline):
    answer = pipeline.answer(AnswerRequest(question=QUESTION, generator="llm"))
    assert answer.generator == "extractive" and "no LLM server is configured" in answer.generator_notice
    plain = pipeline.answer(AnswerRequest(question=QUESTION))
    assert plain.generator == "extractive" and plain.generator_notice is None
    assert answer.bottom_line == plain.bottom_line


def test_abstentions_do_not_call_the_model(pipeline):
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the model was asked about an out-of-corpus question")

    llm, seen = with_llm(pipeline, handler)
    answer = llm.answer(AnswerRequest(question="How do I bake sourdough bread at home?", generator="llm"))
    assert answer.abstained and seen == []
