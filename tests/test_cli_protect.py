"""`synthguard label/mark/inspect` with the watermark, signed labels and C2PA, and
`synthguard keys`, run as real processes with keys from the environment and files."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from synthguard.labels.api import inspect, write_label
from synthguard.watermark import KeyRing, WatermarkKey, content_id_from, detect_file
from tests.labels.test_c2pa import make_pki
from tests.test_cli import one_line_error
from tests.tools import require_tool
from tests.watermark.corpus import make

PRODUCER = "001191110102MACQD9K64010000"
WATERMARK_HEX = "3c" * 32
RING = KeyRing([WatermarkKey(9, bytes.fromhex(WATERMARK_HEX))])


def sg(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
       ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGUARD_")}
    return subprocess.run([sys.executable, "-m", "synthguard", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**base, **(env or {})})


KEYS = {"SYNTHGUARD_WATERMARK_KEYS": f"9:{WATERMARK_HEX}"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An SM2 key file made by `synthguard keys signing`, and the public key it printed."""
    folder = tmp_path_factory.mktemp("keys")
    proc = sg("keys", "signing", folder / "sm2.key")
    assert proc.returncode == 0, proc.stderr
    return folder / "sm2.key", proc.stdout.strip()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    make("photo", 7, (512, 320)).save(path)
    return path


def test_label_json_then_inspect_json(tmp_path: Path, photo: Path, keys: tuple[Path, str]
                                      ) -> None:
    key_file, public = keys
    out = tmp_path / "out.png"
    proc = sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-1",
              "--sign-key", key_file, "--json", env=KEYS)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    assert written["watermark"]["content_id"] == f"{content_id_from('img-1'):014x}"
    assert written["signature"]["status"] == "valid"  # the signer's own key is pinned
    proc = sg("inspect", out, "--json", "--trust", public, env=KEYS)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["verdict"] == "compliant" and report["problems"] == []
    assert report["watermark"] == {
        "status": "present", "present": True, "key_id": 9,
        "content_id": f"{content_id_from('img-1'):014x}",
        "false_positive_probability": report["watermark"]["false_positive_probability"],
        "matches_label": True, "reason": ""}
    assert report["watermark"]["false_positive_probability"] < 1e-12
    assert report["signature"]["status"] == "valid"
    assert report["signature"]["records"]["producer"]["content_bound"] is True
    assert report["c2pa"]["status"] == "absent"
    # Without the pin the signature is untrusted; without keys no watermark is looked for.
    report = json.loads(sg("inspect", out, "--json").stdout)
    assert report["signature"]["status"] == "untrusted"
    assert report["watermark"]["status"] == "not_checked"
    assert report["watermark"]["reason"] == "no watermark keys configured"
    assert detect_file(out, RING).content_id == content_id_from("img-1")


def test_text_output_names_watermark_signature_and_c2pa(tmp_path: Path, photo: Path,
                                                        keys: tuple[Path, str]) -> None:
    key_file, public = keys
    pki = make_pki()
    (tmp_path / "chain.pem").write_bytes(pki.credentials.chain_pem)
    (tmp_path / "c2pa.key").write_bytes(pki.credentials.key_pem)
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem)
    out = tmp_path / "out.png"
    proc = sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-2",
              "--sign-key", key_file, "--c2pa-cert", tmp_path / "chain.pem", "--c2pa-key",
              tmp_path / "c2pa.key", "--c2pa-trust", tmp_path / "ca.pem", env=KEYS)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"watermark key 9 content [0-9a-f]{14}, signature valid .*C2PA trusted",
                     proc.stdout)
    (tmp_path / "pub.hex").write_text(public)
    proc = sg("inspect", out, "--trust", tmp_path / "pub.hex", "--c2pa-trust",
              tmp_path / "ca.pem", env=KEYS)
    assert proc.returncode == 0, proc.stderr
    assert "watermark: present, key 9" in proc.stdout
    assert "matches the label's ProduceID" in proc.stdout
    assert "signature: valid (signed by pinned key" in proc.stdout
    assert "C2PA: trusted" in proc.stdout


def test_tampered_file_fails_inspect(tmp_path: Path, photo: Path, keys: tuple[Path, str]
                                     ) -> None:
    key_file, public = keys
    out = tmp_path / "out.png"
    assert sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-3",
              "--sign-key", key_file, env=KEYS).returncode == 0
    aigc = inspect(out).label
    assert aigc is not None
    forged = tmp_path / "forged.png"
    write_label(out, forged, dataclasses.replace(aigc, label="2"))
    proc = sg("inspect", forged, "--trust", public, env=KEYS)
    assert proc.returncode == 1
    assert "signature: invalid" in proc.stdout and "error: signature invalid" in proc.stdout
    proc = sg("inspect", forged, "--json", "--trust", public)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["signature"]["records"]["producer"]["code"] == \
        "signature-mismatch"


def test_no_watermark_and_unsigned(tmp_path: Path, photo: Path) -> None:
    out = tmp_path / "out.png"
    proc = sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-4",
              "--no-watermark", "--json", env=KEYS)
    assert proc.returncode == 0, proc.stderr
    # Nothing beside the label to do: the plain labeling path, its report says nothing more.
    assert json.loads(proc.stdout)["signature"] is None
    assert detect_file(out, RING).content_id is None
    report = json.loads(sg("inspect", out, "--json", env=KEYS).stdout)
    assert report["watermark"]["status"] == "absent"
    assert report["signature"]["status"] == "unsigned"
    assert sg("inspect", out, env=KEYS).returncode == 0  # absent is not a failure


def test_too_small_image_warns_by_default_and_fails_with_watermark(tmp_path: Path) -> None:
    icon = tmp_path / "icon.png"
    make("graphic", 1, (240, 180)).save(icon)
    out = tmp_path / "icon-out.png"
    proc = sg("label", icon, "-o", out, "--producer", PRODUCER, "--produce-id", "img-5",
              env=KEYS)
    assert proc.returncode == 0, proc.stderr
    assert "synthguard: warning:" in proc.stderr and "256" in proc.stderr
    assert out.exists()
    strict = tmp_path / "icon-strict.png"
    proc = sg("label", icon, "-o", strict, "--producer", PRODUCER, "--produce-id", "img-6",
              "--watermark", env=KEYS)
    assert proc.returncode == 1
    assert "icon.png: cannot be watermarked" in one_line_error(proc)
    assert not strict.exists() and not [p for p in tmp_path.iterdir() if ".sgtmp" in p.name]


def test_mark_embeds_the_watermark(tmp_path: Path, photo: Path, keys: tuple[Path, str]) -> None:
    key_file, _ = keys
    out = tmp_path / "marked.png"
    proc = sg("mark", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-7",
              "--sign-key", key_file, "--json", env=KEYS)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["kind"] == "image" and result["signature"]["status"] == "valid"
    assert result["watermark"]["content_id"] == f"{content_id_from('img-7'):014x}"
    assert detect_file(out, RING).content_id == content_id_from("img-7")


def test_usage_errors_are_one_line(tmp_path: Path, photo: Path, keys: tuple[Path, str]) -> None:
    key_file, _ = keys
    base = ("label", photo, "-o", tmp_path / "x.png", "--producer", PRODUCER,
            "--produce-id", "img-8")
    (tmp_path / "bad.key").write_text("not a key")
    cases = [
        ((*base, "--watermark"), {}, "no watermark keys"),
        ((*base, "--sign-key", tmp_path / "bad.key"), {}, "SM2 private key"),
        ((*base, "--sign-key", tmp_path / "missing.key"), {}, "missing.key"),
        ((*base, "--c2pa-cert", tmp_path / "bad.key"), {}, "go together"),
        ((*base, "--strength", "0"), KEYS, "strength"),
        ((*base, "--sign-key", key_file, "--reserved-code1", "x"), {}, "exclude each other"),
        (base, {"SYNTHGUARD_WATERMARK_KEYS": "9:zz"}, "not valid hex"),
        (("inspect", photo, "--trust", "00" * 10), {}, "SM2 public key"),
    ]
    for args, env, message in cases:
        proc = sg(*args, env=env)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in one_line_error(proc), args
    assert not (tmp_path / "x.png").exists()


def test_keys_commands(tmp_path: Path) -> None:
    proc = sg("keys", "watermark", tmp_path / "wm.toml", "--id", "4")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "wm.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sg("keys", "watermark", path).returncode == 1  # never replaced by accident
    config = tmp_path / "synthguard.toml"
    config.write_text(f'watermark_keys_file = "{path}"\nsigning_key_file = '
                      f'"{tmp_path / "sm2.key"}"\n')
    public = sg("keys", "signing", tmp_path / "sm2.key").stdout.strip()
    (tmp_path / "sm2.key").chmod(0o600)
    assert sg("keys", "public", tmp_path / "sm2.key").stdout.strip() == public
    photo = tmp_path / "p.png"
    make("face", 2, (300, 300)).save(photo)
    out = tmp_path / "out.png"
    proc = sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-9",
              "--config", config)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(sg("inspect", out, "--json", "--config", config).stdout)
    assert report["watermark"]["key_id"] == 4 and report["signature"]["status"] == "valid"


@pytest.mark.interop
def test_openssl_keys_work_as_sign_key_and_trust(tmp_path: Path, photo: Path) -> None:
    openssl = require_tool("openssl")
    subprocess.run([openssl, "genpkey", "-algorithm", "SM2", "-out", "k.pem"], cwd=tmp_path,
                   check=True, timeout=60)
    subprocess.run([openssl, "pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"],
                   cwd=tmp_path, check=True, timeout=60)
    out = tmp_path / "out.png"
    assert sg("label", photo, "-o", out, "--producer", PRODUCER, "--produce-id", "img-10",
              "--sign-key", tmp_path / "k.pem").returncode == 0
    report = json.loads(sg("inspect", out, "--json", "--trust", tmp_path / "pub.pem").stdout)
    assert report["signature"]["status"] == "valid"
    # A PEM that is not SM2 is refused as a trusted key, in one line.
    other = make_pki().credentials.key_pem
    pem = serialization.load_pem_private_key(other, None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "p256.pem").write_bytes(pem)
    proc = sg("inspect", out, "--trust", tmp_path / "p256.pem")
    assert proc.returncode == 2 and "SM2 public key" in one_line_error(proc)
