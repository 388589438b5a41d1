"""The identity router on a small FastAPI app: one flow through a real uvicorn server,
the rest through httpx's test client; every error has the API's one shape."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from synthguard.identity.services import IdentityServices
from tests.accounts.conftest import FakeClock
from tests.api_errors import api_error
from tests.gateway.conftest import LiveServer
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import (
    DEMO_USCC,
    MOBILE,
    NAME,
    STANDARD_ID,
    bearer,
    make_app,
)


@pytest.fixture
def client(services: IdentityServices) -> TestClient:
    return TestClient(make_app(services))


def _signup(client: TestClient | httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/identity/signup", json={"name": "Li Lei"})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    return api_error(response, status, code)


def test_sign_up_and_verify_by_mobile_over_a_real_server(services: IdentityServices,
                                                         vendor: FakeVendor) -> None:
    with LiveServer(make_app(services)) as server, httpx.Client(base_url=server.url) as http:
        account = _signup(http)
        assert account["verified"] is False and account["api_key"].startswith("sg-")
        auth = bearer(account["api_key"])
        me = http.get("/v1/identity/me", headers=auth).json()
        assert me["verified"] is False and me["masked"] == {}
        started = http.post("/v1/identity/mobile/start", headers=auth,
                            json={"mobile": "+86 138 0013 8000"})
        assert started.status_code == 202
        challenge = started.json()
        assert challenge["masked_phone"] == "138****8000" and MOBILE not in started.text
        confirmed = http.post("/v1/identity/mobile/confirm", headers=auth, json={
            "challenge_id": challenge["challenge_id"], "code": vendor.last_code(MOBILE)})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["verified"] is True
        assert confirmed.json()["method"] == "mobile_otp"
    key = services.accounts.authenticate(account["api_key"])
    assert key is not None and key.verified  # the gateway's identity gate opens


def test_id_number_organisation_and_network_identity(client: TestClient,
                                                     vendor: FakeVendor) -> None:
    vendor.persons[STANDARD_ID] = (NAME, MOBILE)
    vendor.organisations[DEMO_USCC] = "演示科技"
    vendor.tickets["t-1"] = "opaque-1"
    auth = bearer(_signup(client)["api_key"])
    mismatch = client.post("/v1/identity/id-number", headers=auth, json={
        "name": "李四", "id_number": STANDARD_ID, "mobile": MOBILE})
    error = _error(mismatch, 403, "identity_mismatch")
    assert STANDARD_ID not in mismatch.text and "李四" not in error["message"]
    ok = client.post("/v1/identity/id-number", headers=auth, json={
        "name": NAME, "id_number": STANDARD_ID, "mobile": MOBILE})
    assert ok.status_code == 200 and ok.json()["masked"]["id_number"] == "110***********002X"
    assert STANDARD_ID not in ok.text and MOBILE not in ok.text
    auth2 = bearer(_signup(client)["api_key"])
    org = client.post("/v1/identity/organisation", headers=auth2,
                      json={"uscc": DEMO_USCC, "name": "演示科技"})
    assert org.status_code == 200 and org.json()["method"] == "organisation_uscc"
    auth3 = bearer(_signup(client)["api_key"])
    net = client.post("/v1/identity/network-identity", headers=auth3, json={"ticket": "t-1"})
    assert net.status_code == 200 and net.json()["method"] == "network_identity"


@pytest.mark.parametrize("kind, value, ok, reason", [
    ("id_number", STANDARD_ID, True, None),
    ("id_number", "110105194912310021", False, "check_character"),
    ("mobile", "17012345678", True, None),
    ("mobile", "14012345678", False, "unassigned_range"),
    ("uscc", DEMO_USCC, True, None),
    ("uscc", "94110108MA01A0A003", False, "entity_type"),
])
def test_check_number(client: TestClient, kind: str, value: str, ok: bool,
                      reason: str | None) -> None:
    body = client.post("/v1/identity/check-number", json={"kind": kind, "value": value}).json()
    assert (body["ok"], body["reason"]) == (ok, reason)
    if kind == "mobile" and ok:
        assert body["virtual_operator"] is True


def test_bad_requests_are_4xx_json_without_the_input(client: TestClient) -> None:
    _error(client.get("/v1/identity/me"), 401, "invalid_api_key")
    _error(client.get("/v1/identity/me", headers=bearer("sg-" + "x" * 32)), 401,
           "invalid_api_key")
    auth = bearer(_signup(client)["api_key"])
    _error(client.post("/v1/identity/mobile/start", headers=auth, content=b"{not json"),
           400, "invalid_json")
    wrong_type = client.post("/v1/identity/id-number", headers=auth,
                             json={"name": NAME, "id_number": 110105194912310021})
    assert "110105194912310021" not in _error(wrong_type, 422, "invalid_request")["message"]
    _error(client.post("/v1/identity/mobile/start", headers=auth,
                       json={"mobile": MOBILE, "extra": 1}), 422, "invalid_request")
    _error(client.post("/v1/identity/mobile/start", headers=auth, json=[MOBILE]), 422,
           "invalid_request")
    too_long = client.post("/v1/identity/id-number", headers=auth,
                           json={"name": NAME * 30, "id_number": STANDARD_ID})
    _error(too_long, 422, "invalid_request")
    _error(client.post("/v1/identity/signup", content=json.dumps({"name": "x" * 20_000})),
           413, "request_too_large")
    bad = client.post("/v1/identity/id-number", headers=auth,
                      json={"name": NAME, "id_number": "110105194912310021"})
    error = _error(bad, 422, "invalid_id_number")
    assert error["reason"] == "check_character" and "110105194912310021" not in bad.text
    _error(client.post("/v1/identity/mobile/confirm", headers=auth,
                       json={"challenge_id": "otp_x", "code": "123456"}), 404, "code_unknown")


def test_throttle_and_expiry_statuses(client: TestClient, vendor: FakeVendor,
                                      clock: FakeClock) -> None:
    auth = bearer(_signup(client)["api_key"])
    first = client.post("/v1/identity/mobile/start", headers=auth, json={"mobile": MOBILE})
    again = client.post("/v1/identity/mobile/start", headers=auth, json={"mobile": MOBILE})
    _error(again, 429, "too_many_requests")
    assert again.headers["retry-after"] == "60"
    clock.advance(minutes=10)
    expired = client.post("/v1/identity/mobile/confirm", headers=auth, json={
        "challenge_id": first.json()["challenge_id"], "code": vendor.last_code(MOBILE)})
    _error(expired, 410, "code_expired")


def test_provider_failures_are_503(client: TestClient, vendor: FakeVendor) -> None:
    auth = bearer(_signup(client)["api_key"])
    vendor.fail_with = 500
    response = client.post("/v1/identity/id-number", headers=auth,
                           json={"name": NAME, "id_number": STANDARD_ID, "mobile": MOBILE})
    error = _error(response, 503, "provider_unavailable")
    assert "HTTP 500" in error["message"] and STANDARD_ID not in response.text


def test_openapi_bodies_are_inline(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    start = doc["paths"]["/v1/identity/mobile/start"]["post"]
    schema = start["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["mobile"] and schema["additionalProperties"] is False
    assert "$ref" not in json.dumps(doc["paths"]) and "$defs" not in json.dumps(doc["paths"])
