"""Identity services on a migrated database (SQLite and PostgreSQL), a test clock and
the fake vendor server on loopback.

`database` overrides the shared fixture for these tests only in how it makes the SQLite
half: a copy of one file migrated once per session instead of a migration per test
(most of a test's time otherwise). The PostgreSQL half is the shared fixture's: the
schema migrated once per process, emptied before each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthguard.identity.services import IdentityServices
from synthguard.store import Database
from synthguard.store.all_models import Base
from tests.accounts.conftest import FakeClock, make_config
from tests.identity.fake_vendor import FakeVendor, FakeVendorServer
from tests.identity.helpers import settings_for


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("identity-template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgresql":
        db = Database(request.getfixturevalue("_migrated_postgres"))
        with db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    else:
        path = tmp_path / "synthguard.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with FakeVendorServer() as vendor:
        yield vendor


@pytest.fixture
def services(database: Database, vendor: FakeVendor, clock: FakeClock) -> IdentityServices:
    return IdentityServices.build(make_config(), database, settings_for(vendor), clock=clock)
