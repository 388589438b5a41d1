"""One-time codes sent by SMS: proof that someone holds a phone number.

- Only a keyed hash of each code is stored (HMAC-SHA256 over challenge id and code, under
  a key derived from the server secret): a leaked table does not reveal live codes, and
  without the secret 10^6 guesses cannot be tried offline.
- A code expires (`otp_ttl_s`), is used once (a replay is refused), and allows
  `otp_max_attempts` wrong tries; each wrong try is committed before the refusal, so
  parallel guessing cannot outrun the counter.
- Sending is throttled: one code per `otp_resend_interval_s` to a phone, and at most
  `otp_max_sends_per_hour` in any hour to a phone and for a requesting account. A new code for
  the same phone, purpose and subject supersedes the older one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from synthguard.identity import errors
from synthguard.identity.adapters import SmsSender
from synthguard.identity.models import OtpChallenge
from synthguard.identity.settings import IdentitySettings
from synthguard.identity.vault import DataKind, Vault, VaultRef, derive_key
from synthguard.store.db import Database

HOUR = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChallengeInfo:
    challenge_id: str
    masked_phone: str
    expires_at: datetime
    resend_after_s: int


class OneTimeCodes:
    def __init__(self, db: Database, vault: Vault, sender: SmsSender | None,
                 settings: IdentitySettings, secret: bytes,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._vault = vault
        self.sender = sender
        self._settings = settings
        self._key = derive_key(secret, "otp")
        self._clock = clock

    def _hash(self, challenge_id: str, code: str) -> str:
        return hmac.new(self._key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def issue(self, purpose: str, phone: str, *, user_id: str | None = None,
              subject_ref: str | None = None,
              details: Mapping[str, str] | None = None) -> ChallengeInfo:
        """Send a new code to `phone` (already checked and normalised)."""
        if self.sender is None:
            raise errors.unavailable("sms_not_configured", "sending codes by SMS is not "
                                     "configured on this service")
        settings = self._settings
        code = "".join(secrets.choice("0123456789") for _ in range(settings.otp_code_digits))
        challenge_id = "otp_" + secrets.token_hex(12)
        now = self._clock()
        with self._db.session() as s:
            ref = self._vault.put(s, DataKind.MOBILE, phone)
            phone_hash = self._vault.keyring.lookup_hash(DataKind.MOBILE, phone)
            self._throttle(s, OtpChallenge.phone_hash == phone_hash, now, spacing=True)
            if user_id is not None:
                self._throttle(s, OtpChallenge.user_id == user_id, now, spacing=False)
            s.execute(update(OtpChallenge).where(
                OtpChallenge.phone_hash == phone_hash, OtpChallenge.purpose == purpose,
                _same(OtpChallenge.user_id, user_id), _same(OtpChallenge.subject_ref, subject_ref),
                OtpChallenge.consumed_at.is_(None), OtpChallenge.superseded_at.is_(None))
                .values(superseded_at=now))
            expires = now + timedelta(seconds=settings.otp_ttl_s)
            s.add(OtpChallenge(id=challenge_id, purpose=purpose, user_id=user_id,
                               subject_ref=subject_ref, entry_id=ref.entry_id,
                               phone_hash=phone_hash, code_hash=self._hash(challenge_id, code),
                               created_at=now, expires_at=expires, attempts=0,
                               max_attempts=settings.otp_max_attempts))
        try:
            self.sender.send_code(phone, code, purpose=purpose, ttl_s=settings.otp_ttl_s,
                                   details=details or {})
        except Exception as exc:
            # An unsent code must not count against the throttle or stay redeemable.
            with self._db.session() as s:
                s.execute(delete(OtpChallenge).where(OtpChallenge.id == challenge_id))
            log.warning("code not sent", extra={"event": "sms_failed", "purpose": purpose,
                                                "error": type(exc).__name__})
            if isinstance(exc, errors.IdentityError):
                raise
            raise errors.unavailable("sms_failed", "the SMS could not be sent") from None
        log.info("code sent", extra={"event": "otp_sent", "purpose": purpose,
                                     "challenge_id": challenge_id, "user_id": user_id})
        return ChallengeInfo(challenge_id, ref.masked, expires, settings.otp_resend_interval_s)

    def _throttle(self, s: Session, who: ColumnElement[bool], now: datetime, *,
                  spacing: bool) -> None:
        """Refuse a send too soon after the last (`spacing`: per phone only, so that one
        account can verify its phone and then ask a data subject at once) or over the
        hourly count."""
        settings = self._settings
        sent = s.scalars(select(OtpChallenge.created_at).where(
            who, OtpChallenge.created_at > now - HOUR)
            .order_by(OtpChallenge.created_at)).all()
        if not sent:
            return
        wait = settings.otp_resend_interval_s - (now - sent[-1]).total_seconds()
        if spacing and wait > 0:
            raise errors.throttled("a code was sent moments ago; wait before asking for "
                                   "another", math.ceil(wait))
        if len(sent) >= settings.otp_max_sends_per_hour:
            oldest = sent[-settings.otp_max_sends_per_hour]
            raise errors.throttled(f"at most {settings.otp_max_sends_per_hour} codes an hour",
                                   math.ceil((oldest + HOUR - now).total_seconds()))

    def redeem(self, challenge_id: str, code: str, *, purpose: str,
               user_id: str | None = None, subject_ref: str | None = None) -> VaultRef:
        """Check `code`; on success the challenge is used up and the phone's vault entry
        returned. Every refusal names its reason (expired, used, too many attempts)."""
        now = self._clock()
        failure: errors.IdentityError | None = None
        with self._db.session() as s:
            ch = s.get(OtpChallenge, challenge_id, with_for_update=True)
            if (ch is None or ch.purpose != purpose or ch.user_id != user_id
                    or ch.subject_ref != subject_ref):
                raise errors.not_found("code_unknown", "no such code was sent for this request")
            if ch.consumed_at is not None:
                raise errors.conflict("code_used", "this code was already used")
            if ch.superseded_at is not None:
                raise errors.conflict("code_superseded", "a newer code was sent; use that one")
            if now >= ch.expires_at:
                raise errors.IdentityError("the code has expired; ask for a new one",
                                           "code_expired", 410)
            if ch.attempts >= ch.max_attempts:
                raise errors.IdentityError("too many wrong codes; ask for a new one",
                                           "too_many_attempts", 429)
            if hmac.compare_digest(ch.code_hash, self._hash(challenge_id, code)):
                ch.consumed_at = now
                return self._vault.ref(s, ch.entry_id)
            ch.attempts += 1
            left = ch.max_attempts - ch.attempts
            failure = (errors.IdentityError(f"wrong code; {left} attempts left", "wrong_code", 422)
                       if left else errors.IdentityError(
                           "wrong code; no attempts left, ask for a new one",
                           "too_many_attempts", 429))
        log.info("wrong code", extra={"event": "otp_wrong", "challenge_id": challenge_id})
        raise failure

    def cancel(self, s: Session, *, subject_ref: str) -> None:
        """Use up the open challenges of a subject (a consent that was revoked)."""
        s.execute(update(OtpChallenge).where(OtpChallenge.subject_ref == subject_ref,
                                             OtpChallenge.consumed_at.is_(None))
                  .values(consumed_at=self._clock()))


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
