"""Fuzz target for the JPEG carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import jpeg
from synthguard.labels.carriers.tiff import ASCII_PREFIX

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        jpeg.read(io.BytesIO(data))
        jpeg.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """Small valid files that reach every site parser: EXIF with a UserComment label,
    a standard XMP packet, ICC and COM segments, progressive and grayscale scans."""
    image = Image.linear_gradient("L").resize((16, 16)).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "SeedCam"
    exif[0x8769] = {0x9286: ASCII_PREFIX + LABEL.to_json(wrapped=True).encode()}
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
              b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
              b"<dc:format>image/jpeg</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>")
    variants: list[dict[str, Any]] = [
        {},
        {"exif": exif, "comment": b"seed"},
        {"xmp": packet, "progressive": True},
    ]
    out = []
    for options in variants:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", **options)
        out.append(buffer.getvalue())
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG")
    out.append(buffer.getvalue())
    labeled = io.BytesIO()
    jpeg.write(io.BytesIO(out[1]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
