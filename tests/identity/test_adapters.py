"""The HTTP adapters against the fake vendor server when it misbehaves, and the settings
that configure them (URLs, credentials from the environment, vault keys)."""

from __future__ import annotations

import pytest

from synthguard.config import ConfigError
from synthguard.identity.adapters import (
    HttpNetworkIdentityVerifier,
    HttpPersonVerifier,
    PersonClaim,
)
from synthguard.identity.errors import IdentityError
from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings, VendorEndpoint
from synthguard.store import Database
from tests.accounts.conftest import make_config
from tests.identity.fake_vendor import CREDENTIAL, FakeVendor
from tests.identity.helpers import MOBILE, NAME, STANDARD_ID, settings_for

CLAIM = PersonClaim(NAME, STANDARD_ID, MOBILE)


def _person(vendor: FakeVendor, credential: str = CREDENTIAL,
            timeout_s: float = 5) -> HttpPersonVerifier:
    return HttpPersonVerifier(VendorEndpoint(vendor.url + "/person", credential, timeout_s))


def _failure(verifier: HttpPersonVerifier) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        verifier.verify_person(CLAIM)
    assert caught.value.status == 503
    for secret in (NAME, STANDARD_ID, MOBILE, CREDENTIAL):
        assert secret not in str(caught.value)
    return caught.value


def test_match_and_claim_repr(vendor: FakeVendor) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    result = _person(vendor).verify_person(CLAIM)
    assert result.outcome == "match" and result.reference.startswith("txn-")
    assert STANDARD_ID not in repr(CLAIM) and MOBILE not in repr(CLAIM)


@pytest.mark.parametrize("setup, code", [
    ({"fail_with": 500}, "provider_unavailable"),
    ({"fail_with": 429}, "provider_unavailable"),
    ({"raw_answer": b"<html>oops</html>"}, "provider_bad_answer"),
    ({"raw_answer": b"[1, 2]"}, "provider_bad_answer"),
    ({"raw_answer": b'{"result": "maybe"}'}, "provider_bad_answer"),
    ({"raw_answer": b'{"result": "match", "reference": 7}'}, "provider_bad_answer"),
    ({"raw_answer": b'{"result": "match", "reference": "' + b"r" * 201 + b'"}'},
     "provider_bad_answer"),
    ({"raw_answer": b'{"result": "match", "pad": "' + b"x" * 70_000 + b'"}'},
     "provider_bad_answer"),
])
def test_bad_answers(vendor: FakeVendor, setup: dict[str, object], code: str) -> None:
    for name, value in setup.items():
        setattr(vendor, name, value)
    assert _failure(_person(vendor)).code == code


def test_wrong_credential_timeout_and_no_server(vendor: FakeVendor) -> None:
    assert "refused the service's credential" in str(_failure(_person(vendor, "wrong")))
    vendor.delay_s = 0.5
    assert _failure(_person(vendor, timeout_s=0.1)).code == "provider_timeout"
    vendor.delay_s = 0
    gone = HttpPersonVerifier(VendorEndpoint("http://127.0.0.1:9/person", CREDENTIAL, 2))
    assert _failure(gone).code == "provider_unreachable"


def test_network_identity_needs_a_subject(vendor: FakeVendor) -> None:
    verifier = HttpNetworkIdentityVerifier(VendorEndpoint(vendor.url + "/network-identity",
                                                          CREDENTIAL))
    vendor.raw_answer = b'{"result": "match", "reference": "r"}'
    with pytest.raises(IdentityError, match="no usable subject"):
        verifier.redeem("t")
    vendor.raw_answer = b'{"result": "mismatch", "reference": "r"}'
    assert verifier.redeem("t").outcome == "mismatch"


@pytest.mark.parametrize("url, message", [
    ("http://verifier.example/check", "must use https"),
    ("ftp://verifier.example/", "must be an http"),
    ("https://", "must be an http"),
])
def test_vendor_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        VendorEndpoint(url, CREDENTIAL)
    with pytest.raises(ConfigError, match="needs a credential"):
        VendorEndpoint("https://verifier.example/", "")
    assert VendorEndpoint("http://localhost:8080/x", "c").url.startswith("http://localhost")


def test_settings_from_the_environment() -> None:
    env = {"SYNTHGUARD_VAULT_KEYS": f"old:{'11' * 32}, new:{'22' * 32}",
           "SYNTHGUARD_IDENTITY_RETENTION_DAYS": "30",
           "SYNTHGUARD_PERSON_VERIFIER_URL": "https://kyc.example/v1/check",
           "SYNTHGUARD_PERSON_VERIFIER_CREDENTIAL": "s3cret",
           "SYNTHGUARD_PERSON_VERIFIER_METHOD": "ekyc"}
    settings = IdentitySettings.from_env(env)
    assert settings.vault_active_key == "new" and set(settings.vault_keys) == {"old", "new"}
    assert settings.retention_days == 30 and settings.person_method == "ekyc"
    assert settings.person_verifier is not None and settings.sms is None
    assert "s3cret" not in repr(settings) and "11" * 32 not in repr(settings)
    assert IdentitySettings.from_env({}) == IdentitySettings()
    for bad, message in (
            ({"SYNTHGUARD_SMS_URL": "https://sms.example"}, "CREDENTIAL is not"),
            ({"SYNTHGUARD_VAULT_KEYS": "k1"}, "id:key"),
            ({"SYNTHGUARD_VAULT_KEYS": f"k1:{'11' * 40}"}, "need 32"),
            ({"SYNTHGUARD_VAULT_KEYS": f"K 1:{'11' * 32}"}, "vault key id"),
            ({"SYNTHGUARD_VAULT_KEYS": f"k1:{'11' * 32}", "SYNTHGUARD_VAULT_ACTIVE_KEY": "k2"},
             "not configured"),
            ({"SYNTHGUARD_IDENTITY_RETENTION_DAYS": "soon"}, "whole number"),
            ({"SYNTHGUARD_IDENTITY_MAX_ACCOUNTS": "0"}, "out of range"),
            ({"SYNTHGUARD_PERSON_VERIFIER_METHOD": "palm"}, "method must be")):
        with pytest.raises(ConfigError, match=message):
            IdentitySettings.from_env(bad)


def test_services_close_their_http_clients(vendor: FakeVendor) -> None:
    services = IdentityServices.build(make_config(), Database("sqlite://"),
                                      settings_for(vendor))
    adapters = [services.codes.sender, *services.verification.plugins]
    assert len(adapters) == 4
    services.close()
    assert all(a._vendor._client.is_closed for a in adapters)  # type: ignore[union-attr]
