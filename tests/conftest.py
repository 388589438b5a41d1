"""Shared fixtures. `database` runs a test on SQLite and on PostgreSQL.

PostgreSQL comes from SYNTHGUARD_TEST_POSTGRES_URL (CI starts a Debian PostgreSQL and
sets it). Without the URL the PostgreSQL half skips locally and fails under CI, like a
missing tool (tests/tools.py). Each test sees an empty database: a new SQLite file, or,
on PostgreSQL, a schema migrated once per test process and emptied before each test
(migrating a fresh schema per test would cost most of the suite's time).
`database_url` gives a fresh, unmigrated database for tests of the migrations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from synthguard.store import Database
from synthguard.store.models import Base

POSTGRES_ENV = "SYNTHGUARD_TEST_POSTGRES_URL"


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A URL whose connections all use a new, empty schema; the schema is dropped after."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set (PostgreSQL tests need a server; .ci/run starts one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = make_url(url)
    schema = f"test_{uuid.uuid4().hex}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # libpq's `options` puts every connection into the schema.
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'synthguard.db'}"
        return
    with _postgres_schema() as url:
        yield url


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[str]:
    with _postgres_schema() as url:
        db = Database(url)
        db.migrate()
        db.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty `Database` on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'synthguard.db'}")
        db.migrate()
    else:
        db = Database(request.getfixturevalue("_migrated_postgres"))
        with db.engine.begin() as conn:
            # DELETE, not TRUNCATE: on a few rows it is several times faster.
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    yield db
    db.dispose()
