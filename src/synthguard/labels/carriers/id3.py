"""ID3v2 tags (v2.2, v2.3, v2.4): find and set the `TXXX` frame described `AIGC`.

The audio guide (TC260-PG-202510A) puts the label in a user text frame (TXXX, TXX in
v2.2) whose description is AIGC and whose value is the bare JSON. Frames other than
the label are kept byte for byte, in order, in the tag version the file already has.
An XMP packet in a `PRIV` frame keeps everything but its AIGC property. Otherwise
what is rewritten is bookkeeping only: sizes, padding, and two features whose data
would otherwise go stale: v2.2/v2.3 tag-wide unsynchronisation (the frames are stored
decoded, which every reader accepts) and the extended header (its CRC would no longer
match). A tag is parsed from memory; the caller bounds its size.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import Finding
from synthguard.labels.carriers.base import xmp_sites
from synthguard.labels.xmp import remove_aigc

LABEL_DESCRIPTION = "AIGC"
MAX_FRAME_TEXT = 16 * 1024 * 1024  # a compressed frame may not inflate past this
NEW_TAG_PADDING = 1024
MAX_FRAMES = 65536  # real tags hold tens to thousands; bounds the objects a tag can cost
# Tag flags (header byte 5).
UNSYNC, EXTENDED, EXPERIMENTAL, FOOTER = 0x80, 0x40, 0x20, 0x10
_FRAME_ID = re.compile(rb"[A-Z0-9]{3}[A-Z0-9\x00]")  # v2.2 names in v2.3 tags end in NUL
_ENCODINGS = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}


@dataclass(frozen=True)
class Frame:
    id: str
    flags: int  # the two format/status bytes (0 in v2.2)
    raw: bytes  # the frame as stored in the tag, header included
    header_size: int

    @property
    def data(self) -> bytes:
        return self.raw[self.header_size:]


@dataclass(frozen=True)
class Tag:
    offset: int  # of the "ID3" header in the file
    major: int
    revision: int
    flags: int
    size: int  # header + frames + padding (+ footer)
    frames: tuple[Frame, ...]
    plain_int_sizes: bool  # a v2.4 tag with v2.3-style frame sizes (old iTunes)

    @property
    def name(self) -> str:
        return f"ID3v2.{self.major} tag at offset {self.offset}"

    @property
    def compressed(self) -> bool:
        """v2.2 tag compression: no scheme was ever defined, so the frames are opaque."""
        return self.major == 2 and bool(self.flags & 0x40)


@dataclass(frozen=True)
class Text:
    """A decoded user text frame: description, value and encoding problems."""

    description: str
    value: str
    findings: tuple[Finding, ...]


def syncsafe(data: bytes) -> int:
    return (data[0] & 0x7F) << 21 | (data[1] & 0x7F) << 14 | (data[2] & 0x7F) << 7 | (
        data[3] & 0x7F)


def to_syncsafe(value: int) -> bytes:
    return bytes((value >> shift) & 0x7F for shift in (21, 14, 7, 0))


def tag_size(header: bytes, where: str) -> int:
    """Total size of a tag from its 10-byte header or footer, checking the fields."""
    if header[3] not in (2, 3, 4):
        raise MalformedFile(f"{where}: ID3v2.{header[3]} is not a known version")
    if any(b & 0x80 for b in header[6:10]):
        raise MalformedFile(f"{where}: ID3v2 tag size is not a sync-safe integer")
    footer = 10 if header[3] == 4 and header[5] & FOOTER else 0
    return 10 + syncsafe(header[6:10]) + footer


def parse(data: bytes, offset: int) -> Tag:
    """Parse a whole tag (`data` starts with its header and holds exactly the tag)."""
    where = f"ID3v2 tag at offset {offset}"
    if len(data) < 10 or not data.startswith(b"ID3"):
        raise MalformedFile(f"{where}: header missing")
    major, revision, flags = data[3], data[4], data[5]
    size = tag_size(data[:10], where)
    if len(data) != size:
        raise MalformedFile(f"{where}: declares {size} bytes, {len(data)} present")
    body = data[10:10 + syncsafe(data[6:10])]
    if major < 4 and flags & UNSYNC:
        body = body.replace(b"\xff\x00", b"\xff")
    if major == 2 and flags & 0x40:
        return Tag(offset, major, revision, flags, size, (), False)  # opaque: see .compressed
    start = _skip_extended_header(body, major, flags, where)
    # Old iTunes wrote v2.4 tags with v2.3 (plain) frame sizes; like mutagen, use the
    # reading under which the frames chain up cleanly.
    plain = major == 4 and not _walks_cleanly(body, start, plain=False) and _walks_cleanly(
        body, start, plain=True)
    frames = tuple(_frames(body, start, major, plain, where))
    return Tag(offset, major, revision, flags, size, frames, plain)


def _skip_extended_header(body: bytes, major: int, flags: int, where: str) -> int:
    if major == 2 or not flags & EXTENDED or len(body) < 4:
        return 0
    if _FRAME_ID.fullmatch(body[:4]):
        return 0  # some taggers set the flag without writing the header
    # v2.3 counts the size field out, v2.4 in (and makes it sync-safe).
    end = 4 + int.from_bytes(body[:4], "big") if major == 3 else syncsafe(body[:4])
    if end < 4 or end > len(body):
        raise MalformedFile(f"{where}: extended header size {end} does not fit the tag")
    return end


def _frame_header(major: int, plain: bool, body: bytes, pos: int) -> tuple[bytes, int, int, int]:
    """(id, data size, flags, header size) of the frame header at `pos`."""
    if major == 2:
        return body[pos:pos + 3], int.from_bytes(body[pos + 3:pos + 6], "big"), 0, 6
    raw_size = body[pos + 4:pos + 8]
    size = int.from_bytes(raw_size, "big") if major == 3 or plain else syncsafe(raw_size)
    return body[pos:pos + 4], size, int.from_bytes(body[pos + 8:pos + 10], "big"), 10


def _walks_cleanly(body: bytes, pos: int, *, plain: bool) -> bool:
    """Whether v2.4 frame sizes read this way chain frame to frame up to the padding."""
    while pos + 10 <= len(body) and body[pos] != 0:
        fid, size, _, head = _frame_header(4, plain, body, pos)
        if not _FRAME_ID.fullmatch(fid) or (not plain and any(b & 0x80 for b in body[
                pos + 4:pos + 8])):
            return False
        pos += head + size
    return pos <= len(body)


def _frames(body: bytes, pos: int, major: int, plain: bool, where: str) -> list[Frame]:
    frames: list[Frame] = []
    head = 6 if major == 2 else 10
    while pos + head <= len(body) and body[pos] != 0:
        if len(frames) >= MAX_FRAMES:
            raise MalformedFile(f"{where} has more than {MAX_FRAMES} frames")
        fid, size, flags, head = _frame_header(major, plain, body, pos)
        if not _FRAME_ID.fullmatch(fid.ljust(4, b"\x00")):
            break  # junk where padding should be: readers stop here too
        if pos + head + size > len(body):
            raise MalformedFile(f"{where}: frame {fid.decode('latin-1')!r} declares {size} "
                                f"bytes, only {len(body) - pos - head} remain in the tag")
        frames.append(Frame(fid.decode("ascii"), flags, body[pos:pos + head + size], head))
        pos += head + size
    return frames


def content(tag: Tag, frame: Frame) -> bytes | None:
    """A frame's content with grouping, encryption-method and length prefixes removed,
    unsynchronisation undone and zlib compression inflated; None if encrypted."""
    data = frame.data
    if tag.major == 3:
        compressed, encrypted = frame.flags & 0x0080, frame.flags & 0x0040
        prefix = (4 if compressed else 0) + (1 if encrypted else 0) + (
            1 if frame.flags & 0x0020 else 0)
    elif tag.major == 4:
        compressed, encrypted = frame.flags & 0x0008, frame.flags & 0x0004
        prefix = (1 if frame.flags & 0x0040 else 0) + (1 if encrypted else 0) + (
            4 if frame.flags & 0x0001 else 0)
    else:
        return data
    if len(data) < prefix:
        raise MalformedFile(f"{tag.name}: {frame.id} frame is shorter than its flags require")
    data = data[prefix:]
    if tag.major == 4 and (frame.flags & 0x0002 or tag.flags & UNSYNC):
        data = data.replace(b"\xff\x00", b"\xff")
    if encrypted:
        return None
    if compressed:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(data, MAX_FRAME_TEXT + 1)
        except zlib.error as exc:
            raise MalformedFile(f"{tag.name}: {frame.id} frame has bad zlib data ({exc})"
                                ) from None
        if len(data) > MAX_FRAME_TEXT or not inflater.eof:
            raise MalformedFile(f"{tag.name}: {frame.id} frame does not inflate cleanly "
                                f"within {MAX_FRAME_TEXT} bytes")
    return data


def user_text(tag: Tag, frame: Frame) -> Text | None:
    """The description and value of a TXXX/TXX frame; None for other or unreadable ones."""
    if frame.id not in ("TXXX", "TXX"):
        return None
    data = content(tag, frame)
    if not data:
        return None
    encoding = _ENCODINGS.get(data[0])
    if encoding is None:
        return Text("", "", (Finding("encoding", "error",
                                     f"TXXX frame has unknown text encoding {data[0]}"),))
    rest = data[1:]
    wide = data[0] in (1, 2)
    cut = _terminator(rest, wide)
    findings: list[Finding] = []
    description = _decode(rest[:cut], encoding, findings)
    value = _decode(rest[cut + (2 if wide else 1):] if cut < len(rest) else b"", encoding,
                    findings)
    return Text(description, value.rstrip("\x00"), tuple(findings))


def _terminator(data: bytes, wide: bool) -> int:
    if not wide:
        cut = data.find(b"\x00")
        return len(data) if cut < 0 else cut
    for i in range(0, len(data) - 1, 2):
        if data[i] == 0 and data[i + 1] == 0:
            return i
    return len(data)


def _decode(data: bytes, encoding: str, findings: list[Finding]) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        findings.append(Finding("encoding", "error", f"TXXX text is not valid {encoding}"))
        return data.decode(encoding, errors="replace")


def is_label(tag: Tag, frame: Frame) -> bool:
    text = user_text(tag, frame)
    return text is not None and text.description.strip().upper() == LABEL_DESCRIPTION


def xmp_packet(tag: Tag, frame: Frame) -> bytes | None:
    """The XMP packet of a `PRIV` frame owned by "XMP" (Adobe's way to put XMP in ID3)."""
    if frame.id != "PRIV":
        return None
    data = content(tag, frame)
    if data is None or not data.startswith(b"XMP\x00"):
        return None
    return data[4:]


def holds_label(tag: Tag) -> bool:
    """Whether the tag holds a label site: a TXXX:AIGC frame or an XMP AIGC property."""
    return any(is_label(tag, f) or _xmp_label(tag, f) is not None for f in tag.frames)


def _xmp_label(tag: Tag, frame: Frame) -> bytes | None:
    """The XMP packet of a PRIV frame if it holds an AIGC property."""
    packet = xmp_packet(tag, frame)
    return packet if packet is not None and xmp_sites(packet, "") else None


def encode_frame(tag: Tag, fid: str, data: bytes, status: int = 0) -> bytes:
    """A frame in the tag's version and size convention, without format flags (no
    compression, encryption or grouping): `data` is stored as it is."""
    if tag.major == 2:
        return fid.encode() + len(data).to_bytes(3, "big") + data
    plain = tag.major == 3 or tag.plain_int_sizes
    size = len(data).to_bytes(4, "big") if plain else to_syncsafe(len(data))
    return fid.encode() + size + bytes([status, 0]) + data


def label_frame(tag: Tag, value: str) -> bytes:
    """A TXXX (TXX) frame: encoding 0 (ISO-8859-1) suffices, the Annex E value is ASCII."""
    data = b"\x00" + LABEL_DESCRIPTION.encode() + b"\x00" + value.encode("latin-1")
    return encode_frame(tag, "TXX" if tag.major == 2 else "TXXX", data)


def build(tag: Tag | None, value: str | None) -> bytes:
    """The tag with its only label frame carrying `value` (None: label frames dropped,
    and the whole tag if nothing else is left).

    A new tag is ID3v2.3: the version that the widest range of players, file browsers
    and hardware decoders read; v2.4's additions buy nothing for an ASCII TXXX frame.
    The total size stays the same while the frames fit, so the audio does not move;
    otherwise the tag grows with fresh padding. An empty result means "no tag".
    """
    if tag is None:
        tag = Tag(-1, 3, 0, 0, 10, (), False)
    if tag.compressed:
        raise UnsupportedFormat(f"MP3 unsupported for writing: {tag.name} is compressed "
                                "(ID3v2.2 compression was never defined)")
    parts: list[bytes] = []
    for frame in tag.frames:
        packet = _xmp_label(tag, frame)
        if packet is not None:
            # The XMP stays, minus its AIGC property: one label per file (§6.1 c).
            parts.append(encode_frame(tag, frame.id, b"XMP\x00" + remove_aigc(packet),
                                      status=frame.flags >> 8))
        elif not is_label(tag, frame):
            parts.append(frame.raw)
        elif value is not None:
            parts.append(label_frame(tag, value))
            value = None
    if value is not None:
        parts.append(label_frame(tag, value))
    if not parts:
        return b""  # only when removing: a tag left without frames is dropped
    frames = b"".join(parts)
    flags = tag.flags & {2: 0, 3: EXPERIMENTAL, 4: UNSYNC | EXPERIMENTAL | FOOTER}[tag.major]
    footer = bool(flags & FOOTER)
    room = tag.size - 10 - (10 if footer else 0)
    if footer:
        padding = 0  # v2.4 forbids padding in a tag with a footer
    elif len(frames) <= room:
        padding = room - len(frames)
    else:
        padding = NEW_TAG_PADDING
    body_size = len(frames) + padding
    if body_size >= 1 << 28:
        raise UnsupportedFormat("MP3 unsupported for writing: the ID3v2 tag would exceed "
                                "the 256 MiB ID3v2 size limit")
    fields = bytes([tag.major, tag.revision, flags]) + to_syncsafe(body_size)
    return b"ID3" + fields + frames + bytes(padding) + (b"3DI" + fields if footer else b"")
