"""Content-protection settings: watermark keys, the SM2 signing key, pinned keys and C2PA
credentials from the config file (by key file) and the environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from synthguard.config import Config, ConfigError, load_protection
from synthguard.labels.keyfile import watermark_key_text, write_private
from synthguard.labels.protect import Protection
from synthguard.labels.security import SigningKey
from tests.labels.test_c2pa import make_pki
from tests.store.test_config import env, write

KEY = SigningKey.generate()
OTHER = SigningKey.generate()


def test_nothing_configured_is_the_label_alone(tmp_path: Path) -> None:
    protection = load_protection(None, {})
    assert protection == Protection() and not protection.active
    assert Config.load(None, env(tmp_path)).protection == Protection()


def test_key_files_from_the_config_file(tmp_path: Path) -> None:
    keys = tmp_path / "wm.toml"
    keys.write_text(f'3 = "{"ab" * 32}"\n2 = "{"cd" * 16}"\n')
    keys.chmod(0o600)
    signing = tmp_path / "sm2.key"
    write_private(signing, f"{KEY.scalar:064x}\n")
    pki = make_pki()
    (tmp_path / "chain.pem").write_bytes(pki.credentials.chain_pem)
    write_private(tmp_path / "c2pa-key.pem", pki.credentials.key_pem.decode())
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem)
    other = OTHER.public_key_hex
    path = write(tmp_path, f'''
watermark = "require"
watermark_strength = 1.5
watermark_keys_file = "{keys}"
signing_key_file = "{signing}"
trusted_keys = ["{other}"]
c2pa_cert_file = "{tmp_path / 'chain.pem'}"
c2pa_key_file = "{tmp_path / 'c2pa-key.pem'}"
c2pa_alg = "es256"
c2pa_trust_anchors_file = "{tmp_path / 'ca.pem'}"
''')
    protection = load_protection(path, {})
    assert protection.watermark == "require" and protection.strength == 1.5
    assert protection.watermark_keys is not None
    assert [k.key_id for k in protection.watermark_keys] == [3, 2]
    assert protection.watermark_keys.primary.key_id == 3  # the first line marks
    assert protection.signing_key is not None and protection.signing_key.point == KEY.point
    assert protection.pinned == (other, KEY.public_key_hex)
    assert protection.c2pa is not None and protection.c2pa.chain_pem == pki.credentials.chain_pem
    assert protection.c2pa_trust_anchors == pki.ca_pem
    config = Config.load(path, env(tmp_path)).protection
    assert config.watermark_keys is not None and config.watermark_keys.all() == \
        protection.watermark_keys.all()
    assert dataclasses.replace(config, watermark_keys=None, watermark="off") == \
        dataclasses.replace(protection, watermark_keys=None, watermark="off")
    text = repr(Config.load(path, env(tmp_path)))
    assert "ab" * 32 not in text and f"{KEY.scalar:x}" not in text and "PRIVATE" not in text


def test_environment_keys_win_over_files(tmp_path: Path) -> None:
    keys = tmp_path / "wm.toml"
    write_private(keys, watermark_key_text(1))
    path = write(tmp_path, f'watermark_keys_file = "{keys}"\n')
    values = {"SYNTHGUARD_WATERMARK_KEYS": f"7:{'11' * 32}, 8:{'22' * 32}",
              "SYNTHGUARD_SIGNING_KEY": f"{KEY.scalar:064x}",
              "SYNTHGUARD_TRUSTED_KEYS": f"{KEY.public_key_hex}, {OTHER.public_key_hex}",
              "SYNTHGUARD_WATERMARK": "off", "SYNTHGUARD_WATERMARK_STRENGTH": "2"}
    protection = load_protection(path, values)
    assert protection.watermark_keys is not None
    assert [k.key_id for k in protection.watermark_keys] == [7, 8]
    assert protection.watermark == "off" and protection.strength == 2.0
    assert not protection.marks and protection.active  # still signs
    assert protection.trusted_keys == (KEY.public_key_hex, OTHER.public_key_hex)
    assert load_protection(None, {"SYNTHGUARD_CONFIG": str(path)}).watermark_keys is not None


@pytest.mark.parametrize(("settings", "values", "message"), [
    ("", {"SYNTHGUARD_WATERMARK_KEYS": "7"}, "ID:HEX"),
    ("", {"SYNTHGUARD_WATERMARK_KEYS": "x:" + "11" * 32}, "not a number"),
    ("", {"SYNTHGUARD_WATERMARK_KEYS": "7:1111"}, "at least 16"),
    ("", {"SYNTHGUARD_WATERMARK_KEYS": f"7:{'11' * 32},7:{'22' * 32}"}, "twice"),
    ("", {"SYNTHGUARD_SIGNING_KEY": "zz"}, "not hexadecimal"),
    ('watermark_keys_file = "{missing}"\n', {}, "cannot read key file"),
    ('watermark = "sometimes"\n', {}, "watermark mode"),
    ('watermark = "require"\n', {}, "no watermark keys"),
    ("watermark_strength = 0\n", {}, "strength"),
    ('watermark_strength = "strong"\n', {}, "expected a number"),
    ('trusted_keys = "abc"\n', {}, "list of strings"),
    ('trusted_keys = ["abc"]\n', {}, "SM2 public key"),
    ('c2pa_cert_file = "{missing}"\n', {}, "go together"),
    ('signing_key_file = "{bad}"\n', {}, "SM2 private key"),
])
def test_bad_settings_name_the_problem(tmp_path: Path, settings: str, values: dict[str, str],
                                       message: str) -> None:
    bad = tmp_path / "bad.key"
    write_private(bad, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    path = write(tmp_path, settings.format(missing=tmp_path / "missing", bad=bad))
    with pytest.raises(ConfigError, match=message):
        load_protection(path, values)
