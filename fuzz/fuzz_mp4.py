"""Fuzz target for the MP4/MOV carrier: any input either reads, relabels by copy and
relabels in place, or is refused with a SynthGuardError; every other exception is a bug."""

from __future__ import annotations

import io
import math
import struct
import tempfile
from pathlib import Path

import av

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import mp4

LABEL = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="fuzz-1")


def target(data: bytes) -> None:
    try:
        mp4.read(io.BytesIO(data))
        mp4.write(io.BytesIO(data), io.BytesIO(), LABEL)
        mp4.update_in_place(io.BytesIO(data), LABEL)
    except SynthGuardError:
        pass


def make_movie(path: Path, *, fmt: str = "mp4", video: bool = True, audio: bool = True,
               movflags: str = "", metadata: dict[str, str] | None = None,
               frames: int = 10, gop: int = 10) -> bytes:
    """Encode a short movie with PyAV (libx264 video, AAC audio) and return its bytes."""
    options = {"movflags": movflags} if movflags else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        out.metadata.update(metadata or {})
        # Every stream exists before the first packet is muxed (the header is written then).
        vs = out.add_stream("libx264", rate=10, options={"g": str(gop)}) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = out.add_stream("aac", rate=8000, layout="mono") if audio else None
        for i in range(frames):
            if vs is not None:
                picture = av.VideoFrame(64, 48, "yuv420p")
                for n, plane in enumerate(picture.planes):
                    plane.update(bytes((x * 7 + i * 13 + n * 50) % 256
                                       for x in range(plane.buffer_size)))
                picture.pts = i
                out.mux(vs.encode(picture))
            if aus is not None:
                sound = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                sound.planes[0].update(struct.pack(
                    "<1024f", *(0.3 * math.sin((i * 1024 + t) * 0.05) for t in range(1024))))
                sound.sample_rate, sound.pts = 8000, i * 1024
                out.mux(aus.encode(sound))
        for stream in (vs, aus):
            if stream is not None:
                out.mux(stream.encode())
    return path.read_bytes()


def seeds() -> list[bytes]:
    """Small real files: moov at the end and first, QuickTime, audio only, fragmented,
    and one already labeled (a keyed meta to parse)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        out = [
            make_movie(d / "a.mp4", frames=3, metadata={"title": "seed"}),
            make_movie(d / "b.mp4", frames=3, movflags="faststart"),
            make_movie(d / "c.mov", fmt="mov", frames=3, audio=False),
            make_movie(d / "d.m4a", video=False, frames=3),
            make_movie(d / "e.mp4", frames=4, gop=2, movflags="frag_keyframe+empty_moov"),
        ]
    labeled = io.BytesIO()
    mp4.write(io.BytesIO(out[1]), labeled, LABEL)
    out.append(labeled.getvalue())
    return out
