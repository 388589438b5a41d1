"""Fuzz target for the GIF carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

from PIL import Image

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import gif

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        gif.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        gif.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small valid files that reach every site parser: a comment holding a label, an
    animation with a loop extension and local palettes, and a labelled file (XMP Data
    extension with its landing zone)."""
    image = Image.linear_gradient("L").resize((8, 8))
    out = []
    buffer = io.BytesIO()
    image.save(buffer, "GIF", comment=LABEL.to_json(wrapped=True).encode())
    out.append(buffer.getvalue())
    buffer = io.BytesIO()
    frames = [image.convert("RGB"), image.rotate(90).convert("RGB")]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=50, transparency=0)
    out.append(buffer.getvalue())
    labeled = io.BytesIO()
    gif.write(io.BytesIO(out[1]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
