"""Governance: complaints with events and evidence, refuted rumors and their matches,
algorithm filings with assessments, datasets with PII scans and sample checks, policy
versions and acceptances, service switches with their history, regulator exports.

Revision ID: 0002_governance
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from synthguard.store.types import UTCDateTime, sequence_type

revision = "0002_governance"
down_revision = "0001"
branch_labels = ("governance",)
depends_on = None

# The value lists as of this revision (models.py may grow them in a later revision).
COMPLAINT_KINDS = ("report", "complaint", "appeal")
CATEGORIES = ("illegal_content", "missing_ai_label", "face_voice_without_consent",
              "portrait_reputation_privacy", "rumor", "personal_information", "other")
TARGET_KINDS = ("content_id", "produce_id", "url", "account")
COMPLAINT_STATES = ("received", "acknowledged", "in_review", "escalated", "answered", "closed")
EVENT_ACTIONS = ("created", "transition", "reminder", "escalation", "evidence", "enforcement",
                 "contact_viewed")
RUMOR_ACTIONS = ("notice", "block")
ALGORITHM_STATUSES = ("pending", "filed", "retired")
ASSESSMENT_KINDS = ("security_assessment", "periodic_review", "biometric_editing",
                    "public_opinion")
OUTCOMES = ("passed", "conditional", "failed")
POLICY_KINDS = ("management_rules", "platform_conventions", "service_agreement")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "gov_algorithms",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("algorithm_type", sa.String(40), nullable=False),
        sa.Column("filing_number", sa.String(64), nullable=True),
        sa.Column("public_info_url", sa.String(500), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("review_interval_days", sa.Integer(), nullable=False),
        sa.Column("next_review_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("status", ALGORITHM_STATUSES),
                           name=op.f("ck_gov_algorithms_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_algorithms")),
        sa.UniqueConstraint("filing_number", name=op.f("uq_gov_algorithms_filing_number")),
    )
    op.create_table(
        "gov_policy_versions",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("requires_acceptance", sa.Boolean(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.CheckConstraint(_one_of("kind", POLICY_KINDS),
                           name=op.f("ck_gov_policy_versions_kind")),
        sa.PrimaryKeyConstraint("kind", "version", name=op.f("pk_gov_policy_versions")),
    )
    op.create_table(
        "gov_report_exports",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("archive_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_report_exports")),
    )
    op.create_table(
        "gov_rumor_claims",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("claim", sa.Text(), nullable=False),
        sa.Column("refutation", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("claim_seen_on", sa.Date(), nullable=True),
        sa.Column("refuted_on", sa.Date(), nullable=False),
        sa.Column("action", sa.String(8), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("retired_by", sa.String(100), nullable=True),
        sa.CheckConstraint(f"action IS NULL OR {_one_of('action', RUMOR_ACTIONS)}",
                           name=op.f("ck_gov_rumor_claims_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_rumor_claims")),
    )
    op.create_table(
        "gov_switch_events",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(240), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("order_ref", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_switch_events")),
    )
    op.create_index(op.f("ix_gov_switch_events_at"), "gov_switch_events", ["at"])
    op.create_index(op.f("ix_gov_switch_events_name"), "gov_switch_events", ["name"])
    op.create_table(
        "gov_switches",
        sa.Column("name", sa.String(240), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("order_ref", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gov_switches")),
    )
    op.create_table(
        "gov_assessments",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("algorithm_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("assessor", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("report_ref", sa.String(500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("kind", ASSESSMENT_KINDS),
                           name=op.f("ck_gov_assessments_kind")),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES),
                           name=op.f("ck_gov_assessments_outcome")),
        sa.ForeignKeyConstraint(["algorithm_id"], ["gov_algorithms.id"],
                                name=op.f("fk_gov_assessments_algorithm_id_gov_algorithms")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_assessments")),
    )
    op.create_index(op.f("ix_gov_assessments_algorithm_id"), "gov_assessments", ["algorithm_id"])
    op.create_table(
        "gov_datasets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("licence", sa.String(200), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("algorithm_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["algorithm_id"], ["gov_algorithms.id"],
                                name=op.f("fk_gov_datasets_algorithm_id_gov_algorithms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_datasets")),
    )
    op.create_index(op.f("ix_gov_datasets_algorithm_id"), "gov_datasets", ["algorithm_id"])
    op.create_table(
        "gov_rumor_matches",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_ref", sa.String(100), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.CheckConstraint(_one_of("action", RUMOR_ACTIONS),
                           name=op.f("ck_gov_rumor_matches_action")),
        sa.ForeignKeyConstraint(["claim_id"], ["gov_rumor_claims.id"],
                                name=op.f("fk_gov_rumor_matches_claim_id_gov_rumor_claims")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_rumor_matches")),
    )
    op.create_index(op.f("ix_gov_rumor_matches_at"), "gov_rumor_matches", ["at"])
    op.create_index(op.f("ix_gov_rumor_matches_claim_id"), "gov_rumor_matches", ["claim_id"])
    op.create_table(
        "gov_complaints",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter_user_id", sa.String(32), nullable=True),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("contact_masked", sa.String(64), nullable=True),
        sa.Column("declared_true", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("ack_due_at", UTCDateTime(), nullable=False),
        sa.Column("answer_due_at", UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("enforcement", sa.JSON(), nullable=True),
        sa.Column("rumor_claims", sa.JSON(), nullable=True),
        sa.CheckConstraint(_one_of("category", CATEGORIES),
                           name=op.f("ck_gov_complaints_category")),
        sa.CheckConstraint(_one_of("kind", COMPLAINT_KINDS),
                           name=op.f("ck_gov_complaints_kind")),
        sa.CheckConstraint(_one_of("state", COMPLAINT_STATES),
                           name=op.f("ck_gov_complaints_state")),
        sa.CheckConstraint(_one_of("target_kind", TARGET_KINDS),
                           name=op.f("ck_gov_complaints_target_kind")),
        sa.ForeignKeyConstraint(["reporter_user_id"], ["users.id"],
                                name=op.f("fk_gov_complaints_reporter_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_complaints")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_gov_complaints_receipt_hash")),
    )
    op.create_index(op.f("ix_gov_complaints_received_at"), "gov_complaints", ["received_at"])
    op.create_index(op.f("ix_gov_complaints_reporter_user_id"),
                    "gov_complaints", ["reporter_user_id"])
    op.create_index("ix_gov_complaints_state_due", "gov_complaints", ["state", "answer_due_at"])
    op.create_table(
        "gov_pii_scans",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("records_scanned", sa.Integer(), nullable=False),
        sa.Column("records_with_pii", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["gov_datasets.id"],
                                name=op.f("fk_gov_pii_scans_dataset_id_gov_datasets")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_pii_scans")),
    )
    op.create_index(op.f("ix_gov_pii_scans_dataset_id"), "gov_pii_scans", ["dataset_id"])
    op.create_table(
        "gov_policy_acceptances",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["kind", "version"],
                                ["gov_policy_versions.kind", "gov_policy_versions.version"],
                                name=op.f("fk_gov_policy_acceptances_kind_gov_policy_versions")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_gov_policy_acceptances_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "kind", "version",
                                name=op.f("pk_gov_policy_acceptances")),
    )
    op.create_table(
        "gov_sample_checks",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("checker", sa.String(100), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("problems_found", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_one_of("outcome", OUTCOMES),
                           name=op.f("ck_gov_sample_checks_outcome")),
        sa.ForeignKeyConstraint(["dataset_id"], ["gov_datasets.id"],
                                name=op.f("fk_gov_sample_checks_dataset_id_gov_datasets")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_sample_checks")),
    )
    op.create_index(op.f("ix_gov_sample_checks_dataset_id"), "gov_sample_checks", ["dataset_id"])
    op.create_table(
        "gov_complaint_events",
        sa.Column("seq", sequence_type(), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.CheckConstraint(_one_of("action", EVENT_ACTIONS),
                           name=op.f("ck_gov_complaint_events_action")),
        sa.ForeignKeyConstraint(["complaint_id"], ["gov_complaints.id"],
                                name=op.f("fk_gov_complaint_events_complaint_id_gov_complaints")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_gov_complaint_events")),
    )
    op.create_index(op.f("ix_gov_complaint_events_complaint_id"),
                    "gov_complaint_events", ["complaint_id"])
    op.create_table(
        "gov_evidence",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("complaint_id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("scan", sa.JSON(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["gov_complaints.id"],
                                name=op.f("fk_gov_evidence_complaint_id_gov_complaints")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_evidence")),
    )
    op.create_index(op.f("ix_gov_evidence_complaint_id"), "gov_evidence", ["complaint_id"])


def downgrade() -> None:
    op.drop_table("gov_evidence")
    op.drop_table("gov_complaint_events")
    op.drop_table("gov_sample_checks")
    op.drop_table("gov_policy_acceptances")
    op.drop_table("gov_pii_scans")
    op.drop_table("gov_complaints")
    op.drop_table("gov_rumor_matches")
    op.drop_table("gov_datasets")
    op.drop_table("gov_assessments")
    op.drop_table("gov_switches")
    op.drop_table("gov_switch_events")
    op.drop_table("gov_rumor_claims")
    op.drop_table("gov_report_exports")
    op.drop_table("gov_policy_versions")
    op.drop_table("gov_algorithms")
