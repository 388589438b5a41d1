"""The audio/video content digest (`av-packets`) and SM2 key files.

Oracles: ffmpeg makes the media (its own encoders), the label carriers and the C2PA
library add metadata, and the digest must not move; OpenSSL makes SM2 key files and
derives their public keys, which our reader must agree with.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from synthguard.errors import MalformedFile, SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import write_label
from synthguard.labels.digest import content_digest
from synthguard.labels.keyfile import load_public_key, private_scalar
from synthguard.labels.security import SigningKey, parse_public_key, sign_label, verify_file
from tests.tools import require_tool

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="aud-0001")
RATE = 22_050

FORMATS = {
    "wav": (".wav", []),
    "flac": (".flac", ["-c:a", "flac"]),
    "mp3": (".mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
    "vorbis": (".ogg", ["-c:a", "libvorbis"]),
    "opus": (".opus", ["-c:a", "libopus", "-b:a", "48k"]),
    "aac": (".m4a", ["-c:a", "aac", "-b:a", "64k"]),
}


def tone(seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.3 * np.sin(2 * np.pi * freq * t)


def encode(tmp_path: Path, kind: str, samples: np.ndarray, name: str = "in") -> Path:
    suffix, args = FORMATS[kind]
    wav = tmp_path / f"{name}-pcm.wav"
    soundfile.write(wav, samples, RATE, subtype="PCM_16")
    if kind == "wav":
        return wav
    out = tmp_path / f"{name}{suffix}"
    subprocess.run([require_tool("ffmpeg"), "-v", "error", "-y", "-i", str(wav), *args,
                    "-metadata", "title=Original title", str(out)], check=True, timeout=60)
    return out


@pytest.mark.parametrize("kind", list(FORMATS))
def test_packet_digest_ignores_the_label_and_sees_the_samples(tmp_path: Path, kind: str) -> None:
    src = encode(tmp_path, kind, tone())
    before = content_digest(src)
    assert before.method == "av-packets"
    labeled = tmp_path / f"labeled{src.suffix}"
    write_label(src, labeled, LABEL)
    assert labeled.read_bytes() != src.read_bytes()
    assert content_digest(labeled) == before
    other = encode(tmp_path, kind, tone(freq=445.0), name="other")
    assert content_digest(other) != before


def test_signed_audio_label_verifies_and_a_swapped_one_does_not(tmp_path: Path) -> None:
    key = SigningKey.generate()
    src = encode(tmp_path, "mp3", tone())
    signed = sign_label(LABEL, content_digest(src), key)
    out = tmp_path / "signed.mp3"
    write_label(src, out, signed)
    assert verify_file(out, signed, [key.public_key_hex])["producer"].status == "valid"
    other = encode(tmp_path, "mp3", tone(freq=660.0), name="other")
    swapped = tmp_path / "swapped.mp3"
    write_label(other, swapped, signed)
    result = verify_file(swapped, signed, [key.public_key_hex])["producer"]
    assert (result.status, result.code) == ("invalid", "content-mismatch")


def test_packet_digest_of_broken_media(tmp_path: Path) -> None:
    src = encode(tmp_path, "flac", tone())
    broken = tmp_path / "broken.flac"
    broken.write_bytes(src.read_bytes()[:200])
    with pytest.raises((MalformedFile, SynthGuardError)):
        content_digest(broken, "av-packets")


# --- key files ------------------------------------------------------------------------


def _openssl(tmp_path: Path, *args: str) -> bytes:
    out = subprocess.run([require_tool("openssl"), *args], capture_output=True, cwd=tmp_path,
                         timeout=60, check=True)
    return out.stdout


@pytest.mark.interop
def test_openssl_sm2_key_files(tmp_path: Path) -> None:
    _openssl(tmp_path, "genpkey", "-algorithm", "SM2", "-out", "k.pem")
    spki = _openssl(tmp_path, "pkey", "-in", "k.pem", "-pubout", "-outform", "DER")
    pub_pem = _openssl(tmp_path, "pkey", "-in", "k.pem", "-pubout")
    key = SigningKey.from_bytes((tmp_path / "k.pem").read_bytes())
    assert key.point == parse_public_key(spki)
    assert load_public_key(pub_pem) == key.point
    assert load_public_key(spki) == key.point
    assert load_public_key(spki.hex().encode()) == key.point
    # SEC 1 ECPrivateKey, as `openssl ec` writes it (OpenSSL 3 calls it "SM2 PRIVATE KEY")
    sec1 = _openssl(tmp_path, "ec", "-in", "k.pem", "-outform", "PEM")
    assert b" PRIVATE KEY-----" in sec1 and b"BEGIN PRIVATE KEY" not in sec1
    assert SigningKey.from_bytes(sec1).point == key.point
    # the hex form our `keys signing` writes
    assert SigningKey.from_bytes(f"{key.scalar:064x}\n".encode()).point == key.point


@pytest.mark.interop
def test_a_p256_key_is_refused(tmp_path: Path) -> None:
    _openssl(tmp_path, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "p256.pem")
    with pytest.raises(SynthGuardError, match="SM2 curve"):
        SigningKey.from_bytes((tmp_path / "p256.pem").read_bytes())


@pytest.mark.parametrize("data", [
    b"", b"not a key", "密钥".encode(),
    b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
    b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
    b"-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b"\x30\x84\xff\xff\xff\xff")
    + b"\n-----END PRIVATE KEY-----",
    b"-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b"\x30\x03\x02\x01") + b"\n-----END",
    b"0" * 64,  # scalar 0
])
def test_bad_private_key_files(data: bytes) -> None:
    with pytest.raises(SynthGuardError):
        SigningKey(private_scalar(data))


@pytest.mark.parametrize("data", [b"", b"zz", b"-----BEGIN PUBLIC KEY-----\n%%\n-----END",
                                  b"\x30\x59" + b"\x00" * 89])
def test_bad_public_key_files(data: bytes) -> None:
    with pytest.raises(SynthGuardError):
        load_public_key(data)


@given(st.binary(max_size=400) | st.builds(
    lambda body: b"-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(body)
    + b"\n-----END PRIVATE KEY-----\n", st.binary(max_size=300)))
def test_key_file_parsers_fail_only_with_a_message(data: bytes) -> None:
    """Key files are input: whatever they hold, the parsers answer or say what is wrong."""
    for parse in (private_scalar, load_public_key):
        try:
            parse(data)
        except SynthGuardError as exc:
            assert str(exc)
