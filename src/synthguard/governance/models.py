"""Tables of the governance services on the store's declarative Base: complaints with
their events and evidence, refuted rumors and matches, the algorithm and dataset
registries, policy versions and acceptances, service switches, and regulator exports.

Only SQLAlchemy here, so the store's model registry (store/all_models.py) can import it
cheaply; the migration is store/migrations/versions/0002_governance.py. Event tables
are append-only: rows are never updated or deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from synthguard.store.models import Base
from synthguard.store.types import UTCDateTime, sequence_type

COMPLAINT_KINDS = ("report", "complaint", "appeal")
CATEGORIES = ("illegal_content", "missing_ai_label", "face_voice_without_consent",
              "portrait_reputation_privacy", "rumor", "personal_information", "other")
TARGET_KINDS = ("content_id", "produce_id", "url", "account")
COMPLAINT_STATES = ("received", "acknowledged", "in_review", "escalated", "answered", "closed")
DECISIONS = ("upheld", "partly_upheld", "rejected", "referred")
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


class ComplaintRow(Base):
    __tablename__ = "gov_complaints"
    __table_args__ = (
        CheckConstraint(_one_of("kind", COMPLAINT_KINDS), name="kind"),
        CheckConstraint(_one_of("category", CATEGORIES), name="category"),
        CheckConstraint(_one_of("target_kind", TARGET_KINDS), name="target_kind"),
        CheckConstraint(_one_of("state", COMPLAINT_STATES), name="state"),
        Index("ix_gov_complaints_state_due", "state", "answer_due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Keyed hash of the receipt code the reporter holds; the code itself is not stored.
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text)
    reporter_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # AES-GCM
    contact_masked: Mapped[str | None] = mapped_column(String(64))
    declared_true: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)  # escalation level, 0 = first line
    assignee: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(Text)
    enforcement: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    rumor_claims: Mapped[list[str] | None] = mapped_column(JSON)  # matched refuted claims


class ComplaintEventRow(Base):
    __tablename__ = "gov_complaint_events"
    __table_args__ = (CheckConstraint(_one_of("action", EVENT_ACTIONS), name="action"),)

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("gov_complaints.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(2000))


class EvidenceRow(Base):
    __tablename__ = "gov_evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    complaint_id: Mapped[str] = mapped_column(ForeignKey("gov_complaints.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # synthguard.inspect's verdict
    scan: Mapped[dict[str, Any]] = mapped_column(JSON)  # its report, without the path
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RumorClaimRow(Base):
    __tablename__ = "gov_rumor_claims"
    __table_args__ = (CheckConstraint(f"action IS NULL OR {_one_of('action', RUMOR_ACTIONS)}",
                                      name="action"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    claim: Mapped[str] = mapped_column(Text)
    refutation: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[str]] = mapped_column(JSON)
    claim_seen_on: Mapped[date | None] = mapped_column(Date)
    refuted_on: Mapped[date] = mapped_column(Date)
    action: Mapped[str | None] = mapped_column(String(8))  # None: the configured default
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_by: Mapped[str | None] = mapped_column(String(100))


class RumorMatchRow(Base):
    __tablename__ = "gov_rumor_matches"
    __table_args__ = (CheckConstraint(_one_of("action", RUMOR_ACTIONS), name="action"),)

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("gov_rumor_claims.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # output, report, text
    subject_ref: Mapped[str | None] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(8))
    text_sha256: Mapped[str] = mapped_column(String(64))  # the text itself is not kept


class AlgorithmRow(Base):
    __tablename__ = "gov_algorithms"
    __table_args__ = (CheckConstraint(_one_of("status", ALGORITHM_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    algorithm_type: Mapped[str] = mapped_column(String(40))
    filing_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    public_info_url: Mapped[str | None] = mapped_column(String(500))
    models: Mapped[list[str]] = mapped_column(JSON)  # the gateway routes it serves
    status: Mapped[str] = mapped_column(String(16))
    filed_on: Mapped[date | None] = mapped_column(Date)
    review_interval_days: Mapped[int] = mapped_column(Integer)
    next_review_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AssessmentRow(Base):
    __tablename__ = "gov_assessments"
    __table_args__ = (CheckConstraint(_one_of("kind", ASSESSMENT_KINDS), name="kind"),
                      CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"))

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    algorithm_id: Mapped[str] = mapped_column(ForeignKey("gov_algorithms.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    assessed_on: Mapped[date] = mapped_column(Date)
    assessor: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    report_ref: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DatasetRow(Base):
    __tablename__ = "gov_datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500))
    licence: Mapped[str] = mapped_column(String(200))
    collected_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    algorithm_id: Mapped[str | None] = mapped_column(ForeignKey("gov_algorithms.id"),
                                                     index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PiiScanRow(Base):
    __tablename__ = "gov_pii_scans"

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("gov_datasets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    records_scanned: Mapped[int] = mapped_column(Integer)
    records_with_pii: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    examples: Mapped[dict[str, list[str]]] = mapped_column(JSON)  # masked forms only


class SampleCheckRow(Base):
    __tablename__ = "gov_sample_checks"
    __table_args__ = (CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),)

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("gov_datasets.id"), index=True)
    checked_on: Mapped[date] = mapped_column(Date)
    checker: Mapped[str] = mapped_column(String(100))
    sample_size: Mapped[int] = mapped_column(Integer)
    problems_found: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyVersionRow(Base):
    __tablename__ = "gov_policy_versions"
    __table_args__ = (CheckConstraint(_one_of("kind", POLICY_KINDS), name="kind"),)

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    sha256: Mapped[str] = mapped_column(String(64))
    requires_acceptance: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by: Mapped[str] = mapped_column(String(100))


class PolicyAcceptanceRow(Base):
    __tablename__ = "gov_policy_acceptances"
    __table_args__ = (ForeignKeyConstraint(
        ["kind", "version"], ["gov_policy_versions.kind", "gov_policy_versions.version"]),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))


class SwitchRow(Base):
    """The current position of one service switch (absent: never flipped, off)."""

    __tablename__ = "gov_switches"

    name: Mapped[str] = mapped_column(String(240), primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    order_ref: Mapped[str] = mapped_column(String(200))


class SwitchEventRow(Base):
    __tablename__ = "gov_switch_events"

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(240), index=True)
    engaged: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    order_ref: Mapped[str] = mapped_column(String(200))


class ReportExportRow(Base):
    """One regulator archive written: who, when, what range, its digest."""

    __tablename__ = "gov_report_exports"

    seq: Mapped[int] = mapped_column(sequence_type(), primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    archive_sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
