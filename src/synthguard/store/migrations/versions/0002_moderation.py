"""Moderation: feature-library entries, their versions and workflow events, releases,
the human review queue with its events, and per-user violations.

Revision ID: 0002_moderation
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from synthguard.store.types import UTCDateTime, sequence_type

revision = "0002_moderation"
down_revision = "0001"
branch_labels = ("moderation",)
depends_on = None

STATUSES = ("candidate", "reviewed", "active", "retired")
QUEUE_STATES = ("open", "claimed", "escalated", "decided")
QUEUE_ACTIONS = ("queued", "claim", "comment", "decide", "escalate")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "moderation_entries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("risk_id", sa.String(8), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("status", STATUSES),
                           name=op.f("ck_moderation_entries_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_entries")),
    )
    op.create_index(op.f("ix_moderation_entries_risk_id"), "moderation_entries", ["risk_id"])
    op.create_table(
        "moderation_entry_versions",
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["moderation_entries.id"],
            name=op.f("fk_moderation_entry_versions_entry_id_moderation_entries")),
        sa.PrimaryKeyConstraint("entry_id", "version", name=op.f("pk_moderation_entry_versions")),
    )
    op.create_table(
        "moderation_entry_events",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["moderation_entries.id"],
            name=op.f("fk_moderation_entry_events_entry_id_moderation_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_entry_events")),
    )
    op.create_index(op.f("ix_moderation_entry_events_entry_id"), "moderation_entry_events",
                    ["entry_id"])
    op.create_table(
        "moderation_releases",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("in_force_on", sa.String(10), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_moderation_releases")),
    )
    op.create_table(
        "moderation_queue",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("record_id", sa.String(32), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("review", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_one_of("state", QUEUE_STATES), name=op.f("ck_moderation_queue_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_queue")),
    )
    op.create_index("ix_moderation_queue_state_id", "moderation_queue", ["state", "id"])
    op.create_index(op.f("ix_moderation_queue_user_id"), "moderation_queue", ["user_id"])
    op.create_table(
        "moderation_queue_events",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("item_id", sequence_type(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.CheckConstraint(_one_of("action", QUEUE_ACTIONS),
                           name=op.f("ck_moderation_queue_events_action")),
        sa.ForeignKeyConstraint(["item_id"], ["moderation_queue.id"],
                                name=op.f("fk_moderation_queue_events_item_id_moderation_queue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_queue_events")),
    )
    op.create_index(op.f("ix_moderation_queue_events_item_id"), "moderation_queue_events",
                    ["item_id"])
    op.create_table(
        "moderation_violations",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("item_id", sequence_type(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["moderation_queue.id"],
                                name=op.f("fk_moderation_violations_item_id_moderation_queue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_violations")),
    )
    op.create_index("ix_moderation_violations_user_at", "moderation_violations",
                    ["user_id", "at"])


def downgrade() -> None:
    op.drop_table("moderation_violations")
    op.drop_table("moderation_queue_events")
    op.drop_table("moderation_queue")
    op.drop_table("moderation_releases")
    op.drop_table("moderation_entry_events")
    op.drop_table("moderation_entry_versions")
    op.drop_table("moderation_entries")
