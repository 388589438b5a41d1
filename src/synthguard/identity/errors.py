"""Errors of the identity and consent services. Each carries a stable `code` and the HTTP
status it maps to; messages are one line and never quote personal data."""

from __future__ import annotations

from synthguard.errors import SynthGuardError


class IdentityError(SynthGuardError):
    """A refused identity or consent operation."""

    code = "identity_error"

    def __init__(self, message: str, code: str, status: int = 400, *,
                 retry_after_s: int | None = None, reason: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after_s = retry_after_s
        self.reason = reason  # the rule a rejected number broke (numbers.Rejection.code)
        self.param = param  # the request field at fault, when one is


def invalid(code: str, message: str, *, reason: str | None = None) -> IdentityError:
    return IdentityError(message, code, 422, reason=reason)


def not_found(code: str, message: str) -> IdentityError:
    return IdentityError(message, code, 404)


def conflict(code: str, message: str) -> IdentityError:
    return IdentityError(message, code, 409)


def forbidden(code: str, message: str) -> IdentityError:
    return IdentityError(message, code, 403)


def throttled(message: str, retry_after_s: int) -> IdentityError:
    return IdentityError(message, "too_many_requests", 429, retry_after_s=max(1, retry_after_s))


def unavailable(code: str, message: str) -> IdentityError:
    return IdentityError(message, code, 503)
