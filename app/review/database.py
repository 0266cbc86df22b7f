"""The review database: URL resolution, engine set-up, migrations on first use, sessions, clear errors.

Default: the SQLite file ``<data_dir>/review.db`` (parent directories created), in WAL mode with a busy timeout;
a ``review.database_url`` of ``postgresql+psycopg://...`` selects PostgreSQL. The schema is brought to the
newest Alembic revision the first time a :class:`Store` is used, so there is no set-up step. Write sessions on
SQLite start with ``BEGIN IMMEDIATE`` (writers queue on the lock instead of failing half-way); every session is
one transaction, committed at the end of its ``with`` block and rolled back on any exception.

Database faults come out as :class:`~app.review.errors.ReviewStoreError` subclasses naming the file (or the URL
without its password) and the problem, never as a driver traceback.
"""

from __future__ import annotations

import importlib
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic.util.exc import CommandError
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.review.errors import (
    DatabaseLockedError,
    DatabaseUnavailableError,
    DriverMissingError,
    ReviewStoreError,
    SchemaError,
)
from app.review.migrate import upgrade_to_head
from app.review.settings import ReviewSettings

log = logging.getLogger(__name__)
DEFAULT_FILE = "review.db"
POSTGRES_HINT = "install the driver with: pip install 'medcite[postgres]'"


def resolve_url(review: ReviewSettings, data_dir: Path) -> tuple[URL, str]:
    """The SQLAlchemy URL of the store and how to name it in messages (a path, or the URL without password)."""
    if review.database_url is None:
        path = Path(data_dir).expanduser().absolute() / DEFAULT_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(str(path), f"cannot create its directory {path.parent}: "
                                           f"{exc.strerror or exc}") from None
        return URL.create("sqlite", database=str(path)), str(path)
    try:
        url = make_url(review.database_url)
    except ArgumentError:
        raise ReviewStoreError("(review.database_url)", "not a database URL; expected e.g. 'postgresql+psycopg://"
                               "user:password@host:5432/name' or 'sqlite:////path/review.db'") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in database:
            raise ReviewStoreError(review.database_url, "an in-memory SQLite database is not supported (every "
                                   "connection would see another empty database); name a file")
        if database.startswith("file:"):  # a SQLite URI (?mode=ro&uri=true ...): named by its path
            return url, database.removeprefix("file:").split("?")[0]
        path = Path(database).expanduser().absolute()
        if not path.parent.is_dir():
            raise DatabaseUnavailableError(str(path), f"its directory {path.parent} does not exist")
        return url.set(database=str(path)), str(path)
    if backend == "postgresql":
        if url.drivername == "postgresql":  # SQLAlchemy's default would be psycopg2; medcite uses psycopg 3
            url = url.set(drivername="postgresql+psycopg")
        return url, url.render_as_string(hide_password=True)
    raise ReviewStoreError(url.render_as_string(hide_password=True),
                           f"unsupported database {backend!r}: use sqlite or postgresql")


def translate(exc: DBAPIError, where: str, busy_timeout_s: float) -> ReviewStoreError | None:
    """A clear store error for a driver error, or None when it is not a database fault (a bug: re-raise it)."""
    message = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lower = message.lower()
    if "database is locked" in lower or "database table is locked" in lower or "lock timeout" in lower:
        return DatabaseLockedError(where, f"the database is locked by another connection or process (waited "
                                   f"{busy_timeout_s:g} s); try again later, or stop whatever holds it")
    if "unable to open database file" in lower:
        return DatabaseUnavailableError(where, "cannot open the database file: it is missing and cannot be created "
                                        "there, is a directory, or its directory is not writable")
    if "readonly database" in lower or "read-only" in lower:
        return DatabaseUnavailableError(where, "the database is read-only (check the file's and its directory's "
                                        "permissions)")
    if "not a database" in lower or "malformed" in lower:
        return DatabaseUnavailableError(where, "the file is not a SQLite database, or it is corrupt")
    if "no such table" in lower or ("relation" in lower and "does not exist" in lower):
        return SchemaError(where, f"the review tables are missing ({message}); was the database deleted or replaced "
                           "while medcite was running? Restart medcite to create them again")
    if isinstance(exc, (OperationalError, InterfaceError)):
        return DatabaseUnavailableError(where, message)
    return None


class Store:
    """The engine of one review database, created (and migrated) on first use; thread-safe."""

    def __init__(self, review: ReviewSettings, data_dir: Path) -> None:
        self._review = review
        self.url, self.where = resolve_url(review, data_dir)
        self.dialect = self.url.get_backend_name()
        self._engine: Engine | None = None
        self._read: sessionmaker[Session] | None = None
        self._write: sessionmaker[Session] | None = None
        self._lock = threading.Lock()
        self._file: tuple[int, int] | None = None  # (device, inode) of the SQLite file the engine opened

    def _sqlite_file(self) -> Path | None:
        """The SQLite database file (None for PostgreSQL, in-memory and URI databases)."""
        database = self.url.database or ""
        if self.dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    def _file_identity(self) -> tuple[int, int] | None:
        path = self._sqlite_file()
        try:
            info = path.stat() if path is not None else None
        except OSError:
            return None
        return None if info is None else (info.st_dev, info.st_ino)

    def _replaced(self) -> bool:
        """Whether the SQLite file the engine opened was deleted or replaced since (then writes would go to a
        deleted file and vanish at restart)."""
        return self._file is not None and self._file_identity() != self._file

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is not None and self._replaced():
                log.warning("review database %s was deleted or replaced while medcite was running: opening it "
                            "again (articles stored before that are gone with the old file)", self.where)
                self._engine.dispose()
                self._engine = self._read = self._write = None
            if self._engine is None:
                engine = self._create_engine()
                try:
                    with self._translated():
                        with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as connection:
                            upgrade_to_head(connection)
                except CommandError as exc:
                    engine.dispose()
                    raise SchemaError(self.where,
                                      f"cannot bring the schema to this medcite's revision: {exc}") from None
                except BaseException:
                    engine.dispose()
                    raise
                self._read = sessionmaker(engine, expire_on_commit=False)
                self._write = sessionmaker(engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
                self._engine = engine
                self._file = self._file_identity()
            return self._engine

    @contextmanager
    def session(self, *, write: bool, wait_s: float | None = None) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any exception. ``wait_s`` bounds the
        wait for another writer's lock (instead of ``busy_timeout_s``)."""
        engine = self.engine()
        factory = self._write if write else self._read
        assert factory is not None
        if wait_s is not None:
            options = {"sqlite_begin": "IMMEDIATE"} if write else {}
            factory = sessionmaker(engine.execution_options(**options, lock_wait_ms=int(wait_s * 1000)),
                                   expire_on_commit=False)
        with self._translated(wait_s):
            with factory() as session, session.begin():
                if wait_s is not None and self.dialect == "postgresql":
                    session.execute(text(f"SET LOCAL lock_timeout = '{int(wait_s * 1000)}ms'"))
                yield session

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = self._read = self._write = None

    @contextmanager
    def _translated(self, wait_s: float | None = None) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            clear = translate(exc, self.where, self._review.busy_timeout_s if wait_s is None else wait_s)
            if clear is None:
                raise
            raise clear from None

    def _create_engine(self) -> Engine:
        if self.dialect == "postgresql":
            try:
                importlib.import_module("psycopg")
            except ImportError:
                raise DriverMissingError(self.where, f"PostgreSQL needs the psycopg driver; {POSTGRES_HINT}") from None
            try:
                return create_engine(self.url, pool_pre_ping=True)
            except ImportError as exc:
                raise DriverMissingError(self.where, f"{exc}; {POSTGRES_HINT} and use a postgresql+psycopg:// "
                                         "URL") from None
        timeout = self._review.busy_timeout_s
        engine = create_engine(self.url, connect_args={"timeout": timeout, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # transactions are begun explicitly below
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                cursor.execute("PRAGMA foreign_keys = ON")
                cursor.execute("PRAGMA journal_mode = WAL")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
            options = connection.get_execution_options()
            wait_ms = options.get("lock_wait_ms", int(timeout * 1000))  # per transaction: pooled connections
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait_ms)}")
            connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")

        return engine
