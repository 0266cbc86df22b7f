"""Database faults give a clear ReviewStoreError naming the file (or URL) and the problem, never a driver
traceback, and never change what was stored."""

from __future__ import annotations

import socket
import sqlite3
import sys

import pytest

from app.review import (
    ArticleNotFoundError,
    DatabaseLockedError,
    DatabaseUnavailableError,
    DriverMissingError,
    ReviewService,
    ReviewStoreError,
    Status,
)
from app.settings import Settings
from review_helpers import cited_of, make_answer


def _sqlite(tmp_path, **review) -> ReviewService:
    return ReviewService(Settings(paths={"data_dir": tmp_path / "var"},
                                  review={"store_answers": "all", **review}))


def _create(svc: ReviewService, question: str = "q?"):
    answer = make_answer()
    return svc.create_article(question, "clinician", answer, "v1", cited_of(answer))


def test_a_locked_database_gives_a_clear_error_and_reads_still_work(tmp_path):
    svc = _sqlite(tmp_path, busy_timeout_s=0.2)
    article = _create(svc)
    path = tmp_path / "var" / "review.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    holder.execute("UPDATE review_articles SET views = views")
    try:
        for write in (lambda: svc.transition(article.id, "under_review", "dr-lee"), lambda: _create(svc),
                      lambda: svc.record_view(article.id), lambda: svc.add_feedback(article.id, "helpful")):
            with pytest.raises(DatabaseLockedError) as info:
                write()
            assert str(path) in str(info.value) and "locked" in str(info.value)
            assert "Traceback" not in str(info.value) and "sqlite3" not in str(info.value)
        assert svc.get(article.id).status is Status.submitted  # WAL: readers are not blocked by the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert svc.transition(article.id, "under_review", "dr-lee").version == 2  # works once released
    svc.close()


def test_a_database_locked_at_first_use_gives_the_clear_error(tmp_path):
    path = tmp_path / "var" / "review.db"
    path.parent.mkdir()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLockedError, match="locked"):
            _sqlite(tmp_path, busy_timeout_s=0.2).queue()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _sqlite(tmp_path).queue() == []


def test_an_unusable_database_file_is_named_with_its_problem(tmp_path):
    path = tmp_path / "var" / "review.db"
    path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(DatabaseUnavailableError, match="cannot open the database file") as info:
        _sqlite(tmp_path).queue()
    assert info.value.where == str(path)
    path.rmdir()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseUnavailableError, match="not a SQLite database"):
        _sqlite(tmp_path).queue()
    assert path.read_bytes() == b"this is not a database" * 100  # left as it was


def test_a_database_file_deleted_while_running_is_opened_again_and_new_articles_survive_a_restart(tmp_path):
    """Issue 22 item 7: after review.db was deleted under a running server, keeps still returned 201 into the
    deleted file (held open by pooled connections) and vanished at restart."""
    svc = _sqlite(tmp_path)
    article = _create(svc)
    path = tmp_path / "var" / "review.db"
    for name in (path, path.with_name("review.db-wal"), path.with_name("review.db-shm")):
        name.unlink(missing_ok=True)  # pooled connections still hold the old file open
    with pytest.raises(ArticleNotFoundError):
        svc.get(article.id)  # gone with the file, said plainly
    after = _create(svc, "What are the symptoms of neuroblastoma?")
    assert path.is_file()
    svc.close()
    restarted = _sqlite(tmp_path)
    assert [q.article.id for q in restarted.queue()] == [after.id]  # the keep after the deletion is kept
    restarted.close()


def test_a_data_dir_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "var").write_text("a file, not a directory")
    with pytest.raises(DatabaseUnavailableError, match="cannot create its directory") as info:
        _sqlite(tmp_path)
    assert str(tmp_path / "var") in str(info.value)


def test_an_explicit_sqlite_url_in_a_missing_directory_is_refused(tmp_path):
    missing = tmp_path / "nowhere" / "review.db"
    with pytest.raises(DatabaseUnavailableError, match="does not exist") as info:
        _sqlite(tmp_path, database_url=f"sqlite:///{missing}")
    assert str(missing.parent) in str(info.value)
    assert not missing.parent.exists()
    svc = _sqlite(tmp_path, database_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert svc.queue() == [] and (tmp_path / "elsewhere.db").is_file()
    svc.close()


def test_a_read_only_database_is_named_as_such(tmp_path):
    writable = _sqlite(tmp_path)
    article = _create(writable)
    writable.close()
    path = tmp_path / "var" / "review.db"
    ro = _sqlite(tmp_path, database_url=f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(DatabaseUnavailableError, match="read-only"):
        ro.record_view(article.id)


@pytest.mark.parametrize("url, message", [
    ("sqlite://", "in-memory"),
    ("sqlite:///:memory:", "in-memory"),
    ("mysql://u:secret@localhost/x", "unsupported database 'mysql'"),
    ("not a url", "not a database URL"),
])
def test_unsupported_urls_are_refused(tmp_path, url, message):
    with pytest.raises(ReviewStoreError, match=message) as info:
        _sqlite(tmp_path, database_url=url)
    assert "secret" not in str(info.value)


def test_a_postgres_url_without_psycopg_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    svc = _sqlite(tmp_path, database_url="postgresql+psycopg://u:secret@127.0.0.1:5432/x")
    with pytest.raises(DriverMissingError) as info:
        svc.queue()
    assert "pip install 'medcite[postgres]'" in str(info.value) and isinstance(info.value, ImportError)
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_an_unreachable_postgres_server_is_a_clear_error(tmp_path):
    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    svc = _sqlite(tmp_path, database_url=f"postgresql://u:secret@127.0.0.1:{port}/x?connect_timeout=2")
    with pytest.raises(DatabaseUnavailableError) as info:
        svc.queue()
    assert f"127.0.0.1:{port}" in str(info.value) and "secret" not in str(info.value)
    assert "postgresql+psycopg" in info.value.where  # plain postgresql:// means psycopg 3 here
