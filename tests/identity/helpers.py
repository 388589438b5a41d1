"""Shared by the identity and consent tests: services wired to the fake vendor server,
valid numbers, and a verified account."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from synthguard.consent import http as consent_http
from synthguard.identity import http as identity_http
from synthguard.identity.numbers import id_check_character
from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings, VendorEndpoint
from tests.identity.fake_vendor import CREDENTIAL, FakeVendor

# GB 11643-1999's own example (Beijing, Chaoyang district, born 1949-12-31).
STANDARD_ID = "11010519491231002X"
NAME = "王小明"
MOBILE = "13800138000"
OTHER_MOBILE = "15912345678"
VIRTUAL_MOBILE = "17012345678"
DEMO_USCC = "91110108MA01A0A003"


def id_number(body17: str) -> str:
    return body17 + id_check_character(body17)


def settings_for(vendor: FakeVendor, **overrides: Any) -> IdentitySettings:
    def endpoint(path: str) -> VendorEndpoint:
        return VendorEndpoint(vendor.url + path, CREDENTIAL, timeout_s=5)

    values: dict[str, Any] = {
        "sms": endpoint("/sms"), "person_verifier": endpoint("/person"),
        "organisation_verifier": endpoint("/organisation"),
        "network_identity": endpoint("/network-identity")}
    values.update(overrides)
    return IdentitySettings(**values)


def new_user(services: IdentityServices, name: str = "Li Lei") -> str:
    return services.accounts.create_user(services.accounts.create_org("Acme"), name)


def verify_by_mobile(services: IdentityServices, vendor: FakeVendor, user_id: str,
                     mobile: str = MOBILE) -> None:
    challenge = services.verification.start_mobile(user_id, mobile)
    services.verification.confirm_mobile(user_id, challenge.challenge_id,
                                         vendor.last_code(mobile))


def make_app(services: IdentityServices) -> FastAPI:
    """A small app with both routers, wired the way the gateway app is to be."""
    app = FastAPI()
    app.state.identity = services
    app.include_router(identity_http.router)
    app.include_router(consent_http.router)
    return app


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
