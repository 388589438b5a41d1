"""Organisations, users, API keys, account states and the automatic enforcement rule.

Every method commits before it returns. State rules:

- Any state may move to any other, with a reason and an actor; every change is an
  `AccountEvent` row (account creation is the first, from no state to active).
- A closed account stays closed: leaving `closed` needs `reopen=True`, which only the
  admin CLI's `--reopen` passes, and never with actor "system".
- Leaving `suspended` or `closed` clears the blocked-input counters, so a reinstated
  user starts afresh instead of being suspended again by their old blocked inputs.
- The automatic rule (`note_input_decision`): `config.block_consecutive` blocked inputs
  in a row, or `config.block_per_day` in any 24 hours, suspend the account with actor
  "system" and a reason naming the rule. 0 turns either rule off.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from synthguard.accounts.errors import AccountError, UnknownAccount
from synthguard.accounts.keys import (
    DEFAULT_SCOPES,
    check_rate_limit,
    is_key_shaped,
    key_hash,
    new_key,
    new_key_id,
    normalise_scopes,
)
from synthguard.accounts.records import Records, RequestRecord
from synthguard.config import Config
from synthguard.store.db import Database
from synthguard.store.models import AccountEvent, ApiKey, BlockedInput, Organisation, User

__all__ = ["AccountState", "Accounts", "KeyContext", "KeyInfo", "Records", "RequestRecord",
           "StateChange", "UserInfo", "parse_state"]

SYSTEM_ACTOR = "system"
PER_DAY_WINDOW = timedelta(hours=24)
MAX_NAME = 200
MAX_REASON = 500
MAX_ACTOR = 100

log = logging.getLogger(__name__)


class AccountState(StrEnum):
    ACTIVE = "active"
    WARNED = "warned"
    LIMITED = "limited"
    SUSPENDED = "suspended"
    CLOSED = "closed"


@dataclass(frozen=True)
class KeyContext:
    """Who a valid, unrevoked API key belongs to, as `authenticate` found it."""

    key_id: str
    user_id: str
    org_id: str
    scopes: frozenset[str]
    rate_limit_per_min: int
    user_state: AccountState
    verified: bool  # real-name verified

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class StateChange:
    at: datetime
    from_state: AccountState | None
    to_state: AccountState
    reason: str
    actor: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    scopes: frozenset[str]
    rate_limit_per_min: int
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    org_id: str
    name: str
    state: AccountState
    verified: bool
    verification_method: str | None
    verification_evidence: str | None
    verified_at: datetime | None
    created_at: datetime
    keys: tuple[KeyInfo, ...]
    history: tuple[StateChange, ...]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise AccountError(f"{what} must not be empty")
    if len(value) > limit:
        raise AccountError(f"{what} is {len(value)} characters, limit {limit}")
    return value


def parse_state(value: str) -> AccountState:
    try:
        return AccountState(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in AccountState)
        raise AccountError(f"unknown account state {value!r} (one of {names})") from None


class Accounts:
    def __init__(self, db: Database, config: Config, *,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = db
        self._config = config
        self._clock = clock

    # -- organisations and users -------------------------------------------------------

    def create_org(self, name: str) -> str:
        org_id = "org_" + secrets.token_hex(12)
        with self._db.session() as s:
            s.add(Organisation(id=org_id, name=_text(name, "organisation name", MAX_NAME),
                               created_at=self._clock()))
        return org_id

    def create_user(self, org_id: str, name: str, *, actor: str = "admin") -> str:
        name = _text(name, "user name", MAX_NAME)
        actor = _text(actor, "actor", MAX_ACTOR)
        user_id = "usr_" + secrets.token_hex(12)
        with self._db.session() as s:
            if s.get(Organisation, org_id) is None:
                raise UnknownAccount(f"no organisation {org_id!r}")
            now = self._clock()
            s.add(User(id=user_id, org_id=org_id, name=name, state=AccountState.ACTIVE,
                       verified=False, consecutive_blocked=0, created_at=now))
            s.flush()
            s.add(AccountEvent(user_id=user_id, at=now, from_state=None,
                               to_state=AccountState.ACTIVE, reason="account created",
                               actor=actor))
        return user_id

    def mark_verified(self, user_id: str, method: str, evidence_id: str) -> None:
        """Record a real-name verification: how, and the id of the evidence (never the
        identity data itself)."""
        method = _text(method, "verification method", 32)
        evidence_id = _text(evidence_id, "verification evidence", 200)
        with self._db.session() as s:
            user = self._user(s, user_id)
            user.verified = True
            user.verification_method = method
            user.verification_evidence = evidence_id
            user.verified_at = self._clock()
        log.info("user verified", extra={"event": "user_verified", "user_id": user_id,
                                         "method": method})

    # -- keys --------------------------------------------------------------------------

    def issue_key(self, user_id: str, scopes: Iterable[str] = DEFAULT_SCOPES,
                  rate_limit_per_min: int = 60) -> tuple[str, str]:
        """A new key: (key_id, plaintext). The plaintext exists only in the return value."""
        scope_set = normalise_scopes(scopes)
        check_rate_limit(rate_limit_per_min)
        key_id, plaintext = new_key_id(), new_key()
        with self._db.session() as s:
            user = self._user(s, user_id)
            if user.state == AccountState.CLOSED:
                raise AccountError(f"user {user_id} is closed; no new keys")
            s.add(ApiKey(id=key_id, user_id=user_id,
                         key_hash=key_hash(self._config.secret, plaintext),
                         scopes=" ".join(sorted(scope_set)),
                         rate_limit_per_min=rate_limit_per_min, created_at=self._clock()))
        log.info("key issued", extra={"event": "key_issued", "user_id": user_id,
                                      "key_id": key_id})
        return key_id, plaintext

    def revoke_key(self, key_id: str, actor: str) -> None:
        """Revoke at once (the next `authenticate` refuses it). Revoking twice keeps the
        first revocation's time and actor."""
        actor = _text(actor, "actor", MAX_ACTOR)
        with self._db.session() as s:
            key = s.get(ApiKey, key_id, with_for_update=True)
            if key is None:
                raise UnknownAccount(f"no key {key_id!r}")
            if key.revoked_at is None:
                key.revoked_at = self._clock()
                key.revoked_by = actor
        log.info("key revoked", extra={"event": "key_revoked", "key_id": key_id,
                                       "actor": actor})

    def authenticate(self, plaintext: str) -> KeyContext | None:
        """The key's owner, or None for a malformed, unknown or revoked key."""
        if not is_key_shaped(plaintext):
            return None
        digest = key_hash(self._config.secret, plaintext)
        with self._db.session(readonly=True) as s:
            row = s.execute(select(ApiKey, User).join(User, ApiKey.user_id == User.id)
                            .where(ApiKey.key_hash == digest)).first()
        if row is None:
            return None
        key, user = row
        if not hmac.compare_digest(key.key_hash, digest) or key.revoked_at is not None:
            return None
        return KeyContext(key_id=key.id, user_id=user.id, org_id=user.org_id,
                          scopes=frozenset(key.scopes.split()),
                          rate_limit_per_min=key.rate_limit_per_min,
                          user_state=AccountState(user.state), verified=user.verified)

    # -- states ------------------------------------------------------------------------

    def set_state(self, user_id: str, state: AccountState, reason: str, actor: str, *,
                  reopen: bool = False) -> None:
        state = parse_state(state)
        reason = _text(reason, "reason", MAX_REASON)
        actor = _text(actor, "actor", MAX_ACTOR)
        with self._db.session() as s:
            user = self._user(s, user_id, lock=True)
            current = AccountState(user.state)
            leaving_closed = current == AccountState.CLOSED and state != AccountState.CLOSED
            if leaving_closed and (not reopen or actor == SYSTEM_ACTOR):
                raise AccountError(f"user {user_id} is closed; reopening needs an "
                                   "explicit admin reopen (--reopen)")
            self._change(s, user, state, reason, actor)

    def user_state(self, user_id: str) -> AccountState:
        with self._db.session(readonly=True) as s:
            return AccountState(self._user(s, user_id).state)

    def note_input_decision(self, user_id: str, blocked: bool) -> AccountState:
        """Count a reviewed input against the enforcement rule; the resulting state."""
        if not blocked:
            # Passed inputs, the common case: a read without the write lock, and a write
            # only when there is a streak to reset.
            row = self._db.read_one(
                "SELECT state, consecutive_blocked FROM users WHERE id = ?", user_id)
            if row is None:
                raise UnknownAccount(f"no user {user_id!r}")
            state, streak = row
            if streak == 0:
                return AccountState(state)
        with self._db.session() as s:
            if not blocked:
                s.execute(update(User).where(User.id == user_id, User.consecutive_blocked != 0)
                          .values(consecutive_blocked=0))
                return AccountState(self._user(s, user_id).state)
            user = self._user(s, user_id, lock=True)
            state = AccountState(user.state)
            if state in (AccountState.SUSPENDED, AccountState.CLOSED):
                return state
            now = self._clock()
            user.consecutive_blocked += 1
            s.add(BlockedInput(user_id=user_id, at=now))
            s.execute(delete(BlockedInput).where(BlockedInput.user_id == user_id,
                                                 BlockedInput.at <= now - PER_DAY_WINDOW))
            s.flush()
            in_window = s.scalar(select(func.count()).select_from(BlockedInput)
                                 .where(BlockedInput.user_id == user_id)) or 0
            reason = self._rule_broken(user.consecutive_blocked, in_window)
            if reason is None:
                return state
            self._change(s, user, AccountState.SUSPENDED, reason, SYSTEM_ACTOR)
            return AccountState.SUSPENDED

    def _rule_broken(self, consecutive: int, in_window: int) -> str | None:
        limit = self._config.block_consecutive
        if limit and consecutive >= limit:
            return f"automatic rule: {consecutive} consecutive blocked inputs (limit {limit})"
        limit = self._config.block_per_day
        if limit and in_window >= limit:
            return f"automatic rule: {in_window} blocked inputs within 24 hours (limit {limit})"
        return None

    def _change(self, s: Session, user: User, state: AccountState, reason: str,
                actor: str) -> None:
        previous = AccountState(user.state)
        if previous in (AccountState.SUSPENDED, AccountState.CLOSED) and state not in (
                AccountState.SUSPENDED, AccountState.CLOSED):
            user.consecutive_blocked = 0
            s.execute(delete(BlockedInput).where(BlockedInput.user_id == user.id))
        user.state = state
        s.add(AccountEvent(user_id=user.id, at=self._clock(), from_state=previous,
                           to_state=state, reason=reason, actor=actor))
        log.info("account state changed", extra={
            "event": "account_state", "user_id": user.id, "from_state": previous.value,
            "to_state": state.value, "actor": actor})

    # -- reading -----------------------------------------------------------------------

    def describe_user(self, user_id: str) -> UserInfo:
        """The user with their keys and full state history, oldest first."""
        with self._db.session(readonly=True) as s:
            user = self._user(s, user_id)
            keys = s.scalars(select(ApiKey).where(ApiKey.user_id == user_id)
                             .order_by(ApiKey.created_at, ApiKey.id)).all()
            events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == user_id)
                               .order_by(AccountEvent.id)).all()
            return UserInfo(
                user_id=user.id, org_id=user.org_id, name=user.name,
                state=AccountState(user.state), verified=user.verified,
                verification_method=user.verification_method,
                verification_evidence=user.verification_evidence,
                verified_at=user.verified_at, created_at=user.created_at,
                keys=tuple(KeyInfo(k.id, frozenset(k.scopes.split()), k.rate_limit_per_min,
                                   k.created_at, k.revoked_at, k.revoked_by) for k in keys),
                history=tuple(StateChange(e.at, AccountState(e.from_state) if e.from_state
                                          else None, AccountState(e.to_state), e.reason,
                                          e.actor) for e in events))

    @staticmethod
    def _user(s: Session, user_id: str, *, lock: bool = False) -> User:
        user = s.get(User, user_id, with_for_update=lock)
        if user is None:
            raise UnknownAccount(f"no user {user_id!r}")
        return user
