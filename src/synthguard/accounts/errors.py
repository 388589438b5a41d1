"""Errors from account administration; each message is one line for the admin CLI."""

from __future__ import annotations

from synthguard.errors import SynthGuardError


class AccountError(SynthGuardError):
    """An account operation that is not allowed or not possible (bad input, closed account)."""

    code = "account_error"


class UnknownAccount(AccountError):
    """No organisation, user or key has the given id."""

    code = "not_found"
