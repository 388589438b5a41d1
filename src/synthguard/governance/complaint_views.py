"""The typed values the complaint desk takes and returns (complaints.py), built from rows.

Two views of one complaint: `Complaint` for operators (everything but the contact in
clear), `PublicStatus` for the holder of the receipt code (states, times, the answer,
the evidence they sent with its label verdict; no staff names, no notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from synthguard.accounts import AccountState
from synthguard.governance.models import ComplaintEventRow, ComplaintRow, EvidenceRow

Kind = Literal["report", "complaint", "appeal"]
Category = Literal["illegal_content", "missing_ai_label", "face_voice_without_consent",
                   "portrait_reputation_privacy", "rumor", "personal_information", "other"]
TargetKind = Literal["content_id", "produce_id", "url", "account"]
Urgency = Literal["ok", "near", "overdue"]


@dataclass(frozen=True)
class Submission:
    kind: Kind
    category: Category
    target_kind: TargetKind
    target: str
    description: str
    declared_true: bool
    contact: str | None = None
    reporter_user_id: str | None = None  # set from a signed-in account, never from the form


@dataclass(frozen=True)
class Receipt:
    code: str  # shown once to the reporter; only its keyed hash is stored
    received_at: datetime
    acknowledge_due_at: datetime
    answer_due_at: datetime


@dataclass(frozen=True)
class EnforcementOrder:
    user_id: str
    state: AccountState
    reason: str


@dataclass(frozen=True)
class Evidence:
    id: str
    filename: str
    format: str
    size: int
    sha256: str
    label_verdict: str
    scan: dict[str, Any]
    uploaded_at: datetime


@dataclass(frozen=True)
class ComplaintEvent:
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str


@dataclass(frozen=True)
class Complaint:
    id: str
    kind: str
    category: str
    target_kind: str
    target: str
    description: str
    reporter_user_id: str | None
    contact_masked: str | None
    state: str
    level: int
    assignee: str | None
    received_at: datetime
    acknowledge_due_at: datetime
    answer_due_at: datetime
    acknowledged_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    decision: str | None
    answer: str | None
    enforcement: tuple[dict[str, Any], ...]
    rumor_claims: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    events: tuple[ComplaintEvent, ...]


@dataclass(frozen=True)
class PublicEvidence:
    filename: str
    format: str
    label_verdict: str


@dataclass(frozen=True)
class PublicStep:
    at: datetime
    state: str


@dataclass(frozen=True)
class PublicStatus:
    kind: str
    category: str
    state: str
    received_at: datetime
    acknowledge_due_at: datetime
    answer_due_at: datetime
    acknowledged_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    decision: str | None
    answer: str | None
    evidence: tuple[PublicEvidence, ...]
    steps: tuple[PublicStep, ...]


@dataclass(frozen=True)
class QueueEntry:
    id: str
    kind: str
    category: str
    state: str
    level: int
    assignee: str | None
    received_at: datetime
    deadline: Literal["acknowledge", "answer"]
    due_at: datetime
    working_days_left: int  # 0 on the last day, negative when overdue
    urgency: Urgency


@dataclass(frozen=True)
class Alert:
    complaint_id: str
    deadline: Literal["acknowledge", "answer"]
    urgency: Urgency
    due_at: datetime
    escalated: bool


def evidence_view(row: EvidenceRow) -> Evidence:
    return Evidence(row.id, row.filename, row.format, row.size, row.sha256, row.verdict,
                    row.scan, row.uploaded_at)


def complaint_view(row: ComplaintRow, evidence: Sequence[EvidenceRow],
                   events: Sequence[ComplaintEventRow]) -> Complaint:
    return Complaint(
        id=row.id, kind=row.kind, category=row.category, target_kind=row.target_kind,
        target=row.target, description=row.description, reporter_user_id=row.reporter_user_id,
        contact_masked=row.contact_masked, state=row.state, level=row.level,
        assignee=row.assignee, received_at=row.received_at, acknowledge_due_at=row.ack_due_at,
        answer_due_at=row.answer_due_at, acknowledged_at=row.acknowledged_at,
        answered_at=row.answered_at, closed_at=row.closed_at, decision=row.decision,
        answer=row.answer, enforcement=tuple(row.enforcement or ()),
        rumor_claims=tuple(row.rumor_claims or ()),
        evidence=tuple(evidence_view(e) for e in evidence),
        events=tuple(ComplaintEvent(e.at, e.actor, e.action, e.from_state, e.to_state, e.note)
                     for e in events))


def public_status(row: ComplaintRow, evidence: Sequence[EvidenceRow],
                  events: Sequence[ComplaintEventRow]) -> PublicStatus:
    steps = [PublicStep(e.at, e.to_state) for e in events
             if e.to_state is not None and e.action in ("created", "transition", "escalation")]
    return PublicStatus(
        kind=row.kind, category=row.category, state=row.state, received_at=row.received_at,
        acknowledge_due_at=row.ack_due_at, answer_due_at=row.answer_due_at,
        acknowledged_at=row.acknowledged_at, answered_at=row.answered_at,
        closed_at=row.closed_at, decision=row.decision, answer=row.answer,
        evidence=tuple(PublicEvidence(e.filename, e.format, e.verdict) for e in evidence),
        steps=tuple(steps))
