"""Errors of the governance services. Each carries a stable `code` and the HTTP status
it maps to; messages are one line and never quote a reporter's contact data."""

from __future__ import annotations

from synthguard.errors import SynthGuardError


class GovernanceError(SynthGuardError):
    """A refused governance operation (bad input, wrong state, unknown item)."""

    code = "governance_error"

    def __init__(self, message: str, code: str = "invalid_request", status: int = 422, *,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after_s = retry_after_s


def invalid(message: str, code: str = "invalid_request") -> GovernanceError:
    return GovernanceError(message, code, 422)


def not_found(message: str, code: str = "not_found") -> GovernanceError:
    return GovernanceError(message, code, 404)


def conflict(message: str, code: str = "conflict") -> GovernanceError:
    return GovernanceError(message, code, 409)
