"""Initial schema: organisations, users, account events, API keys, blocked inputs,
request records.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from synthguard.store.types import UTCDateTime, sequence_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATES = "('active', 'warned', 'limited', 'suspended', 'closed')"
STATUSES = "('ok', 'blocked_input', 'blocked_output', 'refused', 'error')"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verification_method", sa.String(32), nullable=True),
        sa.Column("verification_evidence", sa.String(200), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_blocked", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f("ck_users_state")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_users_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_org_id"), "users", ["org_id"])
    op.create_table(
        "account_events",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.CheckConstraint(f"to_state IN {STATES}", name=op.f("ck_account_events_to_state")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_account_events_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_events")),
    )
    op.create_index(op.f("ix_account_events_user_id"), "account_events", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("rate_limit_per_min", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"])
    op.create_table(
        "blocked_inputs",
        sa.Column("id", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_blocked_inputs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_inputs")),
    )
    op.create_index("ix_blocked_inputs_user_at", "blocked_inputs", ["user_id", "at"])
    op.create_table(
        "request_records",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=True),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input_digest", sa.String(64), nullable=True),
        sa.Column("output_digest", sa.String(64), nullable=True),
        sa.Column("input_review", sa.JSON(), nullable=True),
        sa.Column("output_review", sa.JSON(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("enforcement", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("overhead_ms", sa.Float(), nullable=True),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_request_records_status")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_request_records")),
        sa.UniqueConstraint("id", name=op.f("uq_request_records_id")),
    )
    op.create_index(op.f("ix_request_records_created_at"), "request_records", ["created_at"])
    op.create_index(op.f("ix_request_records_user_id"), "request_records", ["user_id"])


def downgrade() -> None:
    for table in ("request_records", "blocked_inputs", "api_keys", "account_events", "users",
                  "organisations"):
        op.drop_table(table)
