"""The complaint desk on SQLite and PostgreSQL: intake, receipt codes, the state machine,
deadline clocks, reminders and escalation, enforcement, evidence, sealed contacts."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from synthguard.accounts import AccountState
from synthguard.governance.complaint_views import EnforcementOrder, Submission
from synthguard.governance.errors import GovernanceError
from synthguard.governance.models import ComplaintRow
from synthguard.governance.sealing import normalise_receipt
from synthguard.governance.service import Governance
from synthguard.governance.settings import ComplaintSettings
from tests.accounts.conftest import FakeClock
from tests.governance.helpers import PRODUCER, png

CN = timezone(timedelta(hours=8))


def report(**changes: object) -> Submission:
    values: dict[str, object] = {
        "kind": "report", "category": "missing_ai_label", "target_kind": "url",
        "target": "https://video.example/v/123", "declared_true": True,
        "description": "这段视频是人工智能生成的，但没有任何标识。",
        "contact": "reporter@example.com"}
    return Submission(**{**values, **changes})  # type: ignore[arg-type]


def test_submit_gives_a_receipt_and_deadlines(gov: Governance) -> None:
    receipt = gov.complaints.submit(report())
    assert receipt.code.startswith("SG-") and len(receipt.code) == 22
    # Received Tuesday 30 Sep 2025 15:00 China time, before the National Day week.
    assert receipt.acknowledge_due_at == datetime(2025, 10, 10, tzinfo=CN)
    assert receipt.answer_due_at == datetime(2025, 10, 15, tzinfo=CN)
    pi = gov.complaints.submit(report(category="personal_information"))
    assert pi.answer_due_at == datetime(2025, 10, 29, tzinfo=CN)  # 15 working days
    status = gov.complaints.status(receipt.code.lower().replace("-", " "))
    assert status.state == "received" and status.category == "missing_ai_label"
    assert [s.state for s in status.steps] == ["received"]
    with gov.database.session(readonly=True) as s:
        rows = s.scalars(select(ComplaintRow)).all()
    # Neither the code nor the contact is stored in clear; the contact shows masked.
    assert all(receipt.code[3:] not in (r.receipt_hash + r.id) for r in rows)
    assert all(b"reporter@example.com" not in (r.contact_sealed or b"") for r in rows)
    assert gov.complaints.get(rows[0].id).contact_masked == "r***@example.com"


def test_receipt_codes_are_unguessable_and_typos_are_forgiven(gov: Governance) -> None:
    code = gov.complaints.submit(report()).code
    typed = code.replace("0", "O").replace("1", "l")  # read aloud, typed back
    assert gov.complaints.status(typed).state == "received"
    assert gov.complaints.status(code[3:]).state == "received"  # without the prefix
    for wrong in ("SG-0000-0000-0000-0000", "nonsense", "", code[:-1]):
        with pytest.raises(GovernanceError) as caught:
            gov.complaints.status(wrong)
        assert caught.value.status == 404
    assert len({gov.complaints.submit(report()).code for _ in range(20)}) == 20
    # A body that itself starts with "SG" still reads with or without the prefix.
    assert normalise_receipt("sgab-cdef-ghjk-mnpq") == "SGABCDEFGHJKMNPQ"
    assert normalise_receipt("SG-SGAB-CDEF-GHJK-MNPQ") == "SGABCDEFGHJKMNPQ"
    assert normalise_receipt("SG-SGAB-CDEF-GHJK-MNP") is None


@pytest.mark.parametrize("changes, code", [
    ({"kind": "appeal"}, "login_required"),
    ({"declared_true": False}, "declaration_required"),
    ({"target": "ftp://x/y"}, "invalid_target"),
    ({"target_kind": "produce_id", "target": "a\nb"}, "invalid_target"),
    ({"description": "   "}, "invalid_request"),
    ({"category": "gossip"}, "invalid_request"),
    ({"contact": "a\r\nBcc: x"}, "invalid_contact"),
])
def test_bad_submissions_are_refused(gov: Governance, changes: dict[str, object],
                                     code: str) -> None:
    with pytest.raises(GovernanceError) as caught:
        gov.complaints.submit(report(**changes))
    assert caught.value.code == code


def test_state_machine_records_every_step(gov: Governance, clock: FakeClock) -> None:
    gov.complaints.submit(report())
    complaint_id = gov.complaints.find()[0].id
    clock.advance(hours=1)
    gov.complaints.transition(complaint_id, "acknowledged", actor="handler-1",
                              assignee="handler-1")
    with pytest.raises(GovernanceError, match="use answer"):
        gov.complaints.transition(complaint_id, "answered", actor="handler-1")
    with pytest.raises(GovernanceError, match="cannot go from acknowledged to received"):
        gov.complaints.transition(complaint_id, "received", actor="handler-1")
    gov.complaints.transition(complaint_id, "in_review", actor="handler-1", note="checking")
    gov.complaints.answer(complaint_id, "upheld", "已为该视频补充标识。", actor="handler-1")
    with pytest.raises(GovernanceError, match="cannot be answered"):
        gov.complaints.answer(complaint_id, "rejected", "again", actor="handler-1")
    gov.complaints.transition(complaint_id, "closed", actor="handler-1")
    done = gov.complaints.get(complaint_id)
    assert done.state == "closed" and done.assignee == "handler-1"
    assert done.acknowledged_at == clock.now and done.decision == "upheld"
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in done.events] == [
        ("created", None, "received", "reporter"),
        ("transition", "received", "acknowledged", "handler-1"),
        ("transition", "acknowledged", "in_review", "handler-1"),
        ("transition", "in_review", "answered", "handler-1"),
        ("transition", "answered", "closed", "handler-1")]
    with pytest.raises(GovernanceError, match="cannot go from closed"):
        gov.complaints.transition(complaint_id, "in_review", actor="handler-1")


def test_closing_unanswered_needs_a_reason(gov: Governance) -> None:
    gov.complaints.submit(report())
    complaint_id = gov.complaints.find()[0].id
    with pytest.raises(GovernanceError, match="needs a note"):
        gov.complaints.transition(complaint_id, "closed", actor="h")
    closed = gov.complaints.transition(complaint_id, "closed", actor="h", note="duplicate")
    assert closed.closed_at is not None and closed.answered_at is None


def test_answer_applies_enforcement_through_accounts(gov: Governance, user_id: str) -> None:
    gov.complaints.submit(report(target_kind="account", target=user_id))
    complaint_id = gov.complaints.find()[0].id
    with pytest.raises(Exception, match="no user"):
        gov.complaints.answer(complaint_id, "upheld", "ok", actor="h", enforcement=[
            EnforcementOrder("usr_missing", AccountState.WARNED, "x")])
    assert gov.accounts.user_state(user_id) == AccountState.ACTIVE  # nothing applied
    answered = gov.complaints.answer(complaint_id, "upheld", "已警告发布者。", actor="handler-2",
                                     enforcement=[EnforcementOrder(
                                         user_id, AccountState.WARNED, "unlabelled AI video")])
    assert gov.accounts.user_state(user_id) == AccountState.WARNED
    event = gov.accounts.describe_user(user_id).history[-1]
    assert event.actor == "handler-2" and complaint_id in event.reason
    assert answered.enforcement[0]["from_state"] == "active"
    assert answered.enforcement[0]["to_state"] == "warned"
    assert [e.action for e in answered.events][-2:] == ["enforcement", "transition"]


def test_appeal_from_a_signed_in_account(gov: Governance, user_id: str) -> None:
    receipt = gov.complaints.submit(report(kind="appeal", category="other",
                                           target_kind="account", target=user_id,
                                           reporter_user_id=user_id, contact=None))
    status = gov.complaints.status(receipt.code)
    assert status.kind == "appeal"
    complaint = gov.complaints.find()[0]
    assert complaint.reporter_user_id == user_id and complaint.contact_masked is None
    assert gov.complaints.reveal_contact(complaint.id, actor="h") is None


def test_reveal_contact_is_recorded(gov: Governance) -> None:
    gov.complaints.submit(report(contact="+86 138 0013 8000"))
    complaint = gov.complaints.find()[0]
    assert complaint.contact_masked == "861****8000"
    assert gov.complaints.reveal_contact(complaint.id, actor="handler-3") == "+86 138 0013 8000"
    assert gov.complaints.get(complaint.id).events[-1].action == "contact_viewed"


def test_sweep_reminds_then_escalates_once_per_deadline(gov: Governance,
                                                        clock: FakeClock) -> None:
    gov.complaints.submit(report())
    complaint_id = gov.complaints.find()[0].id
    assert gov.complaints.sweep() == []
    clock.now = datetime(2025, 10, 9, 8, 0, tzinfo=CN)  # ack due before 10 Oct 00:00
    alerts = gov.complaints.sweep()
    assert [(a.deadline, a.urgency, a.escalated) for a in alerts] == [
        ("acknowledge", "near", False)]
    assert gov.complaints.sweep() == []  # one reminder per deadline
    assert gov.complaints.queue()[0].urgency == "near"
    clock.now = datetime(2025, 10, 10, 0, 0, tzinfo=CN)
    alerts = gov.complaints.sweep()
    assert [(a.deadline, a.urgency, a.escalated) for a in alerts] == [
        ("acknowledge", "overdue", True)]
    assert gov.complaints.sweep() == []
    item = gov.complaints.get(complaint_id)
    assert item.state == "escalated" and item.level == 1
    gov.complaints.transition(complaint_id, "in_review", actor="senior")
    clock.now = datetime(2025, 10, 15, 0, 0, tzinfo=CN)  # answer overdue
    alerts = gov.complaints.sweep()
    assert [(a.deadline, a.urgency) for a in alerts] == [("answer", "overdue")]
    item = gov.complaints.get(complaint_id)
    assert item.state == "escalated" and item.level == 2
    assert [e.actor for e in item.events if e.action in ("reminder", "escalation")] == [
        "system"] * 3
    queue = gov.complaints.queue()
    assert queue[0].urgency == "overdue" and queue[0].working_days_left == -1


def test_queue_puts_the_most_urgent_first(gov: Governance, clock: FakeClock) -> None:
    gov.complaints.submit(report(category="personal_information"))
    clock.advance(hours=2)
    gov.complaints.submit(report())
    first, second = gov.complaints.queue()
    assert first.deadline == second.deadline == "acknowledge" and first.due_at == second.due_at
    for entry in (first, second):
        gov.complaints.transition(entry.id, "acknowledged", actor="h")
    answer_first = gov.complaints.queue()
    assert [e.category for e in answer_first] == ["missing_ai_label", "personal_information"]
    assert answer_first[0].working_days_left == 5 and answer_first[1].working_days_left == 15


def test_evidence_is_typed_limited_and_scanned(gov: Governance, clock: FakeClock,
                                               tmp_path: Path) -> None:
    code = gov.complaints.submit(report()).code
    plain = gov.complaints.add_evidence(code, "../../etc/screenshot.png",
                                        png(tmp_path, labelled=False))
    clock.advance(seconds=1)
    assert plain.filename == "screenshot.png" and plain.format == "png"
    assert plain.label_verdict == "not_found" and "path" not in plain.scan
    labelled = gov.complaints.add_evidence(code, "x.bin", png(tmp_path, labelled=True))
    assert labelled.format == "png" and labelled.label_verdict == "compliant"
    assert labelled.scan["sites"][0]["fields"]["ContentProducer"] == PRODUCER
    for data, status in ((b"PK\x03\x04" + bytes(60), 415), (b"", 422)):
        with pytest.raises(GovernanceError) as caught:
            gov.complaints.add_evidence(code, "a.zip", data)
        assert caught.value.status == status
    status = gov.complaints.status(code)
    assert [(e.filename, e.label_verdict) for e in status.evidence] == [
        ("screenshot.png", "not_found"), ("x.bin", "compliant")]
    stored, path = gov.complaints.evidence_path(plain.id)
    assert Path(path).read_bytes() == png(tmp_path, labelled=False) and stored == plain


def test_evidence_limits(gov: Governance, tmp_path: Path) -> None:
    gov.complaints.settings = ComplaintSettings(evidence_dir=tmp_path / "e",
                                                max_evidence_bytes=1000,
                                                max_evidence_files=1,
                                                evidence_formats=("jpeg",))
    code = gov.complaints.submit(report()).code
    with pytest.raises(GovernanceError) as caught:
        gov.complaints.add_evidence(code, "a.png", png(tmp_path, labelled=False))
    assert caught.value.status == 415 and "png files are not accepted" in str(caught.value)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    gov.complaints.add_evidence(code, "a.jpg", buffer.getvalue())
    with pytest.raises(GovernanceError, match="at most 1"):
        gov.complaints.add_evidence(code, "b.jpg", buffer.getvalue())
    with pytest.raises(GovernanceError) as caught:
        gov.complaints.add_evidence(gov.complaints.submit(report()).code, "c.jpg",
                                    buffer.getvalue() + bytes(1000))
    assert caught.value.status == 413


def test_rumor_reports_are_matched_against_the_library(gov: Governance) -> None:
    claim = gov.rumors.add("某市自来水厂被投毒，全市停水三天", "经核实，该市供水正常。",
                           sources=["某市水务局"], refuted_on=datetime(2025, 9, 1).date(),
                           actor="reviewer")
    gov.complaints.submit(report(category="rumor",
                                 description="网上说某市自来水厂被投毒了，全市要停水三天"))
    complaint = gov.complaints.find()[0]
    assert complaint.rumor_claims == (claim.id,)
    match = gov.rumors.matches()[0]
    assert (match.subject_kind, match.subject_ref) == ("report", complaint.id)


def test_unknown_ids(gov: Governance) -> None:
    for call in (lambda: gov.complaints.get("cmp_x"),
                 lambda: gov.complaints.transition("cmp_x", "closed", actor="h", note="n"),
                 lambda: gov.complaints.evidence_path("evd_x")):
        with pytest.raises(GovernanceError) as caught:
            call()
        assert caught.value.status == 404
    assert gov.complaints.queue(datetime(2030, 1, 1, tzinfo=UTC)) == []
