"""`synthguard identity` and `synthguard consent` (Typer's runner on a SQLite file; one
real process for the one-line error): number checks read from stdin and print masked,
status, key rotation, purge, consent list/show/revoke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from synthguard.config import Config
from synthguard.consent.cli import consent_app
from synthguard.identity.cli import identity_app
from synthguard.identity.services import IdentityServices
from synthguard.store import Database
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import MOBILE, STANDARD_ID, new_user, settings_for, verify_by_mobile

SECRET_HEX = "5a" * 32
NEW_KEY = "k1:" + "11" * 32


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SYNTHGUARD_SECRET": SECRET_HEX, "SYNTHGUARD_CONFIG": "",
            "SYNTHGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SYNTHGUARD_VAULT_KEYS": ""}


def run(app: Any, env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def test_check_number_reads_stdin_and_prints_masked(env: dict[str, str]) -> None:
    ok = run(identity_app, env, "check-number", "id_number", stdin=STANDARD_ID + "\n")
    assert ok.exit_code == 0 and ok.stdout.strip() == "110***********002X: ok"
    bad = run(identity_app, env, "--json", "check-number", "id_number", "110105194912310021")
    data = json.loads(bad.stdout)
    assert bad.exit_code == 1 and data["reason"] == "check_character"
    assert "110105194912310021" not in bad.stdout
    virtual = run(identity_app, env, "check-number", "mobile", "17012345678")
    assert virtual.stdout.strip() == "170****5678 (virtual operator): ok"
    assert run(identity_app, env, "check-number", "uscc", "91110108MA01A0A003").exit_code == 0
    wrong = run(identity_app, env, "check-number", "passport", "E12345678")
    assert wrong.exit_code == 1 and "is not id_number, mobile or uscc" in wrong.stderr


def test_status_rotation_purge_and_consents(env: dict[str, str], vendor: FakeVendor) -> None:
    db = Database(env["SYNTHGUARD_DATABASE_URL"])
    db.migrate()
    config = Config(secret=bytes.fromhex(SECRET_HEX), producer_code="")
    services = IdentityServices.build(config, db, settings_for(vendor))
    user = new_user(services)
    verify_by_mobile(services, vendor, user)
    info, _ = services.consent.create(
        user, subject_name="张丽", scope="voice", purpose="配音", allowed_outputs=["audio"],
        valid_until=datetime.now(UTC) + timedelta(days=3), statement_ref="upload:s-1")
    services.consent.check(info.consent_id, user, "voice", output="audio")
    db.dispose()

    status = run(identity_app, env, "status", user)
    assert status.exit_code == 0, status.stderr
    assert "verified  yes (mobile_otp)" in status.stdout and "138****8000" in status.stdout
    assert MOBILE not in status.stdout
    rotated = run(identity_app, {**env, "SYNTHGUARD_VAULT_KEYS": f"k0:{_k0()},{NEW_KEY}"},
                  "--json", "rotate-keys")
    assert json.loads(rotated.stdout) == {"resealed": 2, "key_id": "k1"}  # phone, name
    # Only the new key now: the status still shows the (decryptable) masked values.
    after = run(identity_app, {**env, "SYNTHGUARD_VAULT_KEYS": NEW_KEY}, "status", user)
    assert "138****8000" in after.stdout
    listed = run(consent_app, env, "list", "--user", user)
    assert info.consent_id in listed.stdout and "张*" in listed.stdout
    shown = run(consent_app, env, "show", info.consent_id)
    assert "granted" in shown.stdout and "upload:s-1" in shown.stdout
    revoked = run(consent_app, env, "--json", "revoke", info.consent_id, "--reason", "letter",
                  "--actor", "admin:cli")
    assert json.loads(revoked.stdout)["revoked_by"] == "admin:cli"
    purged = run(identity_app, env, "--json", "purge")
    assert purged.exit_code == 0 and json.loads(purged.stdout)["accounts"] == 0


def _k0() -> str:
    """The default key k0 as text: derived from the secret exactly as the vault does."""
    from synthguard.identity.vault import derive_key

    return derive_key(bytes.fromhex(SECRET_HEX), "vault/k0").hex()


def test_errors_are_one_line(env: dict[str, str]) -> None:
    missing = run(consent_app, env, "show", "cns_missing")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == ("synthguard consent: error: no such consent for this "
                                      "account")
    proc = subprocess.run(
        [sys.executable, "-m", "synthguard.identity.cli", "status", "usr_nobody"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "synthguard identity: error: no such account"
