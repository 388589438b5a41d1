"""Audit log fixtures on a migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from synthguard.accounts.records import Records, RequestRecord, new_record_id
from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit, AuditSettings
from synthguard.config import Config
from synthguard.store import Database

SECRET = bytes(range(32))
ORIGIN = "audit.test.example/log"
SIGNER = NoteSigner(ORIGIN, bytes(range(100, 132)))
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

MakeRecord = Callable[..., RequestRecord]


def record(n: int = 0, **overrides: object) -> RequestRecord:
    """A realistic gateway record; `n` varies the user, the status and the timing."""
    values: dict[str, object] = {
        "id": new_record_id(), "created_at": START + timedelta(seconds=n),
        "org_id": "org_acme", "user_id": f"usr_{n % 7}", "key_id": f"key_{n % 7}",
        "endpoint": "/v1/chat/completions", "model": "synthguard-demo",
        "status": "ok" if n % 5 else "blocked_input", "input_digest": f"{n:064x}",
        "output_digest": None if n % 5 == 0 else f"{n + 1:064x}",
        "input_review": {"reviewer": "rules", "decision": "allowed" if n % 5 else "blocked",
                         "allowed": bool(n % 5), "rule_ids": [] if n % 5 else ["R-001"],
                         "category": None if n % 5 else "violence"},
        "output_review": None, "labels": {"implicit": {"fields": {"Label": "1"}}},
        "enforcement": {"state_before": "active", "state_after": "active", "changed": False},
        "error_code": None, "overhead_ms": 1.5 + n / 8,
    }
    values.update(overrides)
    return RequestRecord(**values)  # type: ignore[arg-type]


def make_audit(database: Database) -> Audit:
    config = Config(secret=SECRET, producer_code="")
    return Audit(database, config, AuditSettings(origin=ORIGIN, signer=SIGNER))


@pytest.fixture
def audit(database: Database) -> Audit:
    return make_audit(database)


@pytest.fixture
def records(database: Database) -> Records:
    return Records(database)
