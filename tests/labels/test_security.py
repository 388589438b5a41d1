"""Signed labels (TC260-PG-202511A SecurityData, SM3withSM2).

Oracles: the OpenSSL command line (SM2 with SM3 and the GB/T 35276 default ID) checks our
signatures and makes signatures we must accept; gmssl's own `verify_with_sm3` computes
Z_A its own way; exiftool reads the written label back.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from gmssl import sm2  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels import security
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import inspect, write_label
from synthguard.labels.security import (
    ContentDigest,
    SigningKey,
    content_digest,
    parse_public_key,
    sign_label,
    verify_file,
    verify_label,
)
from tests.tools import exiftool_json, require_tool

PRODUCER = "001191110102MACQD9K64010000"
PLATFORM = "001191110108MA01BEJ4X320000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="img-0001")
KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
PINNED = [KEY.public_key_hex]
WATERMARK = bytes.fromhex("0123456789ABCDEF")


def make_image(path: Path, fmt: str, *, seed: int = 0, size: tuple[int, int] = (48, 32),
               **save: Any) -> Path:
    image = Image.new("RGB", size)
    image.putdata([((x * 7 + seed) % 256, (y * 13) % 256, (x * y + seed * 31) % 256)
                   for y in range(size[1]) for x in range(size[0])])
    image.save(path, fmt, **save)
    return path


def signed_file(tmp_path: Path, fmt: str = "PNG", name: str = "signed", seed: int = 0,
                **save: Any) -> tuple[Path, AIGCLabel]:
    """An image labelled with a producer-signed label bound to its own content."""
    ext = {"PNG": ".png", "JPEG": ".jpg"}[fmt]
    src = make_image(tmp_path / f"{name}-plain{ext}", fmt, seed=seed, **save)
    signed = sign_label(LABEL, content_digest(src), KEY, watermark=WATERMARK)
    dst = tmp_path / f"{name}{ext}"
    write_label(src, dst, signed)
    return dst, signed


def record(label: AIGCLabel, field: str = "ReservedCode1") -> dict[str, object]:
    parsed: dict[str, object] = json.loads(label.fields()[field])
    return parsed


# --- the valid case and what it looks like -------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_signed_label_verifies_and_stays_compliant(tmp_path: Path, fmt: str) -> None:
    path, signed = signed_file(tmp_path, fmt)
    report = inspect(path)
    assert report.verdict == "compliant", report.all_findings()
    assert report.label == signed
    results = verify_file(path, signed, PINNED, watermark=WATERMARK)
    assert results["producer"].status == "valid", results["producer"]
    assert results["producer"].content_bound
    assert results["producer"].key_id == security.key_id(KEY.point)
    assert results["propagator"].status == "unsigned"
    assert results["propagator"].code == "no-record"


def test_record_shape_matches_the_guide(tmp_path: Path) -> None:
    _, signed = signed_file(tmp_path)
    raw = signed.reserved_code1
    assert " " not in raw and "\\" not in raw  # Annex E charset, no escaping needed inside
    data = record(signed)["SecurityData"]
    assert isinstance(data, dict)
    assert data["Type"] == "TC260PG" and data["Version"] == 1
    kinds = [(e["Type"], e.get("TBSData", {}).get("Type")) for e in data["PubSD"]]
    assert kinds == [("DS", "Md"), ("DS", "MdBindings"), ("PubKey", None)]
    assert all(e["AlgID"] == "1.2.156.10197.1.501" for e in data["PubSD"])
    assert data["PubSD"][2]["KeyValue"] == KEY.public_key_hex
    binding = data["Bindings"][0]
    assert binding["Type"] == "ContentHash" and binding["AlgID"] == "1.2.156.10197.1.401"
    assert data["Bindings"][1] == {"Type": "Watermark", "Value": WATERMARK.hex().upper()}


def test_exiftool_reads_the_signed_label(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path, "JPEG")
    info = exiftool_json(path, "XMP:all")
    value = next(v for k, v in info.items() if k.lower() == "xmp-tc260:aigc")
    fields = json.loads(value) if isinstance(value, str) else value
    from_exiftool = AIGCLabel.from_fields(fields)
    assert from_exiftool == signed
    assert verify_label(from_exiftool, content_digest(path), PINNED).status == "valid"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_digest_ignores_metadata_and_sees_pixels(tmp_path: Path, fmt: str) -> None:
    ext = {"PNG": ".png", "JPEG": ".jpg"}[fmt]
    plain = make_image(tmp_path / f"a{ext}", fmt)
    exif = Image.Exif()
    exif[0x010E] = "a description"
    rich = make_image(tmp_path / f"b{ext}", fmt, exif=exif.tobytes())
    labelled = tmp_path / f"c{ext}"
    write_label(plain, labelled, LABEL)
    other = make_image(tmp_path / f"d{ext}", fmt, seed=1)
    digest = content_digest(plain)
    assert digest.method == ("png-image-chunks" if fmt == "PNG" else "jpeg-image-segments")
    assert content_digest(rich) == digest
    assert content_digest(labelled) == digest
    assert content_digest(other) != digest
    with open(plain, "rb") as f:
        assert content_digest(f) == digest


def test_pixel_digest_for_other_formats(tmp_path: Path) -> None:
    a = make_image(tmp_path / "a.gif", "GIF")
    b = make_image(tmp_path / "b.webp", "WEBP", lossless=True)
    c = make_image(tmp_path / "c.webp", "WEBP", lossless=True, seed=3)
    assert content_digest(a).method == "decoded-pixels"
    assert content_digest(b) != content_digest(c)
    # Lossless WebP and PNG of the same pixels: the pixel method is format-independent.
    png = make_image(tmp_path / "d.png", "PNG")
    assert content_digest(png, "decoded-pixels") == content_digest(b)


# --- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"produce_id": "img-0002"},
    {"label": "2"},
    {"content_producer": "001191110102MACQD9K64020000"},
])
def test_changed_field_is_detected(tmp_path: Path, change: dict[str, str]) -> None:
    path, signed = signed_file(tmp_path)
    forged = dataclasses.replace(signed, **change)
    result = verify_label(forged, content_digest(path), PINNED)
    assert (result.status, result.code) == ("invalid", "signature-mismatch")


def test_propagation_fields_are_not_the_producers(tmp_path: Path) -> None:
    """The producer signs Appendix A.1 only: a platform may fill its own fields."""
    path, signed = signed_file(tmp_path)
    relayed = dataclasses.replace(signed, content_propagator=PLATFORM, propagate_id="p-1")
    assert verify_label(relayed, content_digest(path), PINNED).status == "valid"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_changed_pixels_are_detected(tmp_path: Path, fmt: str) -> None:
    path, signed = signed_file(tmp_path, fmt)
    with Image.open(path) as image:
        edited = image.copy()
    pixel = edited.getpixel((5, 5))
    assert isinstance(pixel, tuple)
    edited.putpixel((5, 5), (pixel[0] ^ 0x40, *pixel[1:]))
    tampered = tmp_path / f"edited{path.suffix}"
    edited.save(tampered, fmt)
    write_label(tampered, tampered, signed)  # the forger copies the label over
    assert inspect(tampered).verdict == "compliant"  # the plain label cannot tell
    result = verify_file(tampered, signed, PINNED)["producer"]
    assert (result.status, result.code) == ("invalid", "content-mismatch")


def test_one_byte_in_the_jpeg_scan_is_detected(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path, "JPEG")
    data = bytearray(path.read_bytes())
    sos = data.index(b"\xff\xda")
    at = next(i for i in range(sos + 40, len(data) - 2)
              if data[i] not in (0xFF, 0xFE) and data[i - 1] != 0xFF)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify_file(path, signed, PINNED)["producer"]
    assert (result.status, result.code) == ("invalid", "content-mismatch")


def test_label_swapped_from_another_file_is_detected(tmp_path: Path) -> None:
    _, signed_a = signed_file(tmp_path, name="a", seed=0)
    b, _ = signed_file(tmp_path, name="b", seed=9)
    write_label(b, b, signed_a)
    assert inspect(b).label == signed_a
    result = verify_file(b, signed_a, PINNED)["producer"]
    assert (result.status, result.code) == ("invalid", "content-mismatch")


def test_watermark_from_another_file_is_detected(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path)
    result = verify_label(signed, content_digest(path), PINNED, watermark=b"\x00" * 8)
    assert (result.status, result.code) == ("invalid", "watermark-mismatch")


def test_replaced_public_key_is_detected(tmp_path: Path) -> None:
    """A forger signs with their own key and writes the pinned key into PubSD."""
    path, _ = signed_file(tmp_path)
    forged = sign_label(dataclasses.replace(LABEL, produce_id="img-9999"),
                        content_digest(path), OTHER_KEY)
    swapped = forged.reserved_code1.replace(OTHER_KEY.public_key_hex, KEY.public_key_hex)
    result = verify_label(dataclasses.replace(forged, reserved_code1=swapped),
                          content_digest(path), PINNED)
    assert (result.status, result.code) == ("invalid", "signature-mismatch")


def test_unpinned_key_is_untrusted(tmp_path: Path) -> None:
    path, _ = signed_file(tmp_path)
    forged = sign_label(LABEL, content_digest(path), OTHER_KEY)
    result = verify_label(forged, content_digest(path), PINNED)
    assert (result.status, result.code) == ("untrusted", "key-not-pinned")
    assert result.content_bound
    assert verify_label(forged, content_digest(path), []).status == "untrusted"
    trusted = verify_label(forged, content_digest(path), [OTHER_KEY.public_key_hex, *PINNED])
    assert trusted.status == "valid"


@pytest.mark.parametrize("value", ["", "e862483430d978cbf828b8b24296ef9328d843a0",
                                   '{"Other":1}'])
def test_unsigned(value: str) -> None:
    label = dataclasses.replace(LABEL, reserved_code1=value)
    result = verify_label(label, None, PINNED)
    assert (result.status, result.code) == ("unsigned", "no-record")


@pytest.mark.parametrize("value,code", [
    ("{notjson", "malformed-record"),
    ('{"SecurityData":{"Type":"X","Version":1}}', "malformed-record"),
    ('{"SecurityData":{"Type":"TC260PG","Version":1}}', "bad-key"),
    ('{"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[{"Type":"PubKey",'
     '"AlgID":"1.2.156.10197.1.501","KeyValue":"04' + "11" * 64 + '"}]}}', "bad-key"),
])
def test_malformed_records_are_invalid(value: str, code: str) -> None:
    result = verify_label(dataclasses.replace(LABEL, reserved_code1=value), None, PINNED)
    assert (result.status, result.code) == ("invalid", code)


def test_record_without_signature_or_binding(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path)
    data = record(signed)
    security_data = data["SecurityData"]
    assert isinstance(security_data, dict)
    key_only = {"SecurityData": {**security_data, "PubSD": security_data["PubSD"][2:]}}
    label = dataclasses.replace(signed, reserved_code1=json.dumps(key_only, separators=(",", ":")))
    assert verify_label(label, None, PINNED).code == "no-signature"
    # A label signature alone (as other producers write it) is no content binding.
    no_binding = {"SecurityData": {"Type": "TC260PG", "Version": 1,
                                   "PubSD": [security_data["PubSD"][0], security_data["PubSD"][2]]}}
    label = dataclasses.replace(signed, reserved_code1=json.dumps(no_binding,
                                                                  separators=(",", ":")))
    assert verify_label(label, None, PINNED).status == "valid"
    result = verify_label(label, content_digest(path), PINNED)
    assert (result.status, result.code) == ("untrusted", "no-binding")


def test_digest_method_must_match_the_binding(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path)
    result = verify_label(signed, content_digest(path, "decoded-pixels"), PINNED)
    assert (result.status, result.code) == ("invalid", "digest-method")


FIXED_DIGEST = ContentDigest("png-image-chunks", b"\x01" * 32)
FIXED = sign_label(LABEL, FIXED_DIGEST, KEY)  # signed once: k is random, so is the record


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_edit_of_the_record_is_never_valid(data: st.DataObject) -> None:
    signed = FIXED
    raw = signed.reserved_code1
    at = data.draw(st.integers(0, len(raw) - 1))
    alphabet = "".join(chr(c) for c in range(0x21, 0x7F) if c != 0x5C)
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != raw[at]))
    label = dataclasses.replace(signed, reserved_code1=raw[:at] + char + raw[at + 1:])
    result = verify_label(label, FIXED_DIGEST, PINNED)
    # A case change in a hex string is the same value; any other edit must not be valid.
    assert result.status != "valid" or raw[at].lower() == char.lower(), (raw[at], char, result)


_TEXT = st.text(alphabet="".join(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C)),
                max_size=20)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT,
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(["Type", "Version", "PubSD", "Bindings",
                                                        "TBSData", "AlgID", "KeyValue",
                                                        "Signature", "Value", "Method"]) | _TEXT,
                                       inner, max_size=5), max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(body=_JSON, depth=st.integers(0, 3000))
def test_hostile_records_never_raise(body: object, depth: int) -> None:
    for value in ({"SecurityData": body}, {"SecurityData": {"Type": "TC260PG", "Version": 1,
                                                            "PubSD": body, "Bindings": body}}):
        raw = json.dumps(value, separators=(",", ":"))[:4000]
        label = dataclasses.replace(LABEL, reserved_code1=raw)
        result = verify_label(label, FIXED_DIGEST, PINNED, watermark=b"\x01")
        assert result.status in ("invalid", "unsigned", "untrusted")
        assert security.binding_method(label) is None or isinstance(
            security.binding_method(label), str)
    deep = dataclasses.replace(LABEL, reserved_code1='{"SecurityData":' + "[" * depth)
    assert verify_label(deep, None, PINNED).status in ("invalid", "unsigned")
    assert security.binding_method(deep) is None


# --- propagator ------------------------------------------------------------------------------


def test_propagator_record_seals_the_producers(tmp_path: Path) -> None:
    path, signed = signed_file(tmp_path)
    platform_key = SigningKey.generate()
    relayed = dataclasses.replace(signed, content_propagator=PLATFORM, propagate_id="p-77")
    both = sign_label(relayed, content_digest(path), platform_key, role="propagator")
    write_label(path, path, both)
    assert inspect(path).verdict == "compliant"
    pinned = [*PINNED, platform_key.public_key_hex]
    results = verify_file(path, both, pinned)
    assert [r.status for r in results.values()] == ["valid", "valid"]
    stripped = dataclasses.replace(both, reserved_code1="")
    results = verify_file(path, stripped, pinned)
    assert results["producer"].status == "unsigned"
    assert (results["propagator"].status, results["propagator"].code) == (
        "invalid", "signature-mismatch")


# --- keys and interop -------------------------------------------------------------------


def test_key_forms() -> None:
    point = KEY.point
    assert parse_public_key(KEY.public_key_hex) == point
    assert parse_public_key(b"\x04" + point) == point
    assert parse_public_key(point.hex()) == point
    assert SigningKey.from_hex(f"{KEY.scalar:064x}").point == point
    assert str(KEY.scalar) not in repr(KEY) and f"{KEY.scalar:x}" not in repr(KEY)
    for bad in ["zz", "04" + "11" * 64, "00" * 10]:
        with pytest.raises(SynthGuardError):
            parse_public_key(bad)
    with pytest.raises(SynthGuardError):
        verify_label(LABEL, None, ["not a key"])
    with pytest.raises(SynthGuardError):
        SigningKey(0)


def test_gmssl_verifies_our_signature() -> None:
    signed = sign_label(LABEL, ContentDigest("png-image-chunks", b"\x02" * 32), KEY)
    der = bytes.fromhex(record(signed)["SecurityData"]["PubSD"][0]["Signature"])  # type: ignore[index]
    r, s = decode_dss_signature(der)
    engine = sm2.CryptSM2(private_key="", public_key="")
    engine.public_key = KEY.point.hex()
    message = b'"Label":"1","ContentProducer":"' + PRODUCER.encode() + b'","ProduceID":"img-0001"'
    assert engine.verify_with_sm3(f"{r:064x}{s:064x}", message)


def _openssl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = require_tool("openssl")
    return subprocess.run([exe, *args], capture_output=True, cwd=tmp_path, timeout=60)


def test_openssl_verifies_our_signature(tmp_path: Path) -> None:
    signed = sign_label(LABEL, ContentDigest("png-image-chunks", b"\x03" * 32), KEY)
    entry = record(signed)["SecurityData"]["PubSD"][0]  # type: ignore[index]
    (tmp_path / "key.der").write_bytes(bytes.fromhex(KEY.public_key_hex))
    (tmp_path / "sig.der").write_bytes(bytes.fromhex(entry["Signature"]))
    message = f'"Label":"1","ContentProducer":"{PRODUCER}","ProduceID":"img-0001"'
    (tmp_path / "msg").write_text(message)
    args = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "key.der", "-rawin",
            "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", "msg",
            "-sigfile", "sig.der"]
    assert _openssl(tmp_path, *args).returncode == 0
    (tmp_path / "msg").write_text(message.replace("img-0001", "img-0002"))
    assert _openssl(tmp_path, *args).returncode != 0


def test_we_verify_openssls_signature(tmp_path: Path) -> None:
    assert _openssl(tmp_path, "genpkey", "-algorithm", "SM2", "-out", "k.pem").returncode == 0
    spki = _openssl(tmp_path, "pkey", "-in", "k.pem", "-pubout", "-outform", "DER").stdout
    message = f'"Label":"1","ContentProducer":"{PRODUCER}","ProduceID":"img-0001"'
    (tmp_path / "msg").write_text(message)
    assert _openssl(tmp_path, "pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-digest", "sm3",
                    "-pkeyopt", "distid:1234567812345678", "-in", "msg",
                    "-out", "sig.der").returncode == 0
    signature = (tmp_path / "sig.der").read_bytes().hex().upper()
    value = json.dumps({"SecurityData": {"Type": "TC260PG", "Version": 1, "PubSD": [
        {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "TBSData": {"Type": "LabelMataData"},
         "Signature": signature},
        {"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyValue": spki.hex().upper()},
    ]}}, separators=(",", ":"))
    label = dataclasses.replace(LABEL, reserved_code1=value)
    assert verify_label(label, None, [spki]).status == "valid"
    forged = dataclasses.replace(label, produce_id="img-0002")
    assert verify_label(forged, None, [spki]).code == "signature-mismatch"


# --- hostile input to the digest ------------------------------------------------------


def test_digest_of_broken_files(tmp_path: Path) -> None:
    png = make_image(tmp_path / "a.png", "PNG").read_bytes()
    with pytest.raises(MalformedFile):
        content_digest(io.BytesIO(png[:60]))
    jpg = make_image(tmp_path / "a.jpg", "JPEG").read_bytes()
    with pytest.raises(MalformedFile):
        content_digest(io.BytesIO(jpg[:30]))
    with pytest.raises(UnsupportedFormat):
        content_digest(io.BytesIO(b"plain text, not an image"))
    with pytest.raises(UnsupportedFormat):
        content_digest(io.BytesIO(png), "no-such-method")
    broken = tmp_path / "broken.png"
    broken.write_bytes(png[:60])
    _, signed = signed_file(tmp_path)
    result = verify_file(broken, signed, PINNED)["producer"]
    assert (result.status, result.code) == ("invalid", "digest-failed")
