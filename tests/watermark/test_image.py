"""The image watermark: round trips, the attacks of issue 9, false positives, keys, quality."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthguard.watermark.image import (
    DEFAULT_PSNR_DB,
    Detection,
    detect_image,
    embed_image,
    false_positive_probability,
)
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload, content_id_from
from tests.watermark import attacks as all_attacks
from tests.watermark.corpus import make

KEY = WatermarkKey(3, bytes.fromhex("a1" * 32))
OLD_KEY = WatermarkKey(2, bytes.fromhex("b2" * 32))
RING = KeyRing([KEY, OLD_KEY])
CONTENT = content_id_from("0190f3c2-7e1a-7b3c-9d2e-1f0a2b3c4d5e")

ATTACKS = {
    name: all_attacks.ATTACKS[name]
    for name in (
        "JPEG 50",
        "resize 0.5",
        "crop 10% corner",
        "crop 10% centre",
        "rotate +2°",
        "rotate -2°",
        "brightness ×1.3",
        "contrast ×1.3",
        "screenshot (0.8× + JPEG 85)",
    )
}
jpeg, resize, psnr = all_attacks.jpeg, all_attacks.resize, all_attacks.psnr


@pytest.fixture(scope="module")
def marked_photo() -> Image.Image:
    return embed_image(make("photo", 11, (640, 512)), CONTENT, KEY)


@pytest.fixture(scope="module")
def marked_face() -> Image.Image:
    return embed_image(make("face", 12, (512, 512)), CONTENT, KEY)


def assert_payload(detection: Detection, key: WatermarkKey = KEY) -> None:
    assert detection.present, detection
    assert detection.key_id == key.key_id
    assert detection.content_id == CONTENT
    assert detection.false_positive_probability <= 1e-6
    assert detection.bit_accuracy_estimate is not None and detection.bit_accuracy_estimate > 0.9


@pytest.mark.parametrize(
    ("kind", "size"),
    [
        ("photo", (256, 256)),
        ("graphic", (256, 320)),
        ("screenshot", (512, 384)),
        ("face", (300, 256)),
        ("photo", (1000, 700)),
        ("graphic", (512, 512)),
    ],
)
def test_round_trip_quality_and_payload(kind: str, size: tuple[int, int]) -> None:
    original = make(kind, 1, size)
    marked = embed_image(original, CONTENT, KEY)
    assert marked.size == original.size and marked.mode == "RGB"
    assert psnr(original, marked) >= 38.0
    assert_payload(detect_image(marked, RING))


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_photo_survives(marked_photo: Image.Image, attack: str) -> None:
    assert_payload(detect_image(ATTACKS[attack](marked_photo), RING))


@pytest.mark.parametrize("attack", ["JPEG 50", "crop 10% corner", "rotate -2°", "resize 0.5"])
def test_face_survives(marked_face: Image.Image, attack: str) -> None:
    assert_payload(detect_image(ATTACKS[attack](marked_face), RING))


@pytest.mark.parametrize("kind", ["graphic", "screenshot"])
def test_flat_content_survives_jpeg50(kind: str) -> None:
    marked = embed_image(make(kind, 5, (512, 512)), CONTENT, KEY)
    assert_payload(detect_image(jpeg(50)(marked), RING))


def test_unmarked_images_are_not_detected() -> None:
    for seed, kind in enumerate(["photo", "graphic", "screenshot", "face"] * 2):
        img = make(kind, 100 + seed, (384, 320))
        for candidate in (img, jpeg(75)(img)):
            detection = detect_image(candidate, RING)
            assert not detection.present and detection.content_id is None
            assert detection.false_positive_probability > 1e-6
            assert detection.key_id is None


def test_wrong_key_is_not_detected() -> None:
    stranger = WatermarkKey(3, bytes.fromhex("c3" * 32))  # same id, other secret
    marked = embed_image(make("photo", 21, (512, 512)), CONTENT, stranger)
    detection = detect_image(marked, RING)
    assert not detection.present and detection.content_id is None
    assert_payload(detect_image(marked, KeyRing([stranger])), stranger)


def test_rotated_keys_are_all_tried() -> None:
    marked = embed_image(make("face", 22, (512, 400)), Payload(OLD_KEY.key_id, CONTENT), OLD_KEY)
    assert_payload(detect_image(marked, RING), OLD_KEY)


def test_strength_trades_quality_for_margin() -> None:
    original = make("photo", 31, (512, 512))
    gentle = embed_image(original, CONTENT, KEY, strength=0.5)
    strong = embed_image(original, CONTENT, KEY, strength=2.0)
    assert psnr(original, gentle) == pytest.approx(DEFAULT_PSNR_DB + 6.02, abs=0.3)
    assert psnr(original, strong) == pytest.approx(DEFAULT_PSNR_DB - 6.02, abs=0.3)
    attacked = jpeg(40)(resize(0.6)(strong))
    assert detect_image(attacked, RING).content_id == CONTENT
    with pytest.raises(ValueError):
        embed_image(original, CONTENT, KEY, strength=0)


def test_threshold_follows_the_requested_false_positive_rate(marked_photo: Image.Image) -> None:
    detection = detect_image(marked_photo, RING)
    p = detection.false_positive_probability
    assert 0 < p <= 1e-6
    strict = detect_image(marked_photo, RING, fpr=p / 10)
    assert not strict.present and strict.content_id is None
    assert strict.false_positive_probability == pytest.approx(p)
    # The bound: hypotheses × exp(-z²/2), capped at 1 and monotone in z.
    assert false_positive_probability(0.0, 1) == 1.0
    assert false_positive_probability(9.0, 1) < false_positive_probability(8.0, 1)
    one_key = false_positive_probability(9.0, 1)
    assert false_positive_probability(9.0, 2) == pytest.approx(2 * one_key)


def test_modes_alpha_and_grey_are_kept() -> None:
    base = make("face", 41, (320, 320))
    rgba = base.convert("RGBA")
    alpha = Image.linear_gradient("L").resize(rgba.size)
    rgba.putalpha(alpha)
    marked = embed_image(rgba, CONTENT, KEY)
    assert marked.mode == "RGBA"
    assert np.array_equal(np.asarray(marked.getchannel("A")), np.asarray(alpha))
    assert_payload(detect_image(marked, RING))
    grey = embed_image(base.convert("L"), CONTENT, KEY)
    assert grey.mode == "L" and psnr(base.convert("L"), grey) >= 38.0
    assert_payload(detect_image(grey, RING))


def test_saturated_white_background_keeps_the_mark() -> None:
    page = Image.new("RGB", (512, 512), (255, 255, 255))
    page.paste(make("screenshot", 3, (256, 256)), (128, 128))
    marked = embed_image(page, CONTENT, KEY)
    assert psnr(page, marked) >= 38.0
    assert_payload(detect_image(jpeg(75)(marked), RING))


def test_rejects_small_images_and_mismatched_payloads() -> None:
    with pytest.raises(ValueError, match="256"):
        embed_image(make("photo", 1, (300, 200)), CONTENT, KEY)
    with pytest.raises(ValueError, match="key id"):
        embed_image(make("photo", 1, (256, 256)), Payload(9, CONTENT), KEY)
    with pytest.raises(ValueError, match="not 8-bit"):
        embed_image(Image.new("I;16", (256, 256)), CONTENT, KEY)


@pytest.mark.parametrize("size", [(1, 1), (8, 300), (300, 8), (64, 64), (2000, 40)])
def test_degenerate_pictures_are_not_detected(size: tuple[int, int]) -> None:
    for img in (Image.new("RGB", size, (255, 255, 255)), Image.new("P", size)):
        detection = detect_image(img, RING)
        assert not detection.present and detection.false_positive_probability == 1.0
