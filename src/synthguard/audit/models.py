"""The audit log's tables (migration `0002_audit`).

The tree and the payload are stored apart on purpose: `audit_nodes` holds every
complete subtree hash, leaves included (level 0), and is all that roots and proofs
read; `audit_leaves` holds what each leaf commits to. Retention purges the payload
and keeps the tree, and a verifier can tell an edited payload row from an edited
hash because the two never live in the same row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from synthguard.store.models import Base
from synthguard.store.types import UTCDateTime, sequence_type


class AuditHead(Base):
    """One row (id 1): the tree size, locked by every append so that appends from
    several processes serialise; and how far `ingest_records` has read."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    ingested_seq: Mapped[int] = mapped_column(BigInteger)
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditLeaf(Base):
    """What leaf `idx` commits to: the canonical JSON entry (NULL once purged)."""

    __tablename__ = "audit_leaves"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the leaf joined the log; never decreases with idx, so a time range of the
    # log is a contiguous range of leaves (what an export for a regulator needs).
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    entry: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditNode(Base):
    """The hash of the complete subtree of 2**level leaves starting at idx * 2**level."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed checkpoint exactly as published (C2SP signed note)."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (Index("ix_audit_checkpoints_size", "size"),)

    id: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
