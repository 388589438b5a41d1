"""Request records: one row per gateway request, allowed or blocked, committed before the
response completes. The audit-log issue builds its Merkle log over them in `seq` order.

Records hold ids and digests, never prompts, outputs or identity data; `write` refuses a
digest that is not a SHA-256 hex string so that raw text cannot slip in through one.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.accounts.errors import AccountError
from synthguard.store.db import Database
from synthguard.store.models import RECORD_STATUSES, RequestRecordRow
from synthguard.store.types import driver_datetime

_DIGEST = re.compile(r"[0-9a-f]{64}")
_RECORD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class RequestRecord:
    id: str
    created_at: datetime
    org_id: str | None
    user_id: str | None
    key_id: str | None
    endpoint: str
    model: str | None
    status: str  # "ok" | "blocked_input" | "blocked_output" | "refused" | "error"
    input_digest: str | None
    output_digest: str | None
    input_review: dict[str, Any] | None
    output_review: dict[str, Any] | None
    labels: dict[str, Any] | None
    enforcement: dict[str, Any] | None
    error_code: str | None
    overhead_ms: float | None


_FIELDS = tuple(f.name for f in fields(RequestRecord))


def canonical_digest(value: Any) -> str:
    """SHA-256 hex of `value` as canonical JSON (sorted keys, no spaces, UTF-8), or of
    the bytes / text itself; the form records use for inputs and outputs."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


class _IdClock:
    """UUIDv7-style ids (RFC 9562 §5.7 layout, method 1 counter): 48-bit Unix
    milliseconds, version 7, a 12-bit counter that keeps ids from one process strictly
    increasing within a millisecond, variant bits, 62 random bits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def next(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._last_ms:
                # Start low in the counter space, leaving room for a burst in this ms.
                self._last_ms, self._counter = ms, secrets.randbits(10)
            else:
                self._counter += 1
                if self._counter > 0xFFF:  # counter spent: borrow the next millisecond
                    self._last_ms, self._counter = self._last_ms + 1, 0
            ms, counter = self._last_ms, self._counter
        value = ((ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64
                 | 0b10 << 62 | secrets.randbits(62))
        return f"{value:032x}"


_ids = _IdClock()


def new_record_id() -> str:
    """A time-ordered unique id, 32 hex characters (see `_IdClock`)."""
    return _ids.next()


def check_record(record: RequestRecord) -> None:
    """Refuse a record that must not be stored (see the module docstring)."""
    if not _RECORD_ID.fullmatch(record.id):
        raise AccountError(f"record id {record.id!r} is not 32 lower-case hex digits")
    if record.status not in RECORD_STATUSES:
        raise AccountError(f"record status {record.status!r} is not one of {RECORD_STATUSES}")
    for name in ("input_digest", "output_digest"):
        value = getattr(record, name)
        if value is not None and not _DIGEST.fullmatch(value):
            raise AccountError(f"record {name} must be a SHA-256 hex digest")
    if record.created_at.tzinfo is None:
        raise AccountError("record created_at must be timezone-aware")


class Records:
    def __init__(self, db: Database) -> None:
        self._db = db

    def new_id(self) -> str:
        """A time-ordered unique id, 32 hex characters; the gateway uses it as ProduceID."""
        return new_record_id()

    def write(self, record: RequestRecord) -> None:
        """Insert and commit; when this returns, the record is durable."""
        check_record(record)
        with self._db.session() as s:
            insert_records(s, [record])

    def get(self, record_id: str) -> RequestRecord | None:
        with self._db.session(readonly=True) as s:
            row = s.scalar(select(RequestRecordRow).where(RequestRecordRow.id == record_id))
            return None if row is None else _from_row(row)

    def after(self, seq: int = 0, limit: int = 1000) -> list[tuple[int, RequestRecord]]:
        """Records with sequence number above `seq`, in sequence order, with their seq."""
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(RequestRecordRow).where(RequestRecordRow.seq > seq)
                             .order_by(RequestRecordRow.seq).limit(limit)).all()
            return [(row.seq, _from_row(row)) for row in rows]


def insert_records(session: Session, records: Sequence[RequestRecord]) -> None:
    """Insert records in the caller's transaction: the audit log commits a batch of
    records together with their Merkle leaves (one commit instead of two per request).
    Sent through the driver's executemany: SQLAlchemy's bind processing of sixteen
    columns cost more than the insert itself on the gateway's request path. Values are
    converted as the column types store them (JSON text as SQLAlchemy's `JSON` writes
    it, timestamps as `UTCDateTime`); tests read them back through the model."""
    for record in records:
        check_record(record)
    connection = session.connection()
    on_sqlite = connection.dialect.name == "sqlite"
    mark = "?" if on_sqlite else "%s"
    connection.exec_driver_sql(
        f"INSERT INTO request_records ({', '.join(_FIELDS)}) "
        f"VALUES ({', '.join([mark] * len(_FIELDS))})",
        [tuple(_driver_value(name, getattr(r, name), on_sqlite) for name in _FIELDS)
         for r in records])


_JSON_FIELDS = frozenset({"input_review", "output_review", "labels", "enforcement"})


def _driver_value(name: str, value: Any, on_sqlite: bool) -> Any:
    if value is None:
        return None
    if name in _JSON_FIELDS:
        return json.dumps(value)
    if name == "created_at":
        return driver_datetime(value, on_sqlite)
    return value


def _from_row(row: RequestRecordRow) -> RequestRecord:
    return RequestRecord(**{name: getattr(row, name) for name in _FIELDS})
