"""PNG and APNG: the label as XMP `TC260:AIGC` in an `iTXt` chunk `XML:com.adobe.xmp`.

The image guide (TC260-PG-20259A) puts the label in the XMP packet; its Annex B also
shows a `tEXt` chunk with keyword `AIGC` holding `{"AIGC":{...}}`, and writers use
`zTXt`/`iTXt` with that keyword too, so the reader reports all of them. The writer keeps
one label only (GB 45438 §6.1 c): it merges into the existing XMP chunk and drops the
keyword chunks.

The file is walked chunk by chunk with seeks, so IDAT/fdAT data is never read into
memory on `read` and is copied verbatim on `write`. Only text chunks with the XMP or
AIGC keyword are loaded, bounded, and inflated with an output cap (a zlib bomb cannot
exhaust memory).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site, copy_range, seekable, xmp_sites
from synthguard.labels.xmp import MAX_PACKET_BYTES, find_aigc, set_aigc

NAME = "png"
EXTENSIONS = (".png", ".apng")
WRITABLE = True

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = "XML:com.adobe.xmp"
# Older ImageMagick stores XMP hex-encoded under this keyword; exiftool reads it too.
RAW_XMP_KEYWORD = "Raw profile type xmp"
LABEL_KEYWORD = "AIGC"
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")
# The first chunk that carries a frame: the label goes before it. In an APNG whose
# default image is the first frame, fcTL precedes IDAT.
FRAME_TYPES = (b"IDAT", b"fcTL", b"fdAT")

MAX_CHUNK_LENGTH = 2**31 - 1  # PNG spec: lengths are limited to 2^31-1
MAX_CHUNKS = 1_000_000  # far more than any real file; a guard against 12-byte chunk spam
MAX_TEXT_BYTES = MAX_PACKET_BYTES  # a label chunk, stored or inflated
MAX_KEYWORD = 79
MAX_UNSEEKABLE_BYTES = 1 << 30


@dataclass(frozen=True)
class Chunk:
    type: bytes
    offset: int  # of the length field
    length: int

    @property
    def end(self) -> int:
        return self.offset + 12 + self.length

    @property
    def name(self) -> str:
        return self.type.decode("ascii")


@dataclass(frozen=True)
class TextChunk:
    """A tEXt/zTXt/iTXt chunk whose keyword makes it a label carrier."""

    chunk: Chunk
    index: int  # position in the chunk list
    keyword: str
    text: bytes  # inflated; Latin-1 for tEXt/zTXt, UTF-8 for iTXt
    compressed: bool
    crc_ok: bool
    packet: bytes | None  # the XMP packet, for the XMP and raw-profile chunks

    @property
    def is_xmp(self) -> bool:
        return self.packet is not None


@dataclass(frozen=True)
class Layout:
    chunks: list[Chunk]
    end: int  # offset after IEND; anything beyond is trailing data, kept on write
    size: int


def sniff(head: bytes) -> bool:
    return head.startswith(SIGNATURE)


def read(src: BinaryIO) -> list[Site]:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "PNG stream")
    layout = _walk(src)
    first_idat = next((i for i, c in enumerate(layout.chunks) if c.type == b"IDAT"),
                      len(layout.chunks))
    sites: list[Site] = []
    for text in _label_chunks(src, layout):
        c = text.chunk
        findings: list[Finding] = []
        if not text.crc_ok:
            findings.append(Finding(
                "bad-crc", "error",
                f"{c.name} chunk CRC does not match; decoders such as libpng discard it"))
        if text.index > first_idat:
            findings.append(Finding(
                "after-idat", "warning",
                f"{c.name} chunk follows the image data; readers that stop at IDAT miss it"))
        where = f"{c.name} chunk {text.keyword!r} at offset {c.offset}"
        if text.packet is not None:
            if text.keyword == RAW_XMP_KEYWORD:
                findings.append(Finding(
                    "xmp-raw-profile", "info",
                    f"XMP is an ImageMagick raw profile, not the iTXt {XMP_KEYWORD!r} "
                    "chunk of the XMP specification"))
            elif text.compressed:
                findings.append(Finding(
                    "compressed-xmp", "info",
                    "XMP iTXt chunk is compressed; the XMP specification stores it plain"))
            sites.extend(xmp_sites(text.packet, where, findings))
        else:
            if text.keyword != LABEL_KEYWORD:
                findings.append(Finding(
                    "keyword-case", "warning",
                    f"keyword is {text.keyword!r}; the image guide uses {LABEL_KEYWORD!r}"))
            raw, charset = _text_value(text)
            if charset is not None:
                findings.append(charset)
            sites.append(Site(f"png:{c.name}", where, raw, findings))
    return sites


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "PNG stream")
    layout = _walk(src)
    texts = _label_chunks(src, layout)
    # Merge into the packet that already holds the label, else the first one (standard
    # chunks before raw profiles), so the other properties of that packet survive.
    xmps = sorted((t for t in texts if t.packet is not None),
                  key=lambda t: t.keyword == RAW_XMP_KEYWORD)
    holding = [t for t in xmps if find_aigc(t.packet or b"")]
    base = (holding or xmps)[0] if xmps else None
    holding_at = {t.index for t in holding}
    packet = set_aigc(base.packet if base else None, label.to_json())
    new_chunk = _chunk(b"iTXt", XMP_KEYWORD.encode("latin-1") + b"\x00\x00\x00\x00\x00"
                       + packet)

    # Every other carrier of AIGC goes: the keyword chunks and any further XMP packet
    # holding an AIGC property, so exactly one label remains.
    dropped = {t.index for t in texts if not t.is_xmp or t.index in holding_at}
    first_frame = next((i for i, c in enumerate(layout.chunks) if c.type in FRAME_TYPES),
                       None)
    if first_frame is None:
        raise MalformedFile("PNG has no IDAT chunk")
    # The label belongs in the file header: an XMP chunk after the image data moves up.
    insert_at = first_frame
    if base is not None:
        insert_at = min(base.index, first_frame)
        dropped.add(base.index)

    dst.write(SIGNATURE)
    for i, c in enumerate(layout.chunks):
        if i == insert_at:
            dst.write(new_chunk)
        if i not in dropped:
            copy_range(src, dst, c.offset, c.end - c.offset)
    copy_range(src, dst, layout.end, layout.size - layout.end)




# --- chunk walking ----------------------------------------------------------------------




def _walk(src: BinaryIO) -> Layout:
    size = src.seek(0, io.SEEK_END)
    src.seek(0)
    if src.read(8) != SIGNATURE:
        raise MalformedFile("not a PNG file: signature missing")
    chunks: list[Chunk] = []
    pos = 8
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise MalformedFile(f"PNG has more than {MAX_CHUNKS} chunks")
        src.seek(pos)
        head = src.read(8)
        if len(head) < 8:
            raise MalformedFile(f"truncated PNG: chunk header expected at offset {pos}")
        length, ctype = struct.unpack(">I4s", head)
        if length > MAX_CHUNK_LENGTH:
            raise MalformedFile(f"PNG chunk at offset {pos} declares length {length}, "
                                f"over the 2^31-1 limit")
        if not ctype.isalpha() or not ctype.isascii():
            raise MalformedFile(f"PNG chunk at offset {pos} has invalid type {ctype!r}")
        chunk = Chunk(ctype, pos, length)
        if chunk.end > size:
            raise MalformedFile(f"truncated PNG: {chunk.name} chunk at offset {pos} needs "
                                f"{length + 12} bytes, file ends at {size}")
        if not chunks and (ctype != b"IHDR" or length != 13):
            raise MalformedFile("PNG does not start with a 13-byte IHDR chunk")
        chunks.append(chunk)
        pos = chunk.end
        if ctype == b"IEND":
            return Layout(chunks, pos, size)


def _read_data(src: BinaryIO, c: Chunk, limit: int) -> bytes:
    src.seek(c.offset + 8)
    data = src.read(min(c.length, limit))
    if len(data) < min(c.length, limit):
        raise MalformedFile(f"PNG {c.name} chunk at offset {c.offset} changed while reading")
    return data


def _label_chunks(src: BinaryIO, layout: Layout) -> list[TextChunk]:
    """The text chunks whose keyword is AIGC (any case) or the XMP keyword, loaded."""
    found: list[TextChunk] = []
    for index, c in enumerate(layout.chunks):
        if c.type not in TEXT_TYPES:
            continue
        head = _read_data(src, c, MAX_KEYWORD + 1)
        keyword = head.split(b"\x00", 1)[0].decode("latin-1")
        standard_xmp = c.type == b"iTXt" and keyword == XMP_KEYWORD
        wanted = standard_xmp or keyword.upper() == LABEL_KEYWORD or keyword == RAW_XMP_KEYWORD
        if not wanted:
            continue
        if c.length > MAX_TEXT_BYTES:
            raise MalformedFile(f"{c.name} chunk {keyword!r} at offset {c.offset} is "
                                f"{c.length} bytes, limit {MAX_TEXT_BYTES}")
        data = _read_data(src, c, c.length)
        src.seek(c.offset + 8 + c.length)
        crc_ok = src.read(4) == struct.pack(">I", zlib.crc32(c.type + data))
        text, compressed = _text_payload(c, data, len(keyword))
        packet = (text if standard_xmp else
                  _raw_profile(text, c) if keyword == RAW_XMP_KEYWORD else None)
        found.append(TextChunk(c, index, keyword, text, compressed, crc_ok, packet))
    return found


def _text_payload(c: Chunk, data: bytes, klen: int) -> tuple[bytes, bool]:
    """The text of a keyword chunk, inflated; (text, was_compressed)."""
    if len(data) <= klen:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset} has no keyword separator")
    rest = data[klen + 1:]
    if c.type == b"tEXt":
        return rest, False
    if c.type == b"zTXt":
        if not rest or rest[0] != 0:
            raise MalformedFile(f"zTXt chunk at offset {c.offset}: unknown compression method")
        return _inflate(rest[1:], c), True
    # iTXt: flag, method, language tag NUL, translated keyword NUL, text
    if len(rest) < 2:
        raise MalformedFile(f"iTXt chunk at offset {c.offset} is truncated")
    flag, method = rest[0], rest[1]
    parts = rest[2:].split(b"\x00", 2)
    if len(parts) < 3:
        raise MalformedFile(f"iTXt chunk at offset {c.offset}: language tag or translated "
                            "keyword is not terminated")
    body = parts[2]
    if flag == 0:
        return body, False
    if flag != 1 or method != 0:
        raise MalformedFile(f"iTXt chunk at offset {c.offset}: unknown compression "
                            f"flag {flag} / method {method}")
    return _inflate(body, c), True


def _inflate(data: bytes, c: Chunk) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT_BYTES + 1)
    except zlib.error as exc:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset}: bad zlib data ({exc})"
                            ) from None
    if len(out) > MAX_TEXT_BYTES:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset} inflates to more than "
                            f"{MAX_TEXT_BYTES} bytes")
    if not inflater.eof:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset}: zlib stream is truncated")
    return out


def _raw_profile(text: bytes, c: Chunk) -> bytes:
    """ImageMagick's raw profile: "\\n<type>\\n<spaces><length>\\n<hex digits, in lines>"."""
    parts = text.split(None, 2)
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) > MAX_TEXT_BYTES:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset}: malformed raw profile header")
    try:
        data = bytes.fromhex(b"".join(parts[2].split()).decode("ascii"))
    except ValueError:
        raise MalformedFile(f"{c.name} chunk at offset {c.offset}: raw profile is not hex"
                            ) from None
    if len(data) != int(parts[1]):
        raise MalformedFile(f"{c.name} chunk at offset {c.offset}: raw profile holds "
                            f"{len(data)} bytes, its header says {int(parts[1])}")
    return data


def _text_value(text: TextChunk) -> tuple[str, Finding | None]:
    """The stored string; tEXt/zTXt are Latin-1 by definition, iTXt is UTF-8."""
    if text.chunk.type != b"iTXt":
        return text.text.decode("latin-1"), None
    try:
        return text.text.decode("utf-8"), None
    except UnicodeDecodeError:
        return text.text.decode("utf-8", errors="replace"), Finding(
            "encoding", "error", "iTXt text is not valid UTF-8")


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data)))

