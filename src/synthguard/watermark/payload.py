"""The watermark payload shared by the image and audio marks, and its framing.

A payload is 64 bits: the id of the key that made the mark (8 bits, so keys can rotate)
and a 56-bit content id (`content_id_from(produce_id)`, the first 56 bits of SHA-256 of
the ProduceID, which the audit log resolves back to the record). Framing adds a CRC-8,
then Reed-Solomon parity over GF(256) (`reedsolo`), then keyed whitening, so that a
decoder reading unmarked content sees fair coin flips whatever its bias.

`decode` takes *soft* values (sign = bit, magnitude = reliability). When plain
error correction fails it retries with the least reliable bytes marked as erasures,
which is how a spread-spectrum detector's confidence buys back correction power. The
erasure count is capped so that at least `MIN_CHECK_BYTES` parity bytes still check
the result: with every parity byte spent on erasures, any word would "decode".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import reedsolo  # type: ignore[import-untyped]

from synthguard.watermark.keys import whiten

CONTENT_ID_BITS = 56
CONTENT_ID_MAX = (1 << CONTENT_ID_BITS) - 1
FRAME_BYTES = 9  # key id, 7 bytes of content id, CRC-8
DEFAULT_PARITY_BYTES = 8
MIN_CHECK_BYTES = 4
_CRC8_POLY = 0x07  # CRC-8/SMBUS


@dataclass(frozen=True)
class Payload:
    """What a mark carries: the key id and the content id."""

    key_id: int
    content_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 255:
            raise ValueError(f"key id {self.key_id} is not in 0-255")
        if not 0 <= self.content_id <= CONTENT_ID_MAX:
            raise ValueError(f"content id {self.content_id} does not fit in 56 bits")


@dataclass(frozen=True)
class DecodedPayload:
    """A payload that passed error correction and its CRC, and how damaged the word was."""

    payload: Payload
    corrected_bytes: int
    erased_bytes: int
    bit_agreement: float  # share of received hard bits equal to the re-encoded codeword


def content_id_from(produce_id: str) -> int:
    """The 56-bit content id of a ProduceID: the first 56 bits of its UTF-8 SHA-256."""
    digest = hashlib.sha256(produce_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:7], "big")


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC8_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def frame(payload: Payload) -> bytes:
    body = bytes([payload.key_id]) + payload.content_id.to_bytes(7, "big")
    return body + bytes([crc8(body)])


def unframe(data: bytes) -> Payload | None:
    """The payload in a 9-byte frame, or None when its CRC does not match."""
    if len(data) != FRAME_BYTES or crc8(data[:-1]) != data[-1]:
        return None
    return Payload(data[0], int.from_bytes(data[1:8], "big"))


def coded_bits(parity: int = DEFAULT_PARITY_BYTES) -> int:
    """How many bits `encode` produces with `parity` Reed-Solomon parity bytes."""
    return 8 * (FRAME_BYTES + parity)


def _codec(parity: int) -> reedsolo.RSCodec:
    if not MIN_CHECK_BYTES <= parity <= 64:
        raise ValueError(f"parity must be {MIN_CHECK_BYTES}-64 bytes, not {parity}")
    return reedsolo.RSCodec(parity)


def encode(
    payload: Payload, secret: bytes, purpose: str, parity: int = DEFAULT_PARITY_BYTES
) -> npt.NDArray[np.uint8]:
    """The whitened coded bits (0/1) of `payload` under `secret` for one `purpose`."""
    codeword = bytes(_codec(parity).encode(frame(payload)))
    return whiten(np.unpackbits(np.frombuffer(codeword, dtype=np.uint8)), secret, purpose)


def decode(
    soft: npt.ArrayLike, secret: bytes, purpose: str, parity: int = DEFAULT_PARITY_BYTES
) -> DecodedPayload | None:
    """Decode soft values (positive = bit 1) to a payload, or None if nothing checks out."""
    values = np.asarray(soft, dtype=np.float64).reshape(-1)
    if values.size != coded_bits(parity) or not np.all(np.isfinite(values)):
        raise ValueError(f"decode needs {coded_bits(parity)} finite soft values")
    received = whiten((values > 0).astype(np.uint8), secret, purpose)
    word = np.packbits(received).tobytes()
    # A byte is as reliable as its weakest bit; ties broken by position for determinism.
    reliability = np.abs(values).reshape(-1, 8).min(axis=1)
    weakest = np.argsort(reliability, kind="stable")
    codec = _codec(parity)
    for erasures in range(0, parity - MIN_CHECK_BYTES + 1):
        erase = sorted(int(i) for i in weakest[:erasures])
        try:
            message, codeword, errata = codec.decode(word, erase_pos=erase or None)
        except reedsolo.ReedSolomonError:
            continue
        payload = unframe(bytes(message))
        if payload is None:
            continue
        sent = np.unpackbits(np.frombuffer(bytes(codeword), dtype=np.uint8))
        return DecodedPayload(
            payload=payload,
            corrected_bytes=len(errata) - erasures,
            erased_bytes=erasures,
            bit_agreement=float(np.mean(sent == received)),
        )
    return None
