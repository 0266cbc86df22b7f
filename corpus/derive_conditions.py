"""Derive ``vocab/condition_names.tsv.gz``: condition names (disorders and their synonyms) -> one canonical name.

The names are the *focus* of each MedQuAD document whose UMLS semantic group is "Disorders", with the synonyms
MedQuAD lists for it (CC BY 4.0, Ben Abacha & Demner-Fushman 2019; the same documents the bundled MedQuAD pages
come from). Only names are kept. Names of more than :data:`MAX_WORDS` words (titles such as "Am I at risk for
type 2 diabetes?"), of fewer than :data:`MIN_CHARS` characters, or with a digit-only or punctuated form are left
out; a name shared by two foci keeps the first canonical name in document order. The answer's consistency check
uses it to see whether a passage speaks of a condition the question names (``app.query.entities.ConditionNames``).

    python corpus/derive_conditions.py                 # shared data at <repo>/../shared/data
    python corpus/derive_conditions.py --shared ../shared/data

>>> rows([{"semantic_group": "Disorders", "focus": "Heart Failure", "synonyms": ["Congestive heart failure"]},
...       {"semantic_group": None, "focus": "Aspirin", "synonyms": []},
...       {"semantic_group": "Disorders", "focus": "Am I at risk for type 2 diabetes?", "synonyms": []}])
[('congestive heart failure', 'heart failure'), ('heart failure', 'heart failure')]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
from pathlib import Path
from typing import Iterable

MAX_WORDS = 6
MIN_CHARS = 4
OUT = Path(__file__).resolve().parent / "vocab" / "condition_names.tsv.gz"
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
_BAD = re.compile(r"[?:;!\t()\[\]]|^\W|^[\d\W]+$")


def _clean(name: str) -> str:
    return " ".join(name.lower().replace("'s ", " ").split()).strip(" .,-")


def rows(documents: Iterable[dict]) -> list[tuple[str, str]]:
    """(name, canonical) pairs of the Disorders documents, sorted."""
    out: dict[str, str] = {}
    for doc in documents:
        if doc.get("semantic_group") != "Disorders":
            continue
        canonical = _clean(doc["focus"])
        if _BAD.search(canonical) or len(canonical.split()) > MAX_WORDS:
            continue
        for name in [doc["focus"], *doc.get("synonyms", [])]:
            v = _clean(name)
            if len(v) < MIN_CHARS or len(v.split()) > MAX_WORDS or _BAD.search(v):
                continue
            out.setdefault(v, canonical)
    return sorted(out.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive the condition-name vocabulary from MedQuAD documents.")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args(argv)
    source = args.shared / "medquad" / "documents.jsonl.gz"
    if not source.is_file():
        parser.error(f"missing input file {source}; pass --shared <dir> pointing at the shared data folder")
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        pairs = rows(json.loads(line) for line in fh if line.strip())
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(f"{v}\t{c}\n" for v, c in pairs).encode())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buf.getvalue())
    print(f"{OUT}: {len(pairs)} names, {len(buf.getvalue())} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
