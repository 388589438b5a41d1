"""The gateway's consent gate backed by the consent records: a real gateway on loopback,
the official openai client, a consent granted, used, revoked (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai
import pytest

from synthguard.consent.gateway import GatewayConsentChecker
from synthguard.identity.services import IdentityServices
from synthguard.store import Database
from tests.gateway.conftest import MODEL, make_config, run_gateway
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import settings_for


def test_biometric_edits_follow_the_consent_record(tmp_path: Path,
                                                   vendor: FakeVendor) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.migrate()
    services = IdentityServices.build(make_config(), database, settings_for(vendor))
    consent = services.consent
    for gateway in run_gateway(database, consent=GatewayConsentChecker(consent)):
        user, key = gateway.key()
        client = gateway.client(key)
        info, _ = consent.create(
            user, subject_name="张丽", scope="face", purpose="海报", allowed_outputs=["image"],
            valid_until=datetime.now(UTC) + timedelta(days=1),
            statement_ref="upload:statement-1")
        face = {"synthguard": {"biometric_edit": "face", "consent_id": info.consent_id}}
        image = client.images.generate(model=MODEL, prompt="her face", size="256x256",
                                       extra_body=face)
        assert image.data
        # The consent covers images of her face, not her voice.
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.audio.speech.create(model=MODEL, voice="v", input="hi", extra_body={
                "synthguard": {"biometric_edit": "voice", "consent_id": info.consent_id}})
        assert caught.value.code == "consent_required"
        assert "covers the subject's face" in caught.value.message
        consent.revoke(info.consent_id, actor="admin:test", reason="withdrawn")
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.images.generate(model=MODEL, prompt="her face", size="256x256",
                                   extra_body=face)
        assert "revoked" in caught.value.message
        assert consent.get(info.consent_id).status == "revoked"
        assert [(c.kind, c.output, c.code) for c in consent.checks(info.consent_id)] == [
            ("face", "image", "granted"), ("voice", "audio", "consent_out_of_scope"),
            ("face", "image", "consent_revoked")]
    database.dispose()
