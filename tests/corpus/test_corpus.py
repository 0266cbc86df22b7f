"""The bundled default corpus (corpus/) and its derivation script: fast, no model."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import re
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from core.models import DocType, DocumentMeta
from ingest.inputs import read_corpus_manifest
from ingest.loaders import load_path
from ingest.loaders.clean import normalize_inline

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared" / "data"
CLINICIAN_QA = SHARED / "clinician-qa" / "clinician_qa_dev.jsonl"
FORMATS = {"pdf", "jsonl", "markdown", "xml"}
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
        assert entry["format"] in FORMATS
        assert entry["license"] and entry["metadata"]["license"] == entry["license"]
        DocumentMeta(**entry["metadata"])  # metadata must fit the shared model


def test_every_corpus_document_file_is_in_the_manifest(manifest: list[dict[str, Any]]) -> None:
    listed = {e["path"] for e in manifest}
    on_disk = {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "pdf").glob("*.pdf")}
    on_disk |= {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "medquad").glob("*.jsonl.gz")}
    on_disk |= {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "pdq").iterdir()}
    on_disk |= {p.relative_to(CORPUS).as_posix() for p in (CORPUS / "ngc").iterdir()}
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


# --- the clinician documents (NCI PDQ and NGC) -----------------------------------------------------------------


def _clinician(manifest: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [e for e in manifest if e["path"].startswith(prefix)]


def test_clinician_entries_carry_full_reference_metadata(manifest: list[dict[str, Any]]) -> None:
    pdq, ngc = _clinician(manifest, "pdq/"), _clinician(manifest, "ngc/")
    assert (len(pdq), len(ngc)) == (242, 106)
    for entry in pdq + ngc:
        meta = entry["metadata"]
        name = Path(entry["path"]).name
        assert meta["doc_id"] == name.split(".")[0], entry["path"]
        assert meta["audience"] == "clinician" and meta["url"].startswith("http"), entry["path"]
        assert meta["title"] and meta["issuer"] and meta["license"] == entry["license"], entry["path"]
        assert re.fullmatch(r"\d{4}(-\d{2}){0,2}", meta["date"]) and meta["year"] == int(meta["date"][:4])
    for entry in pdq:
        meta = entry["metadata"]
        assert entry["format"] == "markdown" and entry["path"].endswith(".md.gz")
        assert meta["type"] == "Evidence summary" and meta["date_kind"] == "reviewed"
        assert meta["title"].endswith("(PDQ®)–Health Professional Version"), meta["title"]
        assert re.fullmatch(r"NCI PDQ [A-Z][\w ,]+ Editorial Board", meta["issuer"]), meta["issuer"]
        assert meta["url"].startswith("https://www.cancer.gov/") and "Public domain" in meta["license"]
    for entry in ngc:
        meta = entry["metadata"]
        assert entry["format"] == "xml" and re.fullmatch(r"ngc/ngc-\d+\.xml\.gz", entry["path"])
        assert meta["type"] == "Guideline" and meta["date_kind"] == "released" and meta["date"] < "2018-08"
        assert "may be superseded" in meta["status"] and "NGC closed 2018-07-16" in meta["status"]
    issuers = {e["metadata"]["issuer"] for e in ngc}
    assert {"U.S. Preventive Services Task Force (USPSTF)",
            "Department of Veterans Affairs / Department of Defense (VA/DoD)"} <= issuers
    wilms = next(e["metadata"] for e in pdq if e["metadata"]["doc_id"] == "types-kidney-hp-wilms-treatment-pdq")
    assert wilms["issuer"] == "NCI PDQ Pediatric Treatment Editorial Board"


def _shipped_text(entry: dict[str, Any]) -> str:
    return gzip.decompress((CORPUS / entry["path"]).read_bytes()).decode("utf-8")


def test_shipped_files_hold_no_third_party_material_or_image_markup(manifest: list[dict[str, Any]]) -> None:
    for entry in _clinician(manifest, "pdq/") + _clinician(manifest, "ngc/"):
        text = _shipped_text(entry)
        for marker in ("Reprinted with permission", "with permission from", "with permission of", "AJCC:",
                       "[Enlarge]", "![", "nci-media.cancer.gov", "Adapted from AJCC"):
            assert marker not in text, f"{entry['path']}: {marker!r}"
        # NCI's own tables may mention AJCC ("see the AJCC Staging Groupings section"); none may be sourced from
        # it (a note "Reprinted/Adapted ... from AJCC", a chapter cited "In: Amin MB ... AJCC Cancer Staging Manual").
        sourced = re.compile(r"In: [^|]*AJCC Cancer Staging Manual|(?:Reprinted|Adapted)[^|]{0,20} from (?:the )?AJCC")
        table_rows = [line for line in text.splitlines() if line.startswith("|") and sourced.search(line)]
        assert not table_rows, f"{entry['path']}: AJCC-sourced table row {table_rows[0][:80]!r}"
    for entry in _clinician(manifest, "pdq/"):
        text = _shipped_text(entry)
        assert not re.search(r"(?m)^Figure \d+[A-Za-z]?\. ", text), entry["path"]
        assert "#cit/" not in text and "PUBMED" not in text and "About This PDQ Summary" not in text, entry["path"]


def test_shipped_files_load_with_their_manifest_metadata() -> None:
    items = {i.path.name: i for i in read_corpus_manifest(CORPUS)}
    for name in ("types-kidney-hp-wilms-treatment-pdq.md.gz", "ngc-10997.xml.gz", "ngc-10598.xml.gz"):
        item = items[name]
        [doc] = load_path(item.path, item.defaults)
        meta = doc.meta.model_dump(mode="json")
        assert {k: meta[k] for k in item.defaults} == item.defaults, name
        assert "This is the current release" not in doc.text and "(PDQ®) - NCI" not in doc.text


def _norm(text: str) -> str:
    """Case, white space, Markdown emphasis and spaces before punctuation normalised."""
    text = normalize_inline(text.replace("*", "")).lower()
    return re.sub(r"\s+([.,;:)\]])", r"\1", text)


@pytest.mark.skipif(not CLINICIAN_QA.is_file(), reason=f"clinician-qa dev file not available at {CLINICIAN_QA}")
def test_clinician_qa_support_sentences_are_in_the_loaded_gold_documents() -> None:
    items = {i.path.name.split(".")[0]: i for i in read_corpus_manifest(CORPUS) if i.path.suffix == ".gz"}
    rows = [json.loads(line) for line in CLINICIAN_QA.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["in_corpus"] and r["gold_doc"] and r["support"]]
    texts: dict[str, str] = {}
    missing = []
    for row in rows:
        doc_id = Path(row["gold_doc"]).stem  # the evaluation maps gold_doc file names to doc ids this way
        if doc_id not in texts:
            [doc] = load_path(items[doc_id].path, items[doc_id].defaults)
            texts[doc_id] = _norm(doc.text)
        if _norm(row["support"]) not in texts[doc_id]:
            missing.append(f"{row['id']} ({doc_id}): {row['support'][:120]}")
    found = len(rows) - len(missing)
    if missing:
        warnings.warn(f"support text not found for {len(missing)}/{len(rows)} items: " + "; ".join(missing))
    assert len(rows) >= 60 and found >= 0.9 * len(rows), f"{found}/{len(rows)} found; missing: {missing}"


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


FAKE_PDQ = """---
audienceLevel: patient
lastReviewed: '2025-12-30'
title: Flu Treatment (PDQ®) - NCI
url: https://www.cancer.gov/types/flu/hp/flu-treatment-pdq
---

# Flu Treatment (PDQ®) - NCI

# Flu Treatment (PDQ®)–Health Professional Version

## Treatment

Rest helps.[[1](#cit/section_1.1)]

Table 1. Stages

| Stage | TNM |
| --- | --- |
| aReprinted with permission from AJCC: Flu. In: Amin MB, eds.: *AJCC Cancer Staging Manual*. | |

## Latest Updates to This Summary (03/04/2025)

Changes.

## About This PDQ Summary

This summary is reviewed regularly and updated as necessary by the [PDQ Adult Treatment Editorial Board](https://x).
"""
FAKE_NGC = (
    '<Version><Section Name="General"><Field Name="Guideline Title" Type="text"><FieldValue Value="&lt;div&gt;'
    'Flu screening.&lt;/div&gt;"/></Field><Field Name="Major Recommendations" Type="text"><FieldValue Value="'
    '&lt;p&gt;Screen adults. (&lt;strong&gt;B recommendation&lt;/strong&gt;)&lt;/p&gt;"/></Field><Field '
    'Name="Date Released" Type="text"><FieldValue Value="2016 Jun"/></Field><Field Name="Guideline Developer(s)" '
    'Type="orglist-p"><FieldValue Value="Centers for Disease Control and Prevention - Federal Government Agency '
    '[U.S.]"/></Field><Field Name="Copyright Statement" Type="text"><FieldValue Value="&lt;p&gt;No copyright '
    'restrictions apply.&lt;/p&gt;"/></Field></Section></Version>'
)


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
    pdq, ngc = root / "pdq-hp" / "docs", root / "ngc-public-domain" / "summaries"
    pdq.mkdir(parents=True)
    ngc.mkdir(parents=True)
    (pdq / "types-flu-hp-flu-treatment-pdq.md").write_text(FAKE_PDQ, encoding="utf-8")
    (ngc / "ngc-42.xml").write_text(FAKE_NGC, encoding="utf-8")
    return root


def test_main_writes_reproducible_outputs_and_check_detects_staleness(tmp_path: Path, capsys) -> None:
    shared, out = _fake_shared(tmp_path / "shared"), tmp_path / "corpus"
    assert derive.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert "wrote manifest.json" in capsys.readouterr().out
    assert not list(out.rglob("who*"))
    entries = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(entries) == 7
    for e in entries:
        assert hashlib.sha256((out / e["path"]).read_bytes()).hexdigest() == e["sha256"]
    assert [r["id"] for r in _read_jsonl_gz(out / derive.PASSAGES_OUT)] == ["GARD_0000001_Sec1", "CDC_0000002_Sec1"]
    by_path = {e["path"]: e for e in entries}
    pdq = by_path["pdq/types-flu-hp-flu-treatment-pdq.md.gz"]["metadata"]
    assert (pdq["title"], pdq["issuer"], pdq["date"], pdq["type"], pdq["audience"]) == (
        "Flu Treatment (PDQ®)–Health Professional Version", "NCI PDQ Adult Treatment Editorial Board",
        "2025-03-04", "Evidence summary", "clinician")
    shipped = gzip.decompress((out / "pdq/types-flu-hp-flu-treatment-pdq.md.gz").read_bytes()).decode("utf-8")
    assert "AJCC" not in shipped and "Stages" not in shipped and "#cit" not in shipped and "About This" not in shipped
    assert shipped.startswith("---\ntitle: Flu Treatment (PDQ®)–Health Professional Version\n")
    ngc = by_path["ngc/ngc-42.xml.gz"]["metadata"]
    assert (ngc["doc_id"], ngc["issuer"], ngc["date"], ngc["license"]) == (
        "ngc-42", "Centers for Disease Control and Prevention (CDC)", "2016-06", "No copyright restrictions apply.")
    assert ngc["url"] == "https://www.guideline.gov/summaries/summary/42" and "superseded" in ngc["status"]
    flu = "pdq/types-flu-hp-flu-treatment-pdq.md.gz"
    [doc] = load_path(out / flu, by_path[flu]["metadata"])
    assert doc.text == "Flu Treatment (PDQ®)–Health Professional Version\n\nTreatment\n\nRest helps."

    assert derive.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""  # second run: nothing changed, nothing written
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 0

    (out / derive.QUESTIONS_OUT).write_bytes(b"stale")
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 1
    assert derive.QUESTIONS_OUT in capsys.readouterr().out

    (out / "pdq" / "types-removed-hp-pdq.md.gz").write_bytes(b"old")  # a file derive no longer produces
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 1
    assert "stale (no longer derived): pdq/types-removed-hp-pdq.md.gz" in capsys.readouterr().out
    assert derive.main(["--shared", str(shared), "--out", str(out)]) == 0
    assert not (out / "pdq" / "types-removed-hp-pdq.md.gz").exists()
    assert derive.main(["--shared", str(shared), "--out", str(out), "--check"]) == 0


def test_missing_clinician_folders_are_named(tmp_path: Path, capsys) -> None:
    shared = _fake_shared(tmp_path / "shared")
    (shared / "ngc-public-domain" / "summaries" / "ngc-42.xml").unlink()
    (shared / "ngc-public-domain" / "summaries").rmdir()
    assert derive.main(["--shared", str(shared), "--out", str(tmp_path / "c")]) == 2
    assert "ngc-public-domain/summaries" in capsys.readouterr().err


def test_main_reports_missing_shared_folder_clearly(tmp_path: Path, capsys) -> None:
    assert derive.main(["--shared", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "missing input file" in err and "--shared" in err
