"""Dataset loaders, suite construction and eval-corpus files on tiny fixture files of the shared schemas."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals import corpora, suites
from evals import datasets as ds
from evals.answers import in_corpus_items, out_of_corpus_items
from evals.ooc import invented_questions, non_medical_questions


def test_each_loader_reads_its_file(data_dir: Path):
    f = lambda key: ds.data_file(data_dir, key)  # noqa: E731
    queries = ds.load_medquad_queries(f("medquad_questions"))
    assert [q.query_id for q in queries][:2] == ["mq_1", "mq_2"]
    assert queries[0].relevant_passage_ids == ["GHR_0000001_Sec1"] and queries[0].relevant_doc_ids == ["GHR_0000001"]
    assert len(ds.load_medquad_passages(f("medquad_passages"))) == 20
    live = ds.load_liveqa(f("liveqa"))
    assert live[0].reference_answers[0].url == "" and live[0].medquad_judgments[3].text_in_corpus is False
    assert [q.id for q in ds.load_bioasq_questions(f("bioasq_questions"))] == ["b1", "b2", "b3"]
    assert ds.load_bioasq_snippets(f("bioasq_snippets"))[0].pmid == "111"
    contexts = ds.load_pubmedqa_contexts(f("pubmedqa_contexts"))
    assert contexts[1].pubid == "5002" and contexts[1].year == ""  # int id coerced, null year read as ""
    assert ds.load_pubmedqa_questions(f("pubmedqa_questions"))[0].final_decision == "yes"
    assert ds.load_medicationqa(f("medicationqa"))[0].focus == "albuterol"


def test_gzip_is_detected_by_content_not_name(tmp_path: Path, jsonl):
    record = {"id": "m1", "question": "q", "answer": "a"}
    plain_named_gz = jsonl(tmp_path / "x.jsonl.gz", [record], gz=False)
    gz_named_plain = jsonl(tmp_path / "y.jsonl", [record], gz=True)
    assert ds.load_medicationqa(plain_named_gz)[0].id == "m1"
    assert ds.load_medicationqa(gz_named_plain)[0].id == "m1"


def test_bad_files_raise_clear_errors(tmp_path: Path, jsonl):
    with pytest.raises(ds.DatasetError, match="no such file"):
        ds.load_liveqa(tmp_path / "missing.jsonl")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"qid": "TQ1", "message": "m"}\n{oops\n')
    with pytest.raises(ds.DatasetError, match=r"bad.jsonl line 2: invalid JSON"):
        ds.load_liveqa(bad_json)
    wrong = jsonl(tmp_path / "wrong.jsonl", [{"query_id": "q", "question": "x", "relevant_passage_ids": []}])
    with pytest.raises(ds.DatasetError, match=r"line 1: not a MedQuAD question record \(relevant_passage_ids"):
        ds.load_medquad_queries(wrong)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ds.DatasetError, match="no LiveQA question records"):
        ds.load_liveqa(empty)


def test_sniff_schema(data_dir: Path, tmp_path: Path, jsonl):
    expected = {"medquad_questions": "medquad", "liveqa": "liveqa", "bioasq_questions": "bioasq",
                "pubmedqa_questions": "pubmedqa", "medicationqa": "medicationqa"}
    for key, name in expected.items():
        assert ds.sniff_schema(ds.data_file(data_dir, key)) == name
    with pytest.raises(ds.DatasetError, match="unknown question schema"):
        ds.sniff_schema(jsonl(tmp_path / "other.jsonl", [{"foo": 1}]))


def test_sample_is_deterministic_and_bounded():
    items = list(range(100))
    assert suites.sample(items, 10) == suites.sample(items, 10) != suites.sample(items, 10, seed=8)
    assert len(set(suites.sample(items, 10))) == 10
    assert suites.sample(items, 1000) == items
    with pytest.raises(ValueError, match="at least 1"):
        suites.sample(items, 0)


def test_medquad_suite_gains_and_pages(data_dir: Path):
    suite = suites.medquad_suite(ds.data_file(data_dir, "medquad_questions"),
                                 ds.data_file(data_dir, "medquad_passages"), limit=3)
    queries = suite.variants["question"]
    assert len(queries) == 3 and len({q.qid for q in queries}) == 3
    for q in queries:
        assert set(q.page_gains) == {p.rsplit("_", 1)[0] for p in q.gains}
    assert suite.page_of["GHR_0000002_Sec3"] == "GHR_0000002"


def test_liveqa_suite_keeps_questions_with_a_related_judged_passage(data_dir: Path):
    suite = suites.liveqa_suite(ds.data_file(data_dir, "liveqa"), None)
    assert set(suite.variants) == {"paraphrase", "message"}
    para, msg = suite.variants["paraphrase"], suite.variants["message"]
    assert [q.qid for q in para] == ["TQ1", "TQ2"]  # TQ3 has only grade-1 / not-in-corpus judgments
    assert para[0].text == "How are gout flares treated?" and msg[0].text.startswith("my big toe hurts")
    # gain = grade - 1; passages without text in the corpus are dropped
    assert para[0].gains == {"GHR_0000002_Sec2": 3.0, "GHR_0000002_Sec1": 1.0, "GHR_0000002_Sec3": 0.0}


def test_eval_corpora_and_bioasq_pubmedqa_suites(data_dir: Path, tmp_path: Path):
    corpus = corpora.bioasq_corpus(data_dir, corpus_dir=tmp_path / "no-corpus")
    assert corpus.sources == {"bioasq snippets": 4, "medquad passages": 20, "pubmedqa abstracts": 2}
    snippet = corpus.records[0]
    assert snippet["parent_id"] == "111" and snippet["type"] == "Research" and snippet["title"] == "PMID 111"
    abstract = corpus.records[-1]
    assert abstract["id"] == "pubmedqa:5002" and abstract["year"] is None
    suite = suites.bioasq_suite(ds.data_file(data_dir, "bioasq_questions"), corpus.ids, corpus.page_of, None)
    rows = suite.variants["question"]
    assert [q.qid for q in rows] == ["b1", "b2"]  # b3's snippet is not in the corpus
    assert rows[0].page_gains == {"111": 1.0}  # gold PMID 999 has no snippet in the corpus

    pcorpus = corpora.pubmedqa_corpus(data_dir)
    ids = {r["parent_id"]: r["id"] for r in pcorpus.records if r["id"].startswith("pubmedqa:")}
    psuite = suites.pubmedqa_suite(ds.data_file(data_dir, "pubmedqa_questions"), ids, pcorpus.page_of, None)
    assert [q.gains for q in psuite.variants["question"]] == [{"pubmedqa:5001": 1.0}, {"pubmedqa:5002": 1.0}]


def test_bundled_medquad_records_are_used_verbatim(data_dir: Path, tmp_path: Path, jsonl):
    bundled = [{"id": "X_1", "text": "t", "title": "T", "parent_id": "X", "issuer": "NIH"}]
    jsonl(tmp_path / "corpus" / corpora.BUNDLED_MEDQUAD, bundled)
    assert corpora.medquad_distractors(data_dir, tmp_path / "corpus") == bundled


def test_corpus_file_is_reproducible_and_written_only_on_change(tmp_path: Path):
    records = [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]
    data = corpora.corpus_bytes(records)
    assert data == corpora.corpus_bytes(records)
    target = tmp_path / "eval" / "corpus.jsonl.gz"
    assert corpora.write_if_changed(target, data) is True
    assert corpora.write_if_changed(target, data) is False
    assert [json.loads(line) for line in gzip.decompress(target.read_bytes()).splitlines()] == records
    assert corpora.write_if_changed(target, corpora.corpus_bytes(records[:1])) is True


def test_answer_items(data_dir: Path):
    files = {"medquad": ds.data_file(data_dir, "medquad_questions"), "liveqa": ds.data_file(data_dir, "liveqa"),
             "medicationqa": ds.data_file(data_dir, "medicationqa")}
    items = in_corpus_items(files, ds.data_file(data_dir, "medquad_passages"), limit=2)
    groups = [i.group for i in items]
    assert groups.count("medquad") == 2 and groups.count("liveqa") == 1 and groups.count("medicationqa") == 1
    live = next(i for i in items if i.group == "liveqa")
    assert live.question == "How are gout flares treated?" and live.references == ["Gout flares are treated with colchicine."]
    medquad = next(i for i in items if i.group == "medquad")
    assert medquad.references and all(medquad.references)
    with pytest.raises(ds.DatasetError, match="not \\['bioasq'\\]"):
        in_corpus_items({"bioasq": ds.data_file(data_dir, "bioasq_questions")}, None, None)
    ooc = out_of_corpus_items(limit=3)
    assert [i.group for i in ooc] == ["ooc-nonmedical"] * 3 + ["ooc-invented"] * 3
    assert not any(i.in_corpus for i in ooc)


def test_out_of_corpus_questions_are_fixed_and_distinct():
    assert invented_questions(40) == invented_questions(40)
    assert len(set(invented_questions(40))) == 40
    assert invented_questions(1) == ["What is the usual dose of zorblaxin?"]
    nonmed = non_medical_questions()
    assert len(nonmed) >= 40 and any("rocket" in q for q in nonmed) and any("tax" in q for q in nonmed)
