"""The schema comes from the Alembic migrations, on first use, from nothing; the ORM models agree with it; the
migration scripts ship as package data; a database from a newer medcite is refused clearly."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from app.review import ReviewService, SchemaError
from app.review.migrate import MIGRATIONS_DIR, head_revision
from app.review.tables import Base

REPO = Path(__file__).resolve().parents[3]
TABLES = {"review_articles", "review_events", "review_feedback", "alembic_version"}


def test_first_use_creates_the_schema_from_nothing(make_settings, tmp_path):
    settings = make_settings()
    if settings.review.database_url is None:
        assert not (tmp_path / "var").exists()  # not even the data directory before first use
    svc = ReviewService(settings)
    try:
        assert svc.queue() == []  # first call: creates the file / tables
        engine = svc.store.engine()
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []  # ORM == migrated schema
        if settings.review.database_url is None:
            assert (tmp_path / "var" / "review.db").is_file()
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        svc.close()


def test_a_second_start_keeps_the_data_and_concurrent_first_starts_both_work(make_service, new_article):
    first = make_service()
    article = new_article(first)
    first.close()
    assert make_service().get(article.id) == article

    services = [make_service(), make_service()]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start(svc: ReviewService) -> None:
        barrier.wait()
        try:
            new_article(svc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(services[0].queue()) == 3


def test_a_database_from_a_newer_medcite_is_refused_naming_the_problem(make_service):
    svc = make_service()
    svc.queue()
    with svc.store.engine().begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    svc.close()
    with pytest.raises(SchemaError, match="revision") as info:
        make_service().queue()
    assert svc.store.where in str(info.value)


def test_migration_scripts_are_package_data():
    """Every file under app/review/migrations is matched by pyproject's package-data (an installed medcite finds
    them), and there is exactly one head revision."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["app"]
    app_dir = REPO / "app"
    shipped = {p for g in globs for p in app_dir.glob(g)}
    files = {p for p in MIGRATIONS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert files and files <= shipped, sorted(str(p) for p in files - shipped)
    assert (MIGRATIONS_DIR / "env.py") in files
    assert head_revision() == "0002"


def test_a_database_of_revision_0001_is_upgraded_with_its_questions_keyed(make_settings, tmp_path):
    """0002 adds question_key and fills it for the rows already there, so identical questions asked after the
    upgrade join the article stored before it."""
    from alembic import command
    from sqlalchemy import create_engine

    from app.review.content import question_key
    from app.review.migrate import alembic_config
    from review_helpers import cited_of, make_answer

    settings = make_settings()
    if settings.review.database_url is not None:
        pytest.skip("the SQLite file is enough to test the data migration")
    (tmp_path / "var").mkdir(parents=True)
    url = f"sqlite:///{tmp_path / 'var' / 'review.db'}"
    command.upgrade(alembic_config(url), "0001")
    engine = create_engine(url)
    answer = make_answer("clinician", "How is Wilms tumour treated?")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO review_articles (id, question, audience, answer, index_version, cited, status, "
                          "version, views, created_at, updated_at) VALUES ('a-AAAAAAAAAAAA', 'How is Wilms tumour "
                          "treated?', 'clinician', :answer, 'v1', '{}', 'submitted', 1, 0, '2026-01-01 00:00:00', "
                          "'2026-01-01 00:00:00')"), {"answer": answer.model_dump_json()})
    engine.dispose()
    svc = ReviewService(settings)
    try:
        again = svc.create_article("how is wilms tumour treated", "clinician", answer, "v2", cited_of(answer))
        assert again.id == "a-AAAAAAAAAAAA" and again.views == 1
        with svc.store.engine().connect() as conn:
            assert conn.execute(text("SELECT question_key FROM review_articles")).scalar_one() == \
                question_key("How is Wilms tumour treated?")
    finally:
        svc.close()
