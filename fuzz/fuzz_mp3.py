"""Fuzz target for the MP3 carrier (ID3v2, APEv2 and ID3v1 tags around MPEG audio):
any input either reads and relabels, or is refused with a SynthGuardError."""

from __future__ import annotations

import io

import av
import numpy as np

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import mp3

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        mp3.read(io.BytesIO(data))
        mp3.write(io.BytesIO(data), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _encode(options: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options=options) as container:
        container.metadata["title"] = "seed"
        stream = container.add_stream("mp3", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1152), dtype=np.int16),
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def seeds() -> list[bytes]:
    """libmp3lame files with an ID3v2.4 tag, with v2.3 + ID3v1, bare frames, one labeled,
    and bare frames followed by an appended ID3v2.4 tag (footer) and an APEv2 tag."""
    v24 = _encode({})
    v23 = _encode({"id3v2_version": "3", "write_id3v1": "1"})
    bare = _encode({"id3v2_version": "0"})
    labeled = io.BytesIO()
    mp3.write(io.BytesIO(v23), labeled, LABEL)
    txxx = b"\x00AIGC\x00{}"
    frame = b"TXXX" + bytes([0, 0, 0, len(txxx)]) + b"\x00\x00" + txxx
    fields = bytes([4, 0, 0x10, 0, 0, 0, len(frame)])
    appended = b"ID3" + fields + frame + b"3DI" + fields
    item = (2).to_bytes(4, "little") + bytes(4) + b"AIGC\x00{}"
    ape = item + b"APETAGEX" + (2000).to_bytes(4, "little") + (len(item) + 32).to_bytes(
        4, "little") + (1).to_bytes(4, "little") + bytes(12)
    return [v24, v23, bare, labeled.getvalue(), bare + appended + ape]
