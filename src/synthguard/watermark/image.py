"""Robust invisible image watermark: embed a 64-bit payload, detect it blind with a p-value.

Embedding (`embed_image`): the luma is scaled to the canonical grid (short side at most
`CANONICAL_SIDE`), the keyed tile (pilot chips + payload chips, `image_layout`) is
weighted by a texture mask (more where the picture is busy, a floor where it is flat),
scaled to the target PSNR, upsampled to the image's own size and added equally to R, G
and B, so only the luma changes. Because the residual is made on the canonical grid, a
resized copy seen at its own canonical size carries the same pattern.

Detection (`detect_image`): `image_sync` finds the tile geometry and shift; the pilot's
z statistic gives a false-positive probability (Hoeffding bound times the number of
hypotheses searched); the payload chips give soft bits for `payload.decode`. Modulation
is spread spectrum decoded by correlation signs, so brightness and contrast changes
(gains and offsets) do not move the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import ndimage  # type: ignore[import-untyped]

from synthguard.watermark import image_sync as sync
from synthguard.watermark.image_layout import (
    CANONICAL_SIDE,
    CODED_BITS,
    PARITY_BYTES,
    PILOT_CHIPS,
    PURPOSE,
    TILE,
    expand_chips,
    layout,
)
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload, decode, encode

FloatArray = npt.NDArray[np.float64]

DEFAULT_PSNR_DB = 38.5
DEFAULT_FPR = 1e-6
MIN_SIDE = 256
# Maps one key's search may score: the identity and the lattice candidates, each with
# the refinement grid around it.
_MAX_MAPS = (1 + sync.BEST_PAIRS + 2) * sync.MAPS_PER_CANDIDATE
# Above this pilot z the geometry is clearly right (the ceiling is sqrt(PILOT_CHIPS)).
_CONFIDENT_Z = 0.85 * math.sqrt(PILOT_CHIPS)
_REFINE_FROM_Z = 4.0


@dataclass(frozen=True)
class Detection:
    """What `detect_image` found. `false_positive_probability` bounds the chance that an
    image not marked with any of the keys scores at least this well."""

    present: bool
    key_id: int | None
    content_id: int | None
    false_positive_probability: float
    z_score: float
    bit_accuracy_estimate: float | None
    details: dict[str, object] = field(default_factory=dict)


def canonical_factor(width: int, height: int) -> float:
    return min(1.0, CANONICAL_SIDE / min(width, height))


def _canonical_size(width: int, height: int) -> tuple[int, int]:
    factor = canonical_factor(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _rgb(img: Image.Image) -> tuple[npt.NDArray[np.uint8], Image.Image | None]:
    """8-bit RGB pixels and the alpha band (kept aside) of a Pillow image."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        raise ValueError(f"watermarking {img.mode} images (not 8-bit) is not supported")
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA", "PA") else None
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    return np.asarray(rgb, dtype=np.uint8), alpha


def canonical_luma(img: Image.Image) -> npt.NDArray[np.float32]:
    """The luma plane on the canonical grid (short side at most CANONICAL_SIDE)."""
    luma = img.convert("L").convert("F")
    size = _canonical_size(*img.size)
    if size != img.size:
        luma = luma.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(luma, dtype=np.float32)


def _resize(plane: npt.NDArray[np.float32], size: tuple[int, int]) -> npt.NDArray[np.float32]:
    if (plane.shape[1], plane.shape[0]) == size:
        return plane
    resized = Image.fromarray(plane, mode="F").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def texture_mask(luma: npt.NDArray[np.float32]) -> FloatArray:
    """Relative embedding strength: local activity, floored so flat areas still carry the mark."""
    y = luma.astype(np.float64)
    high = y - ndimage.gaussian_filter(y, 1.0)
    activity = np.sqrt(ndimage.gaussian_filter(high * high, 3.0))
    strength = np.sqrt(activity + 4.0)
    return np.asarray(np.clip(strength / float(np.median(strength)), 0.6, 2.0), dtype=np.float64)


def embed_image(
    img: Image.Image,
    payload: Payload | int,
    key: WatermarkKey,
    *,
    strength: float = 1.0,
) -> Image.Image:
    """Return a copy of `img` carrying `payload` (or a 56-bit content id) under `key`.

    `strength` scales the mark: 1.0 targets DEFAULT_PSNR_DB (38.5 dB); 2.0 is 6 dB
    stronger (more robust, more visible). Alpha is kept; the result is RGB(A) or L(A).
    """
    if not 0 < strength <= 8:
        raise ValueError("strength must be in (0, 8]")
    width, height = img.size
    if min(width, height) < MIN_SIDE:
        raise ValueError(
            f"image is {width}x{height}; the watermark needs a short side of {MIN_SIDE} or more"
        )
    if isinstance(payload, int):
        payload = Payload(key.key_id, payload)
    if payload.key_id != key.key_id:
        raise ValueError(f"payload key id {payload.key_id} differs from the key's id {key.key_id}")
    rgb, alpha = _rgb(img)
    small = canonical_luma(img)
    size = (small.shape[1], small.shape[0])
    coded = encode(payload, key.secret, PURPOSE, PARITY_BYTES).astype(np.float64) * 2 - 1
    tile = expand_chips(layout(key.secret).chip_values(coded))
    reps = (math.ceil(size[1] / TILE), math.ceil(size[0] / TILE))
    pattern = np.tile(tile, reps)[: size[1], : size[0]]
    mark = (pattern * texture_mask(small)).astype(np.float32)
    mark = _resize(mark, (width, height))
    marked = _add_luma(rgb, mark, 255.0 * 10 ** (-DEFAULT_PSNR_DB / 20) * strength)
    grey = img.mode in ("L", "LA", "1")
    out = Image.fromarray(marked, "RGB")
    if grey:
        out = out.convert("L")
    if alpha is not None:
        out.putalpha(alpha)
    return out


def _add_luma(
    rgb: npt.NDArray[np.uint8], mark: npt.NDArray[np.float32], target_rms: float
) -> npt.NDArray[np.uint8]:
    """Add `mark` to R, G and B, scaled so the change has `target_rms` after rounding.

    Where a pixel is too close to white (or black) for the full swing, the pixel is
    first moved away from the limit: clipping would cut the positive (or negative) chips,
    while a local offset is removed by the detector's high-pass and keeps the swing.
    The same integer change goes to all three channels, so the scale is found on one
    plane, in a few passes because offsets move the MSE. Rounding is dithered: the mark
    has large areas of equal value, and plain rounding would make the MSE jump in steps.
    """
    high = rgb.max(axis=2).astype(np.float32)
    low = rgb.min(axis=2).astype(np.float32)
    dither = np.random.default_rng(0).random(mark.shape, dtype=np.float32) - np.float32(0.5)
    scale = target_rms / max(float(np.sqrt(np.mean(mark * mark))), 1e-9)
    change = np.zeros(mark.shape, dtype=np.float32)
    for _ in range(6):
        delta = mark * np.float32(scale)
        swing = np.abs(delta)
        delta += np.maximum(swing - low, 0) - np.maximum(high + swing - 255, 0)
        change = np.rint(delta + dither)
        achieved = float(np.sqrt(np.mean(change * change)))
        if abs(achieved / target_rms - 1) < 0.003:
            break
        scale *= target_rms / achieved if achieved > 0 else 2.0
    marked = rgb.astype(np.int16) + change.astype(np.int16)[..., None]
    return np.asarray(np.clip(marked, 0, 255), dtype=np.uint8)


@dataclass
class _KeyResult:
    key: WatermarkKey
    match: sync.PilotMatch


def _search(res: FloatArray, keys: list[WatermarkKey]) -> list[_KeyResult]:
    """Best pilot match per key: identity map first, then the lattice candidates, refined."""
    folder = sync.Folder(res)
    pilots = [sync.Pilot(layout(key.secret)) for key in keys]
    identity = folder.fold(np.eye(2))
    best = [pilot.match(identity) for pilot in pilots]
    if max(match.z for match in best) < _CONFIDENT_Z:
        coarse = [folder.fold(tile_map, stride=2) for tile_map in sync.lattice_maps(res)]
        for i, pilot in enumerate(pilots):
            ranked = sorted((pilot.match(folded) for folded in coarse), key=lambda m: -m.z)
            if ranked and ranked[0].z > best[i].z / 2:  # a quarter of the pixels: half the z
                full = pilot.match(folder.fold(ranked[0].folded.tile_map))
                if full.z > best[i].z:
                    best[i] = full
    results = []
    for key, pilot, match in zip(keys, pilots, best, strict=True):
        if _REFINE_FROM_Z <= match.z < _CONFIDENT_Z:
            match = sync.refine(folder, pilot, match)
        results.append(_KeyResult(key, match))
    return results


def false_positive_probability(z: float, keys: int) -> float:
    """Union bound over keys × maps × TILE² shifts of Hoeffding's exp(-z²/2) per hypothesis."""
    if z <= 0:
        return 1.0
    hypotheses = keys * _MAX_MAPS * TILE * TILE
    return float(min(1.0, hypotheses * math.exp(-z * z / 2)))


def detect_image(img: Image.Image, keyring: KeyRing, *, fpr: float = DEFAULT_FPR) -> Detection:
    """Look for a mark of any key in `keyring`; `present` when the bound is at most `fpr`."""
    keys = list(keyring.all())
    results = _search(sync.residual(canonical_luma(img)), keys)
    best = max(results, key=lambda r: r.match.z)
    probability = false_positive_probability(best.match.z, len(keys))
    present = probability <= fpr
    tile = layout(best.key.secret)
    chips = sync.chip_values(best.match).ravel() * tile.signs
    soft = chips[tile.message].sum(axis=1)
    decoded = decode(soft, best.key.secret, PURPOSE, PARITY_BYTES) if present else None
    if decoded is not None and decoded.payload.key_id != best.key.key_id:
        decoded = None
    tile_map = best.match.folded.tile_map
    details: dict[str, object] = {
        "scale": float(np.sqrt(abs(np.linalg.det(tile_map)))),
        "rotation_deg": float(np.degrees(np.arctan2(tile_map[1, 0], tile_map[0, 0]))),
        "shift": best.match.shift,
        "soft_bits": soft,
        "corrected_bytes": decoded.corrected_bytes if decoded else None,
    }
    return Detection(
        present=present,
        key_id=best.key.key_id if present else None,
        content_id=decoded.payload.content_id if decoded else None,
        false_positive_probability=probability,
        z_score=best.match.z,
        bit_accuracy_estimate=decoded.bit_agreement if decoded else None,
        details=details,
    )


__all__ = ["CODED_BITS", "Detection", "detect_image", "embed_image"]
