"""Derive ``vocab/drug_names.tsv.gz``: drug names (generic, brand, common synonyms) -> one canonical name.

The names come from the dictionary shipped in the PyPI package ``drug-named-entity-recognition`` (MIT licence,
Fast Data Science; compiled from MedlinePlus, MeSH, Wikipedia and DrugBank open vocabulary). Only the names are
kept -- no identifiers, structures or other data -- so medcite needs neither the package (it loads a 350 MB
dictionary into every process) nor its network helpers at run time. Variants of up to :data:`MAX_WORDS` words are
written, sorted, one ``variant<TAB>canonical`` a line; gzip with ``mtime=0``, so the bytes are reproducible.

    pip install drug-named-entity-recognition==2.0.9 && python corpus/derive_drugs.py

>>> rows([("Tylenol", ["acetaminophen"]), ("a b c d e", ["x"]), ("ab", ["y"])])
[('tylenol', 'acetaminophen')]
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import Iterable

#: Longest variant kept (the name finder looks at runs of up to this many words).
MAX_WORDS = 3
#: Shortest variant kept: 1-2 letter names ("ra", "ms") are abbreviations of other things far more often.
MIN_CHARS = 3
OUT = Path(__file__).resolve().parent / "vocab" / "drug_names.tsv.gz"
PACKAGE_VERSION = "2.0.9"


def rows(variants: Iterable[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    """(variant, canonical) pairs, lower-cased, short and long variants left out, sorted."""
    out = set()
    for variant, canonicals in variants:
        v = " ".join(variant.lower().split())
        if len(v) < MIN_CHARS or len(v.split()) > MAX_WORDS or "\t" in v or not canonicals:
            continue
        out.add((v, canonicals[0].lower()))
    return sorted(out)


def main() -> int:
    try:
        from drug_named_entity_recognition import drugs_finder
        from importlib.metadata import version
    except ImportError:
        print("install the source first: pip install drug-named-entity-recognition==" + PACKAGE_VERSION,
              file=sys.stderr)
        return 2
    if version("drug-named-entity-recognition") != PACKAGE_VERSION:
        print(f"expected drug-named-entity-recognition {PACKAGE_VERSION} (the shipped file's source)", file=sys.stderr)
        return 2
    pairs = rows(drugs_finder.drug_variant_to_canonical.items())
    text = "".join(f"{v}\t{c}\n" for v, c in pairs).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buf.getvalue())
    print(f"{OUT}: {len(pairs)} names, {len(buf.getvalue())} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
