"""The shared payload: content ids, CRC framing, Reed-Solomon with erasures, whitening."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.watermark.payload import (
    CONTENT_ID_MAX,
    DEFAULT_PARITY_BYTES,
    Payload,
    coded_bits,
    content_id_from,
    crc8,
    decode,
    encode,
    frame,
    unframe,
)

SECRET = b"\x5a" * 32
PURPOSE = "test"


def soft_of(bits: np.ndarray) -> np.ndarray:
    return bits.astype(np.float64) * 2.0 - 1.0


def test_content_id_is_first_56_bits_of_sha256() -> None:
    produce_id = "0190f3c2-7e1a-7b3c-9d2e-1f0a2b3c4d5e"
    digest = hashlib.sha256(produce_id.encode()).hexdigest()
    assert content_id_from(produce_id) == int(digest[:14], 16)
    assert content_id_from(produce_id) <= CONTENT_ID_MAX


def test_crc8_check_value() -> None:
    # CRC-8/SMBUS catalogue check value for "123456789".
    assert crc8(b"123456789") == 0xF4


def test_frame_round_trip_and_crc_rejects_changes() -> None:
    payload = Payload(200, CONTENT_ID_MAX)
    data = frame(payload)
    assert len(data) == 9 and unframe(data) == payload
    for i in range(9):
        damaged = bytearray(data)
        damaged[i] ^= 0x10
        assert unframe(bytes(damaged)) is None
    assert unframe(data[:8]) is None


def test_payload_bounds() -> None:
    with pytest.raises(ValueError):
        Payload(256, 1)
    with pytest.raises(ValueError):
        Payload(1, CONTENT_ID_MAX + 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 255), st.integers(0, CONTENT_ID_MAX), st.integers(4, 16))
def test_encode_decode_round_trip(key_id: int, content_id: int, parity: int) -> None:
    payload = Payload(key_id, content_id)
    bits = encode(payload, SECRET, PURPOSE, parity)
    assert bits.size == coded_bits(parity)
    decoded = decode(soft_of(bits), SECRET, PURPOSE, parity)
    assert decoded is not None and decoded.payload == payload
    assert decoded.bit_agreement == 1.0 and decoded.corrected_bytes == 0


def test_errors_and_erasures_are_corrected() -> None:
    payload = Payload(3, content_id_from("x"))
    bits = encode(payload, SECRET, PURPOSE)
    soft = soft_of(bits)
    # Four confident byte errors: exactly the correction radius of 8 parity bytes.
    for byte in (0, 4, 9, 16):
        soft[8 * byte] *= -1
    decoded = decode(soft, SECRET, PURPOSE)
    assert decoded is not None and decoded.payload == payload and decoded.corrected_bytes == 4
    # Six damaged bytes are beyond plain correction; flagged as unreliable they come back.
    soft = soft_of(bits)
    for byte in (1, 2, 5, 7, 11, 13):
        soft[8 * byte + 3] *= -0.05
    decoded = decode(soft, SECRET, PURPOSE)
    assert decoded is not None and decoded.payload == payload and decoded.erased_bytes >= 4


def test_wrong_secret_or_purpose_does_not_decode() -> None:
    bits = encode(Payload(1, 12345), SECRET, PURPOSE)
    assert decode(soft_of(bits), b"\x00" * 32, PURPOSE) is None
    assert decode(soft_of(bits), SECRET, "other") is None


def test_random_and_constant_words_do_not_decode() -> None:
    """Whitening turns a biased decoder's all-zero or all-one output into noise."""
    n = coded_bits(DEFAULT_PARITY_BYTES)
    rng = np.random.default_rng(0)
    decoded = [decode(rng.normal(size=n), SECRET, PURPOSE) for _ in range(300)]
    assert decoded.count(None) == 300
    assert decode(np.ones(n), SECRET, PURPOSE) is None
    assert decode(-np.ones(n), SECRET, PURPOSE) is None


def test_decode_rejects_wrong_length_and_non_finite() -> None:
    n = coded_bits()
    with pytest.raises(ValueError):
        decode(np.ones(n - 1), SECRET, PURPOSE)
    with pytest.raises(ValueError):
        decode(np.full(n, np.nan), SECRET, PURPOSE)
    with pytest.raises(ValueError):
        encode(Payload(1, 1), SECRET, PURPOSE, parity=2)
