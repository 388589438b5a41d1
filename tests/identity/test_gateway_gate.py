"""The gateway's identity gate (Art. 9) opened by a verification flow: an account made by
sign-up is refused generation until it verifies, then served (real gateway on loopback,
the official openai client, SQLite)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from synthguard.identity.services import IdentityServices
from synthguard.store import Database
from tests.gateway.conftest import MODEL, make_config, run_gateway
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import settings_for, verify_by_mobile

USER = [{"role": "user", "content": "你好"}]


def test_signed_up_accounts_generate_only_once_verified(tmp_path: Path,
                                                        vendor: FakeVendor) -> None:
    database = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    database.migrate()
    services = IdentityServices.build(make_config(), database, settings_for(vendor))
    account = services.verification.sign_up("New user")
    for gateway in run_gateway(database):
        client = gateway.client(account.api_key)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        assert caught.value.code == "identity_unverified"
        verify_by_mobile(services, vendor, account.user_id)
        reply = client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        assert reply.choices[0].message.content
    info = services.accounts.describe_user(account.user_id)
    assert info.verification_method == "mobile_otp" and info.verified_at is not None
    assert info.verification_evidence == services.verification.status(
        account.user_id).evidence_id
    database.dispose()
