"""Finding the image mark's tile again after resize, crop and small rotations.

The detector works on a *residual*: the luma minus a local mean, divided by the local
activity, which removes most picture content and weights flat and textured areas by how
reliable they are. Then:

1. Geometry: the periodic tile makes the residual's autocorrelation peak at the tile's
   lattice vectors, wherever the tile sits. The two peaks near the axes give the linear
   map (scale per axis, rotation, shear) from the tile grid to the received image.
   The identity map is always tried too, and the best map is refined by a small search.
2. Folding: every residual pixel is mapped back into tile coordinates and summed into
   one TILE×TILE accumulator, so all periods reinforce each other. A crop only shifts
   the tile cyclically.
3. Shift: the keyed pilot chips are correlated with the accumulator at all TILE² cyclic
   shifts at once by FFT. The statistic at each shift is a normalised Rademacher sum,
   z = Σ s_k Y_k / sqrt(Σ Y_k²) with keyed pilot signs s_k; on content not marked with
   this key, Hoeffding's inequality bounds P(z ≥ t) by exp(-t²/2) whatever the picture,
   which is what the false-positive probability is built on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft, ndimage  # type: ignore[import-untyped]

from synthguard.watermark.image_layout import CHIP, CHIPS, TILE, TileLayout

FloatArray = npt.NDArray[np.float64]

# Lattice search range: tile period in the received canonical image, as a share of TILE.
MIN_PERIOD, MAX_PERIOD = 0.45, 1.6
MAX_AXIS_ANGLE = np.deg2rad(12.0)
PEAKS_PER_AXIS = 5
BEST_PAIRS = 4
# Refinement grid around the best candidate map: ±REFINE_REACH steps of rotation and scale.
REFINE_ANGLE = np.deg2rad(0.12)
REFINE_SCALE = 0.0025
REFINE_REACH = 2
MAPS_PER_CANDIDATE = (2 * REFINE_REACH + 1) ** 2


def residual(luma: npt.NDArray[np.float32]) -> FloatArray:
    """Luma minus its local mean, divided by the local activity of that difference.

    The small activity window makes this close to a local sign detector: an edge or a
    stroke of text counts no more than the mark does in a flat area, and the clip keeps
    the odd outlier (a specular highlight, a JPEG ringing pixel) from dominating.
    """
    y = luma.astype(np.float64)
    high = y - ndimage.gaussian_filter(y, 1.5, mode="reflect")
    activity = np.sqrt(ndimage.gaussian_filter(high * high, 1.2, mode="reflect"))
    return np.asarray(np.clip(high / (activity + 0.3), -1.5, 1.5), dtype=np.float64)


def _subpixel(values: FloatArray, y: int, x: int) -> tuple[float, float]:
    """Parabolic peak position around (y, x) in a 2-D array."""

    def offset(minus: float, centre: float, plus: float) -> float:
        denominator = minus - 2 * centre + plus
        if denominator >= 0:
            return 0.0
        return float(np.clip(0.5 * (minus - plus) / denominator, -0.5, 0.5))

    h, w = values.shape
    dy = offset(values[max(y - 1, 0), x], values[y, x], values[min(y + 1, h - 1), x])
    dx = offset(values[y, max(x - 1, 0)], values[y, x], values[y, min(x + 1, w - 1)])
    return y + dy, x + dx


class Autocorrelation:
    """Whitened autocorrelation of the residual over lags (dy, dx), dx >= 0, in MAD units.

    The power spectrum is divided by its local average (so the picture's own strong
    frequencies, text lines and edges, do not dominate) and weighted towards the band
    where the chips put their energy; what remains is mostly the tile's periodicity.
    """

    def __init__(self, res: FloatArray) -> None:
        h, w = res.shape
        self.reach = reach = int(np.ceil(MAX_PERIOD * TILE * np.sqrt(2))) + 3
        shape = (fft.next_fast_len(h + reach), fft.next_fast_len(w + reach, real=True))
        spectrum = fft.rfft2(res, s=shape)
        power = spectrum.real**2 + spectrum.imag**2
        floor = 1e-12 * float(power.mean()) + 1e-300  # a blank picture has no power at all
        power /= ndimage.uniform_filter(power, 9, mode="wrap") + floor
        fy = np.fft.fftfreq(shape[0])[:, None]
        fx = np.fft.rfftfreq(shape[1])[None, :]
        power *= (np.sinc(0.75 * CHIP * fx) * np.sinc(0.75 * CHIP * fy)) ** 2
        corr = fft.irfft2(power, s=shape)
        window = np.concatenate([corr[-reach:, : reach + 1], corr[: reach + 1, : reach + 1]])
        dys = np.arange(-reach, reach + 1)[:, None]
        dxs = np.arange(0, reach + 1)[None, :]
        window = window / np.maximum((h - np.abs(dys)) * (w - dxs), 1) * (h * w)
        self.radius = np.hypot(dys, dxs)
        self.angle = np.arctan2(dys, dxs)
        ring = (self.radius >= MIN_PERIOD * TILE) & (self.radius <= MAX_PERIOD * TILE)
        background = window[ring]
        centre = float(np.median(background))
        spread = float(np.median(np.abs(background - centre))) or 1e-12
        self.values = (window - centre) / spread
        self.ring = ring

    def at(self, lag: FloatArray) -> float:
        """Best value within one pixel of a lag (the symmetric lag when dx < 0)."""
        dx, dy = (float(lag[0]), float(lag[1])) if lag[0] >= 0 else (-float(lag[0]), -float(lag[1]))
        x, y = round(dx), round(dy) + self.reach
        if not (0 <= x <= self.reach - 1 and 1 <= y < 2 * self.reach):
            return 0.0
        return float(self.values[y - 1 : y + 2, max(x - 1, 0) : x + 2].max())

    def axis_peaks(self, centre: float, count: int) -> list[tuple[FloatArray, float]]:
        """The strongest local maxima within MAX_AXIS_ANGLE of one axis, as (dx, dy) lags."""
        is_peak = self.values == ndimage.maximum_filter(self.values, size=5, mode="nearest")
        sector = self.ring & is_peak & (np.abs(self.angle - centre) <= MAX_AXIS_ANGLE)
        ys, xs = np.nonzero(sector)
        order = np.argsort(self.values[ys, xs])[::-1][:count]
        peaks = []
        for i in order:
            py, px = _subpixel(self.values, int(ys[i]), int(xs[i]))
            peaks.append((np.array([px, py - self.reach]), float(self.values[ys[i], xs[i]])))
        return peaks


def _harmonics(peaks: list[tuple[FloatArray, float]]) -> list[FloatArray]:
    """Peak lags and their halves and thirds: a peak may be a multiple of the true period."""
    out = []
    for lag, _ in peaks:
        for divisor in (1, 2, 3):
            if np.linalg.norm(lag) / divisor >= MIN_PERIOD * TILE:
                out.append(lag / divisor)
    return out


def lattice_maps(res: FloatArray) -> list[FloatArray]:
    """Candidate 2×2 maps (tile coords → image coords, columns = lattice vectors / TILE).

    A pair of axis peaks is scored with the peaks its lattice predicts at v1+v2 and
    v1-v2: picture periodicities (text lines, stripes) rarely form a square lattice.
    """
    auto = Autocorrelation(res)
    across = auto.axis_peaks(0.0, PEAKS_PER_AXIS)
    down = auto.axis_peaks(np.pi / 2, PEAKS_PER_AXIS)
    scored: list[tuple[float, FloatArray]] = []
    for v1 in _harmonics(across):
        for v2 in _harmonics(down):
            n1, n2 = float(np.linalg.norm(v1)), float(np.linalg.norm(v2))
            cosine = float(np.dot(v1, v2)) / (n1 * n2)
            if 0.85 <= n1 / n2 <= 1.18 and abs(cosine) <= np.sin(np.deg2rad(8)):
                score = sum(auto.at(lag) for lag in (v1, v2, v1 + v2, v1 - v2))
                scored.append((score, np.column_stack([v1, v2]) / TILE))
    scored.sort(key=lambda item: -item[0])
    maps = [tile_map for _, tile_map in scored[:BEST_PAIRS]]
    # A single clear peak also gives a similarity map (the other axis is its 90° turn).
    for v1, _ in across[:1]:
        maps.append(np.column_stack([v1, [-v1[1], v1[0]]]) / TILE)
    for v2, _ in down[:1]:
        maps.append(np.column_stack([[v2[1], -v2[0]], v2]) / TILE)
    return maps


@dataclass
class Folded:
    """The residual summed into one tile under one candidate map."""

    tile_map: FloatArray
    sums: FloatArray  # TILE×TILE


class Folder:
    """Folds one residual image into the tile under candidate maps.

    `stride` 2 folds a quarter of the pixels: enough to rank candidates, four times faster.
    Coordinates are centred so that a rotation error hurts least where most pixels are.
    """

    def __init__(self, res: FloatArray) -> None:
        self._res = res.astype(np.float32)

    def fold(self, tile_map: FloatArray, stride: int = 1) -> Folded:
        res = self._res[::stride, ::stride]
        h, w = self._res.shape
        xs = (np.arange(0, w, stride, dtype=np.float32) - np.float32(w / 2))
        ys = (np.arange(0, h, stride, dtype=np.float32) - np.float32(h / 2))
        inverse = np.linalg.inv(tile_map).astype(np.float32)
        # A large multiple of TILE keeps coordinates positive, so truncation is flooring.
        offset = np.float32(TILE * (2 + int(np.abs(inverse).sum() * max(h, w) / TILE)) + 0.5)
        u = (inverse[0, 0] * xs)[None, :] + (inverse[0, 1] * ys + offset)[:, None]
        v = (inverse[1, 0] * xs)[None, :] + (inverse[1, 1] * ys + offset)[:, None]
        cell_u = u.astype(np.int32)
        cell_v = v.astype(np.int32)
        cell_u %= TILE
        cell_v %= TILE
        cell_v *= TILE
        cell_v += cell_u
        sums = np.bincount(cell_v.ravel(), weights=res.ravel(), minlength=TILE * TILE)
        return Folded(tile_map, np.asarray(sums, dtype=np.float64).reshape(TILE, TILE))


def chip_sums(sums: FloatArray) -> FloatArray:
    """B[y, x]: sum of the accumulator over the CHIP×CHIP square starting at (y, x), cyclic."""
    padded = np.pad(sums, ((0, CHIP - 1), (0, CHIP - 1)), mode="wrap")
    cumulative = padded.cumsum(axis=0).cumsum(axis=1)
    cumulative = np.pad(cumulative, ((1, 0), (1, 0)))
    return np.asarray(
        cumulative[CHIP:, CHIP:] - cumulative[:-CHIP, CHIP:] - cumulative[CHIP:, :-CHIP]
        + cumulative[:-CHIP, :-CHIP],
        dtype=np.float64,
    )


def _at_chip_origins(grid: FloatArray) -> FloatArray:
    """Chip grid → TILE×TILE array with each chip's value at its top-left pixel."""
    out = np.zeros((TILE, TILE))
    out[::CHIP, ::CHIP] = grid
    return out


@dataclass
class PilotMatch:
    z: float
    shift: tuple[int, int]  # (dy, dx) of the tile origin in the accumulator
    folded: Folded


class Pilot:
    """One key's pilot, ready to correlate with accumulators at every cyclic shift."""

    def __init__(self, tile: TileLayout) -> None:
        self.tile = tile
        self._signs = np.conj(np.fft.rfft2(_at_chip_origins(tile.pilot_template())))
        self._mask = np.conj(np.fft.rfft2(_at_chip_origins(tile.pilot_mask())))

    def match(self, folded: Folded) -> PilotMatch:
        box = chip_sums(folded.sums)
        shape = box.shape
        correlation = np.fft.irfft2(np.fft.rfft2(box) * self._signs, s=shape)
        energy = np.fft.irfft2(np.fft.rfft2(box * box) * self._mask, s=shape)
        z = correlation / np.sqrt(np.maximum(energy, 1e-12))
        dy, dx = np.unravel_index(int(np.argmax(z)), z.shape)
        return PilotMatch(float(z[dy, dx]), (int(dy), int(dx)), folded)


def chip_values(match: PilotMatch) -> FloatArray:
    """Per-chip sums (CHIPS×CHIPS, keyed signs not removed) at the matched shift."""
    box = chip_sums(match.folded.sums)
    dy, dx = match.shift
    ys = (np.arange(CHIPS) * CHIP + dy) % TILE
    xs = (np.arange(CHIPS) * CHIP + dx) % TILE
    return np.asarray(box[np.ix_(ys, xs)], dtype=np.float64)


def _adjust(tile_map: FloatArray, step: tuple[int, int]) -> FloatArray:
    angle = step[0] * REFINE_ANGLE
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray((1.0 + step[1] * REFINE_SCALE) * turn @ tile_map, dtype=np.float64)


def refine(folder: Folder, pilot: Pilot, start: PilotMatch) -> PilotMatch:
    """Hill-climb on the REFINE_REACH grid of small rotations and scalings around a map.

    Climbing ranks on a quarter of the pixels; the result is re-scored on all of them.
    Every map it can visit is one of the (2·REFINE_REACH+1)² grid points counted by
    `MAPS_PER_CANDIDATE` in the false-positive bound.
    """
    base = start.folded.tile_map
    position = (0, 0)
    best = pilot.match(folder.fold(base, stride=2))
    for _ in range(2 * REFINE_REACH):
        moved = False
        for da in (-1, 0, 1):
            for ds in (-1, 0, 1):
                step = (position[0] + da, position[1] + ds)
                if step == position or max(abs(step[0]), abs(step[1])) > REFINE_REACH:
                    continue
                candidate = pilot.match(folder.fold(_adjust(base, step), stride=2))
                if candidate.z > best.z:
                    best, next_position, moved = candidate, step, True
        if not moved:
            break
        position = next_position
    if position == (0, 0):
        return start
    final = pilot.match(folder.fold(_adjust(base, position)))
    return final if final.z > start.z else start
