"""Derive medcite's bundled default corpus from the shared real-data folder.

Writes, relative to this folder (``corpus/``):

* ``medquad/passages.jsonl.gz``: every MedQuAD passage in medcite's JSONL document schema;
* ``questions/medquad_questions.jsonl.gz``: the related-questions bank (MedQuAD dev questions, de-duplicated);
* ``pdf/*.pdf``: byte-identical copies of the four US-government public-domain PDFs (never the WHO ones);
* ``pdq/*.md.gz`` and ``ngc/*.xml.gz``: the clinician documents, NCI PDQ Health Professional summaries (cleaned,
  third-party material removed) and National Guideline Clearinghouse summaries (see ``derive_clinician.py``);
* ``manifest.json``: one entry per corpus file with its sha256, licence and document metadata.

Outputs are deterministic (source order or sorted keys, gzip ``mtime=0`` and no file name in the gzip header),
so re-running the script on the same input reproduces the committed bytes. The MedQuAD and PDF parts use the
standard library only; the clinician part uses medcite's own loaders (``ingest``), so cleaning at derive time
and at load time is the same code.

Usage::

    python corpus/derive.py                         # shared data at <repo>/../shared/data
    python corpus/derive.py --shared ../shared/data
    python corpus/derive.py --check                 # exit 1 if any committed output is stale
    python corpus/derive.py --summary               # also print what the clinician part removed, per file

>>> issuer_for("GARD")
'NIH/NCATS GARD'
>>> normalise_question("What is (are)  Asthma ? ")
'what is (are) asthma'
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

CORPUS_DIR = Path(__file__).resolve().parent
DEFAULT_SHARED = CORPUS_DIR.parent.parent / "shared" / "data"
for _path in (str(CORPUS_DIR.parent), str(CORPUS_DIR)):  # runnable as ``python corpus/derive.py``
    if _path not in sys.path:
        sys.path.insert(0, _path)

import derive_clinician  # noqa: E402  (needs the paths above)
from derive_clinician import ClinicianDeriveError  # noqa: E402

#: Folders whose every file is generated: a file there that derive does not produce is stale.
GENERATED_DIRS = (derive_clinician.PDQ_DIR, derive_clinician.NGC_DIR)

PASSAGES_OUT = "medquad/passages.jsonl.gz"
QUESTIONS_OUT = "questions/medquad_questions.jsonl.gz"
MANIFEST_OUT = "manifest.json"

MEDQUAD_LICENSE = "CC BY 4.0"
PUBLIC_DOMAIN = "Public domain (US Government work)"

#: MedQuAD ``source`` value -> publishing body shown in references (all nine sources of the released corpus).
ISSUERS: dict[str, str] = {
    "CancerGov": "NIH/NCI (cancer.gov PDQ)",
    "GARD": "NIH/NCATS GARD",
    "GHR": "NIH/NLM Genetics Home Reference",
    "MPlusHealthTopics": "NIH/NLM MedlinePlus",
    "NIDDK": "NIH/NIDDK",
    "NINDS": "NIH/NINDS",
    "NIHSeniorHealth": "NIH/NIA NIHSeniorHealth",
    "NHLBI": "NIH/NHLBI",
    "CDC": "CDC",
}

#: Titles for the three CDC pages whose XML carries no focus at all (taken from the pages' own headings in the
#: passage text and their URLs; never from evaluation questions). Their ``focus`` stays empty.
FALLBACK_TITLES: dict[str, str] = {
    "CDC_0000199": "Vaccines and Immunizations",
    "CDC_0000423": "VISA/VRSA: Vancomycin-Intermediate/Resistant Staphylococcus aureus",
    "CDC_0000424": "Vancomycin-resistant Enterococci (VRE)",
}

#: Defaults for the JSONL entry of the manifest; every record carries its own values.
MEDQUAD_DEFAULTS: dict[str, Any] = {
    "doc_id": "medquad",
    "title": "MedQuAD: NIH and CDC consumer health answers",
    "issuer": "NIH/NLM (MedQuAD collection)",
    "year": None,
    "type": "Patient information",
    "audience": "patient",
    "url": "https://github.com/abachaa/MedQuAD",
    "license": MEDQUAD_LICENSE,
}

#: The four public-domain PDFs and their metadata (titles and years checked against the PDF text with pypdf).
PDFS: tuple[dict[str, Any], ...] = (
    {
        "doc_id": "cdc-infection-prevention-outpatient-settings-2016",
        "title": "Guide to Infection Prevention for Outpatient Settings: Minimum Expectations for Safe Care",
        "issuer": "CDC",
        "year": 2016,  # "Version 2.3 - September 2016"
        "type": "Guideline",
        "audience": "clinician",
        "url": "https://www.cdc.gov/hai/settings/outpatient/outpatient-settings.html",
        "license": PUBLIC_DOMAIN,
    },
    {
        "doc_id": "cdc-opioid-prescribing-guideline-2022-mmwr",
        "title": "CDC Clinical Practice Guideline for Prescribing Opioids for Pain \u2014 United States, 2022",
        "issuer": "CDC",
        "year": 2022,  # MMWR Recomm Rep 71(3), November 4, 2022
        "type": "Guideline",
        "audience": "clinician",
        "url": "https://www.cdc.gov/mmwr/volumes/71/rr/rr7103a1.htm",
        "license": PUBLIC_DOMAIN,
    },
    {
        "doc_id": "cdc-what-you-need-to-know-about-tb",
        "title": "What You Need to Know About Tuberculosis",
        "issuer": "CDC",
        "year": 2023,  # "301332 | October 2023" printed on page 2
        "type": "Patient information",
        "audience": "patient",
        "url": "https://www.cdc.gov/tb/",
        "license": PUBLIC_DOMAIN,
    },
    {
        "doc_id": "niddk-what-i-need-to-know-eating-and-diabetes",
        "title": "What I need to know about Eating and Diabetes",
        "issuer": "NIH/NIDDK",
        "year": 2007,  # "NIH Publication No. 08-5043, October 2007" on the back cover
        "type": "Patient information",
        "audience": "patient",
        "url": "https://www.niddk.nih.gov/health-information/diabetes",
        "license": PUBLIC_DOMAIN,
    },
)


class DeriveError(Exception):
    """Bad or missing input data; the message names the file and the problem."""


def issuer_for(source: str) -> str:
    """Publishing body for a MedQuAD ``source`` value; unknown values are an error, never a silent default."""
    try:
        return ISSUERS[source]
    except KeyError:
        raise DeriveError(f"unknown MedQuAD source {source!r}; add it to ISSUERS in corpus/derive.py") from None


def normalise_question(question: str) -> str:
    """De-duplication key: lower case, single spaces, no trailing '?'."""
    return re.sub(r"\s+", " ", question).strip().lower().rstrip("? ").strip()


def read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a gzipped JSONL file, in file order."""
    if not path.is_file():
        raise DeriveError(f"missing input file {path}; pass --shared <dir> pointing at the shared data folder")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DeriveError(f"{path}:{n}: not valid JSON ({exc.msg})") from None


def jsonl_gz_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """Reproducible gzip bytes of one compact JSON object per line (mtime 0, no file name in the header)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for rec in records:
            gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    return buf.getvalue()


def page_focus(docs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """``doc_id -> focus`` from MedQuAD's page table (fills passages whose own focus is missing)."""
    return {d["doc_id"]: (d.get("focus") or "").strip() for d in docs}


def convert_passage(row: dict[str, Any], focus_of_page: dict[str, str]) -> dict[str, Any]:
    """One MedQuAD passage in medcite's document schema; the text is kept exactly as given."""
    focus = (row.get("focus") or "").strip() or focus_of_page.get(row["doc_id"], "")
    title = focus or FALLBACK_TITLES.get(row["doc_id"], "")
    if not title:
        raise DeriveError(f"passage {row['passage_id']} has no focus and no fallback title in FALLBACK_TITLES")
    return {
        "id": row["passage_id"],
        "text": row["text"],
        "title": title,
        "focus": focus,
        "parent_id": row["doc_id"],
        "issuer": issuer_for(row["source"]),
        "type": "Patient information",
        "audience": "patient",
        "url": row.get("url") or "",
        "license": MEDQUAD_LICENSE,
        "year": None,
    }


def build_question_bank(questions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dev questions de-duplicated by normalised text (first wins, gold passages merged), in source order.

    Questions whose template slot is empty (e.g. ``"What is (are)  ?"``) are dropped.

    >>> bank = build_question_bank([
    ...     {"question": "What is X ?", "focus": "X", "qtype": "information", "relevant_passage_ids": ["a"]},
    ...     {"question": "what is x?", "focus": "X", "qtype": "information", "relevant_passage_ids": ["b"]},
    ...     {"question": "What is (are)  ?", "focus": "", "qtype": "information", "relevant_passage_ids": ["c"]}])
    >>> [(q["question"], q["passage_ids"]) for q in bank]
    [('What is X ?', ['a', 'b'])]
    """
    bank: dict[str, dict[str, Any]] = {}
    for q in questions:
        text = q["question"].strip()
        if re.search(r"\s{2,}", text) and not (q.get("focus") or "").strip():
            continue
        key = normalise_question(text)
        if not key:
            continue
        entry = bank.setdefault(
            key, {"question": text, "focus": q.get("focus") or "", "qtype": q["qtype"], "passage_ids": []}
        )
        entry["passage_ids"].extend(p for p in q["relevant_passage_ids"] if p not in entry["passage_ids"])
    return list(bank.values())


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_entries(outputs: dict[str, bytes], extra: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Manifest entries (sorted by path) for the passages file and the PDFs among ``outputs``, plus ``extra``
    (the clinician documents' entries)."""
    entries = [
        {
            "path": PASSAGES_OUT,
            "format": "jsonl",
            "sha256": sha256_bytes(outputs[PASSAGES_OUT]),
            "license": MEDQUAD_LICENSE,
            "metadata": dict(MEDQUAD_DEFAULTS),
        }
    ]
    for meta in PDFS:
        path = f"pdf/{meta['doc_id']}.pdf"
        entries.append(
            {"path": path, "format": "pdf", "sha256": sha256_bytes(outputs[path]), "license": meta["license"],
             "metadata": dict(meta)}
        )
    entries.extend(extra)
    return sorted(entries, key=lambda e: e["path"])


def derive(shared: Path, report: list[str] | None = None) -> dict[str, bytes]:
    """All outputs as ``relative path -> bytes`` (nothing is written here); ``report`` receives the clinician
    part's summary lines when given."""
    medquad, pdf_dir = shared / "medquad", shared / "guidelines-pdf"
    focus_of_page = page_focus(read_jsonl_gz(medquad / "documents.jsonl.gz"))
    passages = [convert_passage(r, focus_of_page) for r in read_jsonl_gz(medquad / "corpus_passages.jsonl.gz")]
    ids = [p["id"] for p in passages]
    if len(set(ids)) != len(ids):
        raise DeriveError("duplicate passage ids in corpus_passages.jsonl.gz")
    outputs = {
        PASSAGES_OUT: jsonl_gz_bytes(passages),
        QUESTIONS_OUT: jsonl_gz_bytes(build_question_bank(read_jsonl_gz(medquad / "questions_dev.jsonl.gz"))),
    }
    for meta in PDFS:
        src = pdf_dir / f"{meta['doc_id']}.pdf"
        if not src.is_file():
            raise DeriveError(f"missing PDF {src}")
        outputs[f"pdf/{meta['doc_id']}.pdf"] = src.read_bytes()
    try:
        clinician = derive_clinician.derive_clinician(shared)
    except ClinicianDeriveError as exc:
        raise DeriveError(str(exc)) from None
    outputs.update(clinician.outputs)
    if report is not None:
        report.extend(derive_clinician.summary(clinician).splitlines())
    manifest = json.dumps(manifest_entries(outputs, clinician.entries), ensure_ascii=False, indent=2) + "\n"
    outputs[MANIFEST_OUT] = manifest.encode("utf-8")
    return outputs


def stale_outputs(outputs: dict[str, bytes], corpus_dir: Path) -> list[str]:
    """Relative paths whose file on disk is missing or differs from ``outputs``."""
    return sorted(p for p, data in outputs.items()
                  if not (corpus_dir / p).is_file() or (corpus_dir / p).read_bytes() != data)


def orphan_outputs(outputs: dict[str, bytes], corpus_dir: Path) -> list[str]:
    """Files in the generated folders (``pdq/``, ``ngc/``) that a fresh derivation no longer produces."""
    found = {p.relative_to(corpus_dir).as_posix() for d in GENERATED_DIRS if (corpus_dir / d).is_dir()
             for p in (corpus_dir / d).iterdir() if p.is_file()}
    return sorted(found - set(outputs))


def write_outputs(outputs: dict[str, bytes], corpus_dir: Path) -> list[str]:
    """Write changed outputs only and remove orphans of the generated folders; returns the paths touched."""
    changed = stale_outputs(outputs, corpus_dir)
    for rel in changed:
        target = corpus_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(outputs[rel])
    orphans = orphan_outputs(outputs, corpus_dir)
    for rel in orphans:
        (corpus_dir / rel).unlink()
    return changed + orphans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help=f"shared data folder (default: {DEFAULT_SHARED})")
    parser.add_argument("--out", type=Path, default=CORPUS_DIR, help="corpus folder to write (default: this one)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if an output is stale")
    parser.add_argument("--summary", action="store_true",
                        help="print what the clinician part removed (third-party tables, figures...) per file")
    args = parser.parse_args(argv)
    report: list[str] = []
    try:
        outputs = derive(args.shared, report)
    except DeriveError as exc:
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        print("\n".join(report))
    if args.check:
        stale = stale_outputs(outputs, args.out)
        for rel in stale:
            print(f"stale: {rel}")
        orphans = orphan_outputs(outputs, args.out)
        for rel in orphans:
            print(f"stale (no longer derived): {rel}")
        return 1 if stale or orphans else 0
    for rel in write_outputs(outputs, args.out):
        print(f"wrote {rel} ({len(outputs[rel]):,} bytes)" if rel in outputs else f"removed {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
