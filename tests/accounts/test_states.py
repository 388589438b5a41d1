"""Account states: every transition recorded with reason and actor; closed stays closed
unless an admin explicitly reopens it."""

from __future__ import annotations

import pytest

from synthguard.accounts import AccountError, Accounts, AccountState, UnknownAccount
from synthguard.accounts.service import parse_state
from tests.accounts.conftest import FakeClock

STATES = list(AccountState)


def test_every_transition_is_recorded(accounts: Accounts, clock: FakeClock) -> None:
    org = accounts.create_org("Acme")
    for start in STATES:
        for target in STATES:
            user = accounts.create_user(org, f"{start}-{target}", actor="admin:setup")
            if start != AccountState.ACTIVE:
                accounts.set_state(user, start, f"to {start}", "admin:setup")
            clock.advance(seconds=1)
            accounts.set_state(user, target, f"because {target}", f"admin:{start}",
                               reopen=start == AccountState.CLOSED)
            assert accounts.user_state(user) == target
            history = accounts.describe_user(user).history
            assert history[0].from_state is None and history[0].to_state == AccountState.ACTIVE
            assert history[0].actor == "admin:setup" and history[0].reason == "account created"
            last = history[-1]
            assert (last.from_state, last.to_state, last.reason, last.actor, last.at) == (
                start, target, f"because {target}", f"admin:{start}", clock.now)


@pytest.mark.parametrize("target", [s for s in STATES if s != AccountState.CLOSED])
def test_closed_needs_an_explicit_admin_reopen(accounts: Accounts, user_id: str,
                                               target: AccountState) -> None:
    accounts.set_state(user_id, AccountState.CLOSED, "contract ended", "admin:ops")
    with pytest.raises(AccountError, match="closed; reopening needs an explicit admin reopen"):
        accounts.set_state(user_id, target, "oops", "admin:ops")
    with pytest.raises(AccountError, match="explicit admin reopen"):
        accounts.set_state(user_id, target, "automation", "system", reopen=True)
    assert accounts.user_state(user_id) == AccountState.CLOSED
    assert len(accounts.describe_user(user_id).history) == 2  # refused changes leave no trace
    accounts.set_state(user_id, target, "new contract", "admin:ops", reopen=True)
    assert accounts.user_state(user_id) == target


@pytest.mark.parametrize("reason, actor, message", [
    ("", "admin", "reason must not be empty"),
    ("   ", "admin", "reason must not be empty"),
    ("x" * 501, "admin", "reason is 501 characters"),
    ("ok", "", "actor must not be empty"),
])
def test_reason_and_actor_are_required(accounts: Accounts, user_id: str, reason: str,
                                       actor: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.set_state(user_id, AccountState.WARNED, reason, actor)
    assert accounts.user_state(user_id) == AccountState.ACTIVE


def test_states_parse_from_text() -> None:
    assert parse_state(" Suspended ") == AccountState.SUSPENDED
    with pytest.raises(AccountError, match="unknown account state 'frozen'"):
        parse_state("frozen")


def test_unknown_ids(accounts: Accounts) -> None:
    with pytest.raises(UnknownAccount, match="no organisation"):
        accounts.create_user("org_nope", "x")
    for call in (lambda: accounts.user_state("usr_nope"),
                 lambda: accounts.set_state("usr_nope", AccountState.WARNED, "r", "a"),
                 lambda: accounts.describe_user("usr_nope"),
                 lambda: accounts.mark_verified("usr_nope", "admin", "e")):
        with pytest.raises(UnknownAccount, match="no user 'usr_nope'"):
            call()


def test_names_are_checked(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="organisation name must not be empty"):
        accounts.create_org(" ")
    org = accounts.create_org("  Acme  ")
    with pytest.raises(AccountError, match="user name is 201 characters"):
        accounts.create_user(org, "x" * 201)


def test_verification_is_recorded(accounts: Accounts, user_id: str, clock: FakeClock) -> None:
    accounts.mark_verified(user_id, "admin", "ticket-7")
    info = accounts.describe_user(user_id)
    assert (info.verified, info.verification_method, info.verification_evidence,
            info.verified_at) == (True, "admin", "ticket-7", clock.now)
