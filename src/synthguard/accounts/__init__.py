"""Accounts: organisations, users, API keys, account states, enforcement, request records.

The admin CLI lives in `synthguard.accounts.cli` and is imported only by the CLI.
"""

from synthguard.accounts.errors import AccountError, UnknownAccount
from synthguard.accounts.ratelimit import RateDecision, RateLimiter
from synthguard.accounts.records import Records, RequestRecord, canonical_digest
from synthguard.accounts.service import (
    Accounts,
    AccountState,
    KeyContext,
    KeyInfo,
    StateChange,
    UserInfo,
    parse_state,
)

__all__ = [
    "AccountError",
    "AccountState",
    "Accounts",
    "KeyContext",
    "KeyInfo",
    "RateDecision",
    "RateLimiter",
    "Records",
    "RequestRecord",
    "StateChange",
    "UnknownAccount",
    "UserInfo",
    "canonical_digest",
    "parse_state",
]
