"""The audit log's errors (kept apart so the standalone verifier imports no database code)."""

from __future__ import annotations

from synthguard.errors import SynthGuardError


class AuditError(SynthGuardError):
    code = "audit_error"


class UnknownRecord(AuditError):
    code = "unknown_record"


class CheckpointError(AuditError):
    """A checkpoint is malformed, unsigned, or for another log."""

    code = "checkpoint_error"


class AuditAlarm(AuditError):
    """The stored log disagrees with what was already signed: tampering or corruption."""

    code = "audit_alarm"
