"""Reading SM2 key files: the private key a producer signs with, the public keys a
verifier pins.

Private keys: the 32-byte scalar in hex, or what OpenSSL writes (`openssl genpkey
-algorithm SM2`: PEM PKCS#8; `openssl ec`: SEC 1, headed "EC PRIVATE KEY" or, by
OpenSSL 3, "SM2 PRIVATE KEY"). Public keys: PEM "PUBLIC KEY" (`openssl pkey -pubout`),
DER SubjectPublicKeyInfo, or the hex forms `security.parse_public_key` reads. Only as
much DER is parsed as finds the key, with bounded lengths: key files are input.

`write_private` writes new key files (mode 0600, never half-written), as `synthguard
keys` and the demo make them.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from synthguard.errors import SynthGuardError
from synthguard.labels.security import parse_public_key

SM2_CURVE_OID_DER = bytes.fromhex("2A811CCF5501822D")  # 1.2.156.10197.1.301
_MAX_KEY_DER = 4096


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, contents) of the DER elements laid end to end in `data`."""
    items, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise SynthGuardError("SM2 private key: truncated DER")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if not 1 <= count <= 2 or pos + count > len(data):
                raise SynthGuardError("SM2 private key: bad DER length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise SynthGuardError("SM2 private key: truncated DER")
        items.append((tag, data[pos:pos + length]))
        pos += length
    return items


def _ec_private_scalar(der: bytes) -> int:
    """SEC 1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING scalar, ... }."""
    outer = _der_items(der)
    if len(outer) != 1 or outer[0][0] != 0x30:
        raise SynthGuardError("SM2 private key: not an EC private key")
    fields = _der_items(outer[0][1])
    if len(fields) < 2 or fields[0] != (0x02, b"\x01") or fields[1][0] != 0x04 \
            or len(fields[1][1]) > 32:
        raise SynthGuardError("SM2 private key: not an EC private key")
    for tag, value in fields[2:]:
        if tag == 0xA0 and _der_items(value) != [(0x06, SM2_CURVE_OID_DER)]:
            raise SynthGuardError("SM2 private key: the key is not on the SM2 curve")
    return int.from_bytes(fields[1][1], "big")


def _pem_private_scalar(text: str) -> int:
    lines = text.splitlines()
    kind = lines[0].strip()
    body = "".join(line.strip() for line in lines[1:] if not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise SynthGuardError("SM2 private key: PEM body is not base64") from None
    if len(der) > _MAX_KEY_DER:
        raise SynthGuardError("SM2 private key: PEM body is too large")
    if kind in ("-----BEGIN EC PRIVATE KEY-----", "-----BEGIN SM2 PRIVATE KEY-----"):
        return _ec_private_scalar(der)
    if kind != "-----BEGIN PRIVATE KEY-----":
        raise SynthGuardError(f"SM2 private key: unsupported PEM block {kind!r}")
    outer = _der_items(der)
    if len(outer) != 1 or outer[0][0] != 0x30:
        raise SynthGuardError("SM2 private key: not PKCS#8")
    fields = _der_items(outer[0][1])  # version, algorithm, privateKey, [attributes...]
    if len(fields) < 3 or fields[1][0] != 0x30 or fields[2][0] != 0x04:
        raise SynthGuardError("SM2 private key: not PKCS#8")
    oids = [value for tag, value in _der_items(fields[1][1]) if tag == 0x06]
    if SM2_CURVE_OID_DER not in oids:
        raise SynthGuardError("SM2 private key: the key is not on the SM2 curve")
    return _ec_private_scalar(fields[2][1])


def load_public_key(data: bytes) -> bytes:
    """The point of a public key file: PEM "PUBLIC KEY" (`openssl pkey -pubout`), DER
    SubjectPublicKeyInfo, or any form `parse_public_key` reads, in hex."""
    text = data.strip()
    if text.startswith(b"-----BEGIN PUBLIC KEY-----"):
        body = b"".join(line.strip() for line in text.splitlines() if not line.startswith(b"-"))
        try:
            return parse_public_key(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            raise SynthGuardError("SM2 public key: PEM body is not base64") from None
    try:
        return parse_public_key(text.decode("ascii"))
    except (UnicodeDecodeError, SynthGuardError):
        return parse_public_key(data)


def private_scalar(data: bytes) -> int:
    """The private scalar in a key file's bytes (hex or PEM)."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise SynthGuardError("SM2 private key file is neither hex nor PEM") from None
    if not text.startswith("-----BEGIN"):
        try:
            return int(text, 16)
        except ValueError:
            raise SynthGuardError("SM2 private key is not hexadecimal") from None
    return _pem_private_scalar(text)


def write_private(path: Path, text: str, *, force: bool = False) -> None:
    """Write a new key file readable only by its owner: a private temporary file, then a
    rename (a link when not `force`, so an existing key is never replaced by accident)."""
    if path.exists() and not force:
        raise SynthGuardError(f"{path}: exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        raise SynthGuardError(f"{path}: exists; pass --force to replace it") from None
    finally:
        tmp.unlink(missing_ok=True)


def watermark_key_text(key_id: int) -> str:
    """A new watermark key file's text (`watermark_keys_file`): one 32-byte key."""
    return (f"# watermark keys: the first line marks new content; keep old lines to detect "
            f"old content\n{key_id} = \"{secrets.token_hex(32)}\"\n")


__all__ = ["load_public_key", "private_scalar", "watermark_key_text", "write_private"]
