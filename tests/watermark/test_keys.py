"""Watermark keys: validation, key rings from configuration, keyed streams, whitening."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.watermark.keys import (
    KeyRing,
    WatermarkKey,
    WatermarkKeyError,
    keyed_bits,
    keyed_permutation,
    keyed_rng,
    keyed_signs,
    keyed_words,
    whiten,
)

SECRET = bytes(range(32))


def test_key_validation() -> None:
    with pytest.raises(WatermarkKeyError, match="0-255"):
        WatermarkKey(256, SECRET)
    with pytest.raises(WatermarkKeyError, match="0-255"):
        WatermarkKey(-1, SECRET)
    with pytest.raises(WatermarkKeyError, match="at least 16"):
        WatermarkKey(1, b"short")
    assert "secret" not in repr(WatermarkKey(1, SECRET)).split("key_id=1")[1]


def test_key_ring_from_config_parses_hex_and_rotates() -> None:
    ring = KeyRing.from_config({"2": "aa" * 16, 1: " " + "bb" * 20 + "\n"})
    assert [k.key_id for k in ring.all()] == [2, 1]
    assert ring.primary.key_id == 2
    key = ring.get(1)
    assert key is not None and key.secret == b"\xbb" * 20
    assert ring.get(3) is None
    assert len(ring) == 2 and "aa" not in repr(ring)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"x": "aa" * 16}, "not a number"),
        ({"1": "zz" * 16}, "not valid hex"),
        ({"1": 12}, "hex string"),
        ({"1": "aa" * 4}, "at least 16"),
        ({"300": "aa" * 16}, "0-255"),
        ({"1": "aa" * 16, 1: "bb" * 16}, "twice"),
        ({}, "at least one key"),
    ],
)
def test_key_ring_rejects_bad_config(mapping: dict[str | int, object], message: str) -> None:
    with pytest.raises(WatermarkKeyError, match=message):
        KeyRing.from_config(mapping)  # type: ignore[arg-type]


def test_keyed_streams_depend_on_secret_and_purpose_only() -> None:
    a = keyed_words(SECRET, "pilot", 64)
    assert np.array_equal(a, keyed_words(SECRET, "pilot", 64))
    assert not np.array_equal(a, keyed_words(SECRET, "chips", 64))
    assert not np.array_equal(a, keyed_words(SECRET[::-1], "pilot", 64))
    # The generator continues the same raw stream the helpers read.
    assert np.array_equal(keyed_rng(SECRET, "pilot").bit_generator.random_raw(64), a)


def test_keyed_stream_is_pinned() -> None:
    """Marks made today must be detectable after upgrades: pin the derivation."""
    assert keyed_bits(SECRET, "pin", 16).tolist() == PINNED_BITS


PINNED_BITS = [1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1]


def test_keyed_signs_and_permutation_are_fair() -> None:
    signs = keyed_signs(SECRET, "s", 20000)
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert abs(signs.mean()) < 0.03
    perm = keyed_permutation(SECRET, "p", 1000)
    assert sorted(perm.tolist()) == list(range(1000))
    assert not np.array_equal(perm, np.arange(1000))


@given(st.lists(st.integers(0, 1), max_size=300), st.text(max_size=20))
def test_whiten_is_an_involution(bits: list[int], purpose: str) -> None:
    once = whiten(bits, SECRET, purpose)
    assert whiten(once, SECRET, purpose).tolist() == bits


def test_whiten_turns_constant_output_into_fair_bits() -> None:
    zeros = whiten(np.zeros(4096, dtype=np.uint8), SECRET, "image")
    ones = whiten(np.ones(4096, dtype=np.uint8), SECRET, "image")
    assert 0.45 < zeros.mean() < 0.55 and 0.45 < ones.mean() < 0.55
    with pytest.raises(ValueError):
        whiten([0, 2], SECRET, "image")
