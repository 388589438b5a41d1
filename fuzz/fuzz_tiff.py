"""Fuzz target for the TIFF carrier (and the IFD walker WebP's EXIF reuses): any input
either reads and relabels, or is refused with a SynthGuardError; anything else is a bug."""

from __future__ import annotations

import io

from PIL import Image, TiffImagePlugin

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import tiff

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        tiff.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        tiff.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small files reaching every path: II and MM, BigTIFF, two pages, an EXIF IFD with a
    UserComment label, an existing XMP packet, and an already labeled file."""
    image = Image.linear_gradient("L").resize((6, 4))
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    info[0x8769] = {0x9286: b"ASCII\x00\x00\x00" + LABEL.to_json(wrapped=True).encode()}
    out = []
    for source, options in ((image, {}), (image.convert("I;16B"), {}),
                            (image, {"big_tiff": True}), (image, {"tiffinfo": info}),
                            (image.convert("RGB"), {"save_all": True,
                                                    "append_images": [image.convert("RGB")]})):
        buffer = io.BytesIO()
        source.save(buffer, "TIFF", **options)
        out.append(buffer.getvalue())
    labeled = io.BytesIO()
    tiff.write(io.BytesIO(out[3]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
