"""The `Database` handle: one engine, sessions that commit or roll back, migrations.

SQLite gets WAL with synchronous=FULL (a committed request record survives a power
cut), foreign keys, a busy timeout, and explicit BEGIN statements: pysqlite's own
implicit BEGIN is switched off so that write sessions can start with BEGIN IMMEDIATE.
A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
another writer committed in between (the busy timeout does not apply to that case),
so taking the write lock up front is what makes concurrent writers wait instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from synthguard.errors import SynthGuardError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
# Key in a pooled connection's `info`: the BEGIN statement its next transaction uses.
_BEGIN = "synthguard_begin"

log = logging.getLogger(__name__)


class StoreError(SynthGuardError):
    """The database URL is unusable or the database cannot be reached."""

    code = "store_error"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL is not valid: {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"database URL names {parsed.get_backend_name()!r}; "
                         "SynthGuard supports sqlite and postgresql")
    return parsed


class Database:
    """A database reached through one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = parse_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self._ensure_sqlite_folder()
        try:
            self.engine: Engine = create_engine(
                self.url, pool_pre_ping=not self.is_sqlite,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000} if self.is_sqlite else {})
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"cannot use database URL: {exc}") from None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(expire_on_commit=False)

    def _ensure_sqlite_folder(self) -> None:
        name = self.url.database
        if name and name != ":memory:" and not name.startswith("file:"):
            Path(name).parent.mkdir(parents=True, exist_ok=True)

    def migrate(self) -> None:
        """Bring the schema to the newest migrations (alembic upgrade heads: each service
        adds its tables on its own branch from 0001, so they never conflict)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            connection.info[_BEGIN] = "BEGIN IMMEDIATE"
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
            # env.py runs the migration in its own transaction; make sure it is committed.
            connection.commit()

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back when
        it raises. `readonly` sessions on SQLite do not take the write lock."""
        with self.engine.connect() as connection:
            connection.info[_BEGIN] = "BEGIN" if readonly else "BEGIN IMMEDIATE"
            with self._sessions(bind=connection) as session, session.begin():
                yield session

    def read_one(self, sql: str, *params: Any) -> Any:
        """The first row of a read-only query written with `?` placeholders, or None;
        sent through the driver (no ORM session, no statement compilation) for the
        request path's hottest reads, where those cost several times the query."""
        with self.engine.connect() as connection:
            connection.info[_BEGIN] = "BEGIN"
            if not self.is_sqlite:
                sql = sql.replace("?", "%s")
            return connection.exec_driver_sql(sql, params).first()

    def dispose(self) -> None:
        """Close every pooled connection (for tests and clean shutdown)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module doc)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        # Connections used directly through the engine write by default.
        record.info[_BEGIN] = "BEGIN IMMEDIATE"

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(connection.info.get(_BEGIN, "BEGIN IMMEDIATE"))
