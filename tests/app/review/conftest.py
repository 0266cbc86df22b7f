"""Review-store fixtures: every store test runs on SQLite (a fresh file in a temporary data directory) and, when
MEDCITE_TEST_POSTGRES_URL is set, again on PostgreSQL (a fresh schema per test, dropped afterwards); those runs
carry the ``postgres`` marker. ``bash .ci/postgres-setup.sh`` installs a server and prints the URL."""

from __future__ import annotations

import itertools

import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from app.review import ReviewService
from app.settings import Settings
from review_helpers import cited_of, make_answer  # tests/app/review is on sys.path

PG_ENV = "MEDCITE_TEST_POSTGRES_URL"
_PG_URL = os.environ.get(PG_ENV)
_SKIP_PG = f"set {PG_ENV} to run the store tests against PostgreSQL (bash .ci/postgres-setup.sh prints it)"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres",
                 marks=[pytest.mark.postgres] + ([] if _PG_URL else [pytest.mark.skip(reason=_SKIP_PG)])),
]


def _pg_schema_url(base: str) -> Iterator[str]:
    from sqlalchemy import create_engine, make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``review.database_url`` of the backend under test: None = the default SQLite file under data_dir."""
    if request.param == "sqlite":
        yield None
    else:
        assert _PG_URL
        yield from _pg_schema_url(_PG_URL)


@pytest.fixture
def make_settings(tmp_path: Path, db_url: str | None) -> Callable[..., Settings]:
    """``make_settings(**review_fields)``: settings on the backend under test; store_answers='all' by default."""

    def make(**review: object) -> Settings:
        fields = {"store_answers": "all", "database_url": db_url, **review}
        return Settings(paths={"data_dir": tmp_path / "var"}, review=fields)

    return make


@pytest.fixture
def make_service(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., ReviewService]]:
    """``make_service(clock=None, **review_fields)``; every service made is closed after the test."""
    made: list[ReviewService] = []

    def make(clock: Callable[[], datetime] | None = None, **review: object) -> ReviewService:
        svc = ReviewService(make_settings(**review), **({"clock": clock} if clock else {}))
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.close()


@pytest.fixture
def service(make_service: Callable[..., ReviewService]) -> ReviewService:
    return make_service()


@pytest.fixture
def new_article(service: ReviewService) -> Callable[..., object]:
    """``new_article(service=None, audience='clinician', index_version='v1', vector=None, question=None)``: a
    stored article (a question of its own unless one is given)."""
    counter = itertools.count(1)

    def make(svc: ReviewService | None = None, audience: str = "clinician", index_version: str = "v1",
             vector: np.ndarray | None = None, question: str | None = None):
        svc = svc or service
        if question is None:  # distinct by default: identical questions share one article
            question = f"How is Wilms tumour treated in case {next(counter)}?"
        answer = make_answer(audience, question)
        return svc.create_article(question, audience, answer, index_version, cited_of(answer), vector)

    return make
