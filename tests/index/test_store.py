"""Chunk store lookups, validation and the JSON-lines round trip."""

from __future__ import annotations

import pytest

from core.models import DocumentMeta
from index.store import CHUNKS_FILE, DOCUMENTS_FILE, ChunkStore


def test_lookups(tiny_store):
    assert len(tiny_store) == 6
    assert tiny_store.row_of("diabetes#1") == 3
    assert tiny_store.rows_of_document("covid") == [4, 5]
    assert tiny_store.meta_of_row(2).doc_id == "diabetes" and tiny_store.meta_of_row(2).title == "Diabetes"
    with pytest.raises(KeyError, match="nope#0"):
        tiny_store.row_of("nope#0")
    with pytest.raises(KeyError, match="unknown document id 'nope'"):
        tiny_store.rows_of_document("nope")
    with pytest.raises(IndexError, match="row 6 out of range"):
        tiny_store.meta_of_row(6)


def test_rejects_inconsistent_input(make_chunk):
    meta = {"a": DocumentMeta(doc_id="a", title="A")}
    with pytest.raises(ValueError, match="duplicate chunk id 'a#0'"):
        ChunkStore(meta, [make_chunk("a", 0, ["x."]), make_chunk("a", 0, ["y."])])
    with pytest.raises(ValueError, match="unknown document 'b'"):
        ChunkStore(meta, [make_chunk("b", 0, ["x."])])
    with pytest.raises(ValueError, match="keyed 'z'"):
        ChunkStore({"z": DocumentMeta(doc_id="a", title="A")}, [])


def test_save_load_round_trip(tmp_path, tiny_store):
    tiny_store.save(tmp_path)
    assert len((tmp_path / CHUNKS_FILE).read_text().splitlines()) == 6
    assert len((tmp_path / DOCUMENTS_FILE).read_text().splitlines()) == 3
    loaded = ChunkStore.load(tmp_path)
    assert loaded.chunks == tiny_store.chunks and loaded.documents == tiny_store.documents
    assert loaded.row_of("covid#0") == 4 and loaded.rows_of_document("asthma") == [0, 1]


def test_unicode_and_newlines_survive(tmp_path, make_chunk):
    meta = {"u": DocumentMeta(doc_id="u", title="Ménière’s disease")}
    chunk = make_chunk("u", 0, ["Line one\nline two — 5 µg/kg.", "Tab\there."])
    ChunkStore(meta, [chunk]).save(tmp_path)
    loaded = ChunkStore.load(tmp_path)
    assert loaded.chunks[0] == chunk and loaded.documents["u"].title == "Ménière’s disease"


def test_bad_line_names_file_and_line(tmp_path, tiny_store):
    tiny_store.save(tmp_path)
    lines = (tmp_path / CHUNKS_FILE).read_text().splitlines()
    lines[2] = '{"chunk_id": "x"}'
    (tmp_path / CHUNKS_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"invalid Chunk on line 3 of .*chunks\.jsonl"):
        ChunkStore.load(tmp_path)


@pytest.mark.parametrize("lazy", [False, True])
def test_lazy_and_eager_loads_answer_alike(tmp_path, tiny_store, lazy):
    tiny_store.save(tmp_path)
    loaded = ChunkStore.load(tmp_path, lazy=lazy)
    assert list(loaded.chunks) == tiny_store.chunks and loaded.chunks[-1] == tiny_store.chunks[-1]
    assert loaded.chunks[1:3] == tiny_store.chunks[1:3]
    assert loaded.chunk_ids == [c.chunk_id for c in tiny_store.chunks]
    assert loaded.doc_ids == [c.doc_id for c in tiny_store.chunks]
    assert loaded.ordinals.tolist() == [c.ordinal for c in tiny_store.chunks]
    assert loaded.meta_of_row(5).doc_id == "covid" and loaded.row_of("covid#0") == 4
    with pytest.raises(IndexError, match="out of range"):
        loaded.chunks[6]


def test_a_lazy_store_reads_chunks_on_demand_and_keeps_serving_after_the_file_is_deleted(tmp_path, tiny_store):
    from index.chunk_file import LazyChunks

    tiny_store.save(tmp_path)
    loaded = ChunkStore.load(tmp_path, lazy=True)
    assert isinstance(loaded.chunks, LazyChunks) and loaded.chunks._parse.cache_info().currsize == 0
    (tmp_path / CHUNKS_FILE).unlink()  # a pruned version: requests holding it still read its chunks
    assert loaded.chunks[3] == tiny_store.chunks[3] and loaded.chunks._parse.cache_info().currsize == 1


def test_a_lazy_load_names_a_bad_line_at_load_and_a_bad_chunk_when_read(tmp_path, tiny_store):
    tiny_store.save(tmp_path)
    lines = (tmp_path / CHUNKS_FILE).read_text().splitlines()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / DOCUMENTS_FILE).write_text((tmp_path / DOCUMENTS_FILE).read_text())
    (broken / CHUNKS_FILE).write_text("\n".join(lines[:2] + ['{"chunk_id": "x"'] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match=r"invalid Chunk on line 3 of .*chunks\.jsonl"):
        ChunkStore.load(broken, lazy=True)
    lines[2] = lines[2].replace('"text":', '"txt":')  # ids intact, the chunk itself invalid
    (broken / CHUNKS_FILE).write_text("\n".join(lines) + "\n")
    store = ChunkStore.load(broken, lazy=True)
    with pytest.raises(ValueError, match=r"invalid Chunk on line 3"):
        store.chunks[2]
