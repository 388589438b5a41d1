"""Audio made by code, and the attacks a watermark must survive, shared by the audio
watermark's tests and `bench/watermark_audio.py`.

Clips come in four kinds: speech-like (a glottal pulse train through moving formant
resonators, syllables and pauses), music-like (harmonic chords with envelopes and a bass
line), noise (white, pink, brown, with slow level changes) and silence-heavy (short voiced
bursts between stretches of digital or near silence). Attacks run real codecs through
PyAV (libmp3lame, ffmpeg's AAC encoder, libopus) and scipy filters and resamplers.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from scipy import signal  # type: ignore[import-untyped]

Audio = NDArray[np.float64]  # (frames, channels), full scale 1.0
KINDS = ("speech", "music", "noise", "silence")

# Vowel formants (F1, F2, F3) in Hz, roughly those of an adult speaker.
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
           (660, 1720, 2410), (490, 1350, 1690), (640, 1190, 2390))


def _resonator(x: Audio, freq: float, bandwidth: float, rate: int) -> Audio:
    r = np.exp(-np.pi * bandwidth / rate)
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / rate), r * r]
    return np.asarray(signal.lfilter([1.0 - r], a, x), dtype=np.float64)


def _voiced(rng: np.random.Generator, seconds: float, rate: int) -> Audio:
    """Syllables: a pulse train at a drifting pitch through formants that move per vowel."""
    n = int(seconds * rate)
    f0 = rng.uniform(90, 230) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.2)
                                                     * np.arange(n) / rate))
    phase = np.cumsum(f0 / rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    out = np.zeros(n)
    syllable = int(rate * rng.uniform(0.12, 0.25))
    for start in range(0, n, syllable):
        part = pulses[start:start + syllable] + 0.02 * rng.standard_normal(
            min(syllable, n - start))
        vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]
        shaped = sum(_resonator(part, f, 60 + 0.05 * f, rate) * g
                     for f, g in zip(vowel, (1.0, 0.6, 0.3), strict=True))
        if rng.random() < 0.3:  # a fricative: high-passed noise
            sos = signal.butter(4, 3000, "highpass", fs=rate, output="sos")
            shaped = shaped + 0.05 * signal.sosfilt(sos, rng.standard_normal(len(part)))
        out[start:start + len(part)] = shaped * np.hanning(len(part))
    return out


def _normalise(x: Audio, rng: np.random.Generator) -> Audio:
    peak = float(np.max(np.abs(x))) or 1.0
    return x / peak * 10 ** (rng.uniform(-12, -3) / 20)


def speech_like(rng: np.random.Generator, seconds: float, rate: int) -> Audio:
    out = np.zeros(int(seconds * rate))
    at = 0
    while at < len(out):
        word = _voiced(rng, rng.uniform(0.4, 1.2), rate)
        out[at:at + len(word)] = word[:len(out) - at]
        at += len(word) + int(rate * rng.uniform(0.05, 0.3))
    return _normalise(out, rng)


def music_like(rng: np.random.Generator, seconds: float, rate: int) -> Audio:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    chord_s = rng.uniform(0.4, 1.0)
    root = rng.uniform(45, 60)
    for i, start in enumerate(range(0, n, int(chord_s * rate))):
        span = slice(start, min(n, start + int(chord_s * rate)))
        env = np.exp(-(t[span] - t[start]) * rng.uniform(1, 4))
        notes = root + int(rng.integers(0, 12)) + np.array([0, 4, 7, 12 * (i % 2)])
        for note in notes:
            f = 440 * 2 ** ((note - 69) / 12)
            for k in range(1, 12):
                if f * k < rate / 2:
                    out[span] += env * np.sin(2 * np.pi * f * k * t[span]) / k ** 1.3
        bass = 440 * 2 ** ((root - 12 - 69) / 12)
        out[span] += 1.5 * env * np.sin(2 * np.pi * bass * t[span])
    return _normalise(out, rng)


def noise_like(rng: np.random.Generator, seconds: float, rate: int) -> Audio:
    n = int(seconds * rate)
    white = rng.standard_normal(n)
    colour = int(rng.integers(3))
    spectrum = np.fft.rfft(white)
    freqs = np.maximum(np.fft.rfftfreq(n, 1 / rate), 20.0)
    spectrum /= freqs ** (0.5 * colour)  # white, pink or brown
    x = np.fft.irfft(spectrum, n)
    level = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * np.arange(n) / rate)
    return _normalise(x * level, rng)


def silence_heavy(rng: np.random.Generator, seconds: float, rate: int) -> Audio:
    """Short voiced bursts between long pauses, the pauses digitally silent or at -70 dB."""
    out = np.zeros(int(seconds * rate))
    at = int(rate * rng.uniform(0.0, 0.5))
    while at < len(out):
        burst = _voiced(rng, rng.uniform(0.3, 0.7), rate)
        out[at:at + len(burst)] = burst[:len(out) - at] / (np.max(np.abs(burst)) or 1.0)
        at += len(burst) + int(rate * rng.uniform(0.8, 1.6))
    if rng.random() < 0.5:
        out += 10 ** (-70 / 20) * rng.standard_normal(len(out))
    return _normalise(out, rng)


GENERATORS: dict[str, Callable[[np.random.Generator, float, int], Audio]] = {
    "speech": speech_like, "music": music_like, "noise": noise_like, "silence": silence_heavy,
}


def make_clip(kind: str, seed: int, seconds: float = 10.0, rate: int = 44100,
              channels: int = 1) -> Audio:
    """A clip of `kind` as (frames, channels); stereo gets a slightly different second side."""
    rng = np.random.default_rng(seed)
    mono = GENERATORS[kind](rng, seconds, rate)
    if channels == 1:
        return mono[:, None]
    side = np.roll(mono, int(rng.integers(5, 40))) * 0.8
    return np.stack([mono, side], axis=1)


# ---- attacks -------------------------------------------------------------------------

def codec_roundtrip(x: Audio, rate: int, codec: str, bitrate: int, fmt: str) -> Audio:
    """Encode with a real encoder into `fmt` in memory and decode back to float."""
    buf = io.BytesIO()
    channels = x.shape[1]
    with av.open(buf, "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.codec_context.layout = "mono" if channels == 1 else "stereo"
        stream.codec_context.bit_rate = bitrate
        formats = [f.name for f in stream.codec_context.codec.audio_formats or ()]
        kind = "fltp" if "fltp" in formats else "flt"
        samples = np.clip(x, -1, 1).astype(np.float32)
        pts = 0
        for start in range(0, len(samples), 4096):
            chunk = samples[start:start + 4096]
            data = chunk.T.copy() if kind == "fltp" else chunk.reshape(1, -1).copy()
            frame = av.AudioFrame.from_ndarray(data, format=kind,
                                               layout=stream.codec_context.layout.name)
            frame.sample_rate = rate
            frame.pts = pts
            pts += len(chunk)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    buf.seek(0)
    decoded = []
    with av.open(buf, "r", format=fmt) as inp:
        for frame in inp.decode(audio=0):
            arr = frame.to_ndarray().astype(np.float64)
            arr = arr if frame.format.is_planar else arr.reshape(-1, channels).T
            decoded.append(arr.T)
    return np.asarray(np.concatenate(decoded), dtype=np.float64)


def resample(x: Audio, src: int, dst: int) -> Audio:
    ratio = Fraction(dst, src)
    return np.asarray(signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0),
                      dtype=np.float64)


def speed(x: Audio, factor: float) -> Audio:
    """Play `factor` times faster (pitch follows, as on a tape or a resampling player)."""
    ratio = Fraction(1 / factor).limit_denominator(200)
    return np.asarray(signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0),
                      dtype=np.float64)


def lowpass(x: Audio, rate: int, cutoff: float) -> Audio:
    sos = signal.butter(8, cutoff, "lowpass", fs=rate, output="sos")
    return np.asarray(signal.sosfilt(sos, x, axis=0), dtype=np.float64)


def add_noise(x: Audio, snr_db: float, seed: int) -> Audio:
    rng = np.random.default_rng(seed)
    power = float(np.mean(x ** 2)) / 10 ** (snr_db / 10)
    return np.asarray(x + rng.standard_normal(x.shape) * np.sqrt(power), dtype=np.float64)


def crop(x: Audio, rate: int, seconds: float, seed: int) -> Audio:
    """A `seconds` excerpt starting at a random sample."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    start = int(rng.integers(0, max(1, len(x) - n)))
    return x[start:start + n]


def _opus(x: Audio, rate: int, bitrate: int) -> tuple[Audio, int]:
    # libopus takes 48/24/16/12/8 kHz; a 44.1 kHz source is resampled as ffmpeg would.
    at = rate if rate in (48000, 24000, 16000) else 48000
    return codec_roundtrip(resample(x, rate, at), at, "libopus", bitrate, "ogg"), at


Attack = Callable[[Audio, int, int], tuple[Audio, int]]

ATTACKS: dict[str, Attack] = {
    "none": lambda x, r, s: (x, r),
    "mp3_128k": lambda x, r, s: (codec_roundtrip(x, r, "libmp3lame", 128_000, "mp3"), r),
    "mp3_64k": lambda x, r, s: (codec_roundtrip(x, r, "libmp3lame", 64_000, "mp3"), r),
    "aac_64k": lambda x, r, s: (codec_roundtrip(x, r, "aac", 64_000, "adts"), r),
    "opus_32k": lambda x, r, s: _opus(x, r, 32_000),
    "resample_16k": lambda x, r, s: (resample(resample(x, r, 16000), 16000, r), r),
    "lowpass_4k": lambda x, r, s: (lowpass(x, r, 4000), r),
    "noise_20db": lambda x, r, s: (add_noise(x, 20, s), r),
    "gain": lambda x, r, s: (x * (0.3 if s % 2 else 1.6), r),
    "speed_0.95": lambda x, r, s: (speed(x, 0.95), r),
    "speed_1.05": lambda x, r, s: (speed(x, 1.05), r),
    "crop_3s": lambda x, r, s: (crop(x, r, 3.0, s), r),
}
