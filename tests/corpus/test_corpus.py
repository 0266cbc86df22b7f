"""The bundled default corpus (corpus/) and its derivation script: fast, no model."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from index.models import DocType, DocumentMeta

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared" / "data"
PASSAGE_FIELDS = {"id", "text", "title", "focus", "parent_id", "issuer", "type", "audience", "url", "license", "year"}


def _load_derive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_derive", CORPUS / "derive.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


derive = _load_derive()


def _read_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def manifest() -> list[dict[str, Any]]:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def passages() -> list[dict[str, Any]]:
    return _read_jsonl_gz(CORPUS / "medquad" / "passages.jsonl.gz")


@pytest.fixture(scope="module")
def questions() -> list[dict[str, Any]]:
    return _read_jsonl_gz(CORPUS / "questions" / "medquad_questions.jsonl.gz")


# --- the committed corpus -------------------------------------------------------------------------------------


def test_manifest_files_exist_with_matching_sha256(manifest: list[dict[str, Any]]) -> None:
    assert manifest, "manifest is empty"
    assert [e["path"] for e in manifest] == sorted(e["path"] for e in manifest)
    for entry in manifest:
        path = CORPUS / entry["path"]
        assert path.is_file(), f"manifest lists missing file {entry['path']}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["path"]
        assert entry["format"] in {"pdf", "jsonl"}
        assert entry["license"] and entry["metadata"]["license"] == entry["license"]
        DocumentMeta(**entry["metadata"])  # metadata must fit the shared model


def test_every_corpus_document_file_is_in_the_manifest(manifest: list[dict[str, Any]]) -> None:
    listed = {e["path"] for e in manifest}
    on_disk = {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "pdf").glob("*.pdf")}
    on_disk |= {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "medquad").glob("*.jsonl.gz")}
    assert on_disk == listed


def test_pdf_entries_carry_real_metadata(manifest: list[dict[str, Any]]) -> None:
    pdfs = [e for e in manifest if e["format"] == "pdf"]
    assert len(pdfs) == 4
    for entry in pdfs:
        meta = entry["metadata"]
        assert entry["path"].startswith("pdf/") and entry["path"].endswith(".pdf")
        assert meta["doc_id"] == Path(entry["path"]).stem
        for key in ("title", "issuer", "type", "audience", "license", "url"):
            assert meta[key], f"{entry['path']}: empty {key}"
        assert meta["type"] in {t.value for t in DocType}
        assert meta["audience"] in {"clinician", "patient"}
        assert meta["url"].startswith("https://")
        assert "Public domain" in meta["license"]
    by_id = {e["metadata"]["doc_id"]: e["metadata"] for e in pdfs}
    opioid = by_id["cdc-opioid-prescribing-guideline-2022-mmwr"]
    assert (opioid["year"], opioid["type"], opioid["audience"]) == (2022, "Guideline", "clinician")
    assert by_id["niddk-what-i-need-to-know-eating-and-diabetes"]["issuer"] == "NIH/NIDDK"
    assert by_id["cdc-what-you-need-to-know-about-tb"]["audience"] == "patient"


def test_no_who_or_non_commercial_material_in_corpus(manifest: list[dict[str, Any]]) -> None:
    names = [p.name.lower() for p in CORPUS.rglob("*") if p.is_file()]
    assert not [n for n in names if n.startswith("who") or "who-" in n]
    for entry in manifest:
        assert "NC" not in entry["license"].replace("NCI", ""), entry["path"]
        assert "WHO" not in entry["metadata"]["issuer"]


def test_passages_complete_unique_and_well_formed(passages: list[dict[str, Any]]) -> None:
    assert len(passages) == 16_453
    assert len({p["id"] for p in passages}) == 16_453
    for p in passages:
        assert set(p) == PASSAGE_FIELDS, p["id"]
        assert p["text"].strip() and p["title"].strip() and p["parent_id"], p["id"]
        assert p["type"] in {t.value for t in DocType} and p["type"] == "Patient information"
        assert p["audience"] in {"clinician", "patient"}
        assert p["issuer"] in derive.ISSUERS.values()
        assert p["license"] == "CC BY 4.0" and p["year"] is None
        assert p["id"].startswith(p["parent_id"] + "_")


def test_passage_issuers_follow_the_source_prefix(passages: list[dict[str, Any]]) -> None:
    for p in passages[::97]:
        source = p["parent_id"].split("_", 1)[0]
        assert p["issuer"] == derive.ISSUERS[source]


def test_question_bank_nonempty_deduplicated_and_linked(
    questions: list[dict[str, Any]], passages: list[dict[str, Any]]
) -> None:
    assert len(questions) > 10_000
    keys = [derive.normalise_question(q["question"]) for q in questions]
    assert len(set(keys)) == len(keys)
    ids = {p["id"] for p in passages}
    for q in questions:
        assert set(q) == {"question", "focus", "qtype", "passage_ids"}
        assert q["question"].strip() and q["qtype"] and q["passage_ids"]
        assert set(q["passage_ids"]) <= ids


@pytest.mark.skipif(not (SHARED / "medquad").is_dir(), reason="shared data folder not available")
def test_committed_outputs_match_a_fresh_derivation() -> None:
    assert derive.main(["--shared", str(SHARED), "--check"]) == 0


# --- derive.py on small fixtures ------------------------------------------------------------------------------


def _row(pid: str, source: str = "GARD", focus: str | None = "Asthma", text: str = " Body  text. ") -> dict[str, Any]:
    doc_id = pid.rsplit("_", 1)[0]
    return {"passage_id": pid, "doc_id": doc_id, "source": source, "url": "https://x.test/p", "focus": focus,
            "text": text}


def test_convert_passage_maps_issuer_and_keeps_text() -> None:
    rec = derive.convert_passage(_row("GHR_0000001_Sec1", source="GHR"), {})
    assert rec["issuer"] == "NIH/NLM Genetics Home Reference"
    assert rec["text"] == " Body  text. "
    assert (rec["title"], rec["focus"], rec["parent_id"]) == ("Asthma", "Asthma", "GHR_0000001")
    assert list(rec) == ["id", "text", "title", "focus", "parent_id", "issuer", "type", "audience", "url",
                         "license", "year"]


def test_convert_passage_fills_focus_from_page_then_fallback_title() -> None:
    rec = derive.convert_passage(_row("NHLBI_0000051_Sec2", "NHLBI", focus=None), {"NHLBI_0000051": "DVT"})
    assert (rec["title"], rec["focus"]) == ("DVT", "DVT")
    rec = derive.convert_passage(_row("CDC_0000424_Sec1", "CDC", focus=""), {"CDC_0000424": ""})
    assert rec["focus"] == "" and "VRE" in rec["title"]
    with pytest.raises(derive.DeriveError, match="no focus"):
        derive.convert_passage(_row("CDC_0009999_Sec1", "CDC", focus=""), {})


def test_unknown_source_is_a_named_error() -> None:
    with pytest.raises(derive.DeriveError, match="ADAM"):
        derive.convert_passage(_row("ADAM_0000001_Sec1", source="ADAM"), {})


def test_jsonl_gz_bytes_is_reproducible_and_round_trips() -> None:
    records = [{"id": "a", "text": "café"}, {"id": "b", "text": "x"}]
    first, second = derive.jsonl_gz_bytes(records), derive.jsonl_gz_bytes(records)
    assert first == second
    assert [json.loads(line) for line in gzip.decompress(first).decode("utf-8").splitlines()] == records


def test_question_bank_merges_duplicates_and_drops_empty_slots() -> None:
    bank = derive.build_question_bank([
        {"question": "What causes Asthma ?", "focus": "Asthma", "qtype": "causes", "relevant_passage_ids": ["a"]},
        {"question": "what  causes asthma", "focus": "Asthma", "qtype": "causes", "relevant_passage_ids": ["b", "a"]},
        {"question": "What is (are)  ?", "focus": "", "qtype": "information", "relevant_passage_ids": ["c"]},
        {"question": "Is Asthma inherited ?", "focus": "Asthma", "qtype": "inheritance", "relevant_passage_ids": ["d"]},
    ])
    assert [(q["question"], q["passage_ids"]) for q in bank] == [
        ("What causes Asthma ?", ["a", "b"]), ("Is Asthma inherited ?", ["d"])]


def _fake_shared(root: Path) -> Path:
    medquad, pdf = root / "medquad", root / "guidelines-pdf"
    medquad.mkdir(parents=True)
    pdf.mkdir()
    rows = [_row("GARD_0000001_Sec1"), _row("CDC_0000002_Sec1", "CDC", focus="Flu")]
    docs = [{"doc_id": "GARD_0000001", "focus": "Asthma"}, {"doc_id": "CDC_0000002", "focus": "Flu"}]
    qs = [{"question": "What is Flu ?", "focus": "Flu", "qtype": "information",
           "relevant_passage_ids": ["CDC_0000002_Sec1"]}]
    for name, recs in (("corpus_passages", rows), ("documents", docs), ("questions_dev", qs)):
        (medquad / f"{name}.jsonl.gz").write_bytes(derive.jsonl_gz_bytes(recs))
    for meta in derive.PDFS:
        (pdf / f"{meta['doc_id']}.pdf").write_bytes(b"%PDF-1.4 " + meta["doc_id"].encode())
    (pdf / "who-emro-healthy-diet-2019.pdf").write_bytes(b"%PDF-1.4 who")
    return root


def test_main_writes_reproducible_outputs_and_check_detects_staleness(tmp_path: Path, capsys) -> None:
    shared, out = _fake_shared(tmp_path / "shared"), tmp_path / "corpus"
    assert derive.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert "wrote manifest.json" in capsys.readouterr().out
    assert not list(out.rglob("who*"))
    entries = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(entries) == 5
    for e in entries:
        assert hashlib.sha256((out / e["path"]).read_bytes()).hexdigest() == e["sha256"]
    assert [r["id"] for r in _read_jsonl_gz(out / derive.PASSAGES_OUT)] == ["GARD_0000001_Sec1", "CDC_0000002_Sec1"]

    assert derive.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""  # second run: nothing changed, nothing written
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 0

    (out / derive.QUESTIONS_OUT).write_bytes(b"stale")
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 1
    assert derive.QUESTIONS_OUT in capsys.readouterr().out


def test_main_reports_missing_shared_folder_clearly(tmp_path: Path, capsys) -> None:
    assert derive.main(["--shared", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "missing input file" in err and "--shared" in err
