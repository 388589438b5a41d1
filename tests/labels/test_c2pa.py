"""C2PA manifests beside the GB 45438 label, validated offline with a CA made here.

The certificates are generated per test module with `cryptography` (nothing is
committed); the C2PA reader (c2pa-rs) is the validator, exiftool reads the GB 45438
label independently after signing.
"""

from __future__ import annotations

import datetime
import struct
import subprocess
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from synthguard.errors import SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import inspect, write_label
from synthguard.labels.c2pa import (
    AIGC_ASSERTION,
    C2paCredentials,
    read_c2pa,
    sign_c2pa,
)
from synthguard.labels.security import SigningKey, content_digest, sign_label, verify_file
from tests.tools import exiftool_xmp_aigc, require_tool

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0001")


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    credentials: C2paCredentials


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SynthGuard tests")])


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signer, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not signer, crl_sign=not signer, encipher_only=False,
                         decipher_only=False)


def make_pki(cn: str = "Test CA") -> Pki:
    """A private CA and a leaf for C2PA signing (P-256, EKU emailProtection)."""
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=7))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(validity[0]).not_valid_after(validity[1])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(signer=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(_name("Test signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(validity[0]).not_valid_after(validity[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(signer=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Pki(ca.public_bytes(pem), C2paCredentials(chain, key_pem))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def labelled(tmp_path: Path, fmt: str, label: AIGCLabel = LABEL, name: str = "in") -> Path:
    ext = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "TIFF": ".tif"}[fmt]
    image = Image.new("RGB", (64, 40))
    image.putdata([(x * 4, y * 6, (x + y) % 256) for y in range(40) for x in range(64)])
    plain = tmp_path / f"{name}-plain{ext}"
    image.save(plain, fmt)
    out = tmp_path / f"{name}{ext}"
    write_label(plain, out, label)
    return out


# --- signing and validating -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_signed_manifest_is_trusted_and_the_label_survives(tmp_path: Path, pki: Pki,
                                                           fmt: str) -> None:
    src = labelled(tmp_path, fmt)
    dst = tmp_path / f"signed{src.suffix}"
    report = sign_c2pa(src, dst, LABEL, pki.credentials, trust_anchors=pki.ca_pem)
    assert report.state == "Trusted"
    again = read_c2pa(dst, trust_anchors=pki.ca_pem)
    assert again.present and again.state == "Trusted", again.failures
    assert again.ai_generated
    assert again.aigc_label == LABEL
    assert {"c2pa.actions.v2", AIGC_ASSERTION} <= set(again.assertions)
    assert again.signer == "Test signer"
    after = inspect(dst)
    assert after.verdict == "compliant" and after.label == LABEL
    assert dst.stat().st_size > src.stat().st_size


def test_exiftool_still_reads_the_label(tmp_path: Path, pki: Pki) -> None:
    dst = tmp_path / "signed.jpg"
    sign_c2pa(labelled(tmp_path, "JPEG"), dst, LABEL, pki.credentials)
    assert exiftool_xmp_aigc(dst) == LABEL.to_json()


def test_without_anchors_the_manifest_is_valid_not_trusted(tmp_path: Path, pki: Pki) -> None:
    dst = tmp_path / "signed.png"
    sign_c2pa(labelled(tmp_path, "PNG"), dst, LABEL, pki.credentials)
    assert read_c2pa(dst).state == "Valid"
    other_ca = make_pki("Another CA").ca_pem
    report = read_c2pa(dst, trust_anchors=other_ca)
    assert report.state == "Valid"
    assert "signingCredential.untrusted" in report.failures


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "TIFF"])
def test_other_image_formats(tmp_path: Path, pki: Pki, fmt: str) -> None:
    src = labelled(tmp_path, fmt)
    report = sign_c2pa(src, None, LABEL, pki.credentials, trust_anchors=pki.ca_pem)
    assert report.state == "Trusted" and report.aigc_label == LABEL
    assert inspect(src).label == LABEL  # signed in place


@pytest.mark.parametrize("ext,args", [
    (".wav", ["-f", "lavfi", "-i", "sine=d=0.3", "-c:a", "pcm_s16le"]),
    (".mp3", ["-f", "lavfi", "-i", "sine=d=0.3"]),
    (".mp4", ["-f", "lavfi", "-i", "testsrc=d=0.3:s=64x48", "-pix_fmt", "yuv420p"]),
])
def test_audio_and_video(tmp_path: Path, pki: Pki, ext: str, args: list[str]) -> None:
    plain = tmp_path / f"plain{ext}"
    subprocess.run([require_tool("ffmpeg"), "-loglevel", "error", "-y", *args, str(plain)],
                   check=True, timeout=60)
    src = tmp_path / f"in{ext}"
    write_label(plain, src, LABEL)
    dst = tmp_path / f"signed{ext}"
    assert sign_c2pa(src, dst, LABEL, pki.credentials,
                     trust_anchors=pki.ca_pem).state == "Trusted"
    assert inspect(dst).label == LABEL


def test_signed_label_and_c2pa_together(tmp_path: Path, pki: Pki) -> None:
    """The SM2 content digest excludes the manifest, so both signatures hold."""
    key = SigningKey.generate()
    plain = labelled(tmp_path, "PNG")
    signed = sign_label(LABEL, content_digest(plain), key)
    write_label(plain, plain, signed)
    dst = tmp_path / "both.png"
    assert sign_c2pa(plain, dst, signed, pki.credentials,
                     trust_anchors=pki.ca_pem).aigc_label == signed
    assert verify_file(dst, signed, [key.public_key_hex])["producer"].status == "valid"


# --- tampering ------------------------------------------------------------------------------


def signed(tmp_path: Path, fmt: str, pki: Pki) -> Path:
    src = labelled(tmp_path, fmt)
    dst = tmp_path / f"signed{src.suffix}"
    sign_c2pa(src, dst, LABEL, pki.credentials)
    return dst


def assert_hash_mismatch(path: Path, pki: Pki) -> None:
    report = read_c2pa(path, trust_anchors=pki.ca_pem)
    assert report.state == "Invalid"
    assert "assertion.dataHash.mismatch" in report.failures


def _png_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of each chunk, parsed here independently of the carrier."""
    out, pos = [], 8
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((pos, ctype, length))
        pos += 12 + length
    return out


def test_one_byte_pixel_change_in_png_is_invalid(tmp_path: Path, pki: Pki) -> None:
    dst = signed(tmp_path, "PNG", pki)
    data = bytearray(dst.read_bytes())
    offset, _, length = next(c for c in _png_chunks(bytes(data)) if c[1] == b"IDAT")
    body = bytearray(zlib.decompress(bytes(data[offset + 8:offset + 8 + length])))
    body[100] ^= 0x01  # one byte of one pixel
    new = zlib.compress(bytes(body))
    chunk = struct.pack(">I4s", len(new), b"IDAT") + new
    chunk += struct.pack(">I", zlib.crc32(chunk[4:]))
    data[offset:offset + 12 + length] = chunk
    dst.write_bytes(bytes(data))
    with Image.open(dst) as image:
        image.load()  # still a well-formed PNG
    assert_hash_mismatch(dst, pki)


def test_one_byte_change_in_jpeg_scan_is_invalid(tmp_path: Path, pki: Pki) -> None:
    dst = signed(tmp_path, "JPEG", pki)
    data = bytearray(dst.read_bytes())
    sos = data.rindex(b"\xff\xda")
    at = next(i for i in range(sos + 30, len(data)) if data[i] < 0xF0 and data[i - 1] != 0xFF)
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))
    assert_hash_mismatch(dst, pki)


def test_relabelling_after_signing_breaks_the_manifest(tmp_path: Path, pki: Pki) -> None:
    """Why the label is written first: metadata written after the manifest is a change."""
    dst = signed(tmp_path, "PNG", pki)
    other = replace(LABEL, produce_id="img-0002")
    write_label(dst, dst, other)
    report = read_c2pa(dst, trust_anchors=pki.ca_pem)
    assert report.state == "Invalid"
    assert report.aigc_label == LABEL != inspect(dst).label


# --- absent, broken, refused ------------------------------------------------------------


def test_no_manifest(tmp_path: Path) -> None:
    report = read_c2pa(labelled(tmp_path, "PNG"))
    assert not report.present and report.state is None
    assert report.to_dict()["present"] is False


def test_truncated_manifest_is_reported_not_raised(tmp_path: Path, pki: Pki) -> None:
    dst = signed(tmp_path, "PNG", pki)
    data = dst.read_bytes()
    offset, _, length = next(c for c in _png_chunks(data) if c[1] == b"caBX")
    cut = data[:offset + 8 + length // 2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(cut)
    report = read_c2pa(broken)
    assert report.present and report.state == "Invalid"


def test_refuses_a_file_without_the_label(tmp_path: Path, pki: Pki) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(SynthGuardError, match="label first"):
        sign_c2pa(plain, tmp_path / "out.png", LABEL, pki.credentials)
    src = labelled(tmp_path, "PNG")
    with pytest.raises(SynthGuardError, match="label first"):
        sign_c2pa(src, tmp_path / "out.png", replace(LABEL, produce_id="x"), pki.credentials)
    assert not (tmp_path / "out.png").exists()


def test_refuses_unsupported_formats_and_bad_credentials(tmp_path: Path, pki: Pki) -> None:
    text = tmp_path / "note.md"
    text.write_text("hello\n")
    write_label(text, text, LABEL)
    with pytest.raises(UnsupportedFormat):
        sign_c2pa(text, None, LABEL, pki.credentials)
    src = labelled(tmp_path, "PNG")
    before = src.read_bytes()
    with pytest.raises(SynthGuardError, match="algorithm"):
        sign_c2pa(src, None, LABEL, replace(pki.credentials, alg="md5"))
    with pytest.raises(SynthGuardError, match="C2PA signing failed"):
        sign_c2pa(src, None, LABEL, replace(pki.credentials, key_pem=b"not a key"))
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["note.md", "in-plain.png", "in.png"])
    assert "PRIVATE" not in repr(pki.credentials)
