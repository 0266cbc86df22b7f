"""Hostile inputs within the size limits finish fast and bounded (issue 9, findings 2-4).

Each case took seconds to minutes (and gigabytes) before its fix; the bounds here are generous multiples of what
the fixed code needs, so they hold on a busy 2-core machine. ``scripts/abuse_bench.py`` measures the same inputs
against a live server (CPU seconds, peak memory, a concurrent /healthz).
"""

from __future__ import annotations

import random
import time

import pytest
from fastapi.testclient import TestClient

from app.http.chat_tasks import detect_task
from app.query.spelling import MAX_WORD_LENGTH, Speller
from index.lexical import MAX_TERM_CHARS, tokenize

RNG = random.Random(7)
CJK = "".join(chr(RNG.randrange(0x4E00, 0x9FFF)) for _ in range(2000))
DNA = "".join(RNG.choice("ACGT") for _ in range(2000))


#: Bound for "answers at once" checks: far under the stalls these inputs caused (22-40 s, minutes for 1 MB) and
#: loose enough for a loaded CI machine (the normal times, 0.01-0.3 s, are measured by scripts/abuse_bench.py).
STALL_S = 5.0


def _elapsed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_chat_history_opener_is_linear():
    """'x' + '<chat_history>' * N used to take quadratic time in the task regex (224 KB: 22 s)."""
    prompt = "x" + "<chat_history>" * 75000  # ~1 MB, the body limit
    assert _elapsed(lambda: detect_task([("user", prompt)])) < STALL_S / 2
    titled = "Generate a concise, 3-5 word title for the chat.\n" + "<chat_history>" * 75000
    task = detect_task([("user", titled)])
    assert task is not None and task.kind == "title"


@pytest.mark.parametrize("word", [CJK, DNA, "a" * 2000, "ab" * 1000])
def test_spelling_corrector_is_bounded_on_long_words(word: str):
    """Symmetric deletes of a 2,000-letter word used to allocate gigabytes; long words are now never corrected."""
    speller = Speller(["diarrhea", "wiedemann", DNA[:30].lower(), "a" * (MAX_WORD_LENGTH + 5)])
    assert len(speller) == 2 + 1  # the over-long vocabulary word is not indexed
    assert _elapsed(lambda: speller.correct(word)) < STALL_S / 20
    assert speller.correct(word) is None


def test_tokenizer_drops_unbounded_terms():
    """A 4.9 MB single-token document or a CJK run must not put an unbounded term into the BM25 vocabulary."""
    huge = "a" * 4_900_000
    assert _elapsed(lambda: tokenize(f"Poison {huge} end")) < STALL_S
    assert tokenize(f"Poison {huge} end") == ["poison", "end"]
    assert tokenize(CJK) == [] and tokenize(DNA) == []
    assert all(len(t) <= MAX_TERM_CHARS for t in tokenize("x-" + "b" * 60 + " beta-blockers"))


@pytest.mark.parametrize("question", [CJK, DNA, "a" * 2000, " ".join(f"zqxvbn{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(285))[:2000]])
def test_long_token_questions_answer_fast(pipeline, question: str):
    """A 2,000-character CJK question took 40 s and 6.8 GB before the spelling fix."""
    from app.query.schemas import AnswerRequest

    pipeline.answer(AnswerRequest(question="warm up"))
    t = time.perf_counter()
    answer = pipeline.answer(AnswerRequest(question=question))
    assert time.perf_counter() - t < STALL_S
    assert answer.disclaimer


def test_chat_opener_over_http_answers_fast(small_settings, pipeline):
    from app.http.factory import create_app

    app = create_app(small_settings.model_copy(update={"security": small_settings.security.model_copy(
        update={"rate_limit_per_minute": 0})}), pipeline=pipeline)
    body = {"model": "medcite", "messages": [{"role": "user", "content": "x" + "<chat_history>" * 70000}]}
    with TestClient(app) as client:
        t = time.perf_counter()
        response = client.post("/v1/chat/completions", json=body)
        assert time.perf_counter() - t < STALL_S
    assert response.status_code == 400  # too long for a question, and not a background task
    assert "error" in response.json()


@pytest.mark.parametrize("path, body, status", [
    ("/v1/answer", b'{"question": "what is \\ud800 asthma"}', 422),
    ("/v1/search", b'{"query": "asthma \\udfff"}', 422),
    ("/v1/answer", b'{"question": "ok", "turns": [{"question": "\\ud83d"}]}', 422),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "asthma \\ud800"}]}', 400),
    ("/v1/chat/completions", b'{"model": "m\\udc00", "messages": [{"role": "user", "content": "asthma"}]}', 400),
])
def test_lone_surrogates_are_a_clear_error_not_a_500(small_settings, pipeline, path, body, status):
    from app.http.factory import create_app

    with TestClient(create_app(small_settings, pipeline=pipeline), raise_server_exceptions=False) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert "lone surrogate" in response.json()["error"]["message"]


@pytest.mark.slow
def test_poisoned_document_cannot_stall_loading(tmp_path):
    """One upload holding a 4.9 MB token used to hang the swap in Speller.__init__ for over 6.5 minutes."""
    from app.query.pipeline import AnswerPipeline
    from app.query.schemas import AnswerRequest
    from app.settings import Settings
    from ingest.pipeline import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "poison.md").write_text("# Poison\n\n" + "a" * 4_900_000 + "\n\nGout is treated with colchicine.\n")
    (corpus / "dna.md").write_text("# Sequence\n\n" + DNA[:1500] + "\n\nAsthma is treated with inhalers.\n")
    settings = Settings()
    settings.paths.data_dir = tmp_path / "var"
    settings.paths.index_dir = tmp_path / "var" / "index"
    settings.paths.question_bank = tmp_path / "no-bank.jsonl"
    assert ingest([corpus], settings, progress=False).written
    t = time.perf_counter()
    pipeline = AnswerPipeline.from_settings(settings)
    assert time.perf_counter() - t < 10.0
    vocabulary = list(pipeline.index.lexical.vocabulary())
    assert max(map(len, vocabulary)) <= MAX_TERM_CHARS
    assert all(len(w) <= MAX_WORD_LENGTH for w in pipeline.speller.words)
    assert pipeline.answer(AnswerRequest(question="How is gout treated?")).disclaimer
