"""Identity service: personal data vault, identity bindings, one-time codes,
verification evidence, consent records and consent checks.

Revision ID: 0002_identity
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from synthguard.store.types import UTCDateTime, sequence_type

revision = "0002_identity"
down_revision = "0001"
branch_labels = ("identity",)
depends_on = None


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


KINDS = ("id_number", "mobile", "real_name")
PURPOSES = ("verify_mobile", "consent_confirm", "consent_revoke")


def upgrade() -> None:
    op.create_table(
        "vault_entries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lookup_hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("masked", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("touched_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("kind", KINDS), name=op.f("ck_vault_entries_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_entries")),
        sa.UniqueConstraint("kind", "lookup_hash", name=op.f("uq_vault_entries_kind")),
    )
    op.create_table(
        "identity_bindings",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("role", KINDS), name=op.f("ck_identity_bindings_role")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_identity_bindings_user_id_users")),
        sa.ForeignKeyConstraint(["entry_id"], ["vault_entries.id"],
                                name=op.f("fk_identity_bindings_entry_id_vault_entries")),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_identity_bindings")),
    )
    op.create_index(op.f("ix_identity_bindings_entry_id"), "identity_bindings", ["entry_id"])
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(24), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("subject_ref", sa.String(32), nullable=True),
        sa.Column("entry_id", sa.String(32), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.Column("superseded_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_one_of("purpose", PURPOSES), name=op.f("ck_otp_challenges_purpose")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_otp_challenges_user_id_users")),
        sa.ForeignKeyConstraint(["entry_id"], ["vault_entries.id"],
                                name=op.f("fk_otp_challenges_entry_id_vault_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    for column in ("user_id", "entry_id", "phone_hash", "created_at"):
        op.create_index(op.f(f"ix_otp_challenges_{column}"), "otp_challenges", [column])
    op.create_table(
        "verification_evidence",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("provider_reference", sa.String(200), nullable=True),
        sa.Column("subject_hash", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_verification_evidence_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_evidence")),
    )
    for column in ("user_id", "subject_hash", "created_at"):
        op.create_index(op.f(f"ix_verification_evidence_{column}"), "verification_evidence",
                        [column])
    op.create_table(
        "consents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("subject_name_entry", sa.String(32), nullable=True),
        sa.Column("subject_mobile_entry", sa.String(32), nullable=True),
        sa.Column("subject_display", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("allowed_outputs", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.String(24), nullable=False),
        sa.Column("evidence_ref", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.Column("revocation_reason", sa.String(500), nullable=True),
        sa.Column("subject_erased_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(_one_of("scope", ("face", "voice", "both")),
                           name=op.f("ck_consents_scope")),
        sa.CheckConstraint(_one_of("evidence", ("signed_statement", "phone_confirmation")),
                           name=op.f("ck_consents_evidence")),
        sa.CheckConstraint(_one_of("status", ("pending", "active", "revoked")),
                           name=op.f("ck_consents_status")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users")),
        sa.ForeignKeyConstraint(["subject_name_entry"], ["vault_entries.id"],
                                name=op.f("fk_consents_subject_name_entry_vault_entries")),
        sa.ForeignKeyConstraint(["subject_mobile_entry"], ["vault_entries.id"],
                                name=op.f("fk_consents_subject_mobile_entry_vault_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    for column in ("user_id", "subject_name_entry", "subject_mobile_entry"):
        op.create_index(op.f(f"ix_consents_{column}"), "consents", [column])
    op.create_table(
        "consent_checks",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("consent_id", sa.String(100), nullable=True),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("output", sa.String(16), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_checks")),
    )
    op.create_index(op.f("ix_consent_checks_consent_id"), "consent_checks", ["consent_id"])


def downgrade() -> None:
    for table in ("consent_checks", "consents", "verification_evidence", "otp_challenges",
                  "identity_bindings", "vault_entries"):
        op.drop_table(table)
