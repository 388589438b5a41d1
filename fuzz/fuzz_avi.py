"""Fuzz target for the AVI carrier: any input either reads and relabels, or is refused
with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import struct

import av
import numpy as np

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import avi

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        avi.read(io.BytesIO(data))
        avi.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _encode() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="avi") as container:
        video = container.add_stream("mjpeg", rate=5)
        video.width, video.height, video.pix_fmt = 16, 16, "yuvj420p"
        for shade in (0, 128):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), shade, np.uint8),
                                               format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return buffer.getvalue()


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def seeds() -> list[bytes]:
    """A two-frame MJPEG AVI from libavformat (hdrl, INFO, JUNK, movi, idx1), the same
    labelled, and one with an OpenDML AVIX RIFF holding another INFO label."""
    plain = _encode()
    labelled = io.BytesIO()
    avi.write(io.BytesIO(plain), labelled, LABEL)
    info = _chunk(b"LIST", b"INFO" + _chunk(b"AIGC", b'{"Label":"2"}\x00'))
    avix = _chunk(b"RIFF", b"AVIX" + _chunk(b"LIST", b"movi") + info)
    return [plain, labelled.getvalue(), plain + avix]
