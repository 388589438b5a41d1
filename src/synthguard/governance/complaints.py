"""Complaints, appeals and reports (Provisions Art. 12): intake, deadline clocks, handling.

Anyone may file a report (no account needed); an appeal against our own action on an
account needs that account. Each item gets a receipt code to follow it (sealing.py),
two deadlines counted in working days from the configuration (acknowledge, answer; a
category may have its own answer deadline, e.g. 15 working days for personal-information
requests), and moves through the states of `complaint_states`.

Every step is an event with its actor and time. An answer carries a decision and may
order enforcement on accounts, done through `Accounts.set_state` with the complaint
named in the reason, so each account event leads back to the complaint. `sweep` sends
reminders for deadlines that are near and escalates items whose deadline passed, once
per deadline (`complaint_clock`). All methods commit before they return.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import get_args
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.accounts import Accounts, AccountState
from synthguard.governance import errors
from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.complaint_clock import (
    next_deadline,
    queue_entry,
    sweep_alert,
    urgency,
)
from synthguard.governance.complaint_states import (
    OPEN_STATES,
    Decision,
    apply_move,
    check_transition,
)
from synthguard.governance.complaint_views import (
    Alert,
    Complaint,
    EnforcementOrder,
    Evidence,
    PublicStatus,
    QueueEntry,
    Receipt,
    Submission,
    complaint_view,
    evidence_view,
    public_status,
)
from synthguard.governance.evidence import EvidenceStore, scan_evidence
from synthguard.governance.models import (
    CATEGORIES,
    COMPLAINT_KINDS,
    TARGET_KINDS,
    ComplaintEventRow,
    ComplaintRow,
    EvidenceRow,
)
from synthguard.governance.rumors import RumorLibrary
from synthguard.governance.sealing import Sealer, check_contact, mask_contact, new_receipt_code
from synthguard.governance.settings import ComplaintSettings
from synthguard.labels.protect import Protection
from synthguard.store import Database

SYSTEM_ACTOR = "system"
MAX_DESCRIPTION = 5000
MAX_TARGET = 2000
MAX_NOTE = 2000
MAX_ACTOR = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _text(value: str, what: str, limit: int, *, empty: bool = False) -> str:
    value = value.strip()
    if not value and not empty:
        raise errors.invalid(f"{what} must not be empty")
    if len(value) > limit:
        raise errors.invalid(f"{what} is {len(value)} characters, limit {limit}")
    return value


def check_target(kind: str, value: str) -> str:
    if kind not in TARGET_KINDS:
        raise errors.invalid(f"target kind must be one of {', '.join(TARGET_KINDS)}")
    value = _text(value, "target", MAX_TARGET)
    if kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise errors.invalid("a URL target must be an http(s) URL", "invalid_target")
    elif len(value) > 200 or not value.isprintable():
        raise errors.invalid(f"a {kind} target is one line of at most 200 characters",
                             "invalid_target")
    return value


class ComplaintDesk:
    def __init__(self, db: Database, secret: bytes, settings: ComplaintSettings,
                 calendar: WorkingCalendar, *, accounts: Accounts | None = None,
                 rumors: RumorLibrary | None = None, evidence: EvidenceStore | None = None,
                 protection: Protection | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._sealer = Sealer(secret)
        self.settings = settings
        self.calendar = calendar
        self._accounts = accounts
        self._rumors = rumors
        self._evidence = evidence or EvidenceStore(settings.evidence_dir)
        self._protection = protection  # the keys evidence is inspected with
        self._clock = clock

    # -- the public side -------------------------------------------------------------

    def submit(self, submission: Submission) -> Receipt:
        """File a report, complaint or appeal; the receipt code exists only in the answer."""
        sub = submission
        if sub.kind not in COMPLAINT_KINDS:
            raise errors.invalid(f"kind must be one of {', '.join(COMPLAINT_KINDS)}")
        if sub.category not in CATEGORIES:
            raise errors.invalid(f"category must be one of {', '.join(CATEGORIES)}")
        if sub.kind == "appeal" and not sub.reporter_user_id:
            raise errors.GovernanceError("an appeal is made from the account it concerns: "
                                         "sign in first", "login_required", 401)
        if not sub.declared_true:
            raise errors.invalid("the reporter must declare that the information is true",
                                 "declaration_required")
        target = check_target(sub.target_kind, sub.target)
        description = _text(sub.description, "description", MAX_DESCRIPTION)
        contact = check_contact(sub.contact) if sub.contact else None
        if sub.reporter_user_id and self._accounts is not None:
            self._accounts.user_state(sub.reporter_user_id)  # raises for an unknown user
        code, complaint_id, now = new_receipt_code(), "cmp_" + secrets.token_hex(12), self._clock()
        receipt_hash = self._sealer.receipt_hash(code)
        assert receipt_hash is not None, "a new code is always well-formed"
        answer_days = self.settings.answer_days_for(sub.category)
        row = ComplaintRow(
            id=complaint_id, receipt_hash=receipt_hash, kind=sub.kind, category=sub.category,
            target_kind=sub.target_kind, target=target, description=description,
            reporter_user_id=sub.reporter_user_id,
            contact_sealed=self._sealer.seal_contact(complaint_id, contact) if contact else None,
            contact_masked=mask_contact(contact) if contact else None, declared_true=True,
            state="received", level=0, received_at=now,
            ack_due_at=self.calendar.deadline(now, self.settings.acknowledge_days),
            answer_due_at=self.calendar.deadline(now, answer_days))
        with self._db.session() as s:
            s.add(row)
            s.flush()
            self._event(s, complaint_id, "reporter", "created", None, "received",
                        f"{sub.kind}: {sub.category}")
        self._match_rumors(complaint_id, description)
        return Receipt(code, now, row.ack_due_at, row.answer_due_at)

    def status(self, receipt_code: str) -> PublicStatus:
        """What the holder of a receipt code may see: states, times, the answer."""
        with self._db.session(readonly=True) as s:
            row = self._by_receipt(s, receipt_code)
            return public_status(row, self._evidence_rows(s, row.id), self._events(s, row.id))

    def filed_by(self, user_id: str, *, limit: int = 50) -> list[PublicStatus]:
        """What a signed-in account filed (its appeals, reports made with its key), newest
        first, as the holder of the receipt code sees it."""
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(ComplaintRow).where(ComplaintRow.reporter_user_id == user_id)
                             .order_by(ComplaintRow.received_at.desc()).limit(limit)).all()
            return [public_status(r, self._evidence_rows(s, r.id), self._events(s, r.id))
                    for r in rows]

    def add_evidence(self, receipt_code: str, filename: str, data: bytes) -> Evidence:
        """Attach a file to the complaint a receipt code names (type/size-checked, scanned)."""
        with self._db.session(readonly=True) as s:
            complaint_id = self._by_receipt(s, receipt_code).id
        return self.attach(complaint_id, filename, data, actor="reporter")

    # -- handling ----------------------------------------------------------------------

    def attach(self, complaint_id: str, filename: str, data: bytes, *, actor: str) -> Evidence:
        with self._db.session(readonly=True) as s:
            row = self._row(s, complaint_id)
            if row.state == "closed":
                raise errors.conflict("the complaint is closed", "complaint_closed")
            if len(self._evidence_rows(s, complaint_id)) >= self.settings.max_evidence_files:
                raise errors.conflict(f"a complaint holds at most "
                                      f"{self.settings.max_evidence_files} evidence files",
                                      "too_many_files")
        scanned = scan_evidence(self._evidence, filename, data,
                                max_bytes=self.settings.max_evidence_bytes,
                                allowed=self.settings.evidence_formats,
                                protection=self._protection)
        evidence = EvidenceRow(id="evd_" + secrets.token_hex(12), complaint_id=complaint_id,
                               filename=scanned.filename, format=scanned.format,
                               size=scanned.size, sha256=scanned.sha256,
                               verdict=scanned.verdict, scan=scanned.scan,
                               uploaded_at=self._clock())
        with self._db.session() as s:
            s.add(evidence)
            self._event(s, complaint_id, _actor(actor), "evidence", None, None,
                        f"{scanned.filename} ({scanned.format}, label {scanned.verdict})")
        return evidence_view(evidence)

    def evidence_path(self, evidence_id: str) -> tuple[Evidence, str]:
        """An evidence file's record and where it is stored (for the console to serve)."""
        with self._db.session(readonly=True) as s:
            row = s.get(EvidenceRow, evidence_id)
            if row is None:
                raise errors.not_found(f"no evidence {evidence_id!r}")
            return evidence_view(row), str(self._evidence.path(row.sha256, row.format))

    def get(self, complaint_id: str) -> Complaint:
        with self._db.session(readonly=True) as s:
            row = self._row(s, complaint_id)
            return complaint_view(row, self._evidence_rows(s, row.id), self._events(s, row.id))

    def find(self, *, states: Iterable[str] | None = None, limit: int = 200) -> list[Complaint]:
        """Complaints, newest first, without their evidence and events (see `get`)."""
        query = select(ComplaintRow).order_by(ComplaintRow.received_at.desc()).limit(limit)
        if states is not None:
            query = query.where(ComplaintRow.state.in_(tuple(states)))
        with self._db.session(readonly=True) as s:
            return [complaint_view(r, [], []) for r in s.scalars(query)]

    def queue(self, now: datetime | None = None) -> list[QueueEntry]:
        """Open items with their next deadline, the most urgent first."""
        now = now or self._clock()
        near = timedelta(hours=self.settings.remind_before_hours)
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(ComplaintRow).where(ComplaintRow.state.in_(OPEN_STATES)))
            entries = [queue_entry(r, now, near, self.calendar) for r in rows]
        return sorted(entries, key=lambda e: (e.due_at, e.id))

    def transition(self, complaint_id: str, to: str, *, actor: str, note: str = "",
                   assignee: str | None = None) -> Complaint:
        """Move an item along the flow (answers go through `answer`)."""
        actor, note = _actor(actor), _text(note, "note", MAX_NOTE, empty=True)
        if to == "closed" and not note and not self._answered(complaint_id):
            raise errors.invalid("closing without an answer needs a note saying why")
        with self._db.session() as s:
            row = self._row(s, complaint_id, lock=True)
            check_transition(row.state, to)
            self._move(s, row, to, actor, note)
            if assignee is not None:
                row.assignee = _actor(assignee)
        return self.get(complaint_id)

    def answer(self, complaint_id: str, decision: Decision, answer: str, *, actor: str,
               enforcement: Iterable[EnforcementOrder] = ()) -> Complaint:
        """Answer the reporter; apply the enforcement the decision orders, first."""
        if decision not in get_args(Decision):
            raise errors.invalid(f"decision must be one of {', '.join(get_args(Decision))}")
        actor, answer = _actor(actor), _text(answer, "answer", MAX_DESCRIPTION)
        orders = list(enforcement)
        with self._db.session(readonly=True) as s:
            state = self._row(s, complaint_id).state
        if state not in OPEN_STATES:
            raise errors.conflict(f"a {state} complaint cannot be answered", "invalid_transition")
        # Enforcement goes first and commits on its own: if recording the answer then
        # failed, each account event still names this complaint in its reason.
        applied = self._enforce(complaint_id, orders, actor)
        with self._db.session() as s:
            row = self._row(s, complaint_id, lock=True)
            if row.state not in OPEN_STATES:
                raise errors.conflict("the complaint was answered or closed meanwhile",
                                      "invalid_transition")
            row.decision, row.answer = decision, answer
            row.enforcement = [*(row.enforcement or []), *applied] or None
            for item in applied:
                self._event(s, row.id, actor, "enforcement", None, None,
                            f"{item['user_id']}: {item['to_state']} ({item['reason']})")
            self._move(s, row, "answered", actor, f"decision: {decision}")
        return self.get(complaint_id)

    def reveal_contact(self, complaint_id: str, *, actor: str) -> str | None:
        """The reporter's contact in clear, for answering; each reveal is an event."""
        with self._db.session() as s:
            row = self._row(s, complaint_id)
            if row.contact_sealed is None:
                return None
            self._event(s, row.id, _actor(actor), "contact_viewed", None, None, "")
            return self._sealer.open_contact(row.id, row.contact_sealed)

    def sweep(self, now: datetime | None = None) -> list[Alert]:
        """Remind about deadlines within `remind_before_hours`, escalate past ones; each
        deadline gets at most one reminder and one escalation."""
        now = now or self._clock()
        near = timedelta(hours=self.settings.remind_before_hours)
        alerts: list[Alert] = []
        with self._db.session() as s:
            rows = s.scalars(select(ComplaintRow).where(ComplaintRow.state.in_(OPEN_STATES))
                             .order_by(ComplaintRow.received_at)
                             .with_for_update()).all()
            for row in rows:
                if urgency(now, next_deadline(row)[1], near) == "ok":
                    continue  # most rows: no need to read their events
                done = {(e.action, e.note.partition(":")[0]) for e in s.scalars(
                    select(ComplaintEventRow).where(
                        ComplaintEventRow.complaint_id == row.id,
                        ComplaintEventRow.action.in_(("reminder", "escalation"))))}
                alert = sweep_alert(row, now, near, done)
                if alert is None:
                    continue
                note = f"{alert.deadline}: due {alert.due_at.isoformat()}"
                if alert.escalated:
                    before, row.level = row.state, row.level + 1
                    self._move(s, row, "escalated", SYSTEM_ACTOR, note, event=False)
                    self._event(s, row.id, SYSTEM_ACTOR, "escalation", before, "escalated",
                                note)
                else:
                    self._event(s, row.id, SYSTEM_ACTOR, "reminder", None, None, note)
                alerts.append(alert)
        return alerts

    # -- internals ---------------------------------------------------------------------

    def _enforce(self, complaint_id: str, orders: list[EnforcementOrder],
                 actor: str) -> list[dict[str, str]]:
        if not orders:
            return []
        if self._accounts is None:
            raise errors.GovernanceError("enforcement needs the accounts service",
                                         "enforcement_unavailable", 503)
        for order in orders:  # all users must exist before any state changes
            self._accounts.user_state(order.user_id)
        applied = []
        for order in orders:
            reason = _text(f"complaint {complaint_id}: {order.reason}", "reason", 500)
            before = self._accounts.user_state(order.user_id)
            self._accounts.set_state(order.user_id, AccountState(order.state), reason, actor)
            applied.append({"user_id": order.user_id, "from_state": before.value,
                            "to_state": AccountState(order.state).value, "reason": reason,
                            "actor": actor, "at": self._clock().isoformat()})
        return applied

    def _move(self, s: Session, row: ComplaintRow, to: str, actor: str, note: str, *,
              event: bool = True) -> None:
        before = apply_move(row, to, self._clock())
        if event:
            self._event(s, row.id, actor, "transition", before, to, note)

    def _event(self, s: Session, complaint_id: str, actor: str, action: str,
               before: str | None, to: str | None, note: str) -> None:
        s.add(ComplaintEventRow(complaint_id=complaint_id, at=self._clock(), actor=actor,
                                action=action, from_state=before, to_state=to,
                                note=note[:MAX_NOTE]))

    def _match_rumors(self, complaint_id: str, text: str) -> None:
        if self._rumors is None:
            return
        verdict = self._rumors.check(text, subject_kind="report", subject_ref=complaint_id)
        if verdict.hits:
            with self._db.session() as s:
                self._row(s, complaint_id).rumor_claims = [h.claim_id for h in verdict.hits]

    def _answered(self, complaint_id: str) -> bool:
        with self._db.session(readonly=True) as s:
            return self._row(s, complaint_id).answered_at is not None

    def _by_receipt(self, s: Session, code: str) -> ComplaintRow:
        digest = self._sealer.receipt_hash(code)
        row = None if digest is None else s.scalar(
            select(ComplaintRow).where(ComplaintRow.receipt_hash == digest))
        if row is None:
            raise errors.not_found("no complaint has this receipt code", "unknown_receipt")
        return row

    @staticmethod
    def _row(s: Session, complaint_id: str, *, lock: bool = False) -> ComplaintRow:
        row = s.get(ComplaintRow, complaint_id, with_for_update=lock)
        if row is None:
            raise errors.not_found(f"no complaint {complaint_id!r}")
        return row

    @staticmethod
    def _evidence_rows(s: Session, complaint_id: str) -> list[EvidenceRow]:
        return list(s.scalars(select(EvidenceRow).where(EvidenceRow.complaint_id == complaint_id)
                              .order_by(EvidenceRow.uploaded_at, EvidenceRow.id)))

    @staticmethod
    def _events(s: Session, complaint_id: str) -> list[ComplaintEventRow]:
        return list(s.scalars(select(ComplaintEventRow).where(
            ComplaintEventRow.complaint_id == complaint_id).order_by(ComplaintEventRow.seq)))


def _actor(actor: str) -> str:
    return _text(actor, "actor", MAX_ACTOR)
