"""Consent records (Art. 14): statement and phone evidence, scope, validity, immediate
revocation (by the user, an administrator, the data subject), and the recorded checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from synthguard.consent.service import ConsentInfo, ConsentService
from synthguard.identity.errors import IdentityError
from synthguard.identity.otp import ChallengeInfo
from synthguard.identity.services import IdentityServices
from tests.accounts.conftest import FakeClock
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import OTHER_MOBILE, new_user, verify_by_mobile

SUBJECT = "张丽"
SUBJECT_MOBILE = "13912345678"


@pytest.fixture
def user(services: IdentityServices, vendor: FakeVendor) -> str:
    user_id = new_user(services)
    verify_by_mobile(services, vendor, user_id)
    return user_id


def _create(consent: ConsentService, user: str, clock: FakeClock,
            **overrides: Any) -> str:
    values: dict[str, Any] = {
        "subject_name": SUBJECT, "scope": "face", "purpose": "宣传片换脸",
        "allowed_outputs": ["image"], "valid_until": clock.now + timedelta(days=30),
        "statement_ref": "upload:sha256:" + "ab" * 32}
    values.update(overrides)
    info, _ = consent.create(user, **values)
    return info.consent_id


def _by_phone(consent: ConsentService, user: str, clock: FakeClock,
              mobile: str = SUBJECT_MOBILE) -> tuple[ConsentInfo, ChallengeInfo]:
    info, challenge = consent.create(
        user, subject_name=SUBJECT, scope="face", purpose="p", allowed_outputs=["image"],
        valid_until=clock.now + timedelta(days=9), subject_mobile=mobile)
    assert challenge is not None
    return info, challenge


def _error(call: Any, *args: Any, **kwargs: Any) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_statement_consent_and_scope(services: IdentityServices, user: str,
                                     clock: FakeClock) -> None:
    consent = services.consent
    cid = _create(consent, user, clock, allowed_outputs=["image"])
    info = consent.get(cid, user)
    assert info.status == "active" and info.subject == "张*" and info.scope == "face"
    assert info.evidence == "signed_statement" and info.allowed_outputs == ("image",)
    assert consent.check(cid, user, "face", output="image").granted
    assert consent.check(cid, user, "face").granted  # text output: no output rule applies
    codes = [consent.check(cid, user, "voice", output="audio").code,
             consent.check(cid, user, "face", output="video").code,
             consent.check(cid, user, "lips", output="image").code]
    assert codes == ["consent_out_of_scope", "consent_output_not_allowed", "invalid_kind"]
    both = _create(consent, user, clock, scope="both", allowed_outputs=["video", "audio"])
    assert consent.check(both, user, "voice", output="audio").granted
    assert consent.check(both, user, "face", output="video").granted


def test_every_check_is_recorded(services: IdentityServices, user: str,
                                 clock: FakeClock) -> None:
    consent = services.consent
    cid = _create(consent, user, clock)
    other = new_user(services)
    decisions = [consent.check(cid, user, "face", output="image"),
                 consent.check(cid, other, "face", output="image"),
                 consent.check(None, user, "face"),
                 consent.check("cns_" + "0" * 200, user, "voice")]
    assert [d.code for d in decisions] == ["granted", "consent_unknown", "consent_missing",
                                           "consent_unknown"]
    checks = consent.checks(cid)
    assert [(c.user_id, c.granted, c.code, c.output) for c in checks] == [
        (user, True, "granted", "image"), (other, False, "consent_unknown", "image")]
    assert consent.checks("cns_" + "0" * 96) != []  # long ids are recorded truncated


def test_revocation_is_immediate_and_kept(services: IdentityServices, user: str,
                                          clock: FakeClock) -> None:
    consent = services.consent
    cid = _create(consent, user, clock)
    assert consent.check(cid, user, "face").granted
    other = new_user(services)
    assert _error(consent.revoke, cid, actor="x", reason="r",
                  user_id=other).code == "consent_unknown"
    revoked = consent.revoke(cid, actor=f"user:{user}", reason="no longer needed",
                             user_id=user)
    assert revoked.status == "revoked" and revoked.revoked_by == f"user:{user}"
    decision = consent.check(cid, user, "face")
    assert (decision.granted, decision.code) == (False, "consent_revoked")
    clock.advance(minutes=5)
    again = consent.revoke(cid, actor="admin:root", reason="again")
    assert again.revoked_at == revoked.revoked_at and again.revoked_by == f"user:{user}"


def test_validity_period(services: IdentityServices, user: str, clock: FakeClock) -> None:
    consent = services.consent
    later = _create(consent, user, clock, valid_from=clock.now + timedelta(days=1),
                    valid_until=clock.now + timedelta(days=2))
    assert consent.check(later, user, "face").code == "consent_not_yet_valid"
    clock.advance(days=1)
    assert consent.check(later, user, "face").granted
    clock.advance(days=1)
    assert consent.check(later, user, "face").code == "consent_expired"
    assert consent.get(later).status == "expired"
    for bad in ({"valid_until": clock.now - timedelta(seconds=1)},
                {"valid_until": clock.now + timedelta(days=3 * 365 + 1)},
                {"valid_until": datetime(2030, 1, 1)}):
        assert _error(_create, consent, user, clock, **bad).code == "invalid_validity"


@pytest.mark.parametrize("overrides, code", [
    ({"scope": "body"}, "invalid_scope"),
    ({"allowed_outputs": []}, "invalid_outputs"),
    ({"allowed_outputs": ["audio"]}, "invalid_outputs"),  # a face consent cannot allow audio
    ({"allowed_outputs": ["hologram"]}, "invalid_outputs"),
    ({"statement_ref": None}, "evidence_required"),
    ({"statement_ref": "has spaces"}, "invalid_statement_ref"),
    ({"subject_name": "张3"}, "invalid_name"),
    ({"purpose": " "}, "invalid_input"),
    ({"purpose": "x" * 501}, "invalid_input"),
    ({"subject_mobile": "14012345678"}, "invalid_mobile"),
])
def test_bad_consents_are_refused(services: IdentityServices, user: str, clock: FakeClock,
                                  overrides: dict[str, Any], code: str) -> None:
    error = _error(_create, services.consent, user, clock, **overrides)
    assert (error.code, error.status) == (code, 422)


def test_unverified_users_cannot_record_consents(services: IdentityServices,
                                                 clock: FakeClock) -> None:
    error = _error(_create, services.consent, new_user(services), clock)
    assert (error.code, error.status) == ("identity_unverified", 403)


def test_phone_confirmation_by_the_subject(services: IdentityServices, user: str,
                                           vendor: FakeVendor, clock: FakeClock) -> None:
    consent = services.consent
    info, challenge = consent.create(
        user, subject_name=SUBJECT, scope="voice", purpose="有声书配音",
        allowed_outputs=["audio"], valid_until=clock.now + timedelta(days=90),
        subject_mobile=SUBJECT_MOBILE)
    assert info.status == "pending" and info.evidence == "phone_confirmation"
    assert challenge is not None and challenge.masked_phone == "139****5678"
    sms = vendor.outbox[-1]
    assert sms.phone == SUBJECT_MOBILE and sms.purpose == "consent_confirm"
    assert sms.details["scope"] == "voice" and sms.details["purpose"] == "有声书配音"
    assert consent.check(info.consent_id, user, "voice").code == "consent_pending"
    wrong = "000000" if sms.code != "000000" else "111111"
    assert _error(consent.confirm, info.consent_id, user, challenge.challenge_id,
                  wrong).code == "wrong_code"
    confirmed = consent.confirm(info.consent_id, user, challenge.challenge_id, sms.code)
    assert confirmed.status == "active" and confirmed.confirmed_at == clock.now
    assert consent.check(info.consent_id, user, "voice", output="audio").granted
    assert _error(consent.confirm, info.consent_id, user, challenge.challenge_id,
                  sms.code).code == "consent_not_pending"


def test_expired_and_replayed_confirmation_codes(services: IdentityServices, user: str,
                                                 vendor: FakeVendor, clock: FakeClock) -> None:
    consent = services.consent
    info, challenge = _by_phone(consent, user, clock)
    clock.advance(seconds=services.settings.otp_ttl_s + 1)
    assert _error(consent.confirm, info.consent_id, user, challenge.challenge_id,
                  vendor.last_code(SUBJECT_MOBILE)).code == "code_expired"
    fresh = consent.resend_confirmation(info.consent_id, user)
    consent.confirm(info.consent_id, user, fresh.challenge_id,
                    vendor.last_code(SUBJECT_MOBILE))
    # A code of one consent does not confirm another.
    other, _ = _by_phone(consent, user, clock, OTHER_MOBILE)
    assert _error(consent.confirm, other.consent_id, user, fresh.challenge_id,
                  vendor.last_code(SUBJECT_MOBILE)).code == "code_unknown"


def test_failed_sms_leaves_no_pending_consent(services: IdentityServices, user: str,
                                              vendor: FakeVendor, clock: FakeClock) -> None:
    vendor.fail_with = 503
    assert _error(_create, services.consent, user, clock, statement_ref=None,
                  subject_mobile=SUBJECT_MOBILE).code == "provider_unavailable"
    assert services.consent.list_for(user) == []


def test_the_subject_withdraws_by_phone(services: IdentityServices, user: str,
                                        vendor: FakeVendor, clock: FakeClock) -> None:
    consent = services.consent
    info, challenge = _by_phone(consent, user, clock)
    consent.confirm(info.consent_id, user, challenge.challenge_id,
                    vendor.last_code(SUBJECT_MOBILE))
    for phone, cid in ((OTHER_MOBILE, info.consent_id), (SUBJECT_MOBILE, "cns_missing"),
                       ("not a phone", info.consent_id)):
        assert _error(consent.start_subject_revocation, cid, phone).code == "consent_unknown"
    clock.advance(seconds=61)
    withdraw = consent.start_subject_revocation(info.consent_id, SUBJECT_MOBILE)
    assert vendor.outbox[-1].purpose == "consent_revoke"
    revoked = consent.confirm_subject_revocation(info.consent_id, withdraw.challenge_id,
                                                 vendor.last_code(SUBJECT_MOBILE))
    assert revoked.status == "revoked" and revoked.revoked_by == "data subject"
    assert consent.check(info.consent_id, user, "face").code == "consent_revoked"


def test_closed_accounts_lose_their_consents_after_retention(
        services: IdentityServices, user: str, clock: FakeClock) -> None:
    cid = _create(services.consent, user, clock)
    services.accounts.set_state(user, "closed", "asked", "admin")  # type: ignore[arg-type]
    clock.advance(days=services.settings.retention_days + 1)
    services.purge()
    info = services.consent.get(cid)
    assert info.status == "revoked" and info.revocation_reason == "account closed"
    assert info.subject == "张*"  # the masked form stays as the record's label
