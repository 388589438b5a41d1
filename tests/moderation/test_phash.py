"""pHash survives resizing, JPEG and mirroring/rotation (dihedral variants), rejects
different images, and treats image bytes as hostile."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps

from synthguard.errors import MalformedFile
from synthguard.moderation import phash
from tests.moderation.conftest import engine_of, entry
from tests.moderation.images import encode, poster

KNOWN = poster(2024)


def _best(image: Image.Image) -> int:
    index = phash.ImageIndex([(0, phash.phash(KNOWN))], threshold=64)
    return index.find(image)[0].distance


@pytest.mark.parametrize("variant", [
    lambda im: im.resize((160, 120), Image.Resampling.BILINEAR),
    lambda im: im.resize((1000, 750), Image.Resampling.BICUBIC),
    lambda im: phash.load(encode(im, "JPEG", quality=35)),
    lambda im: phash.load(encode(im.convert("L"), "WEBP", quality=50)),
    ImageOps.mirror, ImageOps.flip,
    lambda im: im.rotate(90, expand=True), lambda im: im.rotate(270, expand=True),
    lambda im: im.transpose(Image.Transpose.TRANSVERSE),
])
def test_edited_copies_stay_within_the_threshold(variant: object) -> None:
    assert callable(variant)
    assert _best(variant(KNOWN)) <= phash.NEAR_IDENTICAL


def test_mirroring_defeats_the_plain_hash_but_not_the_variants() -> None:
    assert phash.distance(phash.phash(KNOWN), phash.phash(ImageOps.mirror(KNOWN))) > 20
    assert phash.phash(KNOWN) in phash.dihedral_hashes(ImageOps.mirror(KNOWN))


def test_different_images_are_rejected() -> None:
    for seed in range(1, 30):
        assert _best(poster(seed)) > phash.MATCH_THRESHOLD, seed


def test_engine_reviews_images_by_distance() -> None:
    engine = engine_of(entry(phash.to_hex(phash.phash(KNOWN)), kind="image_hash",
                             risk_id="A.3.1", action="block"))
    same = engine.review_image(encode(ImageOps.mirror(KNOWN), "JPEG", quality=80))
    assert same.decision == "block" and same.matches[0].view == "normalized"
    assert engine.review_image(encode(poster(5))).decision == "allow"


@pytest.mark.parametrize("data", [b"", b"not an image", encode(KNOWN)[:100],
                                  b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_hostile_bytes_raise_malformed_file(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        phash.load(data)


def test_decompression_bombs_are_refused_before_decoding() -> None:
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG")
    with pytest.raises(MalformedFile, match="too large"):
        phash.load(bomb)


def test_hex_form_round_trips_and_rejects_garbage() -> None:
    value = phash.phash(KNOWN)
    assert phash.from_hex(phash.to_hex(value)) == value
    for bad in ("", "xyz", "0" * 15, "g" * 16):
        with pytest.raises(ValueError):
            phash.from_hex(bad)
