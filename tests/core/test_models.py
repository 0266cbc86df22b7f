"""DocumentMeta's date fields and the stability of content hashes for documents that do not use them."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from core.models import DocType, Document, DocumentMeta

OLD_META_JSON = ('{"doc_id":"d","title":"T","issuer":"CDC","year":2020,"type":"Guideline","audience":"clinician",'
                 '"url":"","license":"","parent_id":"","focus":""}')


def test_content_hash_unchanged_for_documents_without_the_new_fields() -> None:
    doc = Document(meta=DocumentMeta(doc_id="d", title="T", issuer="CDC", year=2020, type=DocType.guideline,
                                     source_path="/x/d.pdf"), text="Body.")
    expected = hashlib.sha256(b"Body." + OLD_META_JSON.encode()).hexdigest()[:32]
    assert doc.content_hash() == expected  # the hash (and so the embeddings) of existing indexes stay valid


def test_new_fields_change_the_hash() -> None:
    base = Document(meta=DocumentMeta(doc_id="d", title="T"), text="Body.")
    dated = Document(meta=DocumentMeta(doc_id="d", title="T", date="2016-06", date_kind="released"), text="Body.")
    status = Document(meta=DocumentMeta(doc_id="d", title="T", status="may be superseded"), text="Body.")
    assert len({base.content_hash(), dated.content_hash(), status.content_hash()}) == 3


@pytest.mark.parametrize(("date", "year"), [("2025-04-15", 2025), ("2016-06", 2016), ("2014", 2014)])
def test_year_follows_the_date(date: str, year: int) -> None:
    meta = DocumentMeta(doc_id="d", title="T", date=date, date_kind="reviewed")
    assert meta.year == year
    assert DocumentMeta(doc_id="d", title="T", date=date, year=year).year == year


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"date": "2016-13"}, "invalid date"),
        ({"date": "June 2016"}, "invalid date"),
        ({"date": "2016-02-30"}, "invalid date"),
        ({"date": "2016", "year": 2015}, "contradicts"),
        ({"date_kind": "reviewed"}, "without a date"),
        ({"date": "2016", "date_kind": "updated"}, "date_kind"),
    ],
)
def test_bad_dates_are_rejected(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DocumentMeta(doc_id="d", title="T", **fields)


def test_evidence_summary_type_and_descriptions() -> None:
    assert DocType("Evidence summary") is DocType.evidence_summary
    for name, info in DocumentMeta.model_fields.items():
        assert info.description, f"DocumentMeta.{name} has no description"
    with pytest.raises(ValidationError):
        DocumentMeta(doc_id="d", title="T", unknown="x")
