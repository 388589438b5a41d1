"""Verification flows against the fake vendor server: mobile + code, ID number + name
(operator three-element and eKYC), organisation by credit code, network identity; and
the identity gate they open (`Accounts.authenticate(...).verified`)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from synthguard.identity.adapters import HttpPersonVerifier
from synthguard.identity.errors import IdentityError
from synthguard.identity.models import VerificationEvidence
from synthguard.identity.services import IdentityServices
from synthguard.identity.verification import VerificationService
from tests.accounts.conftest import FakeClock
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import (
    DEMO_USCC,
    MOBILE,
    NAME,
    OTHER_MOBILE,
    STANDARD_ID,
    VIRTUAL_MOBILE,
    new_user,
    verify_by_mobile,
)


def _error(call: object, *args: object, **kwargs: object) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def _evidence(services: IdentityServices, user: str) -> list[VerificationEvidence]:
    with services.database.session() as s:
        return list(s.scalars(select(VerificationEvidence)
                              .where(VerificationEvidence.user_id == user)
                              .order_by(VerificationEvidence.created_at)))


def test_sign_up_then_mobile_opens_the_identity_gate(services: IdentityServices,
                                                     vendor: FakeVendor) -> None:
    created = services.verification.sign_up("Li Lei", "Acme")
    key = services.accounts.authenticate(created.api_key)
    assert key is not None and not key.verified
    verify_by_mobile(services, vendor, created.user_id)
    key = services.accounts.authenticate(created.api_key)
    assert key is not None and key.verified
    status = services.verification.status(created.user_id)
    assert status.verified and status.method == "mobile_otp"
    assert status.masked == {"mobile": "138****8000"}
    [evidence] = _evidence(services, created.user_id)
    assert status.evidence_id == evidence.id and evidence.outcome == "match"
    assert evidence.detail == {"virtual_operator": False}
    info = services.accounts.describe_user(created.user_id)
    assert info.verification_evidence == evidence.id and info.verified_at is not None


def test_one_phone_verifies_one_account(services: IdentityServices, vendor: FakeVendor) -> None:
    first, second = new_user(services), new_user(services)
    verify_by_mobile(services, vendor, first)
    error = _error(services.verification.start_mobile, second, MOBILE)
    assert (error.code, error.status) == ("mobile_in_use", 409)
    assert MOBILE not in str(error)


def test_max_accounts_is_configurable(database: object, vendor: FakeVendor,
                                      services: IdentityServices, clock: FakeClock) -> None:
    roomy = dataclasses.replace(services.settings, max_accounts_per_identity=2)
    wide = IdentityServices.build(services.config, services.database, roomy, clock=clock)
    first, second = new_user(wide), new_user(wide)
    verify_by_mobile(wide, vendor, first)
    clock.advance(seconds=61)
    verify_by_mobile(wide, vendor, second)
    assert wide.verification.status(second).verified


def test_bad_mobile_and_closed_account(services: IdentityServices) -> None:
    user = new_user(services)
    error = _error(services.verification.start_mobile, user, "14012345678")
    assert (error.code, error.reason, error.status) == ("invalid_mobile", "unassigned_range",
                                                        422)
    services.accounts.set_state(user, "closed", "asked", "admin")  # type: ignore[arg-type]
    assert _error(services.verification.start_mobile, user, MOBILE).code == "account_closed"
    assert _error(services.verification.status, "usr_missing").code == "unknown_user"


def test_operator_three_element(services: IdentityServices, vendor: FakeVendor) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    user = new_user(services)
    status = services.verification.verify_id_number(user, NAME, STANDARD_ID.lower(), MOBILE)
    assert status.verified and status.method == "operator_three_element"
    assert status.masked == {"id_number": "110***********002X", "mobile": "138****8000",
                             "real_name": "王**"}
    path, body, auth = vendor.requests[-1]
    assert path == "/person" and auth == "Bearer vendor-test-credential"
    assert body == {"method": "operator_three_element", "name": NAME,
                    "id_number": STANDARD_ID, "mobile": MOBILE}
    [evidence] = _evidence(services, user)
    assert evidence.provider_reference and evidence.detail == {"id_kind": "resident"}


def test_three_element_uses_the_verified_phone(services: IdentityServices,
                                               vendor: FakeVendor) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    user = new_user(services)
    assert _error(services.verification.verify_id_number, user, NAME,
                  STANDARD_ID).code == "mobile_required"
    verify_by_mobile(services, vendor, user)
    assert services.verification.verify_id_number(user, NAME, STANDARD_ID).method == (
        "operator_three_element")


@pytest.mark.parametrize("name, mobile, code", [
    ("李四", MOBILE, "identity_mismatch"),
    (NAME, OTHER_MOBILE, "identity_mismatch"),
])
def test_mismatch_is_refused_and_recorded(services: IdentityServices, vendor: FakeVendor,
                                          name: str, mobile: str, code: str) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    user = new_user(services)
    error = _error(services.verification.verify_id_number, user, name, STANDARD_ID, mobile)
    assert (error.code, error.status) == (code, 403)
    assert STANDARD_ID not in str(error) and name not in str(error)
    [evidence] = _evidence(services, user)
    assert evidence.outcome == "mismatch"
    assert not services.verification.status(user).verified
    assert services.verification.status(user).masked == {}


def test_unknown_person(services: IdentityServices) -> None:
    user = new_user(services)
    assert _error(services.verification.verify_id_number, user, NAME, STANDARD_ID,
                  MOBILE).code == "identity_no_record"


def test_invalid_inputs_never_reach_the_provider(services: IdentityServices,
                                                 vendor: FakeVendor) -> None:
    user = new_user(services)
    cases = [((NAME, "110105194912310021", MOBILE), "invalid_id_number"),
             ((NAME, STANDARD_ID, VIRTUAL_MOBILE), "virtual_operator_unsupported"),
             (("王2", STANDARD_ID, MOBILE), "invalid_name"),
             (("", STANDARD_ID, MOBILE), "invalid_input"),
             ((NAME, STANDARD_ID, "12345"), "invalid_mobile")]
    for args, code in cases:
        error = _error(services.verification.verify_id_number, user, *args)
        assert (error.code, error.status) == (code, 422)
    assert _error(services.verification.verify_id_number, user, NAME,
                  "110105194912310021").reason == "check_character"
    assert vendor.requests == []


def test_ekyc_needs_no_phone(services: IdentityServices, vendor: FakeVendor,
                             clock: FakeClock) -> None:
    vendor.persons[STANDARD_ID] = (NAME, None)
    settings = services.settings
    assert settings.person_verifier is not None
    ekyc = VerificationService(
        services.database, services.accounts, services.vault, services.codes, settings,
        person=HttpPersonVerifier(settings.person_verifier, "ekyc"), clock=clock)
    user = new_user(services)
    assert ekyc.verify_id_number(user, NAME, STANDARD_ID).method == "ekyc"


def test_daily_limit_on_provider_checks(services: IdentityServices, clock: FakeClock) -> None:
    user = new_user(services)
    for _ in range(services.settings.identity_checks_per_day):
        _error(services.verification.verify_id_number, user, NAME, STANDARD_ID, MOBILE)
    clock.advance(hours=1)
    error = _error(services.verification.verify_id_number, user, NAME, STANDARD_ID, MOBILE)
    assert (error.status, error.retry_after_s) == (429, 23 * 3600 + 1)
    clock.advance(hours=23, seconds=1)
    assert _error(services.verification.verify_id_number, user, NAME, STANDARD_ID,
                  MOBILE).code == "identity_no_record"


def test_one_id_number_verifies_one_account(services: IdentityServices,
                                            vendor: FakeVendor) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    first, second = new_user(services), new_user(services)
    services.verification.verify_id_number(first, NAME, STANDARD_ID, MOBILE)
    requests = len(vendor.requests)
    error = _error(services.verification.verify_id_number, second, NAME, STANDARD_ID,
                   OTHER_MOBILE)
    assert error.code == "id_number_in_use" and len(vendor.requests) == requests


def test_organisation_by_credit_code(services: IdentityServices, vendor: FakeVendor) -> None:
    vendor.organisations[DEMO_USCC] = "演示科技有限公司"
    user = new_user(services)
    error = _error(services.verification.verify_organisation, user, "91110108MA01A0A004",
                   "演示科技有限公司")
    assert (error.code, error.reason) == ("invalid_uscc", "check_character")
    assert _error(services.verification.verify_organisation, user, DEMO_USCC,
                  "别的公司").code == "identity_mismatch"
    status = services.verification.verify_organisation(user, DEMO_USCC.lower(),
                                                       "演示科技有限公司", "张三")
    assert status.verified and status.method == "organisation_uscc"
    assert vendor.requests[-1][1] == {"uscc": DEMO_USCC, "name": "演示科技有限公司",
                                      "legal_representative": "张三"}
    assert _evidence(services, user)[-1].detail == {"uscc": DEMO_USCC}


def test_network_identity_keeps_only_the_opaque_result(services: IdentityServices,
                                                       vendor: FakeVendor) -> None:
    vendor.tickets["ticket-1"] = "WH-8f3a2c"
    first, second = new_user(services), new_user(services)
    assert _error(services.verification.verify_network_identity, first,
                  "unknown").code == "identity_mismatch"
    status = services.verification.verify_network_identity(first, "ticket-1")
    assert status.verified and status.method == "network_identity" and status.masked == {}
    evidence = _evidence(services, first)[-1]
    assert evidence.subject_hash and "WH-8f3a2c" not in evidence.subject_hash
    assert evidence.detail is None
    # The same network identity cannot verify a second account.
    assert _error(services.verification.verify_network_identity, second,
                  "ticket-1").code == "identity_in_use"
    assert _error(services.verification.verify_network_identity, second,
                  "\x00").code == "invalid_ticket"


def test_unconfigured_providers(services: IdentityServices, clock: FakeClock) -> None:
    bare = VerificationService(services.database, services.accounts, services.vault,
                               services.codes, services.settings, clock=clock)
    user = new_user(services)
    for call, args in ((bare.verify_id_number, (NAME, STANDARD_ID, MOBILE)),
                       (bare.verify_organisation, (DEMO_USCC, "x")),
                       (bare.verify_network_identity, ("t",))):
        error = _error(call, user, *args)
        assert (error.code, error.status) == ("verifier_not_configured", 503)
