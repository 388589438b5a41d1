"""Fuzz target for the FLAC carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import flac
from synthguard.labels.carriers.vorbiscomment import VorbisComment

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        flac.read(io.BytesIO(data))
        flac.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def seeds() -> list[bytes]:
    """A libsndfile FLAC (no padding), the same labeled (comment + padding), and one
    with a duplicate lower-case label entry, so both write paths are reached."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(32, dtype=np.int16), 8000, format="FLAC", subtype="PCM_16")
    plain = buffer.getvalue()
    labeled = io.BytesIO()
    flac.write(io.BytesIO(plain), labeled, LABEL)
    # fLaC, STREAMINFO (4 + 34 bytes), then the comment block: swap in one with two labels
    comment_length = int.from_bytes(plain[43:46], "big")
    doubled_comment = VorbisComment(b"seed", [b"AIGC={}", b"aigc=x", b"T=1"]).to_bytes()
    doubled = (plain[:42] + bytes([plain[42]]) + len(doubled_comment).to_bytes(3, "big")
               + doubled_comment + plain[46 + comment_length:])
    return [plain, labeled.getvalue(), doubled]
