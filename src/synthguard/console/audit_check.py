"""Audit verification from the console: export the whole live log to a temporary
archive and run the standalone verifier on it with the log's public key only, exactly
what `synthguard audit export` then `synthguard audit verify --key` do. Nothing is
written to the database (auditors are read-only): records not yet ingested or signed
are reported as such, not logged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from synthguard.audit.export import export_archive
from synthguard.audit.note import NoteVerifier
from synthguard.audit.service import Audit
from synthguard.audit.verify import Finding, VerifyReport, verify_archive
from synthguard.errors import SynthGuardError


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    summary: str
    entries: int
    tree_size: int
    log_size: int
    findings: tuple[Finding, ...]
    first_bad: Finding | None
    problem: str | None = None  # the export itself failed (e.g. nothing signed yet)


def verify_live_log(audit: Audit) -> AuditCheck:
    size = audit.log.size()
    verifier = NoteVerifier.parse(audit.verifier_key)
    with tempfile.TemporaryDirectory(prefix="synthguard-audit-check-") as work:
        archive = Path(work) / "audit.tar.gz"
        try:
            export_archive(audit.checkpoints, archive)
            report: VerifyReport = verify_archive(archive, verifier)
        except SynthGuardError as exc:  # nothing signed yet, or the export is unreadable
            return AuditCheck(False, str(exc), 0, 0, size, (), None, problem=str(exc))
    return AuditCheck(report.ok, report.summary(), report.entries, report.tree_size, size,
                      tuple(report.findings), report.first_bad)
