"""Watermark keys shared by the image and audio marks: key ids, key rings, keyed randomness.

A watermark key is a secret plus a one-byte id. The id travels inside the payload, so an
operator can rotate keys: new content is marked with the newest key while detectors keep
the older ones in their `KeyRing` and still recognise old content.

Everything a mark derives from a key (chip signs, permutations, whitening) comes from
`keyed_rng`, seeded by HMAC-SHA256(secret, purpose). Only the PCG64 *bit generator*
stream is used for that (`random_raw`, through `keyed_words`/`keyed_bits`/`keyed_signs`/
`keyed_permutation`): NumPy guarantees that raw stream across releases, whereas the
`Generator` sampling methods may change, and a mark must stay detectable for years.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from synthguard.errors import SynthGuardError

MIN_SECRET_BYTES = 16
KEY_ID_MAX = 255


class WatermarkKeyError(SynthGuardError, ValueError):
    """A watermark key or key-ring configuration is unusable; the message says which."""

    code = "watermark_key"


@dataclass(frozen=True)
class WatermarkKey:
    """One watermark key: `key_id` (0-255, carried in the payload) and its secret."""

    key_id: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, int) or not 0 <= self.key_id <= KEY_ID_MAX:
            raise WatermarkKeyError(f"watermark key id {self.key_id!r} is not in 0-255")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise WatermarkKeyError(
                f"watermark key {self.key_id}: secret has {len(self.secret)} bytes, "
                f"at least {MIN_SECRET_BYTES} are needed"
            )


class KeyRing:
    """The keys a detector tries, by id; the first key given is the one to mark with."""

    def __init__(self, keys: Iterable[WatermarkKey]) -> None:
        self._keys: dict[int, WatermarkKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise WatermarkKeyError(f"watermark key id {key.key_id} is configured twice")
            self._keys[key.key_id] = key
        if not self._keys:
            raise WatermarkKeyError("a watermark key ring needs at least one key")

    @classmethod
    def from_config(cls, mapping: Mapping[str | int, str]) -> KeyRing:
        """Parse `{key_id: hex_secret}` as it appears in configuration (TOML keys are strings)."""
        keys = []
        for raw_id, raw_secret in mapping.items():
            try:
                key_id = int(raw_id)
            except (TypeError, ValueError):
                raise WatermarkKeyError(f"watermark key id {raw_id!r} is not a number") from None
            if not isinstance(raw_secret, str):
                raise WatermarkKeyError(f"watermark key {key_id}: secret must be a hex string")
            try:
                secret = bytes.fromhex(raw_secret.strip())
            except (ValueError, binascii.Error):
                message = f"watermark key {key_id}: secret is not valid hex"
                raise WatermarkKeyError(message) from None
            keys.append(WatermarkKey(key_id, secret))
        return cls(keys)

    def get(self, key_id: int) -> WatermarkKey | None:
        return self._keys.get(key_id)

    def all(self) -> tuple[WatermarkKey, ...]:
        return tuple(self._keys.values())

    @property
    def primary(self) -> WatermarkKey:
        """The key new content is marked with (the first one configured)."""
        return next(iter(self._keys.values()))

    def __iter__(self) -> Iterator[WatermarkKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never shows secrets
        return f"KeyRing(key_ids={sorted(self._keys)})"


def _seed(secret: bytes, purpose: str) -> int:
    digest = hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def keyed_rng(secret: bytes, purpose: str) -> np.random.Generator:
    """A PCG64 generator seeded by HMAC-SHA256(secret, purpose); one purpose, one stream."""
    return np.random.Generator(np.random.PCG64(_seed(secret, purpose)))


def keyed_words(secret: bytes, purpose: str, n: int) -> npt.NDArray[np.uint64]:
    """`n` raw 64-bit words of the keyed stream (stable across NumPy releases)."""
    stream = keyed_rng(secret, purpose).bit_generator.random_raw(n)
    return np.asarray(stream, dtype=np.uint64).reshape(n)


def keyed_bits(secret: bytes, purpose: str, n: int) -> npt.NDArray[np.uint8]:
    """`n` keyed fair bits (0/1)."""
    return (keyed_words(secret, purpose, n) >> np.uint64(63)).astype(np.uint8)


def keyed_signs(secret: bytes, purpose: str, n: int) -> npt.NDArray[np.float64]:
    """`n` keyed signs (+1.0/-1.0), the chips of a spread-spectrum sequence."""
    return 1.0 - 2.0 * keyed_bits(secret, purpose, n).astype(np.float64)


def keyed_permutation(secret: bytes, purpose: str, n: int) -> npt.NDArray[np.intp]:
    """A keyed permutation of range(n): the order of `n` keyed 64-bit words."""
    return np.argsort(keyed_words(secret, purpose, n), kind="stable").astype(np.intp)


def whiten(bits: npt.ArrayLike, secret: bytes, purpose: str) -> npt.NDArray[np.uint8]:
    """XOR 0/1 bits with a keyed fair sequence (its own inverse).

    Whitening makes a decoder's output on unmarked content look like fair coin flips
    whatever the decoder's bias, which is what a binomial false-positive bound assumes.
    """
    array = np.asarray(bits, dtype=np.uint8).reshape(-1)
    if array.size and int(array.max()) > 1:
        raise ValueError("whiten takes 0/1 bits")
    return array ^ keyed_bits(secret, "whiten:" + purpose, array.size)
