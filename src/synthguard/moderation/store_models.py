"""Tables of the moderation service on the store's declarative Base: feature-library
entries, their versions and workflow events, releases, the review queue and its events,
and per-user violations. Only SQLAlchemy here, so that the store's model registry
(store/all_models.py) can import it without loading the engine; the migration is
store/migrations/versions/0002_moderation.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from synthguard.store.models import Base
from synthguard.store.types import UTCDateTime, sequence_type

# library.STATUSES, repeated so this module imports nothing of the engine (a test checks).
ENTRY_STATUSES = ("candidate", "reviewed", "active", "retired")
QUEUE_STATES = ("open", "claimed", "escalated", "decided")
QUEUE_ACTIONS = ("queued", "claim", "comment", "decide", "escalate")
DECISIONS = ("allow", "block")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class EntryRow(Base):
    __tablename__ = "moderation_entries"
    __table_args__ = (CheckConstraint(_one_of("status", ENTRY_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    risk_id: Mapped[str] = mapped_column(String(8), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntryVersionRow(Base):
    """Every content version of an entry, as its documented file form."""

    __tablename__ = "moderation_entry_versions"

    entry_id: Mapped[str] = mapped_column(ForeignKey("moderation_entries.id"),
                                          primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntryEventRow(Base):
    """One workflow step. Never updated or deleted."""

    __tablename__ = "moderation_entry_events"

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("moderation_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(500))


class ReleaseRow(Base):
    __tablename__ = "moderation_releases"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_force_on: Mapped[str] = mapped_column(String(10))  # ISO date of the release
    sha256: Mapped[str] = mapped_column(String(64))
    entries: Mapped[list[list[Any]]] = mapped_column(JSON)  # [[entry id, version], ...]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueueItemRow(Base):
    __tablename__ = "moderation_queue"
    __table_args__ = (CheckConstraint(_one_of("state", QUEUE_STATES), name="state"),
                      Index("ix_moderation_queue_state_id", "state", "id"))

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stage: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    record_id: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)  # what the reviewer must read
    review: Mapped[dict[str, Any]] = mapped_column(JSON)  # the engine's Review.as_dict()
    state: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)  # escalation level, 0 = first line
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    decision: Mapped[str | None] = mapped_column(String(8))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QueueEventRow(Base):
    __tablename__ = "moderation_queue_events"
    __table_args__ = (CheckConstraint(_one_of("action", QUEUE_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("moderation_queue.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(String(2000))


class ViolationRow(Base):
    __tablename__ = "moderation_violations"
    __table_args__ = (Index("ix_moderation_violations_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    stage: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(100))  # "engine" or the deciding reviewer
    item_id: Mapped[int | None] = mapped_column(ForeignKey("moderation_queue.id"))
