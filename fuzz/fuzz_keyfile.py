"""Fuzz target for the SM2 key file readers (labels.keyfile): any input either gives a
key or is refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import base64

from synthguard.errors import SynthGuardError
from synthguard.labels.keyfile import SM2_CURVE_OID_DER, load_public_key, private_scalar
from synthguard.labels.security import SigningKey

KEY = SigningKey(0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF)
EC_PUBLIC_KEY_OID = bytes.fromhex("2A8648CE3D0201")


def _der(tag: int, body: bytes) -> bytes:
    length = bytes([len(body)]) if len(body) < 0x80 else b"\x81" + bytes([len(body)])
    return bytes([tag]) + length + body


def _pem(kind: str, der: bytes) -> bytes:
    return (f"-----BEGIN {kind}-----\n".encode() + base64.encodebytes(der)
            + f"-----END {kind}-----\n".encode())


def target(data: bytes) -> None:
    for parse in (private_scalar, load_public_key):
        try:
            parse(data)
        except SynthGuardError:
            pass


def seeds() -> list[bytes]:
    """The forms the readers accept: hex, PKCS#8 and SEC 1 PEM, public PEM/DER/hex."""
    scalar = KEY.scalar.to_bytes(32, "big")
    sec1 = _der(0x30, _der(0x02, b"\x01") + _der(0x04, scalar)
                + _der(0xA0, _der(0x06, SM2_CURVE_OID_DER)))
    pkcs8 = _der(0x30, _der(0x02, b"\x00")
                 + _der(0x30, _der(0x06, EC_PUBLIC_KEY_OID) + _der(0x06, SM2_CURVE_OID_DER))
                 + _der(0x04, sec1))
    spki = bytes.fromhex(KEY.public_key_hex)
    return [f"{KEY.scalar:064x}\n".encode(), _pem("PRIVATE KEY", pkcs8),
            _pem("EC PRIVATE KEY", sec1), _pem("SM2 PRIVATE KEY", sec1),
            _pem("PUBLIC KEY", spki), spki, KEY.public_key_hex.encode()]
