"""Fuzz target for the FLV carrier and its AMF0 reader: any input either reads and
relabels, or is refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import struct

import av
import numpy as np

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import flv

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        flv.read(io.BytesIO(data))
        flv.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _encode() -> bytes:
    buffer = io.BytesIO()
    options = {"flvflags": "add_keyframe_index"}
    with av.open(buffer, "w", format="flv", options=options) as container:
        video = container.add_stream("flv", rate=5)
        video.width, video.height, video.pix_fmt = 16, 16, "yuv420p"
        video.gop_size = 1
        for shade in (0, 128, 255):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), shade, np.uint8),
                                               format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return buffer.getvalue()


def _script(body: bytes) -> bytes:
    return bytes([18]) + len(body).to_bytes(3, "big") + bytes(7) + body + \
        struct.pack(">I", 11 + len(body))


def seeds() -> list[bytes]:
    """Three Sorenson Spark keyframes from libavformat with a keyframe index, the same
    labelled, and one with an extra script tag carrying AIGC among other AMF0 types."""
    plain = _encode()
    labelled = io.BytesIO()
    flv.write(io.BytesIO(plain), labelled, LABEL)
    body = (b"\x02\x00\x0aonTextData\x03" + b"\x00\x04AIGC\x02\x00\x0d{\"Label\":\"1\"}"
            + b"\x00\x01n\x00" + struct.pack(">d", 1.5) + b"\x00\x01b\x01\x01"
            + b"\x00\x01a\x0a\x00\x00\x00\x02\x05\x06" + b"\x00\x01d\x0b" + bytes(10)
            + b"\x00\x00\x09")
    return [plain, labelled.getvalue(), plain + _script(body)]
