"""One-time codes: hashed, expiring, single use, attempt limits, resend throttling, and
the SMS plug-ins (through the fake vendor server; the development sender in demo mode)."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select

from synthguard.identity.adapters import DevelopmentSmsSender
from synthguard.identity.errors import IdentityError
from synthguard.identity.models import OtpChallenge
from synthguard.identity.otp import OneTimeCodes
from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings
from synthguard.identity.vault import DataKind
from tests.accounts.conftest import SECRET, FakeClock
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import MOBILE, OTHER_MOBILE, new_user


def _code_error(services: IdentityServices, challenge_id: str, code: str,
                **kwargs: str | None) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        services.codes.redeem(challenge_id, code, purpose="verify_mobile", **kwargs)
    return caught.value


def test_code_round_trip_stores_only_a_hash(services: IdentityServices,
                                            vendor: FakeVendor) -> None:
    user = new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    assert challenge.masked_phone == "138****8000" and challenge.resend_after_s == 60
    code = vendor.last_code(MOBILE)
    assert len(code) == 6 and code.isdigit()
    with services.database.session() as s:
        row = s.get(OtpChallenge, challenge.challenge_id)
        assert row is not None and code not in row.code_hash and len(row.code_hash) == 64
    ref = services.codes.redeem(challenge.challenge_id, code, purpose="verify_mobile",
                                user_id=user)
    assert ref.kind == DataKind.MOBILE and ref.masked == "138****8000"


def test_replayed_code_is_refused(services: IdentityServices, vendor: FakeVendor) -> None:
    user = new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    code = vendor.last_code(MOBILE)
    services.codes.redeem(challenge.challenge_id, code, purpose="verify_mobile", user_id=user)
    error = _code_error(services, challenge.challenge_id, code, user_id=user)
    assert (error.code, error.status) == ("code_used", 409)


def test_expired_code_is_refused(services: IdentityServices, vendor: FakeVendor,
                                 clock: FakeClock) -> None:
    user = new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    clock.advance(seconds=services.settings.otp_ttl_s)
    error = _code_error(services, challenge.challenge_id, vendor.last_code(MOBILE),
                        user_id=user)
    assert (error.code, error.status) == ("code_expired", 410)


def test_brute_force_hits_the_attempt_limit(services: IdentityServices,
                                            vendor: FakeVendor) -> None:
    user = new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    code = vendor.last_code(MOBILE)
    wrong = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code]
    codes = [_code_error(services, challenge.challenge_id, guess, user_id=user).code
             for guess in wrong[:5]]
    assert codes == ["wrong_code"] * 4 + ["too_many_attempts"]
    # Even the right code is refused now, and every wrong try was committed.
    assert _code_error(services, challenge.challenge_id, code,
                       user_id=user).code == "too_many_attempts"
    with services.database.session() as s:
        row = s.get(OtpChallenge, challenge.challenge_id)
        assert row is not None and row.attempts == 5 and row.consumed_at is None


def test_a_code_is_bound_to_its_purpose_and_account(services: IdentityServices,
                                                    vendor: FakeVendor) -> None:
    user, other = new_user(services), new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    code = vendor.last_code(MOBILE)
    assert _code_error(services, challenge.challenge_id, code,
                       user_id=other).code == "code_unknown"
    assert _code_error(services, "otp_nonexistent", code, user_id=user).code == "code_unknown"
    with pytest.raises(IdentityError, match="no such code"):
        services.codes.redeem(challenge.challenge_id, code, purpose="consent_confirm",
                              user_id=user)


def test_resend_is_throttled_and_supersedes(services: IdentityServices, vendor: FakeVendor,
                                            clock: FakeClock) -> None:
    user = new_user(services)
    first = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    first_code = vendor.last_code(MOBILE)
    clock.advance(seconds=20)
    with pytest.raises(IdentityError) as soon:
        services.codes.issue("verify_mobile", MOBILE, user_id=user)
    assert (soon.value.status, soon.value.retry_after_s) == (429, 40)
    clock.advance(seconds=40)
    second = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    assert _code_error(services, first.challenge_id, first_code,
                       user_id=user).code == "code_superseded"
    services.codes.redeem(second.challenge_id, vendor.last_code(MOBILE),
                          purpose="verify_mobile", user_id=user)


def test_hourly_limit_per_phone_and_per_account(services: IdentityServices,
                                                vendor: FakeVendor, clock: FakeClock) -> None:
    users = [new_user(services) for _ in range(6)]
    for user in users[:5]:  # five accounts, one phone
        services.codes.issue("verify_mobile", MOBILE, user_id=user)
        clock.advance(seconds=61)
    with pytest.raises(IdentityError) as phone_limit:
        services.codes.issue("verify_mobile", MOBILE, user_id=users[5])
    assert phone_limit.value.retry_after_s == 3600 - 5 * 61
    # One account, many phones: no spacing between phones, the same hourly limit.
    for n in range(5):
        services.codes.issue("verify_mobile", f"1590000{n:04d}", user_id=users[5])
    with pytest.raises(IdentityError, match="at most 5 codes an hour"):
        services.codes.issue("verify_mobile", OTHER_MOBILE, user_id=users[5])
    clock.advance(hours=1)
    services.codes.issue("verify_mobile", MOBILE, user_id=users[5])


def test_failed_sms_leaves_no_challenge_and_no_throttle(services: IdentityServices,
                                                        vendor: FakeVendor) -> None:
    user = new_user(services)
    vendor.fail_with = 500
    with pytest.raises(IdentityError) as failed:
        services.codes.issue("verify_mobile", MOBILE, user_id=user)
    assert (failed.value.status, failed.value.code) == (503, "provider_unavailable")
    assert MOBILE not in str(failed.value)
    with services.database.session() as s:
        assert s.scalars(select(OtpChallenge)).all() == []
    vendor.fail_with = None
    services.codes.issue("verify_mobile", MOBILE, user_id=user)


def test_no_sender_means_no_codes(services: IdentityServices, clock: FakeClock) -> None:
    codes = OneTimeCodes(services.database, services.vault, None, IdentitySettings(), SECRET,
                         clock)
    with pytest.raises(IdentityError) as caught:
        codes.issue("verify_mobile", MOBILE)
    assert (caught.value.code, caught.value.status) == ("sms_not_configured", 503)


def test_development_sender_logs_in_demo_mode_only(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(IdentityError, match="only runs in demo mode"):
        DevelopmentSmsSender(demo=False)
    with caplog.at_level(logging.INFO, logger="synthguard"):
        DevelopmentSmsSender(demo=True).send_code(MOBILE, "123456", purpose="verify_mobile",
                                                  ttl_s=300, details={})
    assert "123456" in caplog.text and "138****8000" in caplog.text
    assert MOBILE not in caplog.text


def test_parallel_redeems_with_the_right_code_succeed_once(services: IdentityServices,
                                                           vendor: FakeVendor) -> None:
    user = new_user(services)
    challenge = services.codes.issue("verify_mobile", MOBILE, user_id=user)
    code = vendor.last_code(MOBILE)
    outcomes: list[str] = []

    def redeem() -> None:
        try:
            services.codes.redeem(challenge.challenge_id, code, purpose="verify_mobile",
                                  user_id=user)
            outcomes.append("ok")
        except IdentityError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["code_used"] * 3 + ["ok"]
