"""Reports to the regulator and material for inspections (Provisions Art. 10, 21).

`RegulatorReports.export(since, until, dest)` writes one signed archive (archive.py) for
the half-open range [since, until):

- `violations.jsonl`: requests the gateway blocked, review-queue decisions to block, and
  violations counted against users (ids, times, risk categories; never the texts);
- `enforcement.jsonl`: account state changes (warn, limit, suspend, close, reinstate)
  with reason and actor;
- `complaints.jsonl` / `complaint_statistics.json`: every complaint received in the
  range (no contact data, no description) and the figures: counts by kind, category
  and state, deadlines met and missed;
- `refutations.jsonl`: refuted claims added or matched, with match counts;
- `switches.jsonl`: service switches flipped (the orders carried out);
- `audit/...`: the audit log's checkpoint and proofs for the range, from an
  `AuditEvidence` (the audit log's own range export, verifiable with `synthguard audit
  verify`); without one the summary says that no log proofs are included;
- `summary.html`: the readable summary (summary.py).

Every export is itself recorded (who, when, range, digests).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.audit.export import export_archive
from synthguard.audit.service import Audit
from synthguard.governance import errors
from synthguard.governance.archive import fingerprint, public_key_text, write_archive
from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.models import ComplaintRow, ReportExportRow
from synthguard.governance.rumors import RumorLibrary
from synthguard.governance.summary import render_summary
from synthguard.governance.switches import Switches
from synthguard.identity.numbers import CHINA_TZ
from synthguard.moderation.store_models import QueueItemRow, ViolationRow
from synthguard.store import Database
from synthguard.store.models import AccountEvent, RequestRecordRow

BLOCKED = ("blocked_input", "blocked_output")


class AuditEvidence(Protocol):
    """Where the audit-log proofs of a report come from."""

    def write(self, folder: Path, since: datetime, until: datetime) -> dict[str, Any]:
        """Write proof files for [since, until) into `folder`; a summary for the manifest
        and the HTML summary (`status` "included" or why not)."""


class AuditLogEvidence:
    """The audit log's range export (its latest signed checkpoint, the entries logged in
    the range and their inclusion and consistency proofs) and the checkpoint note."""

    def __init__(self, audit: Audit) -> None:
        self._audit = audit

    def write(self, folder: Path, since: datetime, until: datetime) -> dict[str, Any]:
        latest = self._audit.checkpoints.latest()
        if latest is None:
            return {"status": "no_checkpoint", "message": "the audit log has not signed a "
                    "checkpoint yet"}
        manifest = export_archive(self._audit.checkpoints, folder / "audit-log.tar.gz",
                                  since=since, until=until)
        (folder / "checkpoint.txt").write_text(latest.note, encoding="utf-8")
        return {"status": "included", "origin": manifest["origin"],
                "verifier_key": self._audit.verifier_key, "tree_size": manifest["tree_size"],
                "first_index": manifest["first_index"], "end_index": manifest["end_index"],
                "verify_with": "synthguard audit verify audit/audit-log.tar.gz "
                               f"--key {self._audit.verifier_key}"}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: dict[str, Any]
    archive_sha256: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _jsonl(lines: Iterable[dict[str, Any]]) -> bytes:
    return b"".join((json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode()
                    for line in lines)


def complaint_statistics(rows: Iterable[ComplaintRow], calendar: WorkingCalendar,
                         now: datetime) -> dict[str, Any]:
    """Counts and deadline figures for complaints (received in the period)."""
    stats: dict[str, Any] = {"total": 0}
    kinds, categories, states = Counter[str](), Counter[str](), Counter[str]()
    met = Counter[str]()
    answer_days: list[int] = []
    for row in rows:
        stats["total"] += 1
        kinds[row.kind] += 1
        categories[row.category] += 1
        states[row.state] += 1
        for deadline, done, due in (("acknowledge", row.acknowledged_at, row.ack_due_at),
                                    ("answer", row.answered_at, row.answer_due_at)):
            if done is not None:
                met[f"{deadline}_on_time" if done < due else f"{deadline}_late"] += 1
            elif row.state != "closed" and now >= due:
                met[f"{deadline}_overdue_open"] += 1
        if row.answered_at is not None:
            answer_days.append(calendar.working_days_between(
                _china_day(row.received_at), _china_day(row.answered_at)))
    answer_days.sort()
    stats.update(by_kind=dict(sorted(kinds.items())), by_category=dict(sorted(categories.items())),
                 by_state=dict(sorted(states.items())), deadlines=dict(sorted(met.items())),
                 median_working_days_to_answer=answer_days[len(answer_days) // 2]
                 if answer_days else None)
    return stats


def _china_day(value: datetime) -> date:
    return value.astimezone(CHINA_TZ).date()


class RegulatorReports:
    def __init__(self, db: Database, key: Ed25519PrivateKey, calendar: WorkingCalendar, *,
                 rumors: RumorLibrary, switches: Switches, audit: AuditEvidence | None = None,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._key = key
        self._calendar = calendar
        self._rumors = rumors
        self._switches = switches
        self.audit = audit
        self._clock = clock

    @property
    def public_key(self) -> str:
        """The base64 Ed25519 key regulators verify archives with."""
        return public_key_text(self._key.public_key())

    @property
    def key_fingerprint(self) -> str:
        return fingerprint(self._key.public_key())

    def export(self, since: datetime, until: datetime, dest: Path, *,
               actor: str) -> ExportResult:
        if since.tzinfo is None or until.tzinfo is None or until <= since:
            raise errors.invalid("the range needs timezone-aware since < until",
                                 "invalid_range")
        actor = actor.strip()
        if not actor or len(actor) > 100:
            raise errors.invalid("actor must be 1..100 characters")
        now = self._clock()
        sections = self.collect(since, until, now)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".report.", dir=dest.parent) as work:
            audit = {"status": "not_configured",
                     "message": "no audit log was attached to this export"}
            files: dict[str, bytes | Path] = {}
            if self.audit is not None:
                folder = Path(work)
                audit = self.audit.write(folder, since, until)
                files.update({f"audit/{p.name}": p for p in sorted(folder.iterdir())})
            meta = {"period": {"since": _iso(since), "until": _iso(until)},
                    "exported_by": actor, "audit": audit,
                    "counts": {k: len(v) for k, v in sections.items() if isinstance(v, list)}}
            files.update({
                "violations.jsonl": _jsonl(sections["violations"]),
                "enforcement.jsonl": _jsonl(sections["enforcement"]),
                "complaints.jsonl": _jsonl(sections["complaints"]),
                "complaint_statistics.json": (json.dumps(sections["complaint_statistics"],
                                                         ensure_ascii=False, indent=2) + "\n"
                                              ).encode(),
                "refutations.jsonl": _jsonl(sections["refutations"]),
                "switches.jsonl": _jsonl(sections["switches"]),
                "summary.html": render_summary(meta, sections, self.key_fingerprint).encode(),
            })
            manifest = write_archive(dest, files, self._key, meta)
        with dest.open("rb") as f:
            archive_sha256 = hashlib.file_digest(f, "sha256").hexdigest()
        with self._db.session() as s:
            s.add(ReportExportRow(created_at=now, created_by=actor, since=since, until=until,
                                  archive_sha256=archive_sha256,
                                  manifest_sha256=hashlib.sha256(json.dumps(
                                      manifest, sort_keys=True).encode()).hexdigest()))
        return ExportResult(dest, manifest, archive_sha256)

    def exports(self) -> list[dict[str, Any]]:
        with self._db.session(readonly=True) as s:
            return [{"created_at": _iso(r.created_at), "created_by": r.created_by,
                     "since": _iso(r.since), "until": _iso(r.until),
                     "archive_sha256": r.archive_sha256}
                    for r in s.scalars(select(ReportExportRow).order_by(ReportExportRow.seq))]

    def collect(self, since: datetime, until: datetime, now: datetime | None = None
                ) -> dict[str, Any]:
        """The report's sections as plain data (also what the console shows)."""
        now = now or self._clock()
        with self._db.session(readonly=True) as s:
            complaints = list(s.scalars(select(ComplaintRow).where(
                ComplaintRow.received_at >= since, ComplaintRow.received_at < until)
                .order_by(ComplaintRow.received_at, ComplaintRow.id)))
            sections: dict[str, Any] = {
                "violations": self._violations(s, since, until),
                "enforcement": [
                    {"user_id": e.user_id, "at": _iso(e.at), "from_state": e.from_state,
                     "to_state": e.to_state, "reason": e.reason, "actor": e.actor}
                    for e in s.scalars(select(AccountEvent).where(
                        AccountEvent.at >= since, AccountEvent.at < until,
                        AccountEvent.from_state.is_not(None)).order_by(AccountEvent.id))],
                "complaints": [_complaint_line(c) for c in complaints],
                "complaint_statistics": complaint_statistics(complaints, self._calendar, now),
            }
        sections["refutations"] = self._rumors.report(since, until)
        sections["switches"] = [
            {"switch": c.switch, "engaged": c.engaged, "at": _iso(c.at), "actor": c.actor,
             "reason": c.reason, "order_ref": c.order_ref}
            for c in self._switches.history(since, until)]
        return sections

    @staticmethod
    def _violations(s: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for r in s.scalars(select(RequestRecordRow).where(
                RequestRecordRow.created_at >= since, RequestRecordRow.created_at < until,
                RequestRecordRow.status.in_(BLOCKED)).order_by(RequestRecordRow.seq)):
            review = (r.input_review if r.status == "blocked_input" else r.output_review) or {}
            lines.append({"source": "gateway", "at": _iso(r.created_at), "record_id": r.id,
                          "user_id": r.user_id, "org_id": r.org_id, "endpoint": r.endpoint,
                          "model": r.model, "status": r.status,
                          "risk_ids": _risks(review)})
        for q in s.scalars(select(QueueItemRow).where(
                QueueItemRow.decided_at >= since, QueueItemRow.decided_at < until,
                QueueItemRow.decision == "block").order_by(QueueItemRow.id)):
            lines.append({"source": "review_queue", "at": _iso(q.decided_at), "item_id": q.id,
                          "record_id": q.record_id, "user_id": q.user_id, "stage": q.stage,
                          "decided_by": q.decided_by, "risk_ids": _risks(q.review)})
        for v in s.scalars(select(ViolationRow).where(
                ViolationRow.at >= since, ViolationRow.at < until).order_by(ViolationRow.id)):
            lines.append({"source": "violation", "at": _iso(v.at), "user_id": v.user_id,
                          "stage": v.stage, "counted_by": v.source, "item_id": v.item_id})
        return lines


def _risks(review: dict[str, Any]) -> list[str]:
    """The categories a review names: the moderation engine's risk ids, or the rule
    reviewer's rule ids and category (the two forms request records hold)."""
    found = [*review.get("risk_ids", []), *review.get("rule_ids", [])]
    if isinstance(review.get("category"), str):
        found.append(review["category"])
    return [str(r) for r in found]


def _complaint_line(c: ComplaintRow) -> dict[str, Any]:
    return {"id": c.id, "kind": c.kind, "category": c.category, "target_kind": c.target_kind,
            "state": c.state, "level": c.level, "received_at": _iso(c.received_at),
            "acknowledge_due_at": _iso(c.ack_due_at), "acknowledged_at": _iso(c.acknowledged_at),
            "answer_due_at": _iso(c.answer_due_at), "answered_at": _iso(c.answered_at),
            "closed_at": _iso(c.closed_at), "decision": c.decision,
            "enforcement": c.enforcement or [], "rumor_claims": c.rumor_claims or []}
