"""Fuzz target for the Ogg (Vorbis, Opus) carrier: any input either reads and relabels,
or is refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import ogg

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        ogg.read(io.BytesIO(data))
        ogg.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """A short libvorbis file, the same labeled, and a minimal Opus header stream."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(400, dtype=np.float32), 8000, format="OGG", subtype="VORBIS")
    vorbis = buffer.getvalue()
    labeled = io.BytesIO()
    ogg.write(io.BytesIO(vorbis), labeled, LABEL)
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"fuzz" + struct.pack("<I", 1) + (
        struct.pack("<I", 7) + b"TITLE=x")
    opus = b"".join(ogg.paginate(0x5EED, 0, [head, tags], eos=True))
    return [vorbis, labeled.getvalue(), opus]
