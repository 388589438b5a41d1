"""Robust audio watermark: robustness, false positives, quality and speed.

Corpus: `n_clips` clips made by code (`tests.watermark.audio_corpus`: speech-like,
music-like, noise, silence-heavy, in turn), `seconds` long, alternately 44.1 kHz stereo
and 48 kHz mono, each marked at the default strength with its own 56-bit content id the
way `label`, `mark` and the gateway mark audio (`embed_audio_checked`: read back in
memory, remade at a narrower lattice step if the payload does not decode).

- *bits*: the 220 channel bits before any error correction (the shared 104-bit payload
  codeword under the rate-1/2 convolutional code), read at the best sync match.
- *message bits*: the 104 bits out of the Viterbi decoder, before Reed-Solomon and the
  CRC: what AudioSeal, WavMark and audiowmark call bit accuracy (their message bits).
- *exact*: the whole payload (key id + content id) decoded and checked.
- *TPR @ FPR*: `false_positive_probability` ≤ FPR; the bound is analytic (Pinelis and a
  union bound over every hypothesis searched, times the payload checks when it decodes).
- *false positives*: the same rule on `n_negatives` unmarked 3 s windows cut at random
  offsets from other 12 s clips of every kind (8 windows per clip), a quarter of them
  through MP3 at 64 kbit/s.

No peer runs beside it: the audio marks with published robustness numbers (AudioSeal,
WavMark) need PyTorch and downloaded weights, and audiowmark is a GPL C++ program with
no Debian or PyPI package, so there is nothing a user could install offline to compare
on the same clips. The reference's anchors (§2) are quoted in docs/benchmarks.md.

Clips run in parallel (one process per core); the speed table is measured afterwards in
one process with one BLAS thread, medians over several runs.
"""

from __future__ import annotations

import functools
import math
import os
import sys

import numpy as np

from bench._common import median_time, pool_map, table
from synthguard.watermark import audio_code
from synthguard.watermark.audio import (
    PARITY_BYTES,
    PURPOSE,
    detect_audio,
    embed_audio,
    embed_audio_checked,
)
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload, encode
from tests.watermark.audio_corpus import ATTACKS, KINDS, codec_roundtrip, make_clip

KEY = WatermarkKey(1, bytes.fromhex("a0d1" * 16))
RING = KeyRing([KEY])
FPRS = (1e-3, 1e-6)
FORMATS = ((44_100, 2), (48_000, 1))
WINDOWS_PER_SOURCE = 8
# per attack: channel-bit accuracy, message-bit accuracy, exact, detected at each FPR
Score = tuple[float, float, bool, tuple[bool, ...]]


def _payload(index: int) -> Payload:
    return Payload(KEY.key_id, (0x5A17 << 32) + index)


def _one_clip(index: int, seconds: float) -> tuple[str, float, dict[str, Score]]:
    kind = KINDS[index % len(KINDS)]
    rate, channels = FORMATS[(index // len(KINDS)) % len(FORMATS)]
    clip = make_clip(kind, 1000 + index, seconds, rate, channels)
    payload = _payload(index)
    marked = embed_audio_checked(clip, rate, payload, KEY)
    snr = 10 * math.log10(float(np.sum(clip ** 2)) / float(np.sum((marked - clip) ** 2)))
    message = encode(payload, KEY.secret, PURPOSE, PARITY_BYTES)
    sent = audio_code.encode(message) == 1
    scores: dict[str, Score] = {}
    for attack, apply in ATTACKS.items():
        audio, attacked_rate = apply(marked, rate, index)
        found = detect_audio(audio, attacked_rate, RING)
        soft = np.asarray(found.details["soft_bits"])
        accuracy = float(np.mean((soft > 0) == sent))
        decoded = audio_code.decode(soft, len(message))
        detected = tuple(found.false_positive_probability <= f for f in FPRS)
        scores[attack] = (accuracy, float(np.mean(decoded == message)),
                          found.content_id == payload.content_id, detected)
    return kind, snr, scores


def _negatives(source: int) -> list[tuple[bool, ...]]:
    """WINDOWS_PER_SOURCE unmarked 3 s windows at random offsets of one unmarked clip."""
    kind = KINDS[source % len(KINDS)]
    rate, channels = FORMATS[(source // len(KINDS)) % len(FORMATS)]
    clip = make_clip(kind, 50_000 + source, 12.0, rate, channels)
    rng = np.random.default_rng(source)
    results = []
    for window_index in range(WINDOWS_PER_SOURCE):
        start = int(rng.integers(0, len(clip) - 3 * rate))
        window = clip[start:start + 3 * rate]
        if window_index % 4 == 3:
            window = codec_roundtrip(window, rate, "libmp3lame", 64_000, "mp3")
        found = detect_audio(window, rate, RING)
        results.append(tuple(found.false_positive_probability <= f for f in FPRS))
    return results


def _speed(runs: int) -> list[list[str]]:
    rows = []
    for kind in ("speech", "music"):
        clip = make_clip(kind, 7, 30.0, 44_100, 2)
        marked = embed_audio(clip, 44_100, _payload(0), KEY)
        embed = median_time(functools.partial(embed_audio, clip, 44_100, _payload(0), KEY),
                            runs=runs)
        checked = median_time(functools.partial(embed_audio_checked, clip, 44_100,
                                                _payload(0), KEY), runs=runs)
        found = median_time(functools.partial(detect_audio, marked[:441_000], 44_100, RING),
                            runs=runs)
        absent = median_time(functools.partial(detect_audio, clip[:441_000], 44_100, RING),
                             runs=runs)
        rows.append([f"{kind}, 44.1 kHz stereo", f"{30 / embed:.0f}×", f"{30 / checked:.0f}×",
                     f"{10 / found:.0f}×", f"{10 / absent:.0f}×"])
    return rows


def _pct(values: list[bool] | list[float]) -> str:
    return f"{100 * float(np.mean(values)):.1f}" if values else "–"


def run(n_clips: int = 52, n_negatives: int = 10_000, seconds: float = 10.0,
        speed_runs: int = 3) -> str:
    """Markdown tables for docs/benchmarks.md."""
    clips = pool_map(_one_clip, [(i, seconds) for i in range(n_clips)])
    sources = -(-n_negatives // WINDOWS_PER_SOURCE)
    negatives = [n for batch in pool_map(_negatives, [(s,) for s in range(sources)])
                 for n in batch]
    n_negatives = len(negatives)
    # In a spawned worker too: one BLAS thread, as the targets are per core (this process
    # started OpenBLAS's threads when it imported numpy).
    [speed] = pool_map(_speed, [(speed_runs,)])
    rows, by_kind = [], []
    for attack in ATTACKS:
        scores = [s[attack] for _, _, s in clips]
        rows.append([attack, _pct([s[0] for s in scores]), _pct([s[1] for s in scores]),
                     _pct([s[2] for s in scores]),
                     *[_pct([s[3][i] for s in scores]) for i in range(len(FPRS))]])
        by_kind.append([attack, *[f"{_pct([s[attack][0] for k, _, s in clips if k == kind])}"
                                  f" / {_pct([s[attack][2] for k, _, s in clips if k == kind])}"
                                  for kind in KINDS]])
    snrs = [snr for _, snr, _ in clips]
    false_positives = [str(sum(n[i] for n in negatives)) for i in range(len(FPRS))]
    return "\n".join([
        f"{n_clips} clips of {seconds:g} s ({', '.join(KINDS)}; 44.1 kHz stereo and 48 kHz "
        f"mono), {len(ATTACKS)} conditions. SNR of the mark (dB): mean {np.mean(snrs):.1f}, "
        f"min {np.min(snrs):.1f}.",
        "",
        "Channel-bit accuracy, message-bit accuracy, exact payload recovery and detection TPR "
        "at FPR 1e-3 / 1e-6, %:",
        "",
        table(["Attack", "channel bits", "message bits", "exact", "TPR @ 1e-3", "TPR @ 1e-6"],
              rows),
        "",
        "Channel-bit accuracy / exact payload recovery by content kind, %:",
        "",
        table(["Attack", *KINDS], by_kind),
        "",
        f"False positives on {n_negatives} unmarked 3 s windows (a quarter through MP3 "
        f"64 kbit/s): {false_positives[0]} at FPR 1e-3, {false_positives[1]} at 1e-6.",
        "",
        f"Speed in one process, × real time (median of {speed_runs}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when measured): embedding 30 s "
        "bare and with the read-back that `label`, `mark` and the gateway run "
        "(`embed_audio_checked`); detection on 10 s, marked (the search stops at the first "
        "match that decodes) and unmarked (the whole search):",
        "",
        table(["Audio", "embed", "embed + read-back", "detect marked", "detect unmarked"],
              speed),
    ])


if __name__ == "__main__":
    # python -m bench.watermark_audio [n_clips n_negatives seconds speed_runs]
    values = sys.argv[1:]
    print(run(*(int(v) for v in values[:2]), *(float(v) for v in values[2:3]),
              *(int(v) for v in values[3:4])))
