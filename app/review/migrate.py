"""Running the review store's Alembic migrations programmatically (no alembic.ini, no manual set-up).

The migration scripts ship inside the package (``app/review/migrations``, package data), so an installed
medcite finds them. Developers add a revision with::

    python -m app.review revision -m "what changes"   # writes migrations/versions/<rev>_<slug>.py
    python -m app.review upgrade [URL]                 # default: the configured database
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises concurrent first starts (ASCII "medc").
_PG_LOCK_KEY = 0x6D656463


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(connection: Connection) -> None:
    """Bring the schema to the newest revision inside the caller's transaction (a no-op when it is there).

    On PostgreSQL an advisory transaction lock makes a second process starting at the same moment wait; on
    SQLite the caller's ``BEGIN IMMEDIATE`` does the same.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    if current_revision(connection) == head_revision():
        return
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
