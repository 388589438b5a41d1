"""The regulator export over a real database: every section holds what happened in the
period and nothing outside it, the archive verifies with the published key, and the
audit log's own range export inside it verifies with the audit verifier."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from synthguard.accounts import AccountState, Records, RequestRecord
from synthguard.accounts.records import new_record_id
from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit, AuditSettings
from synthguard.audit.verify import verify_archive as verify_audit_archive
from synthguard.governance.archive import parse_public_key, verify_archive
from synthguard.governance.complaint_views import EnforcementOrder, Submission
from synthguard.governance.errors import GovernanceError
from synthguard.governance.reports import AuditLogEvidence
from synthguard.governance.service import Governance
from synthguard.moderation.engine import Review
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database
from tests.accounts.conftest import FakeClock, make_config

ORIGIN = "governance.test.example/audit"
SIGNER = NoteSigner(ORIGIN, bytes(range(50, 82)))


def _record(at: datetime, status: str, user_id: str) -> RequestRecord:
    return RequestRecord(
        id=new_record_id(), created_at=at, org_id="org_a", user_id=user_id, key_id="key_a",
        endpoint="/v1/chat/completions", model="synthguard-demo", status=status,
        input_digest="0" * 64, output_digest=None,
        input_review={"decision": "blocked", "rule_ids": ["R-007"], "category": "fraud"},
        output_review=None, labels=None, enforcement=None, error_code=None, overhead_ms=1.0)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                if m.isfile()}


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def _seed(gov: Governance, database: Database, clock: FakeClock, user_id: str) -> None:
    records = Records(database)
    before = clock.now - timedelta(days=3)
    records.write(_record(before, "blocked_input", user_id))  # outside the period
    records.write(_record(clock.now, "blocked_input", user_id))
    records.write(_record(clock.now, "ok", user_id))
    store = ModerationStore(database, clock=clock)
    review = Review("review", (), "output", "r1", "0" * 64, user_id=user_id)
    item = store.enqueue(review, "可疑输出")
    store.claim(item, actor="reviewer-1")
    store.decide(item, "block", actor="reviewer-1")
    code = gov.complaints.submit(Submission(
        "report", "missing_ai_label", "produce_id", "0190aa00bb", "没有标识的AI视频", True,
        contact="someone@example.com")).code
    complaint_id = gov.complaints.find()[0].id
    clock.advance(hours=2)
    gov.complaints.answer(complaint_id, "upheld", "已处理", actor="handler-1", enforcement=[
        EnforcementOrder(user_id, AccountState.WARNED, "发布未标识内容")])
    assert code
    gov.rumors.add("某市自来水厂被投毒，全市停水三天", "经核实，该市供水正常。", sources=["水务局"],
                   refuted_on=date(2025, 9, 1), actor="reviewer-1")
    gov.rumors.check("紧急：某市自来水厂被投毒，全市停水三天", subject_kind="output")
    gov.switches.engage("generation", reason="<script>alert(1)</script> 暂停", order_ref="令-1",
                        actor="admin")


def test_export_holds_the_period_and_verifies(gov: Governance, database: Database,
                                              clock: FakeClock, user_id: str,
                                              tmp_path: Path) -> None:
    _seed(gov, database, clock, user_id)
    audit = Audit(database, make_config(), AuditSettings(origin=ORIGIN, signer=SIGNER))
    audit.catch_up(Records(database))
    gov.reports.audit = AuditLogEvidence(audit)
    since = clock.now - timedelta(days=1)
    until = datetime.now(UTC) + timedelta(days=1)  # the audit log stamps real time
    result = gov.reports.export(since, until, tmp_path / "out" / "report.tar.gz",
                                actor="auditor-1")
    check = verify_archive(result.path, parse_public_key(gov.reports.public_key))
    assert check.ok, check.problems
    members = _members(result.path)
    assert set(members) == {"manifest.json", "manifest.sig", "violations.jsonl",
                            "enforcement.jsonl", "complaints.jsonl", "complaint_statistics.json",
                            "refutations.jsonl", "switches.jsonl", "summary.html",
                            "audit/audit-log.tar.gz", "audit/checkpoint.txt"}
    violations = _lines(members["violations.jsonl"])
    assert [v["source"] for v in violations] == ["gateway", "review_queue", "violation"]
    assert violations[0]["risk_ids"] == ["R-007", "fraud"]
    enforcement = _lines(members["enforcement.jsonl"])
    assert [(e["from_state"], e["to_state"], e["actor"]) for e in enforcement] == [
        ("active", "warned", "handler-1")]
    complaints = _lines(members["complaints.jsonl"])
    assert complaints[0]["decision"] == "upheld" and "description" not in complaints[0]
    assert b"someone@example.com" not in b"".join(members.values())
    stats = json.loads(members["complaint_statistics.json"])
    assert stats["total"] == 1 and stats["deadlines"] == {"acknowledge_on_time": 1,
                                                           "answer_on_time": 1}
    assert stats["median_working_days_to_answer"] == 0
    assert _lines(members["refutations.jsonl"])[0]["by_action"] == {"notice": 1}
    assert _lines(members["switches.jsonl"])[0]["order_ref"] == "令-1"
    summary = members["summary.html"].decode()
    assert "<script>alert" not in summary and "&lt;script&gt;" in summary
    assert gov.reports.key_fingerprint in summary
    manifest = json.loads(members["manifest.json"])
    assert manifest["audit"]["status"] == "included" and manifest["exported_by"] == "auditor-1"
    assert manifest["counts"]["violations"] == 3
    # The audit log's export inside verifies on its own, with the log's key.
    inner = tmp_path / "audit-log.tar.gz"
    inner.write_bytes(members["audit/audit-log.tar.gz"])
    report = verify_audit_archive(inner, audit.checkpoints.verifier)
    assert report.ok and report.entries == 3
    assert members["audit/checkpoint.txt"].decode().startswith(ORIGIN)
    assert [e["created_by"] for e in gov.reports.exports()] == ["auditor-1"]


def test_export_without_audit_says_so(gov: Governance, clock: FakeClock,
                                      tmp_path: Path) -> None:
    result = gov.reports.export(clock.now - timedelta(days=1), clock.now, tmp_path / "r.tar.gz",
                                actor="auditor-1")
    members = _members(result.path)
    manifest = json.loads(members["manifest.json"])
    assert manifest["audit"]["status"] == "not_configured"
    assert not any(name.startswith("audit/") for name in members)
    assert json.loads(members["complaint_statistics.json"])["total"] == 0
    assert "no audit log was attached" in members["summary.html"].decode()


def test_audit_without_checkpoint(gov: Governance, database: Database, clock: FakeClock,
                                  tmp_path: Path) -> None:
    audit = Audit(database, make_config(), AuditSettings(origin=ORIGIN, signer=SIGNER))
    gov.reports.audit = AuditLogEvidence(audit)
    result = gov.reports.export(clock.now - timedelta(days=1), clock.now, tmp_path / "r.tar.gz",
                                actor="auditor-1")
    manifest = json.loads(_members(result.path)["manifest.json"])
    assert manifest["audit"]["status"] == "no_checkpoint"


def test_bad_ranges(gov: Governance, clock: FakeClock, tmp_path: Path) -> None:
    for since, until in ((clock.now, clock.now), (clock.now.replace(tzinfo=None), clock.now)):
        with pytest.raises(GovernanceError) as caught:
            gov.reports.export(since, until, tmp_path / "r.tar.gz", actor="a")
        assert caught.value.code == "invalid_range"
    assert not (tmp_path / "r.tar.gz").exists()
