"""A lexical-only index version (the first stage of a first build) answers with keyword retrieval, says so, and
a later dense build reuses its chunks."""

from __future__ import annotations

import numpy as np
import pytest

from app.query.errors import RequestError
from app.query.pipeline import AnswerPipeline
from app.query.render import render_markdown
from app.query.schemas import AnswerRequest, SearchRequest
from core.contracts import PARTIAL_INDEX_NOTICE
from index.storage import open_index
from ingest.pipeline import ingest


@pytest.fixture(scope="module")
def staged(small_settings, small_corpus, tmp_path_factory):
    settings = small_settings.model_copy(deep=True)
    settings.paths.index_dir = tmp_path_factory.mktemp("staged") / "index"  # same data dir: the embedding cache
    calls: list[tuple[str, int, int]] = []
    report = ingest([small_corpus], settings, progress=False, dense=False,
                    on_progress=lambda *call: calls.append(call))
    return settings, report, calls


def test_lexical_stage_writes_chunks_and_lexical_index_but_no_vectors(staged):
    settings, report, calls = staged
    assert report.written and not report.dense and report.embedded_chunks == 0
    index = open_index(settings.paths.index_dir, settings.index)
    assert not index.dense and len(index.vectors) == 0 and len(index.lexical) == len(index.store) > 100
    assert not (index.path / "vectors.npy").exists() and not (index.path / "sentence_vectors.npy").exists()
    with pytest.raises(ValueError, match="lexical-only"):
        index.raw_vectors()
    stages = [stage for stage, _, _ in calls]
    assert stages[0] == "load" and "chunk" in stages and stages[-1] == "write" and "embed" not in stages
    assert calls[-1] == ("write", 1, 1)


def test_lexical_stage_answers_from_keyword_retrieval_and_says_so(staged):
    settings, _, _ = staged
    pipe = AnswerPipeline.from_settings(settings)
    answer = pipe.answer(AnswerRequest(question="What are the symptoms of Wilms tumor?", debug=True))
    assert answer.index.partial and answer.index.retrievers == ["bm25"] and answer.index.share["dense"] == 0.0
    assert not answer.abstained and any("wilms" in r.title.lower() for r in answer.references)
    assert answer.trace.hits and all(set(h.sources) == {"bm25"} for h in answer.trace.hits)
    assert PARTIAL_INDEX_NOTICE in render_markdown(answer)
    with pytest.raises(RequestError, match="not ready yet"):
        pipe.search(SearchRequest(query="wilms tumor", retriever="dense"))
    assert pipe.search(SearchRequest(query="wilms tumor", retriever="hybrid")).passages


def test_lexical_stage_still_abstains_out_of_corpus(staged):
    pipe = AnswerPipeline.from_settings(staged[0])
    for question in ["How do I repot an orchid?", "What is the recommended dose of zorblaxin for gout?"]:
        assert pipe.answer(AnswerRequest(question=question)).abstained, question


def test_dense_stage_reuses_the_lexical_chunks_and_completes_the_index(staged, small_corpus):
    settings, first, _ = staged
    before = open_index(settings.paths.index_dir, settings.index)
    calls: list[tuple[str, int, int]] = []
    report = ingest([small_corpus], settings, progress=False, on_progress=lambda *call: calls.append(call))
    after = open_index(settings.paths.index_dir, settings.index)
    assert report.written and report.unchanged == first.new and report.new == 0
    assert report.embedded_chunks == len(after.store) and after.dense
    assert [c.chunk_id for c in after.store.chunks] == [c.chunk_id for c in before.store.chunks]
    assert len(after.vectors) == len(after.store) and np.asarray(after.raw_vectors()).shape[0] == len(after.store)
    assert "embed" in {stage for stage, _, _ in calls}
    answer = AnswerPipeline.from_settings(settings).answer(AnswerRequest(question="How is Wilms tumor treated?"))
    assert not answer.index.partial and answer.index.retrievers == ["bm25", "dense"]
    assert PARTIAL_INDEX_NOTICE not in render_markdown(answer)
    again = ingest([small_corpus], settings, progress=False)
    assert not again.written  # complete and unchanged: nothing to do
