"""The OpenAI-compatible chat API over a fake pipeline: wire format, SSE framing, errors, audience, follow-ups,
and the background requests of chat front-ends (title, tags, follow-up suggestions)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.http.factory import create_app
from app.http.chat_tasks import detect_task, make_title, related_from_history, reply_to_task
from app.query.render import render_markdown
from app.query.schemas import Answer, AnswerRequest, Reference, Section, Statement
from core.contracts import CITATION_RE, DISCLAIMERS
from core.models import DocType
from app.settings import Settings
RELATED = ["What are the symptoms of Wilms tumor?", "How is neuroblastoma treated?"]
# Open WebUI's default background prompts (the instruction part), as front-ends send them.
TITLE_PROMPT = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
### Output:
JSON format: { "title": "your concise title here" }
### Chat History:
<chat_history>
USER: {q}
ASSISTANT: {a}
</chat_history>"""
TAGS_PROMPT = """### Task:
Generate 1-3 broad tags categorizing the main themes of the chat history, along with 1-3 more specific subtopic tags.
### Output:
JSON format: { "tags": ["tag1", "tag2", "tag3"] }
### Chat History:
<chat_history>
USER: {q}
ASSISTANT: {a}
</chat_history>"""
FOLLOW_UP_PROMPT = """### Task:
Suggest 3-5 relevant follow-up questions or prompts that the user might naturally ask next in this conversation as a **user**, based on the chat history, to help continue or deepen the discussion.
### Output:
JSON format: { "follow_ups": ["Question 1?", "Question 2?", "Question 3?"] }
### Chat History:
<chat_history>
USER: {q}
ASSISTANT: {a}
</chat_history>"""


class FakePipeline:
    """Records every request; answers with a small hand-built cited answer."""

    def __init__(self) -> None:
        self.requests: list[AnswerRequest] = []

    def answer(self, request: AnswerRequest) -> Answer:
        self.requests.append(request)
        ref = Reference(n=1, type=DocType.guideline, title="Wilms Tumor Treatment (PDQ)", issuer="NIH/NCI",
                        year=2023, url="https://www.cancer.gov/wilms", chunk_id="wilms#3",
                        chunk_ids=["wilms#3", "wilms#4"],
                        doc_id="wilms", passage="CT of the abdomen is the next step.")
        ref2 = ref.model_copy(update={"n": 2, "type": DocType.patient_information, "title": "Neuroblastoma",
                                      "chunk_id": "nb#1", "chunk_ids": ["nb#1"], "doc_id": "nb"})
        return Answer(
            question=request.question, resolved_question=request.question, audience=request.audience,
            bottom_line=Statement(text="Obtain a CT scan of the abdomen.", citations=[1], chunk_id="wilms#3"),
            sections=[Section(heading="Diagnosis", statements=[
                Statement(text="Calcification suggests neuroblastoma.", citations=[2], chunk_id="nb#1"),
                Statement(text="Wilms tumor rarely calcifies.", citations=[1, 2], chunk_id="wilms#4")])],
            references=[ref, ref2], related_questions=RELATED, disclaimer=DISCLAIMERS[request.audience],
        )


@pytest.fixture()
def fake() -> FakePipeline:
    return FakePipeline()


@pytest.fixture()
def client(fake: FakePipeline) -> TestClient:
    return TestClient(create_app(Settings(), pipeline=fake))


def chat(client: TestClient, *messages: dict, **extra):
    return client.post("/v1/chat/completions", json={"model": "medcite", "messages": list(messages), **extra})


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def sse_events(text: str) -> list[str]:
    """Payloads of an SSE body, checking each event is exactly one ``data:`` line followed by a blank line."""
    assert text.endswith("\n\n")
    events = text[:-2].split("\n\n")
    for event in events:
        assert event.startswith("data: ") and "\n" not in event, event
    return [e[len("data: "):] for e in events]


# ---------------------------------------------------------------------------------------------- models
def test_models_lists_both_audiences(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["medcite", "medcite-patient"]
    assert all(m["object"] == "model" for m in body["data"])
    assert client.get("/v1/models/medcite-patient").json()["id"] == "medcite-patient"
    missing = client.get("/v1/models/gpt-4")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


# ------------------------------------------------------------------------------------------ completions
def test_completion_wire_format_content_and_structured_answer(client: TestClient, fake: FakePipeline) -> None:
    resp = chat(client, user("What is the next test for a flank mass with calcification?"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "medcite" and isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    content = choice["message"]["content"]
    assert choice["message"]["role"] == "assistant"
    answer = fake.answer(fake.requests[0])
    assert content == render_markdown(answer, link_citations=True)
    # every [n] links to its source, titled with the source's title
    assert content.startswith('**Obtain a CT scan of the abdomen.** [[1]](https://www.cancer.gov/wilms '
                              '"Wilms Tumor Treatment (PDQ)")')
    assert {int(n) for n in CITATION_RE.findall(content)} == {1, 2}
    assert DISCLAIMERS["clinician"] in content and "### References" in content and RELATED[0] in content
    assert body["medcite"]["bottom_line"]["text"] == "Obtain a CT scan of the abdomen."
    assert body["medcite"]["references"][0]["chunk_ids"] == ["wilms#3", "wilms#4"]
    usage = body["usage"]
    assert usage["completion_tokens"] == len(content.split())
    assert usage["prompt_tokens"] == 11 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_streaming_sends_role_lines_stop_and_done(client: TestClient, fake: FakePipeline) -> None:
    resp = chat(client, user("How is Wilms tumor diagnosed?"), stream=True, stream_options={"include_usage": True})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) > 5  # line by line, not one blob
    text = "".join(c["choices"][0]["delta"]["content"] for c in content_chunks)
    assert text == render_markdown(fake.answer(fake.requests[0]), link_citations=True)
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    assert finish[0]["medcite"]["references"][1]["title"] == "Neuroblastoma"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(text.split())


def test_streaming_without_usage_option_ends_with_the_stop_chunk(client: TestClient) -> None:
    events = sse_events(chat(client, user("How is Wilms tumor diagnosed?"), stream=True).text)
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"


# ------------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(("messages", "param", "needle"), [
    ([], "messages", "at least one message"),
    ([{"role": "doctor", "content": "hi"}], "messages[0].role", "Input should be"),
    ([{"role": "system", "content": "Be brief."}], "messages", "no user message"),
    ([user("   ")], "messages[0].content", "question is empty"),
    ([user("x" * 2001)], "messages[0].content", "limit is 2000"),
    ([{"content": "no role"}], "messages[0].role", "Field required"),
])
def test_bad_input_gets_openai_error_shape(client: TestClient, fake: FakePipeline, messages, param, needle) -> None:
    resp = chat(client, *messages)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and needle in error["message"]
    assert fake.requests == []


def test_unknown_model_invalid_json_and_n(client: TestClient) -> None:
    resp = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [user("hi")]})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "model_not_found"
    assert "medcite-patient" in resp.json()["error"]["message"]
    resp = client.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    resp = chat(client, user("hi"), n=2)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "n"


def test_loading_index_answers_503_in_openai_shape() -> None:
    client = TestClient(create_app(Settings(), pipeline=None))  # no lifespan: stays loading
    resp = chat(client, user("How is Wilms tumor treated?"))
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
    assert resp.json()["error"] == {"message": "medcite is still loading its index and model; retry in a few seconds",
                                    "type": "server_error", "param": None, "code": "loading"}


# ---------------------------------------------------------------------------------------------- audience
@pytest.mark.parametrize(("model", "system", "extension", "expected"), [
    ("medcite", None, None, "clinician"),
    ("medcite-patient", None, None, "patient"),
    ("medcite", "audience: patient", None, "patient"),
    ("medcite", "Explain in plain language for patients.", None, "patient"),
    ("medcite-patient", "You answer healthcare professionals.", None, "clinician"),
    ("medcite-patient", None, {"audience": "clinician"}, "clinician"),
])
def test_model_name_system_message_or_extension_select_audience(client, fake, model, system, extension,
                                                                 expected) -> None:
    messages = ([{"role": "system", "content": system}] if system else []) + [user("How is Wilms tumor treated?")]
    body = {"model": model, "messages": messages} | ({"medcite": extension} if extension else {})
    resp = client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200
    assert fake.requests[-1].audience == expected
    assert DISCLAIMERS[expected] in resp.json()["choices"][0]["message"]["content"]
    assert resp.json()["model"] == model


# --------------------------------------------------------------------------------------------- follow-ups
def test_history_becomes_turns_with_cited_chunks_from_the_ridden_answer(client, fake) -> None:
    first = chat(client, user("How is Wilms tumor diagnosed?")).json()
    assistant = {"role": "assistant", "content": first["choices"][0]["message"]["content"], "medcite": first["medcite"]}
    resp = chat(client, {"role": "system", "content": "You are medcite."}, user("How is Wilms tumor diagnosed?"),
                assistant, {"role": "user", "content": [{"type": "text", "text": "And in adults?"}]})
    assert resp.status_code == 200
    request = fake.requests[-1]
    assert request.question == "And in adults?"
    [turn] = request.turns
    assert turn.question == "How is Wilms tumor diagnosed?"
    assert turn.answer == first["choices"][0]["message"]["content"]
    assert turn.cited_chunk_ids == ["wilms#3", "wilms#4", "nb#1"]


def test_history_without_structured_answer_keeps_text_only(client, fake) -> None:
    chat(client, user("What causes neuroblastoma?"), {"role": "assistant", "content": "It is a tumor [1]."},
         user("Is it hereditary?"), {"role": "assistant", "content": "Sometimes [2]."}, user("How is it treated?"))
    request = fake.requests[-1]
    assert [t.question for t in request.turns] == ["What causes neuroblastoma?", "Is it hereditary?"]
    assert [t.answer for t in request.turns] == ["It is a tumor [1].", "Sometimes [2]."]
    assert all(t.cited_chunk_ids == [] for t in request.turns)
    assert request.question == "How is it treated?"


def test_an_over_long_reply_keeps_its_start_and_its_references(client, fake) -> None:
    long_reply = "**Bottom line.** [1]\n\n" + "- filler statement [1]\n" * 2000 + "### References\n\n1. *Guideline* — **T**."
    chat(client, user("What causes neuroblastoma?"), {"role": "assistant", "content": long_reply},
         user("How is it treated?"))
    [turn] = fake.requests[-1].turns
    assert len(turn.answer) <= 20000 < len(long_reply)
    assert turn.answer.startswith("**Bottom line.** [1]") and turn.answer.endswith("1. *Guideline* — **T**.")


# Open WebUI's built-in tools, as it sends them with every chat request (names only; the real list is ~26 KB).
OPEN_WEBUI_TOOLS = [{"type": "function", "function": {"name": n, "description": "...", "parameters": {}}}
                    for n in ("get_current_timestamp", "search_chats", "view_chat", "search_notes", "view_note")]


@pytest.mark.parametrize("extra, headers, shown", [
    ({}, {}, True),  # a plain OpenAI client: the Markdown carries the related questions
    ({"tools": OPEN_WEBUI_TOOLS}, {}, False),  # Open WebUI asks for follow-ups itself: not twice
    ({}, {"X-OpenWebUI-User-Id": "u1"}, False),  # its forwarded user headers tell it too
    ({"tools": OPEN_WEBUI_TOOLS, "medcite": {"related_questions": True}}, {}, True),  # the request decides
    ({"medcite": {"related_questions": False}}, {}, False),
    ({"tools": [{"type": "function", "function": {"name": "lookup_drug"}}]}, {}, True),  # other tools: shown
])
def test_related_questions_are_left_out_when_the_client_suggests_follow_ups(client, extra, headers, shown) -> None:
    body = client.post("/v1/chat/completions", headers=headers,
                       json={"model": "medcite", "messages": [user("How is Wilms tumor treated?")], **extra}).json()
    content = body["choices"][0]["message"]["content"]
    assert ("### Related questions" in content) is shown and (RELATED[0] in content) is shown
    assert body["medcite"]["related_questions"] == RELATED  # the structured answer keeps them
    assert "### References" in content and DISCLAIMERS["clinician"] in content


@pytest.mark.parametrize("mode, link, shown", [("always", False, True), ("never", True, False)])
def test_chat_settings_choose_related_questions_and_links(fake, mode, link, shown) -> None:
    settings = Settings()
    settings.chat.related_questions, settings.chat.link_citations = mode, link
    client = TestClient(create_app(settings, pipeline=fake))
    content = chat(client, user("How is Wilms tumor treated?"), tools=OPEN_WEBUI_TOOLS).json()[
        "choices"][0]["message"]["content"]
    assert ("### Related questions" in content) is shown
    assert content.startswith("**Obtain a CT scan of the abdomen.** " + ("[[1]](https://" if link else "[1]\n"))


def test_medcite_options_pass_top_k_and_filters(client, fake) -> None:
    resp = chat(client, user("How is TB treated?"), medcite={"top_k": 3, "filters": {"issuer": ["CDC"]}})
    assert resp.status_code == 200
    assert fake.requests[-1].top_k == 3 and fake.requests[-1].filters.issuer == ["CDC"]


# ----------------------------------------------------------------------------------- background requests
def test_title_request_gets_a_title_from_the_first_question_not_an_answer(client, fake) -> None:
    prompt = TITLE_PROMPT.replace("{q}", "How is Wilms tumor diagnosed in children?").replace("{a}", "**CT** [1]")
    body = chat(client, user(prompt)).json()
    title = json.loads(body["choices"][0]["message"]["content"])["title"]
    assert title == "Wilms Tumor Diagnosed Children"
    assert "medcite" not in body and fake.requests == []


def test_title_request_works_while_loading() -> None:
    client = TestClient(create_app(Settings(), pipeline=None))
    prompt = TITLE_PROMPT.replace("{q}", "What is neuroblastoma?").replace("{a}", "")
    resp = chat(client, user(prompt), stream=True)
    assert resp.status_code == 200
    events = sse_events(resp.text)
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert json.loads(text) == {"title": "Neuroblastoma"}


def test_tags_request_gets_tags(client, fake) -> None:
    prompt = TAGS_PROMPT.replace("{q}", "How is neuroblastoma treated?").replace("{a}", "Surgery [1].")
    tags = json.loads(chat(client, user(prompt)).json()["choices"][0]["message"]["content"])["tags"]
    assert tags[0] == "Health" and "Neuroblastoma" in tags and fake.requests == []


class FakeSources:
    """Stands in for ``AnswerPipeline.sources``: the Wilms link names chunk wilms#3 of topic "Wilms Tumor"."""

    def chunk_ids(self, markdown: str) -> list[str]:
        return ["wilms#3"] if "https://www.cancer.gov/wilms" in markdown else []

    def topics(self, chunk_ids: list[str]) -> list[str]:
        return ["Wilms Tumor"] if "wilms#3" in chunk_ids else []


def test_tags_name_the_topic_of_the_sources_the_answers_cited(client, fake) -> None:
    fake.sources = FakeSources()
    answer = render_markdown(fake.answer(AnswerRequest(question="Next test for a flank mass?")), link_citations=True)
    prompt = TAGS_PROMPT.replace("{q}", "Next test for a flank mass?").replace("{a}", answer)
    tags = json.loads(chat(client, user(prompt)).json()["choices"][0]["message"]["content"])["tags"]
    assert tags[:2] == ["Health", "Wilms Tumor"] and "Flank" in tags


def test_follow_up_suggestions_come_from_the_last_answers_related_questions(client, fake) -> None:
    markdown = render_markdown(FakePipeline().answer(AnswerRequest(question="How is Wilms tumor treated?")))
    related = [*RELATED, "What is the outlook for Wilms tumor?"]
    markdown = markdown.replace(f"- {RELATED[-1]}", f"- {RELATED[-1]}\n- {related[-1]}")
    prompt = FOLLOW_UP_PROMPT.replace("{q}", "How is Wilms tumor treated?").replace("{a}", markdown)
    reply = json.loads(chat(client, user(prompt)).json()["choices"][0]["message"]["content"])
    assert reply == {"follow_ups": related}
    assert fake.requests == []


def test_follow_up_suggestions_from_a_truncated_history_ask_in_the_conversation(client, fake) -> None:
    """Open WebUI keeps the first and last ~500 characters of each message: the Related questions are lost (or only
    their tail survives), so the last question is asked again in its conversation (earlier turns with their text)."""
    first = "What is the next test for a flank mass with calcification?"
    answer = FakePipeline().answer(AnswerRequest(question=first))
    answer.sections.append(Section(heading="Work-up", statements=[
        Statement(text=f"Step {i}: a chest CT scan looks for lung metastases.", citations=[1], chunk_id="wilms#4")
        for i in range(8)]))
    markdown = render_markdown(answer, link_citations=True, related=False)  # as Open WebUI gets it
    truncated = markdown[:498] + "..." + markdown[-499:]
    assert len(markdown) > 1000
    history = f"USER: {first}\nASSISTANT: {truncated}\nUSER: How is it treated?\nASSISTANT: {truncated}"
    prompt = FOLLOW_UP_PROMPT.replace("USER: {q}\nASSISTANT: {a}", history)
    reply = json.loads(chat(client, user(prompt)).json()["choices"][0]["message"]["content"])
    assert reply == {"follow_ups": RELATED}
    [asked] = fake.requests
    assert asked.question == "How is it treated?"
    assert [t.question for t in asked.turns] == [first, "How is it treated?"]
    assert all("[[1]](https://www.cancer.gov/wilms" in t.answer for t in asked.turns)  # the sources survive


def test_follow_up_suggestions_without_related_in_history_ask_the_pipeline(client, fake) -> None:
    prompt = FOLLOW_UP_PROMPT.replace("{q}", "How is Wilms tumor treated?").replace("{a}", "Surgery.")
    reply = json.loads(chat(client, user(prompt)).json()["choices"][0]["message"]["content"])
    assert reply == {"follow_ups": RELATED}
    assert [r.question for r in fake.requests] == ["How is Wilms tumor treated?"]


def test_ordinary_questions_are_not_mistaken_for_background_requests(client, fake) -> None:
    for question in ("What is the title of the CDC tuberculosis fact sheet?",
                     "Which follow-up questions should I ask a patient with a flank mass?"):
        body = chat(client, user(question)).json()
        assert "medcite" in body
    assert len(fake.requests) == 2


def test_task_helpers_plain_text_and_conversation_messages() -> None:
    # Title prompt without JSON, with the conversation sent as messages before the instruction.
    task = detect_task([("user", "What are the symptoms of neuroblastoma?"), ("assistant", "A mass [1]."),
                        ("user", "Please generate a concise, 5-word-or-less title for the conversation.")])
    assert task is not None and task.kind == "title" and not task.json_reply
    assert reply_to_task(task) == "Symptoms Neuroblastoma"
    assert make_title("???") == "New chat"
    history = [("assistant", "### Related questions\n\n- A?\n- B?\n\n---\n*disclaimer*")]
    assert related_from_history(history) == ["A?", "B?"]
    assert detect_task([("user", "How is TB treated?")]) is None
