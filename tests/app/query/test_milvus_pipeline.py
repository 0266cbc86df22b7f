"""The whole pipeline on the Milvus backend (issue 21 item 1): ingest writes the chunk vectors into a Milvus Lite
collection, the served index reads them back by the version's vector_store.json, and answers and searches are the
ones FAISS gives (both are exact inner-product search)."""

from __future__ import annotations

import pytest

from app.query.pipeline import AnswerPipeline
from app.query.schemas import AnswerRequest, SearchRequest

pytest.importorskip("pymilvus", reason="pip install '.[milvus]'")
QUESTIONS = ["How is Wilms tumor treated?", "What are the symptoms of neuroblastoma?"]


@pytest.fixture(scope="module")
def milvus_pipeline(small_settings, small_corpus, tmp_path_factory):
    from ingest.pipeline import ingest

    settings = small_settings.model_copy(deep=True)
    settings.index.vector_backend = "milvus"
    settings.index.milvus_uri = str(tmp_path_factory.mktemp("milvus") / "medcite.db")
    settings.paths.index_dir = small_settings.paths.data_dir / "index-milvus"  # same embedding cache: no re-embed
    assert ingest([small_corpus], settings, progress=False).written
    return AnswerPipeline.from_settings(settings)


def test_answers_and_searches_match_faiss(milvus_pipeline, small_settings):
    faiss = AnswerPipeline.from_settings(small_settings)
    assert milvus_pipeline.index.vectors.backend == "milvus" and len(milvus_pipeline.index.vectors) == \
        len(faiss.index.vectors)
    for question in QUESTIONS:
        mine, theirs = (p.answer(AnswerRequest(question=question)) for p in (milvus_pipeline, faiss))
        assert mine.bottom_line == theirs.bottom_line and mine.references == theirs.references
        dense = [p.search(SearchRequest(query=question, retriever="dense", top_k=10)) for p in (milvus_pipeline, faiss)]
        assert [x.chunk_id for x in dense[0].passages] == [x.chunk_id for x in dense[1].passages]


def test_pruned_versions_drop_their_collections(small_settings, small_corpus, tmp_path):
    """Each index version is its own collection; when an old version is pruned, its collection goes with it."""
    from pymilvus import MilvusClient

    from ingest.pipeline import ingest

    settings = small_settings.model_copy(deep=True)
    settings.index.vector_backend, settings.index.keep_versions = "milvus", 1
    settings.index.milvus_uri = str(tmp_path / "medcite.db")
    settings.paths.index_dir = tmp_path / "index"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(small_corpus.iterdir())[:3]:
        (corpus / path.name).write_bytes(path.read_bytes())
    seen = []
    for n in range(3):  # three builds, each of a changed corpus: the first version is pruned by the third
        (corpus / "extra.md").write_text(f"# Extra {n}\n\nGout is treated with colchicine in build {n}.\n")
        assert ingest([corpus], settings, progress=False).written
        seen.append(AnswerPipeline.from_settings(settings).index.vectors.collection)
    live = set(MilvusClient(settings.index.milvus_uri).list_collections())
    assert seen[0] not in live and {seen[1], seen[2]} <= live
