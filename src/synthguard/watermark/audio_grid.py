"""The time-frequency grid the audio watermark lives on, and the signal processing around it.

Everything happens at `RATE` (16 kHz), whatever the file's own rate: the mark occupies
500-3500 Hz only, so the internal rate loses nothing of it, the same analysis serves 8 kHz
telephone audio and 96 kHz masters, and a detector never has to know the rate the file
was marked at. A tile's energy is the mean of the channels' energies, and the embedder
scales each channel's own spectrum by the same factor per tile: every channel, their
power mean and any mix of them (a downmix to mono) carry the same contrasts. Each
channel's residual is resampled back to the native rate.

The grid is made of *tiles*: a *slot* of 64 ms by a *band* of 250 Hz, and its value is
the tile's energy. Lossy codecs, resamplers, low-pass filters and added noise keep band
energies at this coarse scale (that is what codecs are built to keep); they do not keep
phases or fine spectral detail. A *symbol* is the log-energy contrast of two tiles of one
band in consecutive slots, so a gain or an equaliser (a factor per band) cancels out.

A playback-speed change by `s` maps a tile at (t, f) to (t / s, f · s); the detector
therefore measures tiles on a grid stretched by a candidate speed (`tile_energies`) rather
than resampling the audio once per candidate.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy import fft, signal  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]

RATE = 16_000
WINDOW = 512  # analysis and synthesis frames, 32 ms
HOP = 64  # detector frames, 4 ms: the time offsets the search tries
EMBED_HOP = 256  # embedder frames; sqrt-Hann at half overlap reconstructs exactly
SLOT_FRAMES = 16  # detector frames per slot: 64 ms
SLOT_SAMPLES = SLOT_FRAMES * HOP
BAND_EDGES_HZ = np.linspace(500.0, 3500.0, 13)
BANDS = len(BAND_EDGES_HZ) - 1
PERIOD_SLOTS = 40  # the mark repeats every 2.56 s
PAIRS = PERIOD_SLOTS // 2  # symbol rows per period (a symbol spans two slots)
# Analysed bins reach the top band edge at the fastest speed searched, plus a margin.
ANALYSIS_BINS = 132  # 0-4094 Hz
# Log-energies are taken above a floor this far below the loud tiles, so digital silence
# and dither do not produce huge, meaningless contrasts.
FLOOR_RATIO = 1e-5
ABSOLUTE_FLOOR = 1e-12
LEAKAGE = 0.02
PASS_HZ = 4_200  # the analysis reads up to 4094 Hz: resampling keeps this much flat
STOPBAND_DB = 80.0

_ANALYSIS_WINDOW = np.hanning(WINDOW + 1)[:-1]
_SYNTHESIS_WINDOW = np.sqrt(_ANALYSIS_WINDOW)
# Energy of one sample in tile units: a Hann-windowed frame every HOP samples with one-
# sided spectra sums a sample's energy WINDOW·Σw²/(2·HOP) times (Parseval).
TILE_UNITS_PER_ENERGY = WINDOW * float(np.sum(_ANALYSIS_WINDOW ** 2)) / (2 * HOP)


def _ratio(src: int, dst: int) -> tuple[int, int]:
    ratio = Fraction(dst, src)
    return ratio.numerator, ratio.denominator


@functools.lru_cache(maxsize=16)
def _resampling_filter(rate: int, up: int) -> FloatArray | tuple[str, float]:
    """The low-pass for resampling between `rate` (above RATE) and RATE, designed at
    `rate`·`up` (scipy's default otherwise). Only 0-PASS_HZ is read, so only what would
    fold onto it going down (or image onto RATE − PASS_HZ and up going up) needs to go:
    the transition spans PASS_HZ to RATE − PASS_HZ, and the filter is half as long as
    scipy's general-purpose one (resampling took a third of the embedder's time). The
    rate up-sampled to is the same both ways, and so is the filter."""
    if rate <= RATE:
        return ("kaiser", 5.0)
    stop = RATE - PASS_HZ
    fs = rate * up
    taps, beta = signal.kaiserord(STOPBAND_DB, (stop - PASS_HZ) / (fs / 2))
    return np.asarray(signal.firwin(taps | 1, RATE / 2, window=("kaiser", beta), fs=fs),
                      dtype=np.float64)


def to_internal(samples: FloatArray, rate: int) -> FloatArray:
    """Each channel of (frames, channels) `samples`, or of mono frames, at `RATE`:
    (channels, samples)."""
    audio = np.asarray(samples.T if samples.ndim == 2 else samples[None], dtype=np.float64)
    if rate == RATE:
        return audio
    up, down = _ratio(rate, RATE)
    return np.asarray(signal.resample_poly(audio, up, down, axis=1,
                                           window=_resampling_filter(rate, up)),
                      dtype=np.float64)


def from_internal(residual: FloatArray, rate: int, frames: int) -> FloatArray:
    """(channels, samples) `residual` at `RATE` brought to `rate`, exactly `frames` long:
    (frames, channels)."""
    if rate != RATE:
        up, down = _ratio(RATE, rate)
        residual = np.asarray(signal.resample_poly(residual, up, down, axis=1,
                                                   window=_resampling_filter(rate, down)),
                              dtype=np.float64)
    out = np.zeros((frames, len(residual)))
    n = min(frames, residual.shape[1])
    out[:n] = residual[:, :n].T
    return out


def spectrogram(audio: FloatArray) -> npt.NDArray[np.float32]:
    """Power of Hann frames every HOP samples, frame j centred on sample j·HOP, averaged
    over the channels of (channels, samples) `audio` (or of one channel's samples).

    The mean of the channels' powers, not the power of their mix: channels that are
    delayed copies of each other (a spaced microphone pair, a stereo widener) cancel in a
    mix at some frequencies, where a codec, which shapes its noise to each channel, then
    buries the mark (through MP3 at 64 kbit/s, every silence-heavy 44.1 kHz stereo clip of
    the benchmark lost its payload for it)."""
    channels = np.atleast_2d(audio).astype(np.float32)
    if len(channels) > 1 and np.array_equal(channels, np.broadcast_to(channels[:1],
                                                                         channels.shape)):
        channels = channels[:1]  # mono content in several channels: analyse it once
    padded = np.pad(channels, ((0, 0), (WINDOW // 2, WINDOW // 2)))
    count = max(0, 1 + (padded.shape[1] - WINDOW) // HOP)
    power = np.zeros((count, ANALYSIS_BINS), dtype=np.float32)
    if count == 0:
        return power
    for channel in padded:
        frames = np.lib.stride_tricks.sliding_window_view(channel, WINDOW)
        # Single precision: tile energies sum hundreds of bins, far above its rounding.
        spectrum = fft.rfft(frames[::HOP][:count] * _ANALYSIS_WINDOW.astype(np.float32),
                            axis=1)[:, :ANALYSIS_BINS]
        power += spectrum.real ** 2 + spectrum.imag ** 2
    return np.asarray(power / len(padded), dtype=np.float32)


@functools.lru_cache(maxsize=128)
def _band_matrix(speed: float) -> FloatArray:
    """Share of each analysis bin inside each band stretched by `speed` (bins × bands)."""
    width = RATE / WINDOW
    centres = np.arange(ANALYSIS_BINS) * width
    low, high = centres - width / 2, centres + width / 2
    edges = BAND_EDGES_HZ * speed
    overlap = (np.minimum(high[:, None], edges[None, 1:])
               - np.maximum(low[:, None], edges[None, :-1]))
    return np.asarray(np.clip(overlap / width, 0.0, 1.0), dtype=np.float64)


def band_energies(power: npt.NDArray[np.float32], speed: float) -> FloatArray:
    """Energy per detector frame and band, bands stretched by `speed` (frames × bands)."""
    return np.asarray(power @ _band_matrix(round(speed, 6)).astype(power.dtype),
                      dtype=np.float64)


def tile_energies(bands: FloatArray, speed: float, offsets: FloatArray, slots: int) -> FloatArray:
    """Tile energies on the grid stretched by `speed`: slot k of offset φ spans detector
    frames [φ + k·16/s, φ + (k+1)·16/s), read off the cumulative sum with linear
    interpolation (offsets × slots × bands)."""
    cumulative = np.concatenate([np.zeros((1, BANDS)), np.cumsum(bands, axis=0)])
    length = SLOT_FRAMES / speed
    positions = offsets[:, None] + np.arange(slots + 1)[None, :] * length
    positions = np.clip(positions, 0.0, len(bands))
    lower = np.floor(positions).astype(np.intp)
    frac = (positions - lower)[..., None]
    upper = np.minimum(lower + 1, len(bands))
    at = cumulative[lower] * (1.0 - frac) + cumulative[upper] * frac
    return np.asarray(np.maximum(np.diff(at, axis=1), 0.0), dtype=np.float64)


def energy_floor(tiles: FloatArray) -> float:
    """The floor under log-energies: FLOOR_RATIO of the loud (95th percentile) tiles."""
    if tiles.size == 0:
        return ABSOLUTE_FLOOR
    return ABSOLUTE_FLOOR + FLOOR_RATIO * float(np.percentile(tiles, 95))


def contrasts(tiles: FloatArray, floor: float) -> FloatArray:
    """Symbol values: (log E[2i] − log E[2i+1]) / √2 per slot pair and band. `tiles` has
    an even number of slots on its second-to-last axis; result (..., pairs, bands)."""
    logs = np.log(tiles + floor)
    return (logs[..., 0::2, :] - logs[..., 1::2, :]) / math.sqrt(2.0)


def reliability(tiles: FloatArray, reference: float) -> FloatArray:
    """Weight of each symbol: near 1 where both tiles stand well above `reference`
    (the codec noise a loud passage brings) and above the share of the louder tile that
    a few milliseconds of misalignment leak into the quieter one; near 0 in silence."""
    first, second = tiles[..., 0::2, :], tiles[..., 1::2, :]
    weakest = np.minimum(first, second)
    noise = reference + LEAKAGE * np.maximum(first, second)
    return np.asarray(weakest / (weakest + noise), dtype=np.float64)


def stft(mono: FloatArray) -> npt.NDArray[np.complex128]:
    """sqrt-Hann frames every EMBED_HOP samples, frame m centred on sample m·EMBED_HOP."""
    padded = np.concatenate([np.zeros(WINDOW // 2), mono, np.zeros(WINDOW)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::EMBED_HOP]
    return np.asarray(fft.rfft(frames * _SYNTHESIS_WINDOW, axis=1), dtype=np.complex128)


def istft(spectrum: npt.NDArray[np.complex128], length: int) -> FloatArray:
    """Overlap-add inverse of `stft`, `length` samples long."""
    frames = fft.irfft(spectrum, WINDOW, axis=1) * _SYNTHESIS_WINDOW
    count = len(frames)
    out = np.zeros(EMBED_HOP * (count + 1))
    half = WINDOW // EMBED_HOP
    for part in range(half):
        chunk = frames[:, part * EMBED_HOP:(part + 1) * EMBED_HOP].reshape(-1)
        out[part * EMBED_HOP:part * EMBED_HOP + len(chunk)] += chunk
    return out[WINDOW // 2:WINDOW // 2 + length]


def bin_bands() -> npt.NDArray[np.intp]:
    """The band of each `stft` bin, −1 outside the marked range."""
    centres = np.arange(WINDOW // 2 + 1) * RATE / WINDOW
    band = np.searchsorted(BAND_EDGES_HZ, centres, side="right") - 1
    band[(centres < BAND_EDGES_HZ[0]) | (centres >= BAND_EDGES_HZ[-1])] = -1
    return band.astype(np.intp)
