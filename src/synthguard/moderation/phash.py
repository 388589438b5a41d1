"""Perceptual hashes (pHash) for the image part of the feature library.

pHash: the image as 32x32 grey, its 2-D DCT-II, the 8x8 lowest frequencies, one bit per
coefficient above their median (the imagehash algorithm). It survives re-encoding and
resizing, but a mirror flips about half the bits, so a query is hashed in all 8 dihedral
orientations (flips, 90° turns). They come from the same DCT: mirroring the image
negates the odd-frequency coefficients along that axis, and transposing the image
transposes the DCT, so no resampling is repeated.

Matches are routed by distance: up to `NEAR_IDENTICAL` bits the entry's own action,
up to `MATCH_THRESHOLD` human review (a perceptual hash can be collided or evaded, so
looser matches are never automatic verdicts).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from synthguard.errors import MalformedFile

HASH_BITS = 64
MATCH_THRESHOLD = 10  # common pHash guidance: 6-10 possibly related, >10 different
NEAR_IDENTICAL = 4
MAX_PIXELS = 64_000_000  # refuse decompression bombs before decoding
_SIZE = 32
_LOW = 8


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * (2 * x + 1) * k / (2 * n))


_DCT = _dct_matrix(_SIZE)
_PARITY = (-1.0) ** np.arange(_LOW)  # (-1)^k: a mirror negates the odd frequencies
_WEIGHTS = (1 << np.arange(HASH_BITS - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)


def load(data: bytes) -> Image.Image:
    """Decode an untrusted image; MalformedFile for anything Pillow cannot read safely."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise MalformedFile(f"image of {image.width}x{image.height} pixels is too large "
                                    "to hash")
            image.draft("L", (_SIZE * 4, _SIZE * 4))  # JPEG: decode at reduced size
            image.load()
    except MalformedFile:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise MalformedFile("image is too large to hash (decompression bomb limit)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MalformedFile(f"image cannot be decoded: {exc}") from None
    return image


def _low_frequencies(image: Image.Image) -> npt.NDArray[np.float64]:
    grey = image.convert("L").resize((_SIZE, _SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    return (_DCT @ pixels @ _DCT.T)[:_LOW, :_LOW]


def _bits(low: npt.NDArray[np.float64]) -> int:
    bits = (low > np.median(low)).ravel().astype(np.uint64)
    return int((bits * _WEIGHTS).sum())


def phash(image: Image.Image) -> int:
    """The 64-bit pHash of the image as it is."""
    return _bits(_low_frequencies(image))


def dihedral_hashes(image: Image.Image) -> tuple[int, ...]:
    """pHash of the 8 orientations: identity, mirrors, transposes, turns."""
    low = _low_frequencies(image)
    out = []
    for transposed in (low, low.T):
        for rows in (False, True):
            for cols in (False, True):
                variant = transposed
                if rows:
                    variant = variant * _PARITY[:, None]
                if cols:
                    variant = variant * _PARITY[None, :]
                out.append(_bits(variant))
    return tuple(out)


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(text: str) -> int:
    if len(text) != 16 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"not a 64-bit pHash in 16 hex digits: {text!r}")
    return int(text, 16)


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class ImageHit:
    entry: int
    distance: int


class ImageIndex:
    """pHashes of a release; a query compares its 8 orientations with every hash."""

    def __init__(self, hashes: list[tuple[int, int]], *,
                 threshold: int = MATCH_THRESHOLD) -> None:
        self.threshold = threshold
        self._entries = np.array([e for e, _ in hashes], dtype=np.int64)
        self._hashes = np.array([h for _, h in hashes], dtype=np.uint64)
        self._hashes.flags.writeable = False

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, image: Image.Image) -> list[ImageHit]:
        if not len(self._hashes):
            return []
        variants = np.array(dihedral_hashes(image), dtype=np.uint64)
        dist = np.bitwise_count(self._hashes[:, None] ^ variants[None, :]).min(axis=1)
        found = np.flatnonzero(dist <= self.threshold)
        return [ImageHit(int(self._entries[i]), int(dist[i])) for i in found]
