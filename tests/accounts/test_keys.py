"""API keys: shown once, hashed at rest, scoped, revocable at once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

import pytest
from sqlalchemy import text

from synthguard.accounts import AccountError, Accounts, AccountState, UnknownAccount
from synthguard.config import Config
from synthguard.store import Database
from synthguard.store.models import Base
from tests.accounts.conftest import SECRET


def test_issue_and_authenticate(accounts: Accounts, user_id: str) -> None:
    key_id, plaintext = accounts.issue_key(user_id, ["chat"], rate_limit_per_min=7)
    assert re.fullmatch(r"sg-[A-Za-z0-9_-]{32}", plaintext)
    assert key_id not in plaintext
    ctx = accounts.authenticate(plaintext)
    assert ctx is not None
    assert (ctx.key_id, ctx.user_id, ctx.scopes, ctx.rate_limit_per_min) == (
        key_id, user_id, frozenset({"chat"}), 7)
    assert ctx.user_state == AccountState.ACTIVE and not ctx.verified
    assert ctx.org_id.startswith("org_")
    assert ctx.allows("chat") and not ctx.allows("images")


def test_default_scopes_and_verification_show_in_the_context(accounts: Accounts,
                                                             user_id: str) -> None:
    _, plaintext = accounts.issue_key(user_id)
    accounts.mark_verified(user_id, "admin", "ticket-42")
    ctx = accounts.authenticate(plaintext)
    assert ctx is not None and ctx.verified
    assert ctx.scopes == frozenset({"chat", "images", "audio"})
    assert ctx.rate_limit_per_min == 60


def _all_rows_as_text(db: Database) -> str:
    with db.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in Base.metadata.sorted_tables
                         for row in conn.execute(text(f'SELECT * FROM "{table.name}"')))


def test_keys_are_stored_only_as_keyed_hashes(accounts: Accounts, database: Database,
                                              user_id: str) -> None:
    plaintexts = [accounts.issue_key(user_id)[1] for _ in range(3)]
    dump = _all_rows_as_text(database)
    for plaintext in plaintexts:
        assert plaintext[3:] not in dump and plaintext[3:19] not in dump
        expected = hmac.new(SECRET, plaintext.encode(), hashlib.sha256).hexdigest()
        assert expected in dump
        assert hashlib.sha256(plaintext.encode()).hexdigest() not in dump  # keyed, not bare


def test_a_different_server_secret_accepts_no_key(database: Database, user_id: str,
                                                   accounts: Accounts) -> None:
    _, plaintext = accounts.issue_key(user_id)
    other = Accounts(database, Config(secret=b"\x01" * 32, producer_code=""))
    assert other.authenticate(plaintext) is None


def test_wrong_keys_are_refused(accounts: Accounts, user_id: str) -> None:
    _, plaintext = accounts.issue_key(user_id)
    flipped = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    for attempt in ("", "sg-", "sk-" + plaintext[3:], plaintext[:-1], plaintext + "a",
                    "sg-" + "!" * 32, "sg-" + "a" * 32, flipped, f"Bearer {plaintext}",
                    plaintext.upper(), f" {plaintext}"):
        assert accounts.authenticate(attempt) is None, attempt
    assert accounts.authenticate(plaintext) is not None


def test_revocation_is_immediate_and_keeps_the_first_record(accounts: Accounts,
                                                            user_id: str) -> None:
    key_id, plaintext = accounts.issue_key(user_id)
    other_id, other = accounts.issue_key(user_id)
    accounts.revoke_key(key_id, "admin:ops")
    assert accounts.authenticate(plaintext) is None
    assert accounts.authenticate(other) is not None  # only that key
    accounts.revoke_key(key_id, "admin:someone-else")
    keys = {k.key_id: k for k in accounts.describe_user(user_id).keys}
    assert keys[key_id].revoked_by == "admin:ops" and keys[key_id].revoked_at is not None
    assert keys[other_id].revoked_at is None
    with pytest.raises(UnknownAccount, match="no key 'key_nope'"):
        accounts.revoke_key("key_nope", "admin")


def test_state_travels_with_the_key(accounts: Accounts, user_id: str) -> None:
    _, plaintext = accounts.issue_key(user_id)
    accounts.set_state(user_id, AccountState.SUSPENDED, "abuse report", "admin:ops")
    ctx = accounts.authenticate(plaintext)
    assert ctx is not None and ctx.user_state == AccountState.SUSPENDED


@pytest.mark.parametrize("scopes, rate, message", [
    ([], 60, "at least one scope"),
    (["Chat"], 60, "scope 'Chat'"),
    (["chat", "a b"], 60, "scope 'a b'"),
    (["chat"], 0, "rate limit must be 1.."),
    (["chat"], 10**9, "rate limit must be 1.."),
])
def test_bad_key_requests(accounts: Accounts, user_id: str, scopes: list[str], rate: int,
                          message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.issue_key(user_id, scopes, rate)


def test_no_keys_for_unknown_or_closed_users(accounts: Accounts, user_id: str) -> None:
    with pytest.raises(UnknownAccount):
        accounts.issue_key("usr_nope")
    accounts.set_state(user_id, AccountState.CLOSED, "user asked", "admin:ops")
    with pytest.raises(AccountError, match="closed"):
        accounts.issue_key(user_id)



def test_logs_carry_ids_but_no_keys_names_or_reasons(accounts: Accounts,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = accounts.create_user(accounts.create_org("Acme Secret Org"), "Wang Xiaoming")
    key_id, plaintext = accounts.issue_key(user)
    accounts.mark_verified(user, "admin", "passport-E1234567")
    accounts.set_state(user, AccountState.WARNED, "complaint from Zhao Liu", "admin:ops")
    for _ in range(3):
        accounts.note_input_decision(user, blocked=True)
    accounts.revoke_key(key_id, "admin:ops")
    assert accounts.authenticate(plaintext) is None
    events = {getattr(r, "event", None) for r in caplog.records}
    assert {"key_issued", "user_verified", "account_state", "key_revoked"} <= events
    dump = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert user in dump and key_id in dump
    for secret in (plaintext, plaintext[3:], "Wang Xiaoming", "Acme Secret Org",
                   "passport-E1234567", "Zhao Liu"):
        assert secret not in dump
