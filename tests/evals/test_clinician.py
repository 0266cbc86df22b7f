"""The clinician suite: key-fact matching, gold-document metrics, follow-up turns, abstention, report and CLI,
against a scripted fake backend (no model, no index)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from app.query.schemas import Answer, AnswerRequest, Reference, Section, Statement, Turn
from evals import clinician
from evals import datasets as ds
from evals.backends import AnswerOutcome, LocalBackend, RemoteBackend, SearchOutcome
from evals.cli import clinician_table, register
from evals.keyfacts import fact_present, normalize, occurs, recall
from evals.report import RunHeader, write_report
from evals.runner import RunConfig, _prepare
from core.models import DocType

GOLD = "GHR_0000002_Sec2"


def _answer(question: str, bottom: str | None, statements: list[tuple[str, int]] = (), *,
            refs: list[tuple[str, list[str]]] = (), bottom_cites: list[int] = (1,), resolved: str | None = None,
            related: list[str] = (), heading: str = "Treatment", reason: str = "Not covered.") -> Answer:
    """An answer whose reference n (1-based) is ``refs[n-1] = (doc_id, chunk_ids)``; no bottom line = abstained."""
    references = [Reference(n=n, type=DocType.guideline, title=doc, doc_id=doc, chunk_id=(chunks or [f"{doc}#9"])[0],
                            chunk_ids=list(chunks), passage=f"{doc} passage: allopurinol, eye drops, colchicine.")
                  for n, (doc, chunks) in enumerate(refs, start=1)]
    if bottom is None:
        return Answer(question=question, resolved_question=resolved or question, audience="clinician",
                      disclaimer="Not medical advice.", abstained=True, abstain_reason=reason)
    return Answer(
        question=question, resolved_question=resolved or question, audience="clinician",
        disclaimer="Not medical advice.", related_questions=list(related), references=references,
        bottom_line=Statement(text=bottom, citations=list(bottom_cites), chunk_id="x#0"),
        sections=[Section(heading=heading, statements=[Statement(text=t, citations=[n], chunk_id="x#1")
                                                       for t, n in statements])] if statements else [])


class ScriptedBackend:
    """Answers from a question -> Answer table (anything else abstains); records every call with its turns."""

    kind = "fake"

    def __init__(self, answers: dict[str, Answer], rankings: dict[str, list[str]] | None = None) -> None:
        self.answers, self.rankings = answers, rankings or {}
        self.calls: list[tuple[str, str, list[dict]]] = []
        self.searches: list[tuple[str, int, str]] = []

    def describe(self) -> dict:
        return {"backend": "fake", "model": {"name": "fake-model"}}

    def unavailable(self, retriever: str) -> str | None:
        return None

    def search(self, query: str, k: int, retriever: str) -> SearchOutcome:
        self.searches.append((query, k, retriever))
        return SearchOutcome(doc_ids=self.rankings.get(query, [])[:k], latency_ms=1.0)

    def answer(self, question: str, audience: str, turns=None) -> AnswerOutcome:
        sent = [t.model_dump() if isinstance(t, Turn) else dict(t) for t in turns or []]
        self.calls.append((question, audience, sent))
        return AnswerOutcome(answer=self.answers.get(question) or _answer(question, None), latency_ms=7.0)

    def close(self) -> None:
        pass


@pytest.fixture
def items(data_dir: Path) -> dict[str, ds.ClinicianQuestion]:
    return {q.id: q for q in ds.load_clinician_qa(ds.data_file(data_dir, "clinician_qa"))}


# ------------------------------------------------------------------ key facts

def test_key_fact_spellings_match_case_insensitively_after_unicode_normalisation():
    assert fact_present([["CT", "computed tomography"]], "Contrast-enhanced COMPUTED TOMOGRAPHY") == [True]
    assert fact_present([["CT scan"]], "ＣＴ\u00a0 scan of the chest") == [True]  # full-width letters, no-break space
    assert fact_present([["≥50", "50 MME"]], "increasing dosage to >= 50 morphine equivalents") == [True]
    assert fact_present([[">=90"]], "avoid ≥ 90 MME/day") == [True]
    assert fact_present([["≤150"]], "treat to a goal of <=150") == [True]
    assert fact_present([["160-800 mg"]], "megestrol 160\u2013800 mg daily") == [True]  # en dash
    assert fact_present([["90%"]], "survival exceeds 90 %") == [True]
    assert fact_present([["actinic keratos"]], "Actinic keratoses are precursors.") == [True]  # a stem continues
    assert fact_present([["colchicine"], ["allopurinol"], ["febuxostat", "uloric"]],
                        "Colchicine or allopurinol.") == [True, True, False]
    assert normalize("Goal\u2009 \u2264 150 mm Hg \u2014 \u201cstrong\u201d") == 'goal <=150 mm hg - "strong"'


def test_key_facts_do_not_match_inside_other_words_or_numbers():
    assert fact_present([["4%"], ["5%"], ["age 8"], ["≥50"], ["0.57"]],
                        "14% and 8.5% by age 80, at ≥500 mg, ratio 10.57 or 0.575") == [False] * 5
    assert not occurs("once", "concerned") and occurs("once", "screen once")
    assert not occurs("pci", "epci") and occurs("pci", "(pci) was given")
    assert fact_present([["4%"], ["age 8"]], "4% by age 8.") == [True, True]  # sentence end is not a decimal


def test_a_spelling_never_spans_two_statements():
    assert fact_present([["eye drops"]], "Use the eye", "drops daily") == [False]
    assert fact_present([["eye drops"]], "Use the eye", "eye drops daily") == [True]
    assert recall([True, False]) == 0.5 and recall([]) is None


def test_key_facts_bottom_line_vs_whole_answer_and_never_references_or_related(items):
    item = items["pdq-001"]  # key facts: colchicine, allopurinol
    cases = {  # section statement -> (bottom line hits, whole-answer hits)
        "Anti-inflammatory drugs also help.": ([True, False], [True, False]),
        "ALLOPURINOL lowers uric acid.": ([True, False], [True, True]),
    }
    for statement, (bottom, whole) in cases.items():
        answer = _answer(item.question, "Gout flares are treated with colchicine.", [(statement, 1)],
                         refs=[(GOLD, [f"{GOLD}#0"])], related=["Is allopurinol safe?"], heading="Allopurinol")
        row = clinician.score(item, ScriptedBackend({item.question: answer}), "clinician", 100)
        assert (row.facts_bottom, row.facts_whole) == (bottom, whole)  # reference passages mention allopurinol
        assert row.recall_bottom == 0.5 and row.recall_whole == sum(whole) / 2


# ------------------------------------------------------------------ gold document and retrieval

def test_document_rank_counts_distinct_documents_by_first_chunk():
    assert clinician.document_rank(["a", "a", "b", "a", "gold", "gold"], "gold") == 3
    assert clinician.document_rank(["gold", "a"], "gold") == 1
    assert clinician.document_rank(["a", "b"], "gold") is None


def test_gold_in_references_and_rank_of_the_resolved_question(items):
    item = items["pdq-001"]
    resolved = "gout flares treated (resolved)"
    answer = _answer(item.question, "Gout flares are treated with colchicine.", [("Allopurinol lowers uric acid.", 2)],
                     refs=[("OTHER", ["OTHER#0"]), (GOLD, [f"{GOLD}#1"])], resolved=resolved)
    backend = ScriptedBackend({item.question: answer},
                              {resolved: ["A", "A", "B", GOLD, "B"], item.question: [GOLD]})
    row = clinician.score(item, backend, "clinician", 100)
    assert backend.searches == [(resolved, 100, "hybrid")]  # the pipeline's resolved question is the query
    assert row.gold_doc == GOLD and row.gold_rank == 3 and row.top_docs == ["A", "B", GOLD]
    assert row.gold_in_refs is True and row.gold_in_bottom_line is False  # the bottom line cites [1] = OTHER
    assert row.cited_doc_ids == ["OTHER", GOLD] and row.answered and row.latency_ms == 7.0

    cited_first = _answer(item.question, "Colchicine.", refs=[(GOLD, [])])
    row = clinician.score(item, ScriptedBackend({item.question: cited_first}), "clinician", 100)
    assert row.gold_in_refs and row.gold_in_bottom_line and row.gold_rank is None  # nothing retrieved
    missing = _answer(item.question, "Colchicine.", refs=[("GHR_0000002_Sec2.md", [])])  # extension is not the id
    assert clinician.score(item, ScriptedBackend({item.question: missing}), "clinician", 100).gold_in_refs is False


# ------------------------------------------------------------------ follow-ups

def test_follow_up_turns_are_answered_first_and_sent_in_order_with_cited_chunk_ids():
    item = ds.ClinicianQuestion(id="pdq-9", question="How is it treated?", turns=[
        {"question": "What is glaucoma?"}, {"question": "Who gets it?"}], gold_doc="g.md", key_facts=[["drops"]],
        style="followup", in_corpus=True)
    first = _answer("What is glaucoma?", "Glaucoma damages the optic nerve.", [("Eye pressure is high.", 2)],
                    refs=[("g", ["g#0", "g#2"]), ("h", [])])
    final = _answer("How is it treated?", "Eye drops lower eye pressure.", refs=[("g", ["g#1"])],
                    resolved="How is it treated? (glaucoma)")
    backend = ScriptedBackend({"What is glaucoma?": first, "How is it treated?": final})
    row = clinician.score(item, backend, "patient", 50)
    turn1 = {"question": "What is glaucoma?", "answer": "Glaucoma damages the optic nerve.\nEye pressure is high.",
             "cited_chunk_ids": ["g#0", "g#2", "h#9"]}  # "h" has no chunk_ids: its first chunk_id
    turn2 = {"question": "Who gets it?", "answer": "Not covered.", "cited_chunk_ids": []}  # abstained earlier turn
    assert backend.calls == [("What is glaucoma?", "patient", []), ("Who gets it?", "patient", [turn1]),
                             ("How is it treated?", "patient", [turn1, turn2])]
    assert backend.searches == [("How is it treated? (glaucoma)", 50, "hybrid")]
    assert row.turns == ["What is glaucoma?", "Who gets it?"] and row.facts_whole == [True]


def test_backends_pass_turns_to_the_pipeline_and_the_service():
    seen: list[AnswerRequest] = []

    class Pipeline:
        def answer(self, request: AnswerRequest) -> Answer:
            seen.append(request)
            return _answer(request.question, "x.", refs=[("d", ["d#0"])])

    local = LocalBackend.__new__(LocalBackend)
    local.pipeline = Pipeline()
    local.answer("q1", "clinician")
    local.answer("q2", "patient", turns=[{"question": "q1", "answer": "x.", "cited_chunk_ids": ["d#0"]},
                                         Turn(question="q1b")])
    assert seen[0].turns == [] and seen[1].audience == "patient"
    assert [t.model_dump() for t in seen[1].turns] == [
        {"question": "q1", "answer": "x.", "cited_chunk_ids": ["d#0"]}, {"question": "q1b", "answer": None,
                                                                        "cited_chunk_ids": []}]

    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/readyz":
            return httpx.Response(200, json={"ready": True})
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(200, json=_answer(body["question"], "x.", refs=[("d", ["d#0"])]).model_dump(mode="json"))

    remote = RemoteBackend("http://svc", transport=httpx.MockTransport(handler), ready_timeout=0)
    remote.answer("q1", "clinician")
    remote.answer("q2", "clinician", turns=[{"question": "q1", "answer": "x" * 30000, "cited_chunk_ids": ["d#0"] * 60}])
    assert bodies[0] == {"question": "q1", "audience": "clinician"}  # no turns key for a first question
    sent = bodies[1]["turns"]
    assert len(sent) == 1 and sent[0]["question"] == "q1"
    assert len(sent[0]["answer"]) == 20000 and len(sent[0]["cited_chunk_ids"]) == 50  # clipped to the schema


# ------------------------------------------------------------------ abstention, aggregates, report

def _suite_backend(items: dict[str, ds.ClinicianQuestion]) -> ScriptedBackend:
    q = {k: v.question for k, v in items.items()}
    return ScriptedBackend({
        q["pdq-001"]: _answer(q["pdq-001"], "Colchicine and allopurinol.", refs=[(GOLD, [f"{GOLD}#0"])]),
        "What is glaucoma?": _answer("What is glaucoma?", "Glaucoma harms the optic nerve.", refs=[("G3", ["G3#0"])]),
        q["pdq-002"]: _answer(q["pdq-002"], "Laser trabeculoplasty is an option.", refs=[("other", ["o#0"])]),
        # ngc-003 abstains (not in the table); ooc-004 (rocket) is answered: a false positive
        q["ooc-004"]: _answer(q["ooc-004"], "Pressure is regulated.", refs=[("x", ["x#0"])]),
    }, {q["pdq-001"]: [GOLD, "b"], q["pdq-002"]: ["a"] * 3 + ["GHR_0000003_Sec2"], q["ngc-003"]: ["b"] * 20})


def test_suite_aggregates_in_corpus_metrics_and_out_of_corpus_abstention(items):
    extra = ds.ClinicianQuestion(id="ooc-005", question="Dose of zorblaxin?", style="direct", in_corpus=False)
    backend = _suite_backend(items)
    result = clinician.evaluate([*items.values(), extra], backend, progress=False)
    assert backend.calls[0][0] == items["pdq-001"].question  # warm-up
    assert len(backend.calls) == 1 + 5 + 1  # warm-up, 5 items, the follow-up's earlier turn
    assert all(query != items["ooc-004"].question for query, _, _ in backend.searches)  # no search out of corpus
    pooled = result.in_corpus[0]
    assert [g.group for g in result.in_corpus] == ["in-corpus (all)"]  # styles/sources have < 5 items each
    assert pooled.n == 3 and pooled.answered.mean == pytest.approx(2 / 3)
    assert pooled.gold_in_refs.mean == pytest.approx(1 / 3) and pooled.gold_in_bottom_line.mean == pytest.approx(1 / 3)
    assert pooled.gold_at_1.mean == pytest.approx(1 / 3)  # ngc-003's gold document is not retrieved: a miss
    assert pooled.gold_in_top10.mean == pytest.approx(2 / 3) and pooled.gold_mrr10.mean == pytest.approx(0.5)
    assert pooled.gold_at_1.n == pooled.gold_in_top10.n == pooled.key_facts_whole.n == 3
    assert pooled.key_facts_bottom.mean == pytest.approx((1 + 0.5 + 0) / 3)  # pdq-002: laser, not eye drops
    assert pooled.all_facts_whole.mean == pytest.approx(1 / 3)
    assert pooled.gold_in_refs.lo is not None and pooled.gold_in_refs.lo <= pooled.gold_in_refs.mean
    (ooc,) = result.out_of_corpus
    assert ooc.group == "out-of-corpus (all)" and ooc.n == 2 and ooc.abstained.mean == 0.5
    rows = {r.qid: r for r in result.rows}
    assert rows["ngc-003"].gold_doc == "NIDDK_0000006_Sec3" and rows["ngc-003"].recall_whole == 0.0
    assert rows["ngc-003"].gold_rank is None and rows["ngc-003"].top_docs == ["b"]
    assert rows["ooc-004"].gold_rank is None and rows["ooc-004"].facts_whole == [] and rows["ooc-005"].answered is False


def test_groups_by_style_and_source_when_large_enough(items, monkeypatch):
    monkeypatch.setattr(clinician, "MIN_GROUP_N", 1)
    result = clinician.evaluate(list(items.values()), _suite_backend(items), progress=False)
    groups = {g.group: g.n for g in result.in_corpus}
    assert groups == {"in-corpus (all)": 3, "style: vignette": 1, "style: followup": 1, "style: direct": 1,
                      "source: pdq": 2, "source: ngc": 1}
    assert [g.group for g in result.out_of_corpus] == ["out-of-corpus (all)"]  # one style, one source


def test_report_summary_and_json_rows(items, tmp_path: Path):
    result = clinician.evaluate(list(items.values()), _suite_backend(items), progress=False)
    header = RunHeader(suite="clinician", command="medcite eval clinician", backend={"backend": "fake"},
                       data_files=["c.jsonl"], limit=None)
    paths = write_report(result, header, tmp_path / "out")
    text = paths["markdown"].read_text()
    assert "## In corpus" in text and "| in-corpus (all) | 3 | 0.667 [" in text
    assert "| out-of-corpus (all) | 1 | 0.000 [0.000, 0.000] |" in text and "`ooc-004` How does a liquid" in text
    assert "| `pdq-002` | followup | yes | 2 | no | 1/2 | 1/2 |" in text and "resolved_question" in text
    row = json.loads(paths["json"].read_text())["result"]["rows"][0]
    assert {"qid", "style", "answered", "gold_in_refs", "gold_rank", "facts_bottom", "facts_whole", "bottom_line",
            "cited_doc_ids"} <= set(row)
    out = io.StringIO()
    Console(file=out, width=250).print(clinician_table(result))
    assert "in-corpus (all)" in out.getvalue() and "out-of-corpus (all)" in out.getvalue()


# ------------------------------------------------------------------ data file, runner, CLI

def test_clinician_file_loads_and_bad_records_name_file_and_line(data_dir: Path, tmp_path: Path, jsonl):
    assert ds.DEFAULT_FILES["clinician_qa"] == "clinician-qa/clinician_qa_dev.jsonl"
    path = ds.data_file(data_dir, "clinician_qa")
    loaded = ds.load_clinician_qa(path)
    assert [q.gold_doc_id for q in loaded] == [GOLD, "GHR_0000003_Sec2", "NIDDK_0000006_Sec3", None]
    assert loaded[1].turns[0].question == "What is glaucoma?" and ds.sniff_schema(path) == "clinician"
    good = {"id": "a", "question": "q?", "gold_doc": "d.md", "key_facts": [["x"]], "style": "direct", "in_corpus": True}
    bad = {
        "gold_doc is missing": {**good, "gold_doc": None},
        "key_facts is empty": {**good, "key_facts": []},
        "gold_doc is set": {**good, "in_corpus": False},
        "key fact 0 has no spelling": {**good, "key_facts": [[" "]]},
        r"question: Value error, is empty": {**good, "question": "  "},
        r"turns.0.question": {**good, "turns": [{"text": "x"}]},
        "id 'a' already used on line 1": good,
    }
    for message, record in bad.items():
        f = jsonl(tmp_path / "bad.jsonl", [good, record])
        with pytest.raises(ds.DatasetError, match=rf"bad.jsonl line 2: .*{message}"):
            ds.load_clinician_qa(f)


def test_runner_reads_the_default_clinician_file_with_a_limit(data_dir: Path):
    items, files = _prepare(RunConfig(suite="clinician", data_dir=data_dir, limit=2), None)
    assert files == [ds.data_file(data_dir, "clinician_qa")] and len(items) == 2
    assert all(isinstance(i, ds.ClinicianQuestion) for i in items)


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    register(app)
    return app


def test_cli_clinician_errors_are_clear(data_dir: Path, tmp_path: Path, jsonl):
    runner = CliRunner()
    bad = jsonl(tmp_path / "c.jsonl", [{"id": "a", "question": "q", "in_corpus": True}])
    result = runner.invoke(_cli(), ["eval", "clinician", "--data", str(bad), "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "c.jsonl line 1: not a clinician question record" in result.output
    result = runner.invoke(_cli(), ["eval", "clinician", "--data-dir", str(data_dir), "--index",
                                    str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index at" in result.output
