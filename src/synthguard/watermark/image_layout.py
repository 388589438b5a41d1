"""The keyed tile of the image mark: which chips carry the pilot and which carry each bit.

The mark lives on a canonical grid (the image scaled so its short side is at most
`CANONICAL_SIDE`). It is a `TILE`×`TILE` tile repeated over the whole image, so any crop
still holds whole periods and a crop is only a cyclic shift of the tile. The tile is a
`CHIPS`×`CHIPS` grid of square chips of `CHIP` pixels, each +1 or -1 times a keyed sign:
a keyed share of chips are *pilot* chips with known signs (they find the shift and give
the detection statistic), the others carry the coded payload bits, each bit on
`CHIPS_PER_BIT` chips scattered over the tile by a keyed permutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from synthguard.watermark.keys import keyed_permutation, keyed_signs
from synthguard.watermark.payload import DEFAULT_PARITY_BYTES, coded_bits

CANONICAL_SIDE = 512
CHIP = 4
CHIPS = 27
TILE = CHIP * CHIPS  # 108: not a multiple of 8, so JPEG's block grid does not fake a period
PARITY_BYTES = DEFAULT_PARITY_BYTES
CODED_BITS = coded_bits(PARITY_BYTES)
CHIPS_PER_BIT = 4
PILOT_CHIPS = CHIPS * CHIPS - CODED_BITS * CHIPS_PER_BIT
PURPOSE = "image-v1"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class TileLayout:
    """One key's tile: chip positions (flat indices into the chip grid) and signs."""

    pilot: IntArray  # (PILOT_CHIPS,)
    message: IntArray  # (CODED_BITS, CHIPS_PER_BIT)
    signs: FloatArray  # (CHIPS*CHIPS,) keyed sign of every chip

    def chip_values(self, coded_signs: FloatArray) -> FloatArray:
        """The CHIPS×CHIPS chip grid for coded bits given as ±1 (bit 1 → +1)."""
        values = np.empty(CHIPS * CHIPS)
        values[self.pilot] = 1.0
        values[self.message] = coded_signs[:, None]
        return (values * self.signs).reshape(CHIPS, CHIPS)

    def pilot_template(self) -> FloatArray:
        """Chip grid with the pilot signs and zeros on message chips."""
        values = np.zeros(CHIPS * CHIPS)
        values[self.pilot] = self.signs[self.pilot]
        return values.reshape(CHIPS, CHIPS)

    def pilot_mask(self) -> FloatArray:
        values = np.zeros(CHIPS * CHIPS)
        values[self.pilot] = 1.0
        return values.reshape(CHIPS, CHIPS)


@lru_cache(maxsize=16)
def layout(secret: bytes) -> TileLayout:
    order = keyed_permutation(secret, PURPOSE + ":chips", CHIPS * CHIPS)
    message = order[PILOT_CHIPS:].reshape(CHIPS_PER_BIT, CODED_BITS).T.copy()
    signs = keyed_signs(secret, PURPOSE + ":signs", CHIPS * CHIPS)
    return TileLayout(pilot=order[:PILOT_CHIPS].copy(), message=message, signs=signs)


def expand_chips(chip_grid: FloatArray) -> FloatArray:
    """Chip grid → TILE×TILE pixel tile (each chip a CHIP×CHIP square)."""
    return np.asarray(np.kron(chip_grid, np.ones((CHIP, CHIP))), dtype=np.float64)
