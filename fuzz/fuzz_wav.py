"""Fuzz target for the WAV carrier (and the shared RIFF walker): any input either reads
and relabels, or is refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from synthguard.errors import SynthGuardError
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import wav

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        wav.read(io.BytesIO(data))
        wav.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def _encode(fmt: str, subtype: str, frames: int, extra: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.linspace(-0.5, 0.5, frames), 8000, format=fmt, subtype=subtype)
    data = buffer.getvalue() + extra
    if fmt == "WAV":
        return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    out = bytearray(data)
    struct.pack_into("<Q", out, 20, len(out) - 8)  # RF64: the RIFF size lives in ds64
    return bytes(out)


def seeds() -> list[bytes]:
    """Small files reaching every site parser: a bare WAV, odd-sized data with INFO
    (gtkit's AIGC), an XMP `_PMX` chunk and a label chunk, RF64 with ds64, and the
    output of our own writer."""
    info = _chunk(b"LIST", b"INFO" + _chunk(b"INAM", b"seed\x00")
                  + _chunk(b"AIGC", LABEL.to_json().encode() + b"\x00"))
    pmx = _chunk(b"_PMX", xmp.set_aigc(None, LABEL.to_json(), padding=0))
    plain = _encode("WAV", "PCM_16", 16)
    out = [
        plain,
        _encode("WAV", "PCM_24", 7, info + pmx + _chunk(b"AIGC", LABEL.to_json().encode())),
        _encode("RF64", "PCM_16", 8, _chunk(b"AIGC", b'{"Label":"1"}')),
    ]
    labelled = io.BytesIO()
    wav.write(io.BytesIO(out[1]), labelled, LABEL)
    out.append(labelled.getvalue())
    return out
