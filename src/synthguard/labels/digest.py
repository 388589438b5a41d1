"""The content digest a signed label binds: SM3 over a file's media data, not its metadata.

Writing the label or a C2PA manifest leaves the digest unchanged; changing a pixel or a
sample does not. For PNG and JPEG it hashes the compressed image data as stored: exact
and decoder-independent (JPEG decoders may differ in IDCT and upsampling, so decoded
JPEG pixels are no stable identity across readers). Other raster formats fall back to
Pillow's decoded pixels. Audio and video hash the coded packets of each media stream
(`av-packets`): exact too, and blind to tags, cover pictures and codec headers.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from cryptography.hazmat.primitives import hashes
from PIL import Image, ImageSequence

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.carriers import SNIFF_BYTES, detect
from synthguard.labels.carriers import jpeg as jpeg_carrier
from synthguard.labels.carriers import png as png_carrier
from synthguard.labels.carriers.base import COPY_BLOCK, copy_range

MAX_FRAMES = 10_000  # a pixel digest walks every frame; a guard against frame spam


def _sm3(*parts: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    for part in parts:
        h.update(part)
    return h.finalize()


# PNG chunks that define the image (IHDR, palette, transparency, image data, APNG frames);
# colour and text chunks are metadata that editors legitimately rewrite.
_PNG_IMAGE_CHUNKS = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"acTL", b"fcTL", b"fdAT")
# JPEG segments that are metadata: APP0-APP13, APP15 and COM. APP14 (Adobe) stays in,
# because its transform flag changes how the scan decodes.
_JPEG_METADATA = frozenset([*range(0xE0, 0xEE), 0xEF, 0xFE])


@dataclass(frozen=True)
class ContentDigest:
    """SM3 of a file's media data by a named method (recorded in the binding)."""

    method: str
    value: bytes

    def hex(self) -> str:
        return self.value.hex().upper()


class _Sink(io.RawIOBase):
    """A write-only stream into SM3, so the carriers' block copier can feed the hash."""

    def __init__(self) -> None:
        self.hash = hashes.Hash(hashes.SM3())

    def writable(self) -> bool:
        return True

    def write(self, block: Any) -> int:
        self.hash.update(bytes(block))
        return len(block)


def _png_digest(src: BinaryIO) -> ContentDigest:
    sink = _Sink()
    for chunk in png_carrier._walk(src).chunks:
        if chunk.type in _PNG_IMAGE_CHUNKS:
            sink.write(chunk.type + chunk.length.to_bytes(4, "big"))
            copy_range(src, cast(BinaryIO, sink), chunk.offset + 8, chunk.length)
    return ContentDigest("png-image-chunks", sink.hash.finalize())


def _jpeg_digest(src: BinaryIO) -> ContentDigest:
    """Header segments other than metadata, then everything from the first scan on."""
    sink = _Sink()
    src.seek(0)
    for seg in jpeg_carrier._segments(src):
        if seg.marker not in _JPEG_METADATA:
            sink.write(b"\xff" + seg.raw.lstrip(b"\xff"))  # without fill bytes (B.1.1.2)
    shutil.copyfileobj(src, sink, COPY_BLOCK)
    return ContentDigest("jpeg-image-segments", sink.hash.finalize())


def _pixel_digest(src: BinaryIO) -> ContentDigest:
    h = hashes.Hash(hashes.SM3())
    try:
        with Image.open(src) as image:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= MAX_FRAMES:
                    raise MalformedFile(f"image has more than {MAX_FRAMES} frames")
                # A palette index means nothing without its palette: hash the colours.
                pixels = frame.convert("RGBA") if frame.mode in ("P", "PA") else frame
                h.update(f"{index}:{pixels.mode}:{pixels.width}x{pixels.height}:".encode())
                h.update(pixels.tobytes())
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedFormat(f"content digest: cannot decode the image: {exc}") from None
    return ContentDigest("decoded-pixels", h.finalize())


def _packet_digest(src: BinaryIO) -> ContentDigest:
    """Audio and video: the coded packets of every media stream, as the demuxer hands
    them out. Tags, cover pictures and codec headers (where Vorbis and Opus keep their
    comments) are metadata and stay out; packet bytes do not depend on the decoder."""
    import av
    from av.stream import Disposition

    streams: list[bytes] = []
    try:
        with av.open(src, mode="r") as container:
            media = [s for s in container.streams
                     if s.type in ("audio", "video")
                     and not s.disposition & Disposition.attached_pic]
            if not media:
                raise UnsupportedFormat("content digest: no audio or video stream")
            hashes_by_stream = {s.index: hashes.Hash(hashes.SM3()) for s in media}
            for packet in container.demux(media):
                h = hashes_by_stream.get(packet.stream.index)
                if h is not None and packet.size:
                    h.update(bytes(packet))
            for stream in media:
                streams.append(f"{stream.type}:{stream.codec_context.name}:".encode()
                               + hashes_by_stream[stream.index].finalize())
    except av.FFmpegError as exc:
        raise MalformedFile(f"content digest: cannot demux the media: {exc}") from None
    return ContentDigest("av-packets", _sm3(*streams))


_METHODS = {"png-image-chunks": _png_digest, "jpeg-image-segments": _jpeg_digest,
            "decoded-pixels": _pixel_digest, "av-packets": _packet_digest}
# Carriers whose media data is audio or video packets (the others are images).
_PACKET_CARRIERS = frozenset({"wav", "flac", "mp3", "ogg", "mp4", "matroska", "avi", "flv"})


def content_digest(src: str | os.PathLike[str] | BinaryIO,
                   method: str | None = None) -> ContentDigest:
    """The digest of `src`'s media data; `method` (from a binding) forces one method,
    None picks the exact stream method for PNG and JPEG and pixels for other images.
    Raises `MalformedFile` for a broken container, `UnsupportedFormat` otherwise."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return content_digest(f, method)
    head = src.read(SNIFF_BYTES)
    src.seek(0)
    if method is None:
        carrier = detect(head, Path(getattr(src, "name", "") or "media"))
        method = ("png-image-chunks" if png_carrier.sniff(head) else
                  "jpeg-image-segments" if jpeg_carrier.sniff(head) else
                  "av-packets" if carrier is not None and carrier.NAME in _PACKET_CARRIERS
                  else "decoded-pixels")
    digest = _METHODS.get(method)
    if digest is None:
        raise UnsupportedFormat(f"content digest method {method!r} is unknown")
    return digest(src)


__all__ = ["MAX_FRAMES", "ContentDigest", "content_digest"]
