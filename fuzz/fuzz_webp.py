"""Fuzz target for the WebP carrier: any input either reads and relabels, or is refused
with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

from PIL import Image

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import webp

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        webp.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        webp.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small files reaching every path: simple VP8 and VP8L (with alpha), extended with
    EXIF (a UserComment label) and XMP, an animation, and an already labeled file."""
    image = Image.linear_gradient("L").resize((5, 3)).convert("RGBA")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + LABEL.to_json(wrapped=True).encode()
    out = []
    for source, options in ((image.convert("RGB"), {"quality": 50}),
                            (image, {"lossless": True}),
                            (image, {"exif": exif.tobytes(),
                                     "xmp": b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'}),
                            (image, {"save_all": True, "append_images": [image.rotate(180)],
                                     "duration": 10})):
        buffer = io.BytesIO()
        source.save(buffer, "WEBP", **options)
        out.append(buffer.getvalue())
    labeled = io.BytesIO()
    webp.write(io.BytesIO(out[2]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
