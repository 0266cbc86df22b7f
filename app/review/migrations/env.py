"""Alembic environment of the review store. medcite runs it programmatically (``app.review.migrate``) with an
open connection in ``config.attributes["connection"]``; there is no alembic.ini and no logging set-up here."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.review.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:  # `alembic` command line with -x / sqlalchemy.url set by the caller
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
