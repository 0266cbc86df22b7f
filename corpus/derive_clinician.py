"""The clinician part of the default corpus, derived by ``derive.py``: NCI PDQ and NGC summaries.

* ``pdq/<stem>.md.gz``: each NCI PDQ Health Professional summary of ``pdq-hp/docs``, cleaned by the loader's own
  rules (:func:`ingest.loaders.profiles.clean_document`: reference lists, citation links, navigation and
  boilerplate sections, images and figure captions, AJCC and other third-party tables removed), with a
  corrected front matter (Health Professional title, editorial board, clinician audience, review date);
* ``ngc/<stem>.xml.gz``: each NGC summary of ``ngc-public-domain/summaries``, gzipped; byte-identical XML except
  in the few files where a table reprinted with a third party's permission was cut out of a field value
  (:func:`ingest.loaders.ngc.without_third_party_tables`). The XML loader (:mod:`ingest.loaders.ngc`) leaves the
  administrative fields out at load time.

Manifest metadata comes from the same functions the loaders use, so it matches what ``medcite ingest`` reads.
All bytes are deterministic (sorted input, YAML without sorting surprises, gzip ``mtime=0`` and no file name).

>>> gz_bytes(b"x") == gz_bytes(b"x") and gzip.decompress(gz_bytes(b"x")) == b"x"
True
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.loaders.frontmatter import front_matter_meta, split_front_matter
from ingest.loaders.meta import build_meta, merge_meta
from ingest.loaders.ngc import ngc_metadata, ngc_to_text, without_third_party_tables
from ingest.loaders.profiles import clean_document

PDQ_SOURCE = "pdq-hp/docs"
NGC_SOURCE = "ngc-public-domain/summaries"
PDQ_DIR = "pdq"
NGC_DIR = "ngc"
#: Metadata fields written to the manifest (and, for PDQ, to the shipped front matter), in this order.
MANIFEST_FIELDS = ("doc_id", "title", "focus", "issuer", "year", "date", "date_kind", "type", "audience", "url",
                   "license", "status")
_FRONT_FIELDS = ("title", "focus", "url", "issuer", "date", "date_kind", "type", "audience", "license")


class ClinicianDeriveError(Exception):
    """Missing or unreadable PDQ/NGC input; the message names the file."""


@dataclass
class Removed:
    """What the cleaning took out, per kind, with the files concerned (for LICENSES.md)."""

    counts: Counter[str] = field(default_factory=Counter)
    files: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, n: int, name: str) -> None:
        if n:
            self.counts[kind] += n
            self.files.setdefault(kind, set()).add(name)


@dataclass
class ClinicianCorpus:
    outputs: dict[str, bytes]
    entries: list[dict[str, Any]]
    removed: Removed
    characters: Counter[str]


def gz_bytes(data: bytes) -> bytes:
    """Reproducible gzip bytes (mtime 0, no file name in the header)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def _sources(folder: Path, pattern: str) -> list[Path]:
    if not folder.is_dir():
        raise ClinicianDeriveError(f"missing input folder {folder}; pass --shared <dir> pointing at the shared data")
    files = sorted(folder.glob(pattern))
    if not files:
        raise ClinicianDeriveError(f"no {pattern} files in {folder}")
    return files


def _manifest_meta(fields: dict[str, Any], where: Path) -> dict[str, Any]:
    """Validated metadata (through the loaders' own coercion) as plain JSON values, in MANIFEST_FIELDS order."""
    meta = build_meta(fields, where).model_dump(mode="json")
    return {k: meta[k] for k in MANIFEST_FIELDS if meta[k] not in ("", None) or k in ("year",)}


def pdq_document(path: Path) -> tuple[bytes, dict[str, Any], Counter[str], int]:
    """(shipped Markdown bytes, manifest metadata, removal counts, characters of cleaned Markdown) of a raw file."""
    source = path.read_text(encoding="utf-8")
    front, body = split_front_matter(source, path)
    if not front:
        raise ClinicianDeriveError(f"{path}: no YAML front matter")
    cleaned = clean_document(front, body)
    if cleaned.profile != "nci-pdq-hp":
        raise ClinicianDeriveError(f"{path}: not recognised as an NCI PDQ summary (profile {cleaned.profile})")
    fields = merge_meta(front_matter_meta(front), cleaned.meta, {"doc_id": path.stem})
    meta = _manifest_meta(fields, path)
    shipped_front = {k: meta[k] for k in _FRONT_FIELDS if k in meta}
    head = yaml.safe_dump(shipped_front, sort_keys=False, allow_unicode=True, width=1000)
    text = f"---\n{head}---\n\n{cleaned.text}\n"
    return text.encode("utf-8"), meta, cleaned.removed, len(cleaned.text)


def ngc_document(path: Path) -> tuple[bytes, dict[str, Any], int, int]:
    """(shipped bytes, manifest metadata, third-party tables left out, characters of loaded text) of an XML."""
    data, removed = without_third_party_tables(path.read_bytes(), path)
    text, _, fields = ngc_to_text(data, path)
    if fields.get("_third_party_tables", "0") != "0":
        raise ClinicianDeriveError(f"{path}: third-party tables left after cleaning")
    meta = _manifest_meta({**ngc_metadata(fields, path.stem), "doc_id": path.stem}, path)
    return data, meta, removed, len(text)


def _entry(rel: str, fmt: str, data: bytes, meta: dict[str, Any]) -> dict[str, Any]:
    return {"path": rel, "format": fmt, "sha256": hashlib.sha256(data).hexdigest(), "license": meta["license"],
            "metadata": meta}


def derive_clinician(shared: Path) -> ClinicianCorpus:
    """All PDQ and NGC outputs and their manifest entries (nothing is written here)."""
    corpus = ClinicianCorpus(outputs={}, entries=[], removed=Removed(), characters=Counter())
    for path in _sources(shared / PDQ_SOURCE, "*.md"):
        data, meta, removed, chars = pdq_document(path)
        rel = f"{PDQ_DIR}/{path.stem}.md.gz"
        corpus.outputs[rel] = gz_bytes(data)
        corpus.entries.append(_entry(rel, "markdown", corpus.outputs[rel], meta))
        corpus.characters["pdq"] += chars
        for kind, n in removed.items():
            corpus.removed.add(f"pdq_{kind}", n, path.name)
    for path in _sources(shared / NGC_SOURCE, "*.xml"):
        data, meta, tables, chars = ngc_document(path)
        rel = f"{NGC_DIR}/{path.stem}.xml.gz"
        corpus.outputs[rel] = gz_bytes(data)
        corpus.entries.append(_entry(rel, "xml", corpus.outputs[rel], meta))
        corpus.characters["ngc"] += chars
        corpus.removed.add("ngc_third_party_tables", tables, path.name)
    ids = [e["metadata"]["doc_id"] for e in corpus.entries]
    if len(set(ids)) != len(ids):
        raise ClinicianDeriveError("duplicate doc_id among the PDQ and NGC documents")
    return corpus


def summary(corpus: ClinicianCorpus) -> str:
    """Counts for LICENSES.md and the README: documents, characters, what was removed and where."""
    n_pdq = sum(e["format"] == "markdown" for e in corpus.entries)
    lines = [f"PDQ documents: {n_pdq}, cleaned Markdown characters: {corpus.characters['pdq']:,}",
             f"NGC documents: {len(corpus.entries) - n_pdq}, loaded text characters: {corpus.characters['ngc']:,}",
             f"shipped bytes (gzip): {sum(len(b) for b in corpus.outputs.values()):,}"]
    for kind in sorted(corpus.removed.counts):
        files = sorted(corpus.removed.files[kind])
        lines.append(f"removed {kind}: {corpus.removed.counts[kind]} in {len(files)} files")
        if kind in ("pdq_table_ajcc", "pdq_table_third_party", "pdq_figure_captions", "ngc_third_party_tables"):
            lines.extend(f"  {name}" for name in files)
    return "\n".join(lines)
