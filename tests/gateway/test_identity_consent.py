"""The identity and consent services inside the gateway app, built by `create_app` itself
from configuration: sign-up → verify → generate, and the consent gate, through a running
gateway with the identity/consent HTTP API, the official openai client and the vendor
stand-in from tests/identity (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest

from synthguard.accounts import Accounts, Records
from synthguard.gateway import create_app
from synthguard.identity.errors import IdentityError
from synthguard.identity.services import IdentityServices
from synthguard.store import Database
from tests.gateway.conftest import MODEL, Gateway, LiveServer, make_config
from tests.identity.fake_vendor import CREDENTIAL, FakeVendor, FakeVendorServer
from tests.identity.helpers import MOBILE, bearer, settings_for

USER = [{"role": "user", "content": "你好"}]


@pytest.fixture
def vendor(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVendor]:
    """The SMS gateway stand-in, configured the way a deployment configures it: by
    environment, read when the app builds its identity services."""
    with FakeVendorServer() as vendor:
        monkeypatch.setenv("SYNTHGUARD_SMS_URL", vendor.url + "/sms")
        monkeypatch.setenv("SYNTHGUARD_SMS_CREDENTIAL", CREDENTIAL)
        yield vendor


def test_sign_up_verify_then_generate(database: Database, vendor: FakeVendor) -> None:
    # Keys stay cached for a minute here: the account's first refused request must not
    # keep it refused once it has verified.
    app = create_app(make_config(), database=database, key_cache_s=60)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        signed_up = http.post("/v1/identity/signup", json={"name": "新用户"})
        assert signed_up.status_code == 201, signed_up.text
        key = signed_up.json()["api_key"]
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        assert caught.value.code == "identity_unverified"
        assert [m.id for m in client.models.list()] == [MODEL]  # listing needs no identity

        started = http.post("/v1/identity/mobile/start", headers=bearer(key),
                            json={"mobile": MOBILE})
        assert started.status_code == 202, started.text
        assert MOBILE not in started.text
        confirmed = http.post("/v1/identity/mobile/confirm", headers=bearer(key), json={
            "challenge_id": started.json()["challenge_id"], "code": vendor.last_code(MOBILE)})
        assert confirmed.status_code == 200 and confirmed.json()["verified"] is True

        reply = client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        assert reply.choices[0].message.content
        me = http.get("/v1/identity/me", headers=bearer(key)).json()
        assert me["verified"] is True and me["method"] == "mobile_otp"
        doc = http.get("/openapi.json").json()
        assert {"/v1/identity/signup", "/v1/consents", "/v1/models"} <= set(doc["paths"])
    # The app built the services, so its shutdown closed their vendor connections: the
    # vendor, still up, gets nothing more.
    services = app.state.identity
    assert isinstance(services, IdentityServices)
    sent = len(vendor.outbox)
    with pytest.raises(IdentityError, match="could not be sent"):
        services.verification.start_mobile(me["user_id"], "13900139000")
    assert len(vendor.outbox) == sent


def test_consent_gate_uses_the_consent_records(database: Database,
                                               vendor: FakeVendor) -> None:
    app = create_app(make_config(), database=database, key_cache_s=0)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as http:
        config = make_config()
        gateway = Gateway(server.url, database, config, Accounts(database, config),
                          Records(database))
        _, key = gateway.key()
        client = gateway.client(key)
        face = {"synthguard": {"biometric_edit": "face"}}
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.images.generate(model=MODEL, prompt="her face", size="256x256",
                                   extra_body=face)
        assert caught.value.code == "consent_required"

        created = http.post("/v1/consents", headers=bearer(key), json={
            "subject_name": "张丽", "scope": "face", "purpose": "海报",
            "allowed_outputs": ["image"], "statement_ref": "upload:statement-1",
            "valid_until": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
        assert created.status_code == 201, created.text
        consent_id = created.json()["consent"]["consent_id"]
        with_consent = {"synthguard": {"biometric_edit": "face", "consent_id": consent_id}}
        image = client.images.generate(model=MODEL, prompt="her face", size="256x256",
                                       extra_body=with_consent)
        assert image.data

        revoked = http.post(f"/v1/consents/{consent_id}/revoke", headers=bearer(key),
                            json={"reason": "withdrawn"})
        assert revoked.status_code == 200, revoked.text
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.images.generate(model=MODEL, prompt="her face", size="256x256",
                                   extra_body=with_consent)
        assert caught.value.code == "consent_required" and "revoked" in caught.value.message
        checks = http.get(f"/v1/consents/{consent_id}/checks", headers=bearer(key)).json()
        assert [c["code"] for c in checks["data"]] == ["granted", "consent_revoked"]


def test_given_identity_services_are_used_and_left_open(database: Database,
                                                        vendor: FakeVendor) -> None:
    services = IdentityServices.build(make_config(), database, settings_for(vendor))
    app = create_app(make_config(), database=database, identity=services, key_cache_s=0)
    with LiveServer(app) as server:
        assert app.state.identity is services
        signed_up = httpx.post(f"{server.url}/v1/identity/signup", json={"name": "Li Lei"})
        assert signed_up.status_code == 201
    user_id = signed_up.json()["user_id"]
    services.verification.start_mobile(user_id, MOBILE)  # its connections are still open
    assert vendor.outbox[-1].phone == MOBILE
    services.close()
