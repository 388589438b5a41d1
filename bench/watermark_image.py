"""Robust image watermarks: SynthGuard vs invisible-watermark (dwtDct, dwtDctSvd) and
blind-watermark, on the same generated images, attacks and false-positive rules.

Corpus: `n_images` images made by code (photo-like textures, flat graphics, screenshots,
face-like renders; three quarters 512×512, a quarter 1024×1024), each marked by every
method at its default strength. Peers carry 48 random bits (the SDXL payload size);
SynthGuard carries its 64-bit payload as 136 Reed-Solomon coded bits.

- *bit accuracy*: raw bits before any error correction (peers: their 48 bits; ours: the
  136 coded bits), so it compares the channels, not the codes.
- *exact*: the whole payload recovered (peers: all 48 bits; ours: the decoded 64 bits).
- *TPR @ FPR*: detected at a threshold set analytically for that false-positive rate.
  Peers: matching bits ≥ k with P(Binomial(48, ½) ≥ k) ≤ FPR (Stability AI's rule).
  Ours: the Hoeffding/union bound `false_positive_probability` ≤ FPR.
- *false positives*: the same rules on unmarked inputs — random crops (256-512 px) of
  other generated images, half of them JPEG-75 — counted for every method.

Images are processed in parallel (one process per core); the speed table is measured
separately in one process, medians over several runs at 1 MP.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import sys
import types
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from bench._common import median_time, pool_map, table
from synthguard.watermark.image import detect_image, embed_image
from synthguard.watermark.image_layout import PARITY_BYTES, PURPOSE
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload, encode
from tests.watermark.attacks import ATTACKS, jpeg, psnr
from tests.watermark.corpus import KINDS, make

KEY = WatermarkKey(1, bytes.fromhex("5eed" * 16))
RING = KeyRing([KEY])
PEER_BITS = 48
FPRS = (1e-3, 1e-6)
SIZES = ((512, 512), (512, 512), (512, 512), (1024, 1024))
Bgr = np.ndarray
Score = tuple[float, bool, dict[float, bool]]  # bit accuracy, exact, detected per FPR


def _peer_threshold(fpr: float) -> int:
    """Smallest k with P(Binomial(48, 1/2) >= k) <= fpr."""
    tail = 0.0
    for k in range(PEER_BITS, -1, -1):
        tail += math.comb(PEER_BITS, k) / 2**PEER_BITS
        if tail > fpr:
            return k + 1
    return 0


def _imwatermark() -> types.ModuleType:
    # invisible-watermark imports torch for its RivaGAN method only; dwtDct and
    # dwtDctSvd do not use it, and torch is not installed for the bench.
    sys.modules.setdefault("torch", types.ModuleType("torch"))
    import imwatermark  # type: ignore[import-untyped]

    module: types.ModuleType = imwatermark
    return module


def _to_bgr(img: Image.Image) -> Bgr:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])


def _from_bgr(bgr: Bgr) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(bgr), 0, 255).astype(np.uint8)[:, :, ::-1].copy())


class Peer:
    """One peer method: embed 48 bits, decode 48 bits (None when it cannot run)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def embed(self, img: Image.Image, bits: list[int]) -> Image.Image:
        if self.name == "blind-watermark":
            from blind_watermark import WaterMark, bw_notes  # type: ignore[import-untyped]

            bw_notes.close()
            mark = WaterMark(password_img=1, password_wm=1)
            mark.read_img(img=_to_bgr(img))
            mark.read_wm(bits, mode="bit")
            return _from_bgr(mark.embed())
        encoder = _imwatermark().WatermarkEncoder()
        encoder.set_watermark("bits", bits)
        return _from_bgr(encoder.encode(_to_bgr(img), self.name.removeprefix("iw-")))

    def decode(self, img: Image.Image) -> list[int] | None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                if self.name == "blind-watermark":
                    from blind_watermark import WaterMark

                    found = WaterMark(password_img=1, password_wm=1).extract(
                        embed_img=_to_bgr(img), wm_shape=PEER_BITS, mode="bit"
                    )
                else:
                    decoder = _imwatermark().WatermarkDecoder("bits", PEER_BITS)
                    found = decoder.decode(_to_bgr(img), self.name.removeprefix("iw-"))
        except Exception:  # a peer that errors out (too small, ...) decodes nothing
            return None
        return [int(bool(b >= 0.5)) for b in np.asarray(found, dtype=np.float64)]


PEERS = ("iw-dwtDct", "iw-dwtDctSvd", "blind-watermark")
METHODS = ("SynthGuard", *PEERS)


@dataclass
class Outcome:
    """Per method and attack: bit accuracies, exact recoveries, detections per FPR."""

    accuracy: list[float] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    detected: dict[float, list[bool]] = field(default_factory=lambda: {f: [] for f in FPRS})


def _ours(img: Image.Image, payload: Payload) -> Score:
    detection = detect_image(img, RING)
    expected = encode(payload, KEY.secret, PURPOSE, PARITY_BYTES)
    soft = np.asarray(detection.details["soft_bits"])
    accuracy = float(np.mean((soft > 0) == (expected == 1)))
    p = detection.false_positive_probability
    return accuracy, detection.content_id == payload.content_id, {f: p <= f for f in FPRS}


def _peer_score(found: list[int] | None, bits: list[int]) -> Score:
    if found is None:
        return 0.5, False, dict.fromkeys(FPRS, False)
    matches = sum(int(a == b) for a, b in zip(found, bits, strict=True))
    detected = {f: matches >= _peer_threshold(f) for f in FPRS}
    return matches / PEER_BITS, matches == PEER_BITS, detected


def _one_image(
    index: int, with_peers: bool
) -> tuple[str, dict[str, float], dict[str, dict[str, Score]]]:
    kind = KINDS[index % len(KINDS)]
    original = make(kind, index, SIZES[(index // len(KINDS)) % len(SIZES)])
    rng = np.random.default_rng(index)
    bits = [int(b) for b in rng.integers(0, 2, PEER_BITS)]
    payload = Payload(KEY.key_id, int(rng.integers(0, 2**56)))
    peers = PEERS if with_peers else ()
    marked = {"SynthGuard": embed_image(original, payload, KEY)}
    for name in peers:
        marked[name] = Peer(name).embed(original, bits)
    quality = {name: psnr(original, img) for name, img in marked.items()}
    scores: dict[str, dict[str, Score]] = {}
    for attack_name, attack in ATTACKS.items():
        scores[attack_name] = {"SynthGuard": _ours(attack(marked["SynthGuard"]), payload)}
        for name in peers:
            scores[attack_name][name] = _peer_score(Peer(name).decode(attack(marked[name])), bits)
    return kind, quality, scores


@functools.lru_cache(maxsize=8)
def _negative_source(kind: str, seed: int) -> Image.Image:
    return make(kind, seed, (768, 768))


def _negative(index: int, with_peers: bool) -> dict[str, dict[float, bool]]:
    """False-positive decisions of each method on one unmarked random crop."""
    rng = np.random.default_rng([index, 99])
    kind = KINDS[index % len(KINDS)]
    source = _negative_source(kind, 100_000 + index // 32)  # 32 crops of each source
    w, h = (int(v) for v in rng.integers(256, 513, 2))
    x, y = (int(v) for v in rng.integers(0, 768 - 511, 2))
    img = source.crop((x, y, x + w, y + h))
    if index % 2:
        img = jpeg(75)(img)
    p = detect_image(img, RING).false_positive_probability
    out = {"SynthGuard": {f: p <= f for f in FPRS}}
    if with_peers:
        bits = [int(b) for b in rng.integers(0, 2, PEER_BITS)]
        for name in PEERS:
            out[name] = _peer_score(Peer(name).decode(img), bits)[2]
    return out


def _speed(runs: int) -> list[list[str]]:
    img = make("photo", 7, (1024, 1024))
    megapixels = img.width * img.height / 1e6
    bits = [1, 0] * (PEER_BITS // 2)
    rows = []
    ours = embed_image(img, 1, KEY)
    embed_s = median_time(lambda: embed_image(img, 1, KEY), runs=runs)
    detect_s = median_time(lambda: detect_image(ours, RING), runs=runs)
    rotated = ATTACKS["rotate +2°"](ours)
    search_s = median_time(lambda: detect_image(rotated, RING), runs=runs)
    per_mp = [f"{seconds * 1e3 / megapixels:.0f}" for seconds in (embed_s, detect_s, search_s)]
    rows.append(["SynthGuard", per_mp[0], f"{per_mp[1]} (rotated 2°: {per_mp[2]})"])
    for name in PEERS:
        peer = Peer(name)
        marked = peer.embed(img, bits)
        embed_s = median_time(functools.partial(peer.embed, img, bits), runs=runs)
        detect_s = median_time(functools.partial(peer.decode, marked), runs=runs)
        rows.append([name, *[f"{t * 1e3 / megapixels:.0f}" for t in (embed_s, detect_s)]])
    return rows


def _pct(values: list[bool] | list[float]) -> str:
    return f"{100 * float(np.mean(values)):.1f}" if values else "–"


def run(n_images: int = 200, n_negatives: int = 10_000, n_peer_images: int = 48,
        n_peer_negatives: int = 200, speed_runs: int = 5) -> str:
    """Markdown tables. Peers run on the first `n_peer_images` images (the same ones SynthGuard
    gets; blind-watermark takes about a second per decode) and `n_peer_negatives` negatives."""
    # blind-watermark sets the multiprocessing start method when first imported, which
    # fails inside a worker: import both peers here, before the pool starts.
    import blind_watermark  # noqa: F401

    _imwatermark()
    # Forked: blind-watermark sets the multiprocessing start method when imported, which
    # a spawned worker refuses.
    images = pool_map(_one_image, [(i, i < n_peer_images) for i in range(n_images)],
                      every=50, start="fork")
    negatives = pool_map(_negative, [(i, i < n_peer_negatives) for i in range(n_negatives)],
                         every=50, start="fork")
    outcomes = {a: {m: Outcome() for m in METHODS} for a in ATTACKS}
    by_kind: dict[str, dict[str, list[bool]]] = {k: {a: [] for a in ATTACKS} for k in KINDS}
    quality: dict[str, list[float]] = {m: [] for m in METHODS}
    for kind, image_quality, scores in images:
        for method, value in image_quality.items():
            quality[method].append(value)
        for attack, per_method in scores.items():
            for method, (accuracy, exact, detected) in per_method.items():
                outcome = outcomes[attack][method]
                outcome.accuracy.append(accuracy)
                outcome.exact.append(exact)
                for f in FPRS:
                    outcome.detected[f].append(detected[f])
            by_kind[kind][attack].append(per_method["SynthGuard"][1])

    shared = min(n_peer_images, n_images)  # images every method was run on

    def accuracy_row(a: str) -> list[str]:
        ours = outcomes[a]["SynthGuard"]
        bits = [_pct(outcomes[a][m].accuracy[:shared]) for m in METHODS]
        peers_exact = [float(np.mean(outcomes[a][m].exact)) for m in PEERS if outcomes[a][m].exact]
        best_peer = f"{100 * max(peers_exact):.1f}" if peers_exact else "–"
        return [a, *bits, _pct(ours.exact[:shared]), best_peer, _pct(ours.accuracy),
                _pct(ours.exact)]

    def tpr_row(a: str) -> list[str]:
        cells = [" / ".join(_pct(outcomes[a][m].detected[f][:shared]) for f in FPRS)
                 for m in METHODS]
        everything = " / ".join(_pct(outcomes[a]["SynthGuard"].detected[f]) for f in FPRS)
        return [a, *cells, everything]

    psnr_summary = "; ".join(
        f"{m} {np.mean(q):.1f} / {np.min(q):.1f} ({len(q)} images)" for m, q in quality.items() if q
    )
    parts = [
        f"{n_images} images ({', '.join(KINDS)}; 512² and 1024²), {len(ATTACKS)} conditions; "
        f"the peers run on the first {min(n_peer_images, n_images)} of them. "
        f"PSNR (dB, mean / min): {psnr_summary}",
        "",
        f"Bit accuracy (raw, before error correction) and exact payload recovery, %, on the "
        f"{shared} shared images, then SynthGuard on all {n_images}:",
        "",
        table(["Attack", *[f"{m} bits" for m in METHODS], "SynthGuard exact", "best peer exact",
               f"SynthGuard bits ({n_images})", f"SynthGuard exact ({n_images})"],
              [accuracy_row(a) for a in ATTACKS]),
        "",
        f"Detection TPR at FPR 1e-3 / 1e-6, % (thresholds set analytically), on the {shared} "
        f"shared images, then SynthGuard on all {n_images}:",
        "",
        table(["Attack", *METHODS, f"SynthGuard ({n_images})"], [tpr_row(a) for a in ATTACKS]),
        "",
        f"SynthGuard exact payload recovery by content kind, % ({n_images} images):",
        "",
        table(["Attack", *KINDS], [[a, *[_pct(by_kind[k][a]) for k in KINDS]] for a in ATTACKS]),
        "",
    ]
    fp_rows = []
    for method in METHODS:
        decisions = [n[method] for n in negatives if method in n]
        counts = [sum(int(d[f]) for d in decisions) for f in FPRS]
        fp_rows.append([method, str(len(decisions)), *[str(c) for c in counts]])
    parts += [
        "False positives on unmarked inputs (random 256-512 px crops, half JPEG 75):",
        "",
        table(["Method", "unmarked inputs", "detected at 1e-3", "detected at 1e-6"], fp_rows),
        "",
        f"Speed in one process, 1 MP, ms per megapixel (median of {speed_runs}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when measured):",
        "",
        table(["Method", "embed", "detect"], _speed(speed_runs)),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    # python -m bench.watermark_image [n_images n_negatives n_peer_images n_peer_negatives runs]
    arguments = [int(a) for a in sys.argv[1:]]
    print(run(*arguments))
