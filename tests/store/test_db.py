"""The store: migrations match the models, SQLite settings, sessions, durability."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, inspect, select, text
from sqlalchemy.exc import StatementError

from synthguard.store import Database, StoreError
from synthguard.store.all_models import Base
from synthguard.store.db import MIGRATIONS
from synthguard.store.models import Organisation, User

TABLES = {"organisations", "users", "account_events", "api_keys", "blocked_inputs",
          "request_records"}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_migrated_schema_matches_models(database_url: str) -> None:
    database = Database(database_url)
    database.migrate()
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    # The comparison does see drift: a column the migrations never created.
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["users"].append_column(Column("nickname", String(20)))
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), drifted)
    assert [d[0] for d in diff] == ["add_column"]
    assert set(inspect(database.engine).get_table_names()) >= TABLES
    database.dispose()


def test_migrate_is_idempotent_and_downgrades(database_url: str) -> None:
    database = Database(database_url)
    database.migrate()
    database.migrate()
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        conn.commit()
    assert not TABLES & set(inspect(database.engine).get_table_names())
    database.migrate()
    assert set(inspect(database.engine).get_table_names()) >= TABLES
    database.dispose()


def test_sqlite_runs_wal_with_full_sync(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/sub/dir/s.db")  # folders are created
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    db.dispose()


def _org(db: Database, org_id: str = "org_a") -> None:
    with db.session() as s:
        s.add(Organisation(id=org_id, name="A", created_at=NOW))


def test_session_commits_or_rolls_back(database: Database) -> None:
    _org(database)
    with pytest.raises(RuntimeError), database.session() as s:
        s.add(Organisation(id="org_b", name="B", created_at=NOW))
        s.flush()
        raise RuntimeError("boom")
    with database.session(readonly=True) as s:
        assert s.scalars(select(Organisation.id)).all() == ["org_a"]


def test_foreign_keys_are_enforced(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), database.session() as s:
        s.add(User(id="usr_x", org_id="org_missing", name="x", state="active",
                   verified=False, consecutive_blocked=0, created_at=NOW))


def test_state_check_constraint(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    _org(database)
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(User(id="usr_x", org_id="org_a", name="x", state="frozen", verified=False,
                   consecutive_blocked=0, created_at=NOW))


def test_commit_is_visible_to_a_second_engine(database: Database) -> None:
    _org(database)
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        with other.session(readonly=True) as s:
            assert s.get(Organisation, "org_a") is not None
    finally:
        other.dispose()


def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    with database.session() as s:
        s.add(Organisation(id="org_a", name="A", created_at=NOW.astimezone(shanghai)))
    with database.session(readonly=True) as s:
        org = s.get(Organisation, "org_a")
        assert org is not None
        assert org.created_at == NOW and org.created_at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="timezone-aware"), database.session() as s:
        s.add(Organisation(id="org_b", name="B", created_at=datetime(2026, 1, 1)))


def test_concurrent_read_modify_write_loses_nothing(database: Database) -> None:
    """Write sessions serialise: on SQLite through BEGIN IMMEDIATE (a deferred read-then-
    write would fail with 'database is locked'), on PostgreSQL through the row lock."""
    _org(database)
    with database.session() as s:
        s.add(User(id="usr_a", org_id="org_a", name="a", state="active", verified=False,
                   consecutive_blocked=0, created_at=NOW))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(15):
                with database.session() as s:
                    user = s.get(User, "usr_a", with_for_update=True)
                    assert user is not None
                    user.consecutive_blocked += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.session(readonly=True) as s:
        assert s.scalar(select(User.consecutive_blocked)) == 90


@pytest.mark.parametrize("url, message", [
    ("not a url", "not valid"),
    ("mysql://user@host/db", "supports sqlite and postgresql"),
])
def test_bad_urls_are_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        Database(url)


def test_repr_hides_the_password() -> None:
    db = Database("postgresql+psycopg://user:hunter2@localhost/db")
    assert "hunter2" not in repr(db)
    db.dispose()


def test_readonly_session_can_read_while_another_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/s.db")
    db.migrate()
    _org(db)
    with db.session() as writer:
        writer.add(Organisation(id="org_b", name="B", created_at=NOW))
        writer.flush()  # holds the write lock from here on
        with db.session(readonly=True) as reader:
            assert reader.execute(text("SELECT count(*) FROM organisations")).scalar() == 1
    db.dispose()
