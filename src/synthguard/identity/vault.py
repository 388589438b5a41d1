"""The personal data vault: identity numbers, phone numbers and real names.

Each distinct value is one `VaultEntry`: a keyed hash for uniqueness and lookup
(HMAC-SHA256 under a key derived from the server secret, so a stolen database cannot be
searched by hashing candidate numbers), an AES-256-GCM ciphertext under a configured key
named by id (rotation: old ids still decrypt, `rotate` re-seals under the active one),
and the masked display form. The associated data binds a ciphertext to its row, kind
and key id, so ciphertexts cannot be swapped between rows.

Entries are referenced by account bindings, one-time-code challenges and consents;
`purge` drops the references of accounts closed longer than the retention period and
then deletes every entry nothing references any more.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synthguard.identity.errors import IdentityError
from synthguard.identity.models import (
    ConsentRecord,
    IdentityBinding,
    OtpChallenge,
    VaultEntry,
)
from synthguard.store.db import Database
from synthguard.store.models import AccountEvent, User

log = logging.getLogger(__name__)
NONCE_BYTES = 12
DEFAULT_KEY_ID = "k0"
# An unreferenced entry survives this long, so a flow that looked it up just before a
# purge can still reference it.
GC_GRACE = timedelta(hours=1)
STALE_CHALLENGE = timedelta(days=1)


class DataKind(StrEnum):
    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    REAL_NAME = "real_name"


def mask(kind: DataKind, value: str) -> str:
    """The display form: `110***********1234`, `138****5678`, `李*`."""
    if kind == DataKind.REAL_NAME:
        return value[:1] + "*" * max(len(value) - 1, 1) if len(value) > 1 else "*"
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the server secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"synthguard/identity/" + purpose.encode()).derive(secret)


class Keyring:
    """The lookup-hash key and the AES-GCM keys by id."""

    def __init__(self, secret: bytes, keys: Mapping[str, bytes] | None = None,
                 active: str = "") -> None:
        self._lookup = derive_key(secret, "lookup")
        if keys:
            self._keys = dict(keys)
            self.active = active or next(reversed(self._keys))
        else:
            self._keys = {DEFAULT_KEY_ID: derive_key(secret, "vault/" + DEFAULT_KEY_ID)}
            self.active = DEFAULT_KEY_ID
        if self.active not in self._keys:
            raise IdentityError(f"vault key {self.active!r} is not configured", "vault_key")

    def __repr__(self) -> str:
        return f"Keyring(active={self.active!r}, keys={sorted(self._keys)})"

    def lookup_hash(self, kind: str, value: str) -> str:
        return hmac.new(self._lookup, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _aad(entry_id: str, kind: str, key_id: str) -> bytes:
        return f"{entry_id}\x00{kind}\x00{key_id}".encode()

    def seal(self, entry_id: str, kind: str, value: str) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.active]).encrypt(
            nonce, value.encode(), self._aad(entry_id, kind, self.active))
        return self.active, nonce + sealed

    def open(self, entry_id: str, kind: str, key_id: str, blob: bytes) -> str:
        key = self._keys.get(key_id)
        if key is None:
            raise IdentityError(f"vault key {key_id!r} is no longer configured; add it back "
                                "to SYNTHGUARD_VAULT_KEYS", "vault_key", 500)
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                        self._aad(entry_id, kind, key_id))
        except InvalidTag:
            raise IdentityError(f"vault entry {entry_id} does not decrypt (damaged or moved)",
                                "vault_corrupt", 500) from None
        return plain.decode()


@dataclass(frozen=True)
class VaultRef:
    entry_id: str
    kind: DataKind
    masked: str


@dataclass(frozen=True)
class PurgeReport:
    accounts: int  # closed accounts whose personal data was released
    challenges: int
    entries: int


class Vault:
    def __init__(self, keyring: Keyring, clock: Callable[[], datetime]) -> None:
        self.keyring = keyring
        self._clock = clock

    def put(self, s: Session, kind: DataKind, value: str) -> VaultRef:
        """The entry for `value`, created if new (values are stored once per kind)."""
        digest = self.keyring.lookup_hash(kind, value)
        now = self._clock()
        entry = self._by_hash(s, kind, digest)
        if entry is None:
            entry_id = "pv_" + secrets.token_hex(12)
            key_id, blob = self.keyring.seal(entry_id, kind, value)
            entry = VaultEntry(id=entry_id, kind=kind, lookup_hash=digest, key_id=key_id,
                               ciphertext=blob, masked=mask(kind, value), created_at=now,
                               touched_at=now)
            try:
                with s.begin_nested():
                    s.add(entry)
            except IntegrityError:  # a concurrent writer stored the same value first
                entry = self._by_hash(s, kind, digest)
                if entry is None:
                    raise
        entry.touched_at = now
        return VaultRef(entry.id, kind, entry.masked)

    def lookup(self, s: Session, kind: DataKind, value: str) -> VaultRef | None:
        entry = self._by_hash(s, kind, self.keyring.lookup_hash(kind, value))
        return None if entry is None else VaultRef(entry.id, kind, entry.masked)

    @staticmethod
    def _by_hash(s: Session, kind: str, digest: str) -> VaultEntry | None:
        return s.scalar(select(VaultEntry).where(VaultEntry.kind == kind,
                                                 VaultEntry.lookup_hash == digest))

    def ref(self, s: Session, entry_id: str) -> VaultRef:
        entry = s.get(VaultEntry, entry_id)
        if entry is None:
            raise IdentityError("the personal data was deleted", "erased", 410)
        return VaultRef(entry.id, DataKind(entry.kind), entry.masked)

    def reveal(self, s: Session, entry_id: str) -> str:
        """The plaintext, for the few places that must hand it on (an SMS, a verifier)."""
        entry = s.get(VaultEntry, entry_id)
        if entry is None:
            raise IdentityError("the personal data was deleted", "erased", 410)
        return self.keyring.open(entry.id, entry.kind, entry.key_id, entry.ciphertext)

    # -- account bindings --------------------------------------------------------------

    def bind(self, s: Session, user_id: str, ref: VaultRef) -> None:
        """Make `ref` the account's value of its kind, replacing an earlier one."""
        binding = s.get(IdentityBinding, (user_id, ref.kind.value))
        if binding is None:
            s.add(IdentityBinding(user_id=user_id, role=ref.kind.value, entry_id=ref.entry_id,
                                  created_at=self._clock()))
        else:
            binding.entry_id, binding.created_at = ref.entry_id, self._clock()

    def bindings(self, s: Session, user_id: str) -> dict[DataKind, VaultRef]:
        rows = s.execute(select(IdentityBinding.role, VaultEntry.id, VaultEntry.masked)
                         .join(VaultEntry, VaultEntry.id == IdentityBinding.entry_id)
                         .where(IdentityBinding.user_id == user_id)).all()
        return {DataKind(role): VaultRef(entry_id, DataKind(role), masked)
                for role, entry_id, masked in rows}

    def other_holders(self, s: Session, ref: VaultRef, user_id: str) -> int:
        """How many other open accounts have this value bound."""
        return s.scalar(select(func.count()).select_from(IdentityBinding)
                        .join(User, User.id == IdentityBinding.user_id)
                        .where(IdentityBinding.entry_id == ref.entry_id,
                               IdentityBinding.user_id != user_id,
                               User.state != "closed")) or 0

    # -- jobs --------------------------------------------------------------------------

    def rotate(self, db: Database, batch: int = 200) -> int:
        """Re-seal every entry under the active key; how many were re-sealed."""
        done = 0
        while True:
            with db.session() as s:
                entries = s.scalars(select(VaultEntry)
                                    .where(VaultEntry.key_id != self.keyring.active)
                                    .order_by(VaultEntry.id).limit(batch)).all()
                for entry in entries:
                    value = self.keyring.open(entry.id, entry.kind, entry.key_id,
                                              entry.ciphertext)
                    entry.key_id, entry.ciphertext = self.keyring.seal(entry.id, entry.kind,
                                                                       value)
            done += len(entries)
            if len(entries) < batch:
                log.info("vault re-sealed", extra={"event": "vault_rotated", "entries": done,
                                                   "key_id": self.keyring.active})
                return done

    def purge(self, db: Database, retention: timedelta) -> PurgeReport:
        """Release the personal data of accounts closed for longer than `retention`,
        drop stale challenges, and delete entries nothing references."""
        now = self._clock()
        with db.session() as s:
            closed_at = (select(AccountEvent.user_id, func.max(AccountEvent.at).label("at"))
                         .where(AccountEvent.to_state == "closed")
                         .group_by(AccountEvent.user_id).subquery())
            users = s.scalars(select(User.id).join(closed_at, closed_at.c.user_id == User.id)
                              .where(User.state == "closed",
                                     closed_at.c.at <= now - retention)).all()
            if users:
                s.execute(delete(IdentityBinding).where(IdentityBinding.user_id.in_(users)))
                s.execute(update(ConsentRecord).where(ConsentRecord.user_id.in_(users),
                                                      ConsentRecord.status != "revoked")
                          .values(status="revoked", revoked_at=now, revoked_by="system",
                                  revocation_reason="account closed"))
                s.execute(update(ConsentRecord).where(
                    ConsentRecord.user_id.in_(users),
                    ConsentRecord.subject_erased_at.is_(None)).values(
                    subject_name_entry=None, subject_mobile_entry=None, subject_erased_at=now))
            stale_condition = OtpChallenge.expires_at < now - STALE_CHALLENGE
            if users:
                stale_condition = or_(stale_condition, OtpChallenge.user_id.in_(users))
            stale = s.execute(delete(OtpChallenge).where(stale_condition))
            referenced = (
                exists().where(IdentityBinding.entry_id == VaultEntry.id),
                exists().where(OtpChallenge.entry_id == VaultEntry.id),
                exists().where(ConsentRecord.subject_name_entry == VaultEntry.id),
                exists().where(ConsentRecord.subject_mobile_entry == VaultEntry.id))
            gone = s.execute(delete(VaultEntry).where(
                VaultEntry.touched_at < now - GC_GRACE, *(~r for r in referenced)))
        report = PurgeReport(len(users), stale.rowcount, gone.rowcount)  # type: ignore[attr-defined]
        log.info("personal data purged", extra={"event": "vault_purged", **vars(report)})
        return report
