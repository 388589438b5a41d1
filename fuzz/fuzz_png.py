"""Fuzz target for the PNG carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

from PIL import Image, PngImagePlugin

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import png

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        png.read(io.BytesIO(data))
    except SynthGuardError:
        return
    try:
        png.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small valid files that reach every site parser: tEXt/zTXt/iTXt AIGC keyword
    chunks, plain and compressed XMP iTXt, a raw-profile XMP, an APNG, and a labelled
    file."""
    image = Image.linear_gradient("L").resize((8, 8))
    label = LABEL.to_json(wrapped=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", label)
    info.add_text("Comment", "seed")
    zipped = PngImagePlugin.PngInfo()
    zipped.add_text("AIGC", label, zip=True)
    zipped.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', zip=True)
    itxt = PngImagePlugin.PngInfo()
    itxt.add_itxt("AIGC", label)
    packet = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    itxt.add_text("Raw profile type xmp", f"\nxmp\n{len(packet):8d}\n{packet.hex()}\n",
                  zip=True)
    out = []
    for options in ({}, {"pnginfo": info}, {"pnginfo": zipped}, {"pnginfo": itxt}):
        buffer = io.BytesIO()
        image.save(buffer, "PNG", **options)
        out.append(buffer.getvalue())
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PNG", save_all=True, default_image=True,
                              append_images=[image.convert("RGB").rotate(90)])
    out.append(buffer.getvalue())
    labeled = io.BytesIO()
    png.write(io.BytesIO(out[1]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
