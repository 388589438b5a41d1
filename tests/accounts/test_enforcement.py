"""The automatic rule: N consecutive blocked inputs, or M in any 24 hours, suspend."""

from __future__ import annotations

import threading

import pytest

from synthguard.accounts import Accounts, AccountState, UnknownAccount
from synthguard.store import Database
from tests.accounts.conftest import FakeClock, make_config

ACTIVE, SUSPENDED = AccountState.ACTIVE, AccountState.SUSPENDED


def feed(accounts: Accounts, user: str, decisions: str) -> list[AccountState]:
    """'B' a blocked input, 'P' a passed one; the state after each."""
    return [accounts.note_input_decision(user, blocked=d == "B") for d in decisions]


def test_three_consecutive_blocked_inputs_suspend(accounts: Accounts, user_id: str,
                                                  clock: FakeClock) -> None:
    assert feed(accounts, user_id, "BBB") == [ACTIVE, ACTIVE, SUSPENDED]
    last = accounts.describe_user(user_id).history[-1]
    assert (last.from_state, last.to_state, last.actor, last.at) == (
        ACTIVE, SUSPENDED, "system", clock.now)
    assert last.reason == "automatic rule: 3 consecutive blocked inputs (limit 3)"


def test_a_passed_input_resets_the_streak(accounts: Accounts, user_id: str) -> None:
    assert feed(accounts, user_id, "BBPBBP") == [ACTIVE] * 6
    assert len(accounts.describe_user(user_id).history) == 1


def test_five_blocked_in_a_day_suspend(accounts: Accounts, user_id: str,
                                       clock: FakeClock) -> None:
    states = []
    for d in "BBPBBPB":
        clock.advance(hours=3)
        states.append(accounts.note_input_decision(user_id, blocked=d == "B"))
    assert states == [ACTIVE] * 6 + [SUSPENDED]
    last = accounts.describe_user(user_id).history[-1]
    assert last.actor == "system"
    assert last.reason == "automatic rule: 5 blocked inputs within 24 hours (limit 5)"


def test_the_day_is_any_24_hours(accounts: Accounts, user_id: str, clock: FakeClock) -> None:
    assert feed(accounts, user_id, "BBPBBP") == [ACTIVE] * 6
    clock.advance(hours=24)  # the four blocked inputs fall out of the window
    assert feed(accounts, user_id, "BBPBBP") == [ACTIVE] * 6
    clock.advance(hours=23)  # ... but these four are still in it
    assert feed(accounts, user_id, "B") == [SUSPENDED]


@pytest.mark.parametrize("consecutive, per_day, decisions, expected_last", [
    (2, 5, "BB", SUSPENDED),
    (0, 5, "BBBB", ACTIVE),        # streak rule off
    (0, 5, "BBBBB", SUSPENDED),    # per-day rule still on
    (3, 0, "BBPBBPBBP", ACTIVE),   # per-day rule off
    (0, 0, "B" * 20, ACTIVE),      # both off
    (10, 2, "BPB", SUSPENDED),
])
def test_the_rule_is_configurable(database: Database, clock: FakeClock, consecutive: int,
                                  per_day: int, decisions: str,
                                  expected_last: AccountState) -> None:
    accounts = Accounts(database, make_config(block_consecutive=consecutive,
                                              block_per_day=per_day), clock=clock)
    user = accounts.create_user(accounts.create_org("Acme"), "u")
    states = feed(accounts, user, decisions)
    assert states[-1] == expected_last
    assert SUSPENDED not in states[:-1]


def test_suspended_and_closed_accounts_are_not_counted_again(accounts: Accounts,
                                                             user_id: str) -> None:
    feed(accounts, user_id, "BBB")
    assert feed(accounts, user_id, "BBBP") == [SUSPENDED] * 4
    assert [e.to_state for e in accounts.describe_user(user_id).history] == [ACTIVE, SUSPENDED]
    accounts.set_state(user_id, AccountState.CLOSED, "repeated abuse", "admin:ops")
    assert feed(accounts, user_id, "BBB") == [AccountState.CLOSED] * 3


def test_reinstatement_starts_the_counts_afresh(accounts: Accounts, user_id: str) -> None:
    feed(accounts, user_id, "BPBPBB")  # 4 blocked today, 2 in a row
    assert accounts.user_state(user_id) == ACTIVE
    feed(accounts, user_id, "B")
    assert accounts.user_state(user_id) == SUSPENDED
    accounts.set_state(user_id, AccountState.WARNED, "appeal accepted", "admin:ops")
    assert feed(accounts, user_id, "BB") == [AccountState.WARNED] * 2
    assert feed(accounts, user_id, "B") == [SUSPENDED]
    assert accounts.describe_user(user_id).history[-1].from_state == AccountState.WARNED


def test_warned_and_limited_accounts_are_suspended_too(accounts: Accounts,
                                                       user_id: str) -> None:
    accounts.set_state(user_id, AccountState.LIMITED, "rate abuse", "admin:ops")
    assert feed(accounts, user_id, "BBB")[-1] == SUSPENDED


def test_unknown_user(accounts: Accounts) -> None:
    for blocked in (True, False):
        with pytest.raises(UnknownAccount):
            accounts.note_input_decision("usr_nope", blocked)


def test_concurrent_blocked_inputs_suspend_exactly_once(accounts: Accounts,
                                                        user_id: str) -> None:
    results: list[AccountState] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(accounts.note_input_decision(user_id, blocked=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results.count(ACTIVE) == 2 and results.count(SUSPENDED) == 6
    assert [e.to_state for e in accounts.describe_user(user_id).history] == [ACTIVE, SUSPENDED]
