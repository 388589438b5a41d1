"""Ogg Vorbis and Ogg Opus: the label as `AIGC=<json>` in the comment header packet.

The comment header is the second packet of a logical stream (`\\x03vorbis` + comments +
framing bit, or `OpusTags` + comments + optional extra data). A new comment changes
its length, so the header packets are laid out into new pages (identification packet
alone on the BOS page, then comment and, for Vorbis, setup) with fresh segment tables,
sequence numbers and CRCs. Every audio page after them keeps its payload, flags and
granule position byte for byte; only its sequence number shifts by the change in
header page count, and its CRC is recomputed.

Chained files (one link after another) are handled link by link: the first link gets
the label, later links lose any AIGC comment. Multiplexed files (interleaved streams,
e.g. Theora video with Vorbis audio) are read but refused for writing.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import vorbiscomment
from synthguard.labels.carriers.base import Site, seekable, stream_size
from synthguard.labels.carriers.vorbiscomment import VorbisComment

NAME = "ogg"
EXTENSIONS = (".ogg", ".oga", ".opus")
WRITABLE = True

CAPTURE = b"OggS"
CONTINUED, BOS, EOS = 0x01, 0x02, 0x04
HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, n
NO_PACKET_ENDS = -1  # granule of a page on which no packet finishes (RFC 3533 §6)
MAX_HEADER_PACKET = 64 * 1024 * 1024  # comment headers carry cover art, but not this much
MAX_HEADER_PAGES = 32768  # that much in 4 KiB pages (mutagen's size) with room to spare
MAX_UNSEEKABLE_BYTES = 256 * 1024 * 1024

# codec -> (identification prefix, comment prefix, number of header packets)
CODECS = {
    "vorbis": (b"\x01vorbis", b"\x03vorbis", 3),
    "opus": (b"OpusHead", b"OpusTags", 2),
}


@dataclass(frozen=True)
class Page:
    offset: int
    flags: int
    granule: int
    serial: int
    seq: int
    crc: int
    lacing: bytes

    @property
    def body_offset(self) -> int:
        return self.offset + HEADER.size + len(self.lacing)

    @property
    def end(self) -> int:
        return self.body_offset + sum(self.lacing)


@dataclass
class Packets:
    """Reassembles the packets of one logical stream from its pages' segments."""

    what: str
    done: list[bytes] = field(default_factory=list)
    partial: bytearray = field(default_factory=bytearray)
    open_packet: bool = False

    def feed(self, page: Page, body: bytes) -> None:
        if page.flags & CONTINUED and not self.open_packet:
            raise MalformedFile(f"{self.what}: page at offset {page.offset} continues a "
                                "packet that was never started")
        if self.open_packet and not page.flags & CONTINUED:
            raise MalformedFile(f"{self.what}: page at offset {page.offset} drops an "
                                "unfinished packet")
        pos = 0
        for lace in page.lacing:
            self.partial += body[pos:pos + lace]
            pos += lace
            if len(self.partial) > MAX_HEADER_PACKET:
                raise MalformedFile(f"{self.what}: header packet over {MAX_HEADER_PACKET} bytes")
            if lace < 255:
                self.done.append(bytes(self.partial))
                self.partial.clear()
        self.open_packet = bool(page.lacing) and page.lacing[-1] == 255


def sniff(head: bytes) -> bool:
    return head.startswith(CAPTURE)


def read(src: BinaryIO) -> list[Site]:
    """Walk every page header (bodies only of header pages) so that every stream and
    every chain link is seen; comment headers of Vorbis and Opus streams are parsed."""
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "Ogg stream")
    size = stream_size(src)
    if size == 0:
        raise MalformedFile("empty Ogg file")
    found: list[Site] = []
    open_streams: dict[int, Packets | None] = {}  # serial -> packets, None when done
    for page in _pages(src, size):
        if page.flags & BOS:
            open_streams[page.serial] = Packets(f"Ogg stream {page.serial:#010x}")
        elif page.serial not in open_streams:
            raise MalformedFile(f"Ogg page at offset {page.offset} belongs to stream "
                                f"{page.serial:#010x}, which has no BOS page")
        packets = open_streams[page.serial]
        if packets is None:
            continue
        packets.feed(page, _body(src, page))
        codec = _codec(packets.done[0]) if packets.done else None
        if packets.done and codec is None:
            open_streams[page.serial] = None  # not a codec that carries our label
        elif codec is not None and len(packets.done) >= 2:
            comment = _parse_comment(codec, packets.done[1], packets.what)
            found += vorbiscomment.sites(comment, f"{packets.what} ({codec}) comment header")
            open_streams[page.serial] = None
    return found


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "Ogg stream")
    size = stream_size(src)
    pages = _pages(src, size)
    value: str | None = label.to_json()
    page = next(pages, None)
    if page is None:
        raise MalformedFile("empty Ogg file")
    while page is not None:
        page = _write_link(src, dst, page, pages, value)
        value = None  # later chain links keep their audio but lose any AIGC comment


def _write_link(src: BinaryIO, dst: BinaryIO, first: Page, pages: Iterator[Page],
                value: str | None) -> Page | None:
    """Copy one chain link with its comment set to `value` (None: AIGC removed);
    return the first page of the next link, if any."""
    if not first.flags & BOS:
        raise MalformedFile(f"Ogg page at offset {first.offset} should begin a stream (BOS)")
    packets = Packets(f"Ogg stream {first.serial:#010x}")
    header_pages: list[tuple[Page, bytes]] = []
    codec = None
    page: Page | None = first
    while page is not None:
        _same_stream(first, page, header_pages)
        if len(header_pages) >= MAX_HEADER_PAGES:
            raise MalformedFile(f"{packets.what}: header packets span more than "
                                f"{MAX_HEADER_PAGES} pages")
        body = _body(src, page)
        header_pages.append((page, body))
        packets.feed(page, body)
        codec = _codec(packets.done[0]) if packets.done else None
        if packets.done and codec is None:
            raise UnsupportedFormat(f"Ogg unsupported for writing: stream "
                                    f"{first.serial:#010x} is neither Vorbis nor Opus")
        if codec is not None and len(packets.done) >= CODECS[codec][2]:
            break
        if page.flags & EOS:
            raise MalformedFile(f"{packets.what} ends inside its header packets")
        page = next(pages, None)
    if codec is None or page is None:
        raise MalformedFile(f"truncated Ogg: {packets.what} ends inside its header packets")
    if len(packets.done) != CODECS[codec][2] or packets.open_packet:
        raise UnsupportedFormat(f"Ogg unsupported for writing: audio data shares the last "
                                f"header page of {packets.what}")

    old = _parse_comment(codec, packets.done[1], packets.what)
    new = old.with_label(value)
    if new == old:
        new_pages = [_page_bytes(p, b) for p, b in header_pages]
    else:
        headers = list(packets.done)
        headers[1] = CODECS[codec][1] + new.to_bytes()
        new_pages = paginate(first.serial, first.seq, headers,
                             eos=bool(header_pages[-1][0].flags & EOS))
    for data in new_pages:
        dst.write(data)
    shift = len(new_pages) - len(header_pages)
    ended = bool(header_pages[-1][0].flags & EOS)
    for page in pages:
        if page.flags & BOS and ended:
            return page
        _same_stream(first, page, header_pages)
        if ended:
            raise MalformedFile(f"Ogg page at offset {page.offset} follows the end of "
                                f"{packets.what}")
        data = _page_bytes(page, _body(src, page))
        if shift:
            if ogg_crc(data[:22] + b"\0\0\0\0" + data[26:]) != page.crc:
                raise MalformedFile(f"Ogg page at offset {page.offset} has a bad CRC")
            data = _with_seq(data, page.seq + shift)  # wraps, as sequence numbers do
        dst.write(data)
        ended = bool(page.flags & EOS)
    return None


def _same_stream(first: Page, page: Page, earlier: list[tuple[Page, bytes]]) -> None:
    if page.serial != first.serial or (page.flags & BOS and earlier):
        raise UnsupportedFormat(f"Ogg unsupported for writing: multiplexed streams "
                                f"(stream {page.serial:#010x} at offset {page.offset} "
                                f"interleaves with stream {first.serial:#010x})")


# --- pages ------------------------------------------------------------------------------


def paginate(serial: int, first_seq: int, packets: list[bytes], *, eos: bool) -> list[bytes]:
    """Lay header packets into pages: the identification packet alone on the BOS page
    (both codecs require it), the rest packed into pages of up to 255 segments, the
    last one closing at a packet boundary so that audio starts on a fresh page."""
    pages: list[bytes] = []
    for group in ([packets[0]], packets[1:]):
        lacing: list[int] = []
        for packet in group:
            lacing += [255] * (len(packet) // 255) + [len(packet) % 255]
        data = b"".join(group)
        pos = 0
        continued = False
        for start in range(0, len(lacing), 255):
            seg = lacing[start:start + 255]
            body = data[pos:pos + sum(seg)]
            pos += sum(seg)
            flags = (CONTINUED if continued else 0) | (BOS if not pages else 0)
            granule = 0 if any(lace < 255 for lace in seg) else NO_PACKET_ENDS
            pages.append(_build_page(flags, granule, serial, first_seq + len(pages),
                                     bytes(seg), body))
            continued = seg[-1] == 255
    if eos:
        last = bytearray(pages[-1])
        last[5] |= EOS
        pages[-1] = _with_seq(bytes(last), first_seq + len(pages) - 1)
    return pages


def _build_page(flags: int, granule: int, serial: int, seq: int, lacing: bytes,
                body: bytes) -> bytes:
    head = HEADER.pack(CAPTURE, 0, flags, granule, serial, seq & 0xFFFFFFFF, 0, len(lacing))
    page = head + lacing + body
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def _with_seq(page: bytes, seq: int) -> bytes:
    """The page with a new sequence number and its CRC recomputed."""
    blank = page[:18] + struct.pack("<I", seq & 0xFFFFFFFF) + b"\0\0\0\0" + page[26:]
    return blank[:22] + struct.pack("<I", ogg_crc(blank)) + blank[26:]


def _page_bytes(page: Page, body: bytes) -> bytes:
    head = HEADER.pack(CAPTURE, 0, page.flags, page.granule, page.serial, page.seq, page.crc,
                       len(page.lacing))
    return head + page.lacing + body


def _pages(src: BinaryIO, size: int) -> Iterator[Page]:
    """Page headers in file order, each checked against the file size; bodies unread."""
    pos = 0
    while pos < size:
        src.seek(pos)
        head = src.read(HEADER.size)
        if len(head) < HEADER.size:
            raise MalformedFile(f"truncated Ogg: page header at offset {pos} is cut short")
        capture, version, flags, granule, serial, seq, crc, count = HEADER.unpack(head)
        if capture != CAPTURE:
            raise MalformedFile(f"no Ogg page at offset {pos} (capture pattern missing)")
        if version != 0:
            raise MalformedFile(f"Ogg page at offset {pos} has unknown version {version}")
        lacing = src.read(count)
        page = Page(pos, flags, granule, serial, seq, crc, lacing)
        if len(lacing) < count or page.end > size:
            raise MalformedFile(f"truncated Ogg: page at offset {pos} needs "
                                f"{page.end - pos} bytes, file ends at {size}")
        yield page
        pos = page.end


def _body(src: BinaryIO, page: Page) -> bytes:
    src.seek(page.body_offset)
    body = src.read(page.end - page.body_offset)
    if len(body) != page.end - page.body_offset:
        raise MalformedFile(f"Ogg page at offset {page.offset} changed while reading")
    return body


# The Ogg CRC is CRC-32 with polynomial 0x04C11DB7, MSB first, zero initial value and no
# final XOR. zlib's CRC uses the same polynomial bit-reflected with 0xFFFFFFFF pre- and
# post-conditioning; reflecting every input byte and the result, and cancelling the
# conditioning with the CRC of as many zero bytes, gives the Ogg CRC at C speed.
_REFLECT = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    raw = zlib.crc32(data.translate(_REFLECT)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{raw:032b}"[::-1], 2)


# --- codec headers ----------------------------------------------------------------------


def _codec(identification: bytes) -> str | None:
    return next((name for name, (ident, _, _) in CODECS.items()
                 if identification.startswith(ident)), None)


def _parse_comment(codec: str, packet: bytes, what: str) -> VorbisComment:
    prefix = CODECS[codec][1]
    if not packet.startswith(prefix):
        raise MalformedFile(f"{what}: second header packet is not a {codec} comment header")
    return vorbiscomment.parse(packet[len(prefix):], f"{what} comment header")

