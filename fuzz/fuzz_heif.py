"""Fuzz target for the HEIF/AVIF carrier (ISOBMFF boxes, iinf/iloc/iref): any input
either reads and relabels, or is refused with a SynthGuardError; anything else is a bug."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import heif

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        heif.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        heif.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small files reaching every path: HEIC and AVIF with and without an XMP item,
    with an alpha auxiliary item, and an already labeled file."""
    pillow_heif.register_heif_opener()
    image = Image.linear_gradient("L").resize((16, 8)).convert("RGB")
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    out = []
    for fmt, source, options in (("HEIF", image, {}), ("HEIF", image, {"xmp": xmp}),
                                 ("AVIF", image.convert("RGBA"), {}),
                                 ("AVIF", image, {"xmp": xmp})):
        buffer = io.BytesIO()
        source.save(buffer, fmt, **options)
        out.append(buffer.getvalue())
    labeled = io.BytesIO()
    heif.write(io.BytesIO(out[1]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
