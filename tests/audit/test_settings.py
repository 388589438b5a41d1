"""The audit log's configuration: the [audit] table of the config file, the
SYNTHGUARD_AUDIT_* overrides, the key kept out of the file, bad values named, and the
settings the service builds from them."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit, AuditSettings
from synthguard.config import AuditConfig, Config, ConfigError
from synthguard.store import Database
from tests.audit.conftest import SECRET, SIGNER

SEED = bytes(range(7, 39))


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SYNTHGUARD_SECRET": SECRET.hex(), "SYNTHGUARD_SECRET_FILE": str(tmp_path / "no"),
            **extra}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "synthguard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str | None = None, **extra: str) -> Config:
    path = write(tmp_path, text) if text is not None else None
    return Config.load(path, env(tmp_path, **extra), require_producer=False)


def test_defaults(tmp_path: Path) -> None:
    audit = load(tmp_path).audit
    assert audit == AuditConfig()
    assert (audit.origin, audit.key_file, audit.retention_days, audit.checkpoint_interval_s,
            audit.key) == ("", Path("var/audit-key"), 180, 60.0, None)


def test_the_audit_table(tmp_path: Path) -> None:
    config = load(tmp_path, f"""
[audit]
origin = "ai.example.com/audit"
key_file = "{tmp_path / 'keys' / 'audit'}"
retention_days = 365
checkpoint_interval_s = 15
""")
    assert config.audit == AuditConfig(origin="ai.example.com/audit",
                                       key_file=tmp_path / "keys" / "audit",
                                       retention_days=365, checkpoint_interval_s=15.0)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, """
[audit]
origin = "from-file.example/audit"
retention_days = 365
checkpoint_interval_s = 15
""", SYNTHGUARD_AUDIT_ORIGIN="from-env.example/audit",
        SYNTHGUARD_AUDIT_KEY_FILE=str(tmp_path / "env-key"),
        SYNTHGUARD_AUDIT_RETENTION_DAYS="200", SYNTHGUARD_AUDIT_CHECKPOINT_INTERVAL_S="2.5",
        SYNTHGUARD_AUDIT_KEY=SEED.hex())
    assert config.audit == AuditConfig(origin="from-env.example/audit",
                                       key_file=tmp_path / "env-key", retention_days=200,
                                       checkpoint_interval_s=2.5, key=SEED.hex())
    assert SEED.hex() not in repr(config)


@pytest.mark.parametrize(("text", "message"), [
    ('[audit]\nkey = "00"', "audit.key: the audit key does not go in the config file"),
    ('[audit]\nsigning_key = "x"', "unknown setting 'audit.signing_key'"),
    ('audit = "on"', "audit: expected a table [audit]"),
    ("[audit]\nretention_days = 0", "audit.retention_days: must be at least 1"),
    ("[audit]\nretention_days = -30", "audit.retention_days: must be at least 1"),
    ("[audit]\nretention_days = 90.5", "audit.retention_days: expected a whole number"),
    ('[audit]\nretention_days = "180"', "audit.retention_days: expected a whole number"),
    ("[audit]\ncheckpoint_interval_s = 0", "audit.checkpoint_interval_s: must be a number"),
    ("[audit]\ncheckpoint_interval_s = nan", "audit.checkpoint_interval_s: must be a number"),
    ("[audit]\ncheckpoint_interval_s = inf", "audit.checkpoint_interval_s: must be a number"),
    ('[audit]\norigin = "my log"', "audit.origin: must have no spaces or '+'"),
    ('[audit]\norigin = "a+b"', "audit.origin: must have no spaces or '+'"),
    ("[audit]\norigin = 7", "audit.origin: expected a string"),
    ('[audit]\nkey_file = ""', "audit.key_file: must name a file"),
])
def test_bad_file_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(f"{tmp_path / 'synthguard.toml'}: ")
    assert message in str(caught.value)


def test_a_key_in_the_file_is_refused_without_repeating_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f'[audit]\nkey = "{SEED.hex()}"\n')
    assert "SYNTHGUARD_AUDIT_KEY" in str(caught.value)
    assert SEED.hex() not in str(caught.value)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("RETENTION_DAYS", "0", "must be at least 1"),
    ("RETENTION_DAYS", "-1", "must be at least 1"),
    ("RETENTION_DAYS", "six months", "expected a whole number"),
    ("RETENTION_DAYS", "90.5", "expected a whole number"),
    ("CHECKPOINT_INTERVAL_S", "0", "must be a number above 0"),
    ("CHECKPOINT_INTERVAL_S", "-5", "must be a number above 0"),
    ("CHECKPOINT_INTERVAL_S", "soon", "expected a number"),
    ("ORIGIN", "has space", "must have no spaces"),
])
def test_bad_environment_values_name_the_variable(tmp_path: Path, name: str, value: str,
                                                  message: str) -> None:
    # The file's value is fine: the error must name the variable that overrode it.
    text = "[audit]\nretention_days = 200\ncheckpoint_interval_s = 5\norigin = \"ok/log\"\n"
    with pytest.raises(ConfigError, match=f"^SYNTHGUARD_AUDIT_{name}: {message}"):
        load(tmp_path, text, **{f"SYNTHGUARD_AUDIT_{name}": value})


def test_a_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^audit\.retention_days: "):
        AuditConfig(retention_days=0)
    with pytest.raises(ConfigError, match=r"^audit\.checkpoint_interval_s: "):
        AuditConfig(checkpoint_interval_s=-1)


def test_settings_follow_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHGUARD_AUDIT_KEY", raising=False)
    key_file = tmp_path / "keys" / "audit-key"
    config = load(tmp_path, f"""
[audit]
origin = "ai.example.com/audit"
key_file = "{key_file}"
retention_days = 400
checkpoint_interval_s = 30
""")
    settings = AuditSettings.load(config, {})
    assert settings.origin == "ai.example.com/audit"
    assert settings.retention == timedelta(days=400)
    assert settings.checkpoint_interval_s == 30
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # made on first use, private
    again = AuditSettings.load(config, {})
    assert again.signer.verifier.encode() == settings.signer.verifier.encode()
    assert settings.signer.verifier.name == "ai.example.com/audit"


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "audit-key"
    key_file.write_text(bytes(32).hex())
    config = load(tmp_path, f'[audit]\norigin = "{SIGNER.name}"\nkey_file = "{key_file}"\n',
                  SYNTHGUARD_AUDIT_KEY=SIGNER.encode())
    settings = AuditSettings.load(config, {})
    assert settings.signer.verifier.encode() == SIGNER.verifier.encode()
    seeded = load(tmp_path, f'[audit]\nkey_file = "{key_file}"\n',
                  SYNTHGUARD_AUDIT_KEY=SEED.hex())
    assert AuditSettings.load(seeded, {}).signer.verifier.encode() == NoteSigner(
        "synthguard.invalid/audit", SEED).verifier.encode()


def test_a_config_built_in_code_takes_the_key_from_the_environment(tmp_path: Path) -> None:
    config = Config(secret=SECRET, producer_code="",
                    audit=AuditConfig(origin=SIGNER.name, key_file=tmp_path / "unused"))
    settings = AuditSettings.load(config, {"SYNTHGUARD_AUDIT_KEY": SIGNER.encode()})
    assert settings.signer.verifier.encode() == SIGNER.verifier.encode()
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize(("key", "message"), [
    ("not a key!", "SYNTHGUARD_AUDIT_KEY: secret is neither hex nor base64"),
    (bytes(40).hex(), "SYNTHGUARD_AUDIT_KEY: an Ed25519 seed is exactly 32 bytes"),
    ("PRIVATE+KEY+name+00+AAAA", "SYNTHGUARD_AUDIT_KEY: "),
])
def test_a_bad_key_is_named(tmp_path: Path, key: str, message: str) -> None:
    config = load(tmp_path, SYNTHGUARD_AUDIT_KEY=key)
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        AuditSettings.load(config, {})


def test_a_bad_key_file_is_named(tmp_path: Path) -> None:
    key_file = tmp_path / "audit-key"
    key_file.write_text("not a key")
    config = load(tmp_path, f'[audit]\nkey_file = "{key_file}"\n')
    with pytest.raises(ConfigError, match=f"^{key_file}: "):
        AuditSettings.load(config, {})


def test_short_retention_is_allowed_with_a_warning(
        tmp_path: Path, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    config = load(tmp_path, "[audit]\nretention_days = 30\n",
                  SYNTHGUARD_AUDIT_KEY=SIGNER.encode())
    with caplog.at_level(logging.WARNING, logger="synthguard.audit"):
        audit = Audit(database, config)
    assert audit.log.retention == timedelta(days=30)
    assert [r.getMessage() for r in caplog.records] == ["audit retention is below 180 days"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="synthguard.audit"):
        Audit(database, load(tmp_path, SYNTHGUARD_AUDIT_KEY=SIGNER.encode()))
    assert caplog.records == []
