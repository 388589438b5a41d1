"""The consent router on a small FastAPI app (httpx test client): create, confirm,
check, revoke, the subject's withdrawal, and 4xx JSON errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from synthguard.identity.services import IdentityServices
from tests.accounts.conftest import FakeClock
from tests.api_errors import api_error
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import bearer, make_app, verify_by_mobile

SUBJECT_MOBILE = "13912345678"


@pytest.fixture
def client(services: IdentityServices) -> TestClient:
    return TestClient(make_app(services))


@pytest.fixture
def auth(client: TestClient, services: IdentityServices, vendor: FakeVendor) -> dict[str, str]:
    account = client.post("/v1/identity/signup", json={"name": "Li Lei"}).json()
    verify_by_mobile(services, vendor, account["user_id"])
    return bearer(account["api_key"])


def _body(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_name": "张丽", "scope": "face", "purpose": "海报", "allowed_outputs": ["image"],
        "valid_until": (clock.now + timedelta(days=30)).isoformat(),
        "statement_ref": "upload:statement-7"}
    body.update(overrides)
    return body


def _error(response: httpx.Response, status: int, code: str) -> None:
    api_error(response, status, code)


def test_statement_consent_lifecycle(client: TestClient, auth: dict[str, str],
                                     clock: FakeClock) -> None:
    created = client.post("/v1/consents", headers=auth, json=_body(clock))
    assert created.status_code == 201, created.text
    consent = created.json()["consent"]
    assert consent["status"] == "active" and consent["subject"] == "张*"
    assert created.json()["challenge"] is None
    cid = consent["consent_id"]
    assert [c["consent_id"] for c in client.get("/v1/consents", headers=auth).json()["data"]] \
        == [cid]
    check = client.post(f"/v1/consents/{cid}/check", headers=auth,
                        json={"kind": "face", "output": "image"}).json()
    assert check["granted"] is True
    revoked = client.post(f"/v1/consents/{cid}/revoke", headers=auth, json={"reason": "done"})
    assert revoked.json()["status"] == "revoked"
    check = client.post(f"/v1/consents/{cid}/check", headers=auth, json={"kind": "face"}).json()
    assert (check["granted"], check["code"]) == (False, "consent_revoked")
    checks = client.get(f"/v1/consents/{cid}/checks", headers=auth).json()["data"]
    assert [c["code"] for c in checks] == ["granted", "consent_revoked"]


def test_phone_consent_and_the_subjects_withdrawal(client: TestClient, auth: dict[str, str],
                                                   vendor: FakeVendor, clock: FakeClock) -> None:
    created = client.post("/v1/consents", headers=auth, json=_body(
        clock, statement_ref=None, subject_mobile=SUBJECT_MOBILE)).json()
    cid, challenge = created["consent"]["consent_id"], created["challenge"]
    assert created["consent"]["status"] == "pending" and SUBJECT_MOBILE not in str(created)
    confirmed = client.post(f"/v1/consents/{cid}/confirm", headers=auth, json={
        "challenge_id": challenge["challenge_id"], "code": vendor.last_code(SUBJECT_MOBILE)})
    assert confirmed.json()["status"] == "active"
    clock.advance(seconds=61)
    # The data subject has no account: no API key on these two.
    start = client.post(f"/v1/consents/{cid}/subject-revocation",
                        json={"subject_mobile": SUBJECT_MOBILE})
    assert start.status_code == 202
    done = client.post(f"/v1/consents/{cid}/subject-revocation/confirm", json={
        "challenge_id": start.json()["challenge_id"],
        "code": vendor.last_code(SUBJECT_MOBILE)})
    assert done.json() == {"consent_id": cid, "status": "revoked"}


def test_resend_needs_a_pending_phone_consent(client: TestClient, auth: dict[str, str],
                                              clock: FakeClock) -> None:
    cid = client.post("/v1/consents", headers=auth,
                      json=_body(clock)).json()["consent"]["consent_id"]
    _error(client.post(f"/v1/consents/{cid}/resend", headers=auth), 409, "consent_not_pending")


def test_consent_errors(client: TestClient, auth: dict[str, str], clock: FakeClock) -> None:
    _error(client.post("/v1/consents", json=_body(clock)), 401, "invalid_api_key")
    naive = _body(clock, valid_until="2030-01-01T00:00:00")
    _error(client.post("/v1/consents", headers=auth, json=naive), 422, "invalid_request")
    _error(client.post("/v1/consents", headers=auth, json=_body(clock, scope="body")), 422,
           "invalid_request")
    _error(client.post("/v1/consents", headers=auth, json=_body(clock, statement_ref=None)),
           422, "evidence_required")
    _error(client.get("/v1/consents/cns_missing", headers=auth), 404, "consent_unknown")
    _error(client.get("/v1/consents/" + "c" * 101, headers=auth), 404, "consent_unknown")
    _error(client.post("/v1/consents/cns_x/subject-revocation",
                       json={"subject_mobile": SUBJECT_MOBILE}), 404, "consent_unknown")
    other = client.post("/v1/identity/signup", json={"name": "Other"}).json()
    cid = client.post("/v1/consents", headers=auth,
                      json=_body(clock)).json()["consent"]["consent_id"]
    _error(client.get(f"/v1/consents/{cid}/checks", headers=bearer(other["api_key"])), 404,
           "consent_unknown")
    _error(client.post("/v1/consents", headers=bearer(other["api_key"]), json=_body(clock)),
           403, "identity_unverified")
