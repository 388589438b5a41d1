"""WebP: the label as XMP `TC260:AIGC` in the RIFF `XMP ` chunk.

Read sites: every `XMP ` chunk, and EXIF `UserComment` in the `EXIF` chunk (image guide
Annex B lists it for WebP too).

Write: the packet is merged into the first `XMP ` chunk, which goes last, where the
container spec orders it (VP8X, ICCP, ANIM, image data, EXIF, XMP). A simple-format file
(a lone VP8 or VP8L chunk) cannot carry metadata, so it becomes extended format: a VP8X
chunk with the canvas size read from the bitstream header is put in front. A label in
UserComment is neutralized in place. Every other chunk, image data and ANMF frames
included, is copied byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers.base import Site, read_bounded, xmp_sites
from synthguard.labels.carriers.tiff import TiffView, find_user_comment, neutral_comment

NAME = "webp"
EXTENSIONS = (".webp",)
WRITABLE = True

# VP8X flag bits (WebP container spec, "Extended File Format").
ICC_FLAG, ALPHA_FLAG, EXIF_FLAG, XMP_FLAG = 0x20, 0x10, 0x08, 0x04
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_CHUNKS = 100_000
EXIF_PREFIX = b"Exif\x00\x00"  # not in the spec, but some writers put it before the TIFF header


@dataclass(frozen=True)
class Chunk:
    fourcc: bytes
    at: int  # offset of the chunk header in the file
    payload: bytes

    def raw(self) -> bytes:
        """The chunk as it must be written: header, payload, zero pad to an even size."""
        return self.fourcc + struct.pack("<I", len(self.payload)) + self.payload + \
            b"\x00" * (len(self.payload) & 1)


def sniff(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _chunks(data: bytes) -> tuple[list[Chunk], bytes]:
    """The chunks inside the RIFF, and any bytes after it (kept as they are)."""
    if len(data) < 12 or not sniff(data):
        raise MalformedFile("not a WebP file: no RIFF/WEBP header")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if riff_size < 4 or end > len(data):
        raise MalformedFile(f"WebP RIFF declares {riff_size} bytes, file holds {len(data) - 8}")
    chunks: list[Chunk] = []
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise MalformedFile(f"WebP: truncated chunk header at offset {pos}")
        if len(chunks) >= MAX_CHUNKS:
            raise MalformedFile(f"WebP has more than {MAX_CHUNKS} chunks")
        fourcc, (size,) = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)
        if size > end - pos - 8:
            raise MalformedFile(f"WebP chunk {fourcc!r} at offset {pos} declares {size} "
                                f"bytes, the RIFF holds {end - pos - 8}")
        chunks.append(Chunk(fourcc, pos, data[pos + 8:pos + 8 + size]))
        # The pad byte of an odd last chunk is sometimes missing; the size is still honest.
        pos += 8 + size + (size & 1)
    return chunks, data[end:]


def _exif(chunk: Chunk) -> tuple[TiffView, int]:
    """The TIFF structure of an EXIF chunk and its offset within the payload."""
    base = len(EXIF_PREFIX) if chunk.payload.startswith(EXIF_PREFIX) else 0
    return TiffView(chunk.payload[base:], f"WebP EXIF chunk at offset {chunk.at}"), base


def _exif_labels(chunk: Chunk) -> list[tuple[int, int, Site]]:
    """(payload offset, size, site) of each label UserComment in an EXIF chunk."""
    view, base = _exif(chunk)
    ifd0 = next(view.chain(), None)
    if ifd0 is None:
        return []
    return [(base + c.value_at, c.size,
             Site("exif:UserComment",
                  f"WebP EXIF chunk UserComment at offset {chunk.at + 8 + base + c.value_at}",
                  c.text, list(c.findings)))
            for c in find_user_comment(view, ifd0)]


def read(src: BinaryIO) -> list[Site]:
    chunks, _ = _chunks(read_bounded(src, MAX_FILE_BYTES, "WebP file"))
    sites: list[Site] = []
    for chunk in chunks:
        if chunk.fourcc == b"XMP ":
            sites += xmp_sites(chunk.payload, f"WebP XMP chunk at offset {chunk.at}")
        elif chunk.fourcc == b"EXIF":
            sites += [site for _, _, site in _exif_labels(chunk)]
    return sites


def canvas(chunk: Chunk) -> tuple[int, int, bool]:
    """(width, height, alpha) from a simple file's VP8 or VP8L bitstream header."""
    p = chunk.payload
    if chunk.fourcc == b"VP8 ":
        # RFC 6386 §9.1: 3-byte frame tag (bit 0 clear on a key frame), start code
        # 9D 01 2A, then 14-bit width and height (the top two bits are scaling).
        if len(p) < 10 or p[0] & 1 or p[3:6] != b"\x9d\x01\x2a":
            raise MalformedFile("WebP VP8 chunk does not start with a key frame header")
        width, height = struct.unpack_from("<HH", p, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    # WebP lossless spec §3.2: signature 0x2F, then 14 bits width-1, 14 bits height-1,
    # 1 bit alpha_is_used, 3 bits version.
    if len(p) < 5 or p[0] != 0x2F:
        raise MalformedFile("WebP VP8L chunk lacks the 0x2F signature")
    (bits,) = struct.unpack_from("<I", p, 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)


def _vp8x(chunks: list[Chunk]) -> tuple[Chunk, list[Chunk]]:
    """The VP8X chunk with the XMP flag set (made for a simple file), and the rest."""
    first = chunks[0]
    if first.fourcc == b"VP8X":
        if len(first.payload) < 10:
            raise MalformedFile(f"WebP VP8X chunk is {len(first.payload)} bytes, expected 10")
        payload = bytes([first.payload[0] | XMP_FLAG]) + first.payload[1:]
        return Chunk(b"VP8X", first.at, payload), chunks[1:]
    if first.fourcc not in (b"VP8 ", b"VP8L"):
        raise UnsupportedFormat(f"WebP unsupported for writing: the first chunk is "
                                f"{first.fourcc!r}, not VP8X, VP8 or VP8L")
    width, height, alpha = canvas(first)
    if not (width and height):
        raise MalformedFile("WebP bitstream declares a zero-sized canvas")
    kinds = {c.fourcc for c in chunks}
    # A simple file should hold no ICCP or EXIF; if one does, the flag tells readers.
    flags = (XMP_FLAG | (ALPHA_FLAG if alpha else 0) | (ICC_FLAG if b"ICCP" in kinds else 0)
             | (EXIF_FLAG if b"EXIF" in kinds else 0))
    payload = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + \
        (height - 1).to_bytes(3, "little")
    return Chunk(b"VP8X", -1, payload), chunks


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    chunks, trailing = _chunks(read_bounded(src, MAX_FILE_BYTES, "WebP file"))
    if not chunks:
        raise MalformedFile("WebP holds no chunks")
    vp8x, rest = _vp8x(chunks)
    xmps = [c for c in rest if c.fourcc == b"XMP "]
    packet = xmp.set_aigc(xmps[0].payload if xmps else None, label.to_json(), padding=0)
    out = [vp8x.raw()]
    for chunk in rest:
        if chunk.fourcc == b"EXIF" and (labels := _exif_labels(chunk)):
            exif = bytearray(chunk.payload)
            for at, size, _ in labels:
                exif[at:at + size] = neutral_comment(size)
            out.append(Chunk(chunk.fourcc, chunk.at, bytes(exif)).raw())
        elif chunk.fourcc != b"XMP ":
            out.append(chunk.raw())
    out.append(Chunk(b"XMP ", -1, packet).raw())
    # A second XMP chunk is outside the spec; it stays unless it would be a second label.
    for extra in xmps[1:]:
        payload = xmp.remove_aigc(extra.payload) if xmp_sites(extra.payload, "") else extra.payload
        out.append(Chunk(extra.fourcc, extra.at, payload).raw())
    riff = b"WEBP" + b"".join(out)
    if len(riff) > 0xFFFFFFFF - 8:
        raise UnsupportedFormat("WebP unsupported for writing: the labeled file would exceed "
                                "the 4 GiB RIFF size limit")
    dst.write(b"RIFF" + struct.pack("<I", len(riff)) + riff + trailing)
