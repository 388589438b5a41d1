"""Fuzz target for the Matroska/WebM carrier: any input either reads and relabels, or is
refused with a SynthGuardError; every other exception, and a written file that does not
read back with exactly one label, is a bug.

`element` and `tiny_file` build EBML by hand; the tests reuse them for layouts no
encoder writes (nested tags, chained Segments, hostile sizes).
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import matroska

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        matroska.read(io.BytesIO(data))
    except SynthGuardError:
        return
    out = io.BytesIO()
    try:
        matroska.write(io.BytesIO(data), out, LABEL)
    except SynthGuardError:
        return
    # whatever the input held, a written file reads back with exactly our label, and
    # the in-place update writes the same bytes or declines
    out.seek(0)
    assert [s.raw for s in matroska.read(out)] == [LABEL.to_json()]
    rw = io.BytesIO(data)
    if matroska.update_in_place(rw, LABEL):
        assert rw.getvalue() == out.getvalue()
    else:
        assert rw.getvalue() == data


def element(ident: int, content: bytes, *, size_width: int | None = None) -> bytes:
    """One EBML element; `size_width` forces a wider size field than needed."""
    width = size_width or next(w for w in range(1, 9) if len(content) < (1 << (7 * w)) - 1)
    size = ((1 << (7 * width)) | len(content)).to_bytes(width, "big")
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big") + size + content


def simple_tag(name: str, value: str, *children: bytes) -> bytes:
    return element(0x67C8, element(0x45A3, name.encode()) + element(0x4487, value.encode())
                   + b"".join(children))


def tag(*simple_tags: bytes, targets: bytes = b"") -> bytes:
    return element(0x7373, element(0x63C0, targets) + b"".join(simple_tags))


def ebml_header(doctype: bytes = b"matroska") -> bytes:
    return element(0x1A45DFA3, element(0x4286, b"\x01") + element(0x4282, doctype))


def tiny_file(*level1: bytes, size_width: int = 8, doctype: bytes = b"matroska") -> bytes:
    """An EBML header and a Segment holding `level1` plus a one-block Cluster."""
    cluster = element(0x1F43B675, element(0xE7, b"\x00")
                      + element(0xA3, b"\x81\x00\x00\x80" + bytes(range(16))))
    body = b"".join(level1) + cluster
    return ebml_header(doctype) + element(0x18538067, body, size_width=size_width)


def encoded_file(container_format: str, codec: str) -> bytes:
    """A few frames from a real encoder, muxed by libavformat into memory."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=5)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 5)
        out.metadata["comment"] = "seed"
        for i in range(3):
            pixels = np.full((16, 16, 3), 40 * i, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def seeds() -> list[bytes]:
    """Real muxer output (Matroska and WebM), a relabelled one, and hand-built files with
    nested, case-variant and second-Tags AIGC sites."""
    mkv = encoded_file("matroska", "ffv1")
    webm = encoded_file("webm", "libvpx")
    labeled = io.BytesIO()
    matroska.write(io.BytesIO(mkv), labeled, LABEL)
    json = LABEL.to_json()
    nested = tiny_file(element(0x1254C367, tag(simple_tag("TITLE", "x",
                                                          simple_tag("AIGC", json)))),
                       element(0xEC, bytes(8)),
                       element(0x1254C367, tag(simple_tag("aigc", json))))
    return [mkv, webm, labeled.getvalue(), nested, tiny_file(size_width=1)]
