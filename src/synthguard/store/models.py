"""The tables. Every change here needs a migration in `migrations/versions`; a test
compares these models with the migrated schema on SQLite and PostgreSQL.

Request records reference accounts by id only, without foreign keys: they are an audit
trail that must accept requests from unknown keys and must never be cascaded away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from synthguard.store.types import UTCDateTime, sequence_type

# Deterministic constraint names, so migrations can name what they alter or drop.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ACCOUNT_STATES = ("active", "warned", "limited", "suspended", "closed")
RECORD_STATUSES = ("ok", "blocked_input", "blocked_output", "refused", "error")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("state", ACCOUNT_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    verified: Mapped[bool] = mapped_column(Boolean)
    verification_method: Mapped[str | None] = mapped_column(String(32))
    verification_evidence: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Blocked inputs in a row; any passed input resets it (the enforcement rule).
    consecutive_blocked: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountEvent(Base):
    """One state change: who changed it, when, why. Never updated or deleted."""

    __tablename__ = "account_events"
    __table_args__ = (CheckConstraint(_one_of("to_state", ACCOUNT_STATES), name="to_state"),)

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(100))


class ApiKey(Base):
    """An API key: only its keyed hash is stored; `id` is the public key id."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated, sorted
    rate_limit_per_min: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class BlockedInput(Base):
    """When a user's input was blocked; rows older than the counting window are pruned."""

    __tablename__ = "blocked_inputs"
    __table_args__ = (Index("ix_blocked_inputs_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestRecordRow(Base):
    """One gateway request, allowed or blocked. `seq` is the commit-side order the
    audit log builds its Merkle tree over; `id` is the time-ordered ProduceID."""

    __tablename__ = "request_records"
    __table_args__ = (CheckConstraint(_one_of("status", RECORD_STATUSES), name="status"),)

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    org_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    input_digest: Mapped[str | None] = mapped_column(String(64))
    output_digest: Mapped[str | None] = mapped_column(String(64))
    input_review: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output_review: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enforcement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    overhead_ms: Mapped[float | None] = mapped_column(Float)
