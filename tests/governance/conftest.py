"""Governance services on a migrated database (SQLite and PostgreSQL) with a test clock.

`database` overrides the shared fixture in how it makes the SQLite half: a copy of one
file migrated once per session instead of a migration per test. The PostgreSQL half is
the shared fixture's (schema migrated once per process, emptied before each test).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from synthguard.accounts import Accounts
from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.service import Governance
from synthguard.governance.settings import ComplaintSettings, GovernanceSettings
from synthguard.store import Database
from synthguard.store.all_models import Base
from tests.accounts.conftest import FakeClock, make_config

# National Day 2025 as the State Council scheduled it: 1-8 October off, Sunday 28
# September and Saturday 11 October worked.
NATIONAL_DAY_2025 = {"holidays": ["2025-10-01..2025-10-08"],
                     "makeup_workdays": ["2025-09-28", "2025-10-11"]}
REPORT_SEED = bytes(range(100, 132))


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("governance-template") / "template.db"
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
    # Tuesday 30 September 2025, 15:00 in China: the eve of the National Day week.
    return FakeClock(datetime(2025, 9, 30, 7, 0, tzinfo=UTC))


def governance_settings(tmp_path: Path, **complaints: object) -> GovernanceSettings:
    return GovernanceSettings(
        calendar=WorkingCalendar.from_mapping(NATIONAL_DAY_2025),
        complaints=ComplaintSettings(evidence_dir=tmp_path / "evidence",
                                     **complaints),  # type: ignore[arg-type]
        reports_dir=tmp_path / "reports",
        report_key=Ed25519PrivateKey.from_private_bytes(REPORT_SEED))


@pytest.fixture
def gov(database: Database, clock: FakeClock, tmp_path: Path) -> Governance:
    config = make_config()
    return Governance(database, config, governance_settings(tmp_path),
                      accounts=Accounts(database, config, clock=clock), clock=clock)


@pytest.fixture
def user_id(gov: Governance) -> str:
    return gov.accounts.create_user(gov.accounts.create_org("Acme"), "Li Lei")
