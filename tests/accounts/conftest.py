"""Accounts on a migrated database (SQLite and PostgreSQL, from tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from synthguard.accounts import Accounts
from synthguard.config import Config
from synthguard.store import Database

SECRET = bytes(range(32))


@dataclass
class FakeClock:
    """A clock the test moves; starts at a fixed UTC time."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_config(**overrides: object) -> Config:
    return Config(secret=SECRET, producer_code="", **overrides)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(database: Database, clock: FakeClock) -> Accounts:
    return Accounts(database, make_config(), clock=clock)


@pytest.fixture
def user_id(accounts: Accounts) -> str:
    return accounts.create_user(accounts.create_org("Acme"), "Li Lei")
