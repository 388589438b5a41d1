"""Separate consent of the person whose face or voice is edited (deep-synthesis rules
Art. 14; PIPL Art. 29).

A consent record binds the data subject (their name, and their phone when they confirm
by code; both only in the vault), the requesting user, the scope (face, voice or both;
the purpose; the outputs allowed), the evidence (a signed statement's upload reference,
or the subject's confirmation with a code sent to their phone), and a validity period.
A phone-confirmed consent stays `pending` until the code comes back.

`check` is what the gateway calls for a request flagged `synthguard.biometric_edit`: it
reads the record on every call (a revocation applies to the next request), and writes
one `consent_checks` row per call, granted or not, before it answers. Revocation is by
the requesting user, an administrator, or the data subject (a code sent to the phone
that confirmed the consent).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.identity import errors
from synthguard.identity.models import ConsentCheck, ConsentRecord
from synthguard.identity.numbers import check_mobile
from synthguard.identity.otp import ChallengeInfo, OneTimeCodes
from synthguard.identity.settings import IdentitySettings
from synthguard.identity.text import check_name, check_text
from synthguard.identity.vault import DataKind, Vault
from synthguard.identity.verification import open_user
from synthguard.store.db import Database

Scope = Literal["face", "voice", "both"]
Kind = Literal["face", "voice"]
Output = Literal["image", "video", "audio"]
OUTPUTS_BY_KIND: dict[str, frozenset[str]] = {"face": frozenset({"image", "video"}),
                                             "voice": frozenset({"audio", "video"})}
STATEMENT_REF = re.compile(r"[A-Za-z0-9._:/+=-]{1,200}")
MAX_CONSENT_ID = 100
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsentInfo:
    consent_id: str
    user_id: str
    subject: str  # masked name
    scope: Scope
    purpose: str
    allowed_outputs: tuple[str, ...]
    evidence: str
    evidence_ref: str | None
    status: str  # pending, active, revoked, expired, not_yet_valid
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_reason: str | None


@dataclass(frozen=True)
class ConsentDecision:
    granted: bool
    code: str  # "granted" or the reason it was refused
    reason: str
    consent_id: str | None


@dataclass(frozen=True)
class CheckEntry:
    at: datetime
    user_id: str | None
    kind: str
    output: str | None
    granted: bool
    code: str


class ConsentService:
    def __init__(self, db: Database, vault: Vault, codes: OneTimeCodes,
                 settings: IdentitySettings, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._vault = vault
        self._codes = codes
        self._settings = settings
        self._clock = clock

    def create(self, user_id: str, *, subject_name: str, scope: str, purpose: str,
               allowed_outputs: Iterable[str], valid_until: datetime,
               valid_from: datetime | None = None, statement_ref: str | None = None,
               subject_mobile: str | None = None) -> tuple[ConsentInfo, ChallengeInfo | None]:
        """Record a consent. With `subject_mobile` a code goes to the subject's phone and the
        consent is pending until `confirm`; otherwise `statement_ref` (the signed
        statement's upload reference) is the evidence and the consent is active."""
        name = check_name(subject_name)
        scope = _scope(scope)
        purpose = check_text(purpose, "purpose", 500)
        outputs = _outputs(scope, allowed_outputs)
        if statement_ref is not None and not STATEMENT_REF.fullmatch(statement_ref):
            raise errors.invalid("invalid_statement_ref", "statement_ref must be an upload "
                                 "reference: 1-200 of A-Z a-z 0-9 . _ : / + = -")
        if statement_ref is None and subject_mobile is None:
            raise errors.invalid("evidence_required", "give the signed statement's "
                                 "statement_ref or the subject's mobile number to confirm by "
                                 "code")
        phone = None
        if subject_mobile is not None:
            mobile = check_mobile(subject_mobile)
            if mobile.rejection is not None:
                raise errors.invalid("invalid_mobile", f"subject mobile number: "
                                     f"{mobile.rejection.message}", reason=mobile.rejection.code)
            phone = mobile.value
        now = self._clock()
        start, end = self._validity(valid_from or now, valid_until, now)
        consent_id = "cns_" + secrets.token_hex(12)
        with self._db.session() as s:
            user = open_user(s, user_id)
            if not user.verified:
                raise errors.forbidden("identity_unverified", "only real-name verified "
                                       "accounts may record consents")
            name_ref = self._vault.put(s, DataKind.REAL_NAME, name)
            phone_ref = self._vault.put(s, DataKind.MOBILE, phone) if phone else None
            s.add(ConsentRecord(
                id=consent_id, user_id=user_id, subject_name_entry=name_ref.entry_id,
                subject_mobile_entry=phone_ref.entry_id if phone_ref else None,
                subject_display=name_ref.masked, scope=scope, purpose=purpose,
                allowed_outputs=sorted(outputs),
                evidence="phone_confirmation" if phone else "signed_statement",
                evidence_ref=statement_ref, status="pending" if phone else "active",
                valid_from=start, valid_until=end, created_at=now,
                confirmed_at=None if phone else now))
        challenge = None
        if phone is not None:
            try:
                challenge = self._send_confirmation(consent_id, user_id, phone)
            except errors.IdentityError:
                with self._db.session() as s:
                    row = s.get(ConsentRecord, consent_id)
                    if row is not None:
                        s.delete(row)
                raise
        log.info("consent recorded", extra={"event": "consent_created", "user_id": user_id,
                                            "consent_id": consent_id, "scope": scope})
        return self.get(consent_id), challenge

    def _validity(self, start: datetime, end: datetime, now: datetime) -> tuple[datetime,
                                                                               datetime]:
        if start.tzinfo is None or end.tzinfo is None:
            raise errors.invalid("invalid_validity", "validity times need a time zone")
        if end <= start or end <= now:
            raise errors.invalid("invalid_validity", "valid_until must be after valid_from "
                                 "and in the future")
        if end - start > timedelta(days=self._settings.consent_max_days):
            raise errors.invalid("invalid_validity", "a consent is valid for at most "
                                 f"{self._settings.consent_max_days} days")
        return start, end

    def _send_confirmation(self, consent_id: str, user_id: str, phone: str) -> ChallengeInfo:
        with self._db.session(readonly=True) as s:
            row = self._row(s, consent_id, user_id)
            details = {"consent_id": consent_id, "scope": row.scope, "purpose": row.purpose,
                       "valid_until": row.valid_until.isoformat()}
        return self._codes.issue("consent_confirm", phone, user_id=user_id,
                                 subject_ref=consent_id, details=details)

    def resend_confirmation(self, consent_id: str, user_id: str) -> ChallengeInfo:
        with self._db.session(readonly=True) as s:
            row = self._row(s, consent_id, user_id)
            if row.status != "pending" or row.subject_mobile_entry is None:
                raise errors.conflict("consent_not_pending", "this consent is not waiting "
                                      "for confirmation")
            phone = self._vault.reveal(s, row.subject_mobile_entry)
        return self._send_confirmation(consent_id, user_id, phone)

    def confirm(self, consent_id: str, user_id: str, challenge_id: str,
                code: str) -> ConsentInfo:
        """The code the data subject received, passed on by the requesting user."""
        with self._db.session(readonly=True) as s:
            if self._row(s, consent_id, user_id).status != "pending":
                raise errors.conflict("consent_not_pending", "this consent is not waiting "
                                      "for confirmation")
        self._codes.redeem(challenge_id, code, purpose="consent_confirm", user_id=user_id,
                           subject_ref=consent_id)
        with self._db.session() as s:
            row = self._row(s, consent_id, user_id, lock=True)
            if row.status == "pending":
                row.status, row.confirmed_at = "active", self._clock()
        log.info("consent confirmed", extra={"event": "consent_confirmed",
                                             "consent_id": consent_id})
        return self.get(consent_id)

    def revoke(self, consent_id: str, *, actor: str, reason: str,
               user_id: str | None = None) -> ConsentInfo:
        """Revoke at once; `user_id` restricts it to that user's own consents. Revoking
        twice keeps the first revocation."""
        actor = check_text(actor, "actor", 100)
        reason = check_text(reason, "reason", 500)
        with self._db.session() as s:
            row = self._row(s, consent_id, user_id, lock=True)
            if row.status != "revoked":
                row.status, row.revoked_at = "revoked", self._clock()
                row.revoked_by, row.revocation_reason = actor, reason
                self._codes.cancel(s, subject_ref=consent_id)
        log.info("consent revoked", extra={"event": "consent_revoked", "consent_id": consent_id,
                                           "actor": actor})
        return self.get(consent_id)

    def start_subject_revocation(self, consent_id: str, subject_mobile: str) -> ChallengeInfo:
        """The data subject withdraws: a code goes to the phone that confirmed the consent.
        An unknown consent and a different phone get the same answer."""
        mobile = check_mobile(subject_mobile)
        unknown = errors.not_found("consent_unknown", "no consent with this id was confirmed "
                                   "from this phone")
        if mobile.rejection is not None:
            raise unknown
        with self._db.session(readonly=True) as s:
            row = s.get(ConsentRecord, consent_id[:MAX_CONSENT_ID])
            ref = self._vault.lookup(s, DataKind.MOBILE, mobile.value)
            if row is None or ref is None or row.subject_mobile_entry != ref.entry_id:
                raise unknown
        return self._codes.issue("consent_revoke", mobile.value, subject_ref=consent_id,
                                 details={"consent_id": consent_id})

    def confirm_subject_revocation(self, consent_id: str, challenge_id: str,
                                   code: str) -> ConsentInfo:
        self._codes.redeem(challenge_id, code, purpose="consent_revoke",
                           subject_ref=consent_id)
        return self.revoke(consent_id, actor="data subject",
                           reason="consent withdrawn by the data subject")

    # -- the gateway's check -----------------------------------------------------------

    def check(self, consent_id: str | None, user_id: str, kind: str, *,
              output: str | None = None) -> ConsentDecision:
        """May `user_id` edit a person's `kind` (face / voice) into `output` under
        `consent_id`? Recorded whatever the answer."""
        now = self._clock()
        recorded_id = consent_id[:MAX_CONSENT_ID] if consent_id else None
        with self._db.session() as s:
            row = s.get(ConsentRecord, recorded_id) if recorded_id else None
            code, reason = _decide(row, recorded_id, user_id, kind, output, now)
            s.add(ConsentCheck(consent_id=recorded_id, user_id=user_id[:32], kind=kind[:16],
                               output=output[:16] if output else None, at=now,
                               granted=code == "granted", code=code))
        log.info("consent checked", extra={"event": "consent_check", "consent_id": recorded_id,
                                           "user_id": user_id, "code": code})
        return ConsentDecision(code == "granted", code, reason, recorded_id)

    # -- reading -----------------------------------------------------------------------

    def get(self, consent_id: str, user_id: str | None = None) -> ConsentInfo:
        with self._db.session(readonly=True) as s:
            return self._info(self._row(s, consent_id, user_id))

    def list_for(self, user_id: str) -> list[ConsentInfo]:
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user_id)
                             .order_by(ConsentRecord.created_at, ConsentRecord.id)).all()
            return [self._info(row) for row in rows]

    def checks(self, consent_id: str) -> list[CheckEntry]:
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(ConsentCheck).where(ConsentCheck.consent_id == consent_id)
                             .order_by(ConsentCheck.seq)).all()
            return [CheckEntry(r.at, r.user_id, r.kind, r.output, r.granted, r.code)
                    for r in rows]

    @staticmethod
    def _row(s: Session, consent_id: str, user_id: str | None, *,
             lock: bool = False) -> ConsentRecord:
        row = s.get(ConsentRecord, consent_id[:MAX_CONSENT_ID], with_for_update=lock)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise errors.not_found("consent_unknown", "no such consent for this account")
        return row

    def _info(self, row: ConsentRecord) -> ConsentInfo:
        return ConsentInfo(
            row.id, row.user_id, row.subject_display, cast(Scope, row.scope), row.purpose,
            tuple(row.allowed_outputs), row.evidence, row.evidence_ref,
            _status(row, self._clock()), row.valid_from, row.valid_until, row.created_at,
            row.confirmed_at, row.revoked_at, row.revoked_by, row.revocation_reason)


def _status(row: ConsentRecord, now: datetime) -> str:
    if row.status != "active":
        return row.status
    if now < row.valid_from:
        return "not_yet_valid"
    if now >= row.valid_until:
        return "expired"
    return "active"


def _decide(row: ConsentRecord | None, consent_id: str | None, user_id: str, kind: str,
            output: str | None, now: datetime) -> tuple[str, str]:
    if kind not in get_args(Kind):
        return "invalid_kind", f"biometric edit kind {kind[:16]!r} is not face or voice"
    if not consent_id:
        return "consent_missing", "no consent_id was given"
    if row is None or row.user_id != user_id:
        return "consent_unknown", "the consent_id is not a consent record of this account"
    status = _status(row, now)
    if status != "active":
        return f"consent_{status}", {
            "pending": "the data subject has not confirmed this consent yet",
            "revoked": "this consent was revoked",
            "expired": "this consent has expired",
            "not_yet_valid": "this consent is not valid yet"}[status]
    if row.scope not in (kind, "both"):
        return "consent_out_of_scope", f"this consent covers the subject's {row.scope}, " \
            f"not their {kind}"
    if output is not None and output not in row.allowed_outputs:
        return "consent_output_not_allowed", f"this consent does not allow {output[:16]} " \
            "output"
    return "granted", ""


def _scope(value: str) -> Scope:
    if value not in get_args(Scope):
        raise errors.invalid("invalid_scope", "scope must be face, voice or both")
    return cast(Scope, value)


def _outputs(scope: Scope, values: Iterable[str]) -> frozenset[str]:
    outputs = frozenset(values)
    if not outputs or not outputs <= set(get_args(Output)):
        raise errors.invalid("invalid_outputs", "allowed_outputs is a non-empty list of "
                             "image, video, audio")
    fitting = frozenset().union(*(OUTPUTS_BY_KIND[k] for k in
                                  (("face", "voice") if scope == "both" else (scope,))))
    if not outputs <= fitting:
        raise errors.invalid("invalid_outputs", f"a {scope} consent cannot allow "
                             f"{', '.join(sorted(outputs - fitting))} output")
    return outputs
