"""The audio watermark's sync search: playback speed × time offset × period phase × key.

For each candidate speed the tiles are measured on the stretched grid (`audio_grid`) at
every 4 ms offset within one slot pair; every symbol becomes a unit phasor of its
contrast on the lattice (a full lattice step is a full turn), weighted by how far its
tiles stand above silence, and the phasors of all periods in the window are summed per
position in the period. Then, for every period phase and key, the summed phasors are
compared with the key's dither: pilots by their phase, data symbols by twice their phase
(either bit then scores alike). The score is self-normalised,
z = Σ tᵢ / √(Σ tᵢ²), which on unmarked audio is a sum of symmetric terms whatever the
audio is, so Pinelis' bound applies (see `audio`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from synthguard.watermark import audio_grid as grid

if TYPE_CHECKING:
    from synthguard.watermark.audio import Pattern

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

# Nominal speed first, then outwards: most copies play at their own speed, and a match
# that decodes ends the search.
SPEEDS = sorted(np.round(np.arange(0.90, 1.10001, 0.005), 4), key=lambda s: (abs(s - 1), s))
# A match must score at least this before a decode is tried mid-search.
EARLY_Z = 5.0
# Symbols whose weaker tile sits this far under the loud (90th percentile) tiles count
# for little: codec noise and dither own them.
RELIABILITY_RATIO = 1e-3
MAX_OFFSETS = math.ceil(2 * grid.SLOT_FRAMES / min(SPEEDS))
REFINE_SAMPLES = 16  # 1 ms: the delays `refine` tries within one detector frame
REFINE_SPEEDS = (0.0, -0.0015, 0.0015)  # and the speeds around the match's
REFINEMENTS = grid.HOP // REFINE_SAMPLES * len(REFINE_SPEEDS)  # per searched hypothesis
SEARCHED_PER_STEP = len(SPEEDS) * MAX_OFFSETS * grid.PAIRS


@dataclass(frozen=True)
class Match:
    """The best hypothesis in one window: its score and where the mark sits."""

    z: float
    key_index: int
    speed: float
    step: float
    offset_seconds: float
    shift: int  # observed pair row m is pattern row (m + shift) mod PAIRS
    phasors: ComplexArray  # weighted phasor of every observed symbol (rows, bands)


@dataclass(frozen=True)
class _References:
    """One key's pattern under every period phase, flattened to (shifts, rows·bands):
    conjugate dither phasors of the pilots (single phase) and of the data symbols
    (doubled phase), their squares, and the two masks."""

    pilot: ComplexArray
    data: ComplexArray
    pilot_squared: ComplexArray
    data_squared: ComplexArray
    pilot_mask: FloatArray
    data_mask: FloatArray


def _references(pat: Pattern) -> _References:
    pairs = pat.dither.shape[0]
    rows = (np.arange(pairs)[None, :] + np.arange(pairs)[:, None]) % pairs
    dither = pat.dither[rows].reshape(pairs, -1)
    pilot_mask = pat.pilot[rows].reshape(pairs, -1).astype(np.float64)
    data_mask = 1.0 - pilot_mask
    pilot = np.exp(-2j * np.pi * dither) * pilot_mask
    data = np.exp(-4j * np.pi * dither) * data_mask
    return _References(pilot, data, pilot ** 2, data ** 2, pilot_mask, data_mask)


@dataclass(frozen=True)
class Measured:
    """Symbol values and weights on the grid of one speed, at every 4 ms offset within
    a slot pair: (offsets, observed pairs, bands)."""

    contrasts: FloatArray
    weights: FloatArray
    offsets: FloatArray


def measure(power: npt.NDArray[np.float32], speed: float) -> Measured | None:
    length = grid.SLOT_FRAMES / speed
    offsets = np.arange(math.ceil(2 * length), dtype=np.float64)
    slots = int((len(power) - offsets[-1]) // length) // 2 * 2
    if slots < 2:
        return None
    tiles = grid.tile_energies(grid.band_energies(power, speed), speed, offsets, slots)
    floor = grid.energy_floor(tiles[0])
    reference = RELIABILITY_RATIO * float(np.percentile(tiles[0], 90)) + grid.ABSOLUTE_FLOOR
    return Measured(grid.contrasts(tiles, floor), grid.reliability(tiles, reference), offsets)


def fold(measured: Measured, step: float, pairs: int) -> tuple[ComplexArray, ComplexArray]:
    """Phasors (single and doubled phase, a lattice step is a full turn) summed per
    position in the period: (offsets, pairs, bands) each."""
    turns = (measured.contrasts * (2 * np.pi / step)).astype(np.float32)
    unit = np.cos(turns) + 1j * np.sin(turns)  # complex64: the sums need no more
    single = measured.weights.astype(np.float32) * unit
    double = single * unit
    return _periodic_sum(single, pairs), _periodic_sum(double, pairs)


def _periodic_sum(values: ComplexArray, pairs: int) -> ComplexArray:
    count = values.shape[1]
    whole = count // pairs * pairs
    folded = values[:, :whole].reshape(len(values), -1, pairs, grid.BANDS).sum(axis=1)
    folded[:, :count - whole] += values[:, whole:]
    return np.asarray(folded, dtype=np.complex128)


def _scores(single: ComplexArray, double: ComplexArray, refs: _References) -> FloatArray:
    """z per (offset, shift). The terms are tᵢ = Re(zᵢ·rᵢ) with |rᵢ| = 1, so
    Σ tᵢ = Re Σ zᵢrᵢ and Σ tᵢ² = ½ Σ |zᵢ|² + ½ Re Σ zᵢ²rᵢ²: matrix products only."""
    one = single.reshape(len(single), -1)
    two = double.reshape(len(double), -1)
    total = (one @ refs.pilot.T).real + (two @ refs.data.T).real
    spread = 0.5 * ((np.abs(one) ** 2) @ refs.pilot_mask.T + (np.abs(two) ** 2) @ refs.data_mask.T
                    + ((one ** 2) @ refs.pilot_squared.T).real
                    + ((two ** 2) @ refs.data_squared.T).real)
    spread = np.sqrt(np.maximum(spread, 0.0))
    return np.where(spread > 0, total / np.maximum(spread, 1e-300), 0.0)


def _best(measured: Measured, step: float, pairs: int, ref: _References,
          key_index: int, speed: float, delay: int) -> Match:
    single, double = fold(measured, step, pairs)
    z = _scores(single, double, ref)
    at = np.unravel_index(int(np.argmax(z)), z.shape)
    offset = (float(measured.offsets[at[0]]) * grid.HOP - delay) / grid.RATE
    turns = measured.contrasts[at[0]] * (2 * np.pi / step)
    phasors = measured.weights[at[0]] * np.exp(1j * turns)
    return Match(float(z[at]), key_index, speed, step, offset, int(at[1]), phasors)


def refine(audio: FloatArray, power: npt.NDArray[np.float32], match: Match,
           refs: list[_References]) -> Match:
    """The match re-scored with the audio delayed by fractions of a detector frame and
    at speeds between the grid's.

    The search resolves offsets to one frame (4 ms) and speeds to 0.5 %; the mark moves
    quiet tiles next to loud ones, so in fast-changing audio such as speech 2-3 ms of
    misalignment (a codec's priming delay, a crop at any sample, the drift of a slightly
    wrong speed) already leak enough energy to scramble symbols. A few more measurements
    at the match's step only recover them."""
    best = match
    for delay in range(0, grid.HOP, REFINE_SAMPLES):
        if delay:
            power = grid.spectrogram(np.pad(audio, ((0, 0), (delay, 0))))
        for nudge in REFINE_SPEEDS:
            if delay == 0 and nudge == 0:
                continue
            speed = match.speed + nudge
            measured = measure(power, speed)
            if measured is None:
                continue
            candidate = _best(measured, match.step, grid.PAIRS,
                              refs[match.key_index], match.key_index, speed, delay)
            if candidate.z > best.z:
                best = candidate
    return best


def search_window(audio: FloatArray, patterns: list[Pattern], steps: tuple[float, ...],
                  confirmed: Callable[[Match], bool]) -> Match:
    """The best (key, speed, step, offset, shift) for the internal-rate audio (channels, samples).
    The search stops at the first speed whose best match scores EARLY_Z and, refined,
    is `confirmed`."""
    pairs = patterns[0].dither.shape[0]
    refs = [_references(p) for p in patterns]
    power = grid.spectrogram(audio)
    best = Match(0.0, 0, 1.0, steps[0], 0.0, 0, np.zeros((0, grid.BANDS), complex))
    for speed in SPEEDS:
        measured = measure(power, float(speed))
        if measured is None:
            continue
        improved = False
        for step in steps:
            for index, ref in enumerate(refs):
                candidate = _best(measured, step, pairs, ref, index, float(speed), 0)
                if candidate.z > best.z:
                    best, improved = candidate, True
        if improved and best.z >= EARLY_Z:
            best = refine(audio, power, best, refs)
            if confirmed(best):
                return best
    return refine(audio, power, best, refs) if best.z > 0 else best
