"""Real-name verification flows (Provisions Art. 9): mobile number + one-time code, ID
number + name through a third-party verifier, organisation by credit code, and the
national network identity service.

Every attempt that reaches a provider leaves a `VerificationEvidence` row (method,
outcome, the provider's reference; never the data checked), committed before the answer.
A success binds the verified values to the account in the vault and then calls
`Accounts.mark_verified(user_id, method, evidence_id)`, which opens the gateway's
identity gate. One phone, ID number or network identity verifies at most
`max_accounts_per_identity` open accounts; provider checks are limited per account per
day (each costs money and probes someone's identity data).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from synthguard.accounts import Accounts
from synthguard.identity import errors
from synthguard.identity.adapters import (
    NetworkIdentityVerifier,
    OrganisationClaim,
    OrganisationVerifier,
    PersonClaim,
    PersonVerifier,
    VendorResult,
)
from synthguard.identity.models import VerificationEvidence
from synthguard.identity.numbers import check_id_number, check_mobile, check_organisation_code
from synthguard.identity.otp import ChallengeInfo, OneTimeCodes
from synthguard.identity.settings import IdentitySettings
from synthguard.identity.text import check_name, check_text
from synthguard.identity.vault import DataKind, Vault, VaultRef
from synthguard.store.db import Database
from synthguard.store.models import User

DAY = timedelta(days=1)
PROVIDER_METHODS = ("operator_three_element", "ekyc", "organisation_uscc", "network_identity")
MAX_TICKET = 4096
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentityStatus:
    user_id: str
    verified: bool
    method: str | None
    verified_at: datetime | None
    evidence_id: str | None
    masked: dict[str, str]  # kind -> masked display form of the account's bound values


@dataclass(frozen=True)
class SignUp:
    user_id: str
    org_id: str
    key_id: str
    api_key: str


class VerificationService:
    def __init__(self, db: Database, accounts: Accounts, vault: Vault, codes: OneTimeCodes,
                 settings: IdentitySettings, *, person: PersonVerifier | None = None,
                 organisation: OrganisationVerifier | None = None,
                 network: NetworkIdentityVerifier | None = None,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._accounts = accounts
        self._vault = vault
        self._codes = codes
        self._settings = settings
        self._person = person
        self._organisation = organisation
        self._network = network
        self._clock = clock

    @property
    def plugins(self) -> tuple[object, ...]:
        return tuple(p for p in (self._person, self._organisation, self._network) if p)

    def sign_up(self, name: str, organisation: str | None = None) -> SignUp:
        """A new, unverified account with an API key: it can verify, not generate."""
        name = check_text(name, "name", 200)
        org_id = self._accounts.create_org(check_text(organisation or name, "organisation",
                                                      200))
        user_id = self._accounts.create_user(org_id, name, actor="self-signup")
        key_id, key = self._accounts.issue_key(user_id)
        return SignUp(user_id, org_id, key_id, key)

    # -- mobile + one-time code --------------------------------------------------------

    def start_mobile(self, user_id: str, mobile: str) -> ChallengeInfo:
        phone = _mobile(mobile)
        with self._db.session(readonly=True) as s:
            open_user(s, user_id)
            self._unclaimed(s, DataKind.MOBILE, phone, user_id)
        return self._codes.issue("verify_mobile", phone, user_id=user_id)

    def confirm_mobile(self, user_id: str, challenge_id: str, code: str) -> IdentityStatus:
        ref = self._codes.redeem(challenge_id, code, purpose="verify_mobile", user_id=user_id)
        with self._db.session() as s:
            open_user(s, user_id)
            phone = self._vault.reveal(s, ref.entry_id)
            self._claim(s, user_id, ref)
            evidence = self._evidence(s, user_id, "mobile_otp", "match", challenge_id, detail={
                "virtual_operator": check_mobile(phone).virtual_operator})
        return self._verified(user_id, "mobile_otp", evidence)

    # -- ID number + name --------------------------------------------------------------

    def verify_id_number(self, user_id: str, name: str, id_number: str,
                         mobile: str | None = None) -> IdentityStatus:
        name = check_name(name)
        id_check = check_id_number(id_number)
        if id_check.rejection is not None:
            raise errors.invalid("invalid_id_number", f"ID number: {id_check.rejection.message}",
                                 reason=id_check.rejection.code)
        verifier = self._person
        if verifier is None:
            raise errors.unavailable("verifier_not_configured", "ID number checks are not "
                                     "configured on this service")
        phone = _mobile(mobile) if mobile else None
        with self._db.session(readonly=True) as s:
            open_user(s, user_id)
            self._within_daily_limit(s, user_id)
            self._unclaimed(s, DataKind.ID_NUMBER, id_check.value, user_id)
            if phone is not None:
                self._unclaimed(s, DataKind.MOBILE, phone, user_id)
            if phone is None and verifier.needs_mobile:
                bound = self._vault.bindings(s, user_id).get(DataKind.MOBILE)
                phone = self._vault.reveal(s, bound.entry_id) if bound else None
        if verifier.needs_mobile:
            if phone is None:
                raise errors.invalid("mobile_required", f"a {verifier.method} check needs the "
                                     "mobile number registered to the ID number")
            if check_mobile(phone).virtual_operator:
                raise errors.invalid("virtual_operator_unsupported", "operator checks cannot "
                                     "verify virtual-operator numbers (162, 165, 167, 170, "
                                     "171); use another number or method")
        result = verifier.verify_person(PersonClaim(name, id_check.value, phone))
        with self._db.session() as s:
            evidence = self._evidence(s, user_id, verifier.method, result.outcome,
                                      result.reference, detail={"id_kind": id_check.kind})
            if result.outcome == "match":
                self._claim(s, user_id, self._vault.put(s, DataKind.ID_NUMBER, id_check.value))
                self._vault.bind(s, user_id, self._vault.put(s, DataKind.REAL_NAME, name))
                if phone is not None:
                    self._claim(s, user_id, self._vault.put(s, DataKind.MOBILE, phone))
        _refuse_unless_match(result, "the name and ID number")
        return self._verified(user_id, verifier.method, evidence)

    # -- organisation ------------------------------------------------------------------

    def verify_organisation(self, user_id: str, uscc: str, name: str,
                            legal_representative: str | None = None) -> IdentityStatus:
        code = check_organisation_code(uscc)
        if code.rejection is not None:
            raise errors.invalid("invalid_uscc", f"credit code: {code.rejection.message}",
                                 reason=code.rejection.code)
        name = check_text(name, "organisation name", 200)
        legal = check_name(legal_representative) if legal_representative else None
        if self._organisation is None:
            raise errors.unavailable("verifier_not_configured", "organisation checks are not "
                                     "configured on this service")
        with self._db.session(readonly=True) as s:
            open_user(s, user_id)
            self._within_daily_limit(s, user_id)
        result = self._organisation.verify_organisation(OrganisationClaim(code.value, name,
                                                                          legal))
        with self._db.session() as s:
            evidence = self._evidence(s, user_id, "organisation_uscc", result.outcome,
                                      result.reference, detail={"uscc": code.value})
        _refuse_unless_match(result, "the credit code and organisation name")
        return self._verified(user_id, "organisation_uscc", evidence)

    # -- national network identity -----------------------------------------------------

    def verify_network_identity(self, user_id: str, ticket: str) -> IdentityStatus:
        if not (0 < len(ticket) <= MAX_TICKET and ticket.isascii() and ticket.isprintable()):
            raise errors.invalid("invalid_ticket", f"the ticket must be 1-{MAX_TICKET} "
                                 "printable ASCII characters")
        if self._network is None:
            raise errors.unavailable("verifier_not_configured", "the network identity service "
                                     "is not configured on this service")
        with self._db.session(readonly=True) as s:
            open_user(s, user_id)
            self._within_daily_limit(s, user_id)
        result = self._network.redeem(ticket)
        subject_hash = (self._vault.keyring.lookup_hash("network_subject", result.subject)
                        if result.subject else None)
        with self._db.session() as s:
            if subject_hash is not None and self._subject_holders(s, subject_hash, user_id) \
                    >= self._settings.max_accounts_per_identity:
                raise errors.conflict("identity_in_use", "this network identity already "
                                      "verifies the maximum number of accounts")
            evidence = self._evidence(s, user_id, "network_identity", result.outcome,
                                      result.reference, subject_hash=subject_hash)
        _refuse_unless_match(result, "the network identity")
        return self._verified(user_id, "network_identity", evidence)

    # -- reading -----------------------------------------------------------------------

    def status(self, user_id: str) -> IdentityStatus:
        with self._db.session(readonly=True) as s:
            user = s.get(User, user_id)
            if user is None:
                raise errors.not_found("unknown_user", "no such account")
            return IdentityStatus(user.id, user.verified, user.verification_method,
                                  user.verified_at, user.verification_evidence,
                                  {k.value: r.masked
                                   for k, r in self._vault.bindings(s, user_id).items()})

    def evidence(self, user_id: str) -> list[dict[str, Any]]:
        with self._db.session(readonly=True) as s:
            rows = s.scalars(select(VerificationEvidence)
                             .where(VerificationEvidence.user_id == user_id)
                             .order_by(VerificationEvidence.created_at)).all()
            return [{"evidence_id": r.id, "method": r.method, "outcome": r.outcome,
                     "provider_reference": r.provider_reference, "detail": r.detail,
                     "at": r.created_at} for r in rows]

    # -- helpers -----------------------------------------------------------------------

    def _verified(self, user_id: str, method: str, evidence_id: str) -> IdentityStatus:
        self._accounts.mark_verified(user_id, method, evidence_id)
        log.info("identity verified", extra={"event": "identity_verified", "user_id": user_id,
                                             "method": method, "evidence_id": evidence_id})
        return self.status(user_id)

    def _evidence(self, s: Session, user_id: str, method: str, outcome: str, reference: str,
                  *, detail: dict[str, Any] | None = None,
                  subject_hash: str | None = None) -> str:
        evidence_id = "ev_" + secrets.token_hex(12)
        s.add(VerificationEvidence(id=evidence_id, user_id=user_id, method=method,
                                   outcome=outcome, provider_reference=reference or None,
                                   subject_hash=subject_hash, detail=detail,
                                   created_at=self._clock()))
        return evidence_id

    def _within_daily_limit(self, s: Session, user_id: str) -> None:
        since = self._clock() - DAY
        times = s.scalars(select(VerificationEvidence.created_at).where(
            VerificationEvidence.user_id == user_id,
            VerificationEvidence.method.in_(PROVIDER_METHODS),
            VerificationEvidence.created_at > since)
            .order_by(VerificationEvidence.created_at)).all()
        limit = self._settings.identity_checks_per_day
        if len(times) >= limit:
            retry = times[-limit] + DAY - self._clock()
            raise errors.throttled(f"at most {limit} identity checks a day",
                                   int(retry.total_seconds()) + 1)

    def _unclaimed(self, s: Session, kind: DataKind, value: str, user_id: str) -> None:
        ref = self._vault.lookup(s, kind, value)
        if ref is not None:
            self._check_holders(s, ref, user_id)

    def _claim(self, s: Session, user_id: str, ref: VaultRef) -> None:
        self._check_holders(s, ref, user_id)
        self._vault.bind(s, user_id, ref)

    def _check_holders(self, s: Session, ref: VaultRef, user_id: str) -> None:
        if self._vault.other_holders(s, ref, user_id) >= self._settings.max_accounts_per_identity:
            what = "mobile number" if ref.kind == DataKind.MOBILE else "ID number"
            raise errors.conflict(f"{ref.kind.value}_in_use", f"this {what} already verifies "
                                  "the maximum number of accounts")

    def _subject_holders(self, s: Session, subject_hash: str, user_id: str) -> int:
        return s.scalar(select(func.count(func.distinct(VerificationEvidence.user_id)))
                        .join(User, User.id == VerificationEvidence.user_id)
                        .where(VerificationEvidence.subject_hash == subject_hash,
                               VerificationEvidence.outcome == "match",
                               VerificationEvidence.user_id != user_id,
                               User.state != "closed")) or 0


def open_user(s: Session, user_id: str) -> User:
    """The account, which must exist and not be closed."""
    user = s.get(User, user_id)
    if user is None:
        raise errors.not_found("unknown_user", "no such account")
    if user.state == "closed":
        raise errors.forbidden("account_closed", "this account is closed")
    return user


def _mobile(value: str) -> str:
    check = check_mobile(value)
    if check.rejection is not None:
        raise errors.invalid("invalid_mobile", f"mobile number: {check.rejection.message}",
                             reason=check.rejection.code)
    return check.value


def _refuse_unless_match(result: VendorResult, what: str) -> None:
    messages = {"mismatch": f"the provider's records do not match {what}",
                "no_record": f"the provider has no record of {what}",
                "unsupported": f"the provider cannot check {what}"}
    if result.outcome != "match":
        raise errors.forbidden(f"identity_{result.outcome}", messages[result.outcome])
