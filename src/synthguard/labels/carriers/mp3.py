"""MP3 (MPEG audio): the label in an ID3v2 `TXXX` frame described `AIGC`.

File layout: an optional ID3v2 tag at the start, the MPEG audio frames, then optional
trailing tags in any order: an APEv2 tag, an ID3v2.4 tag with a footer ("3DI"), and last
an ID3v1 tag (128 bytes, "TAG"). The label goes into the leading ID3v2 tag (created as
v2.3 if the file has none); a TXXX:AIGC in an appended ID3v2 tag or an APEv2 item AIGC
is read, and removed on write so that one label remains; so is an AIGC property in
XMP carried by an ID3 `PRIV` frame (the rest of the packet is kept). The audio frames
and the ID3v1 tag are copied byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers import id3
from synthguard.labels.carriers.base import (
    Site,
    copy_range,
    seekable,
    stream_size,
    xmp_sites,
)

NAME = "mp3"
EXTENSIONS = (".mp3",)
WRITABLE = True

MAX_TAG_BYTES = 64 * 1024 * 1024  # tags are held in memory; cover art fits well within
MAX_UNSEEKABLE_BYTES = 256 * 1024 * 1024
MAX_TRAILERS = 8  # loop guard over trailing tags
ID3V1_SIZE = 128
APE_FOOTER = struct.Struct("<8sIIII8x")  # preamble, version, size, item count, flags
APE_HAS_HEADER = 1 << 31
APE_ITEM_MIN = 4 + 4 + 2  # value size, flags, one-character key and its NUL


@dataclass(frozen=True)
class Ape:
    """An APEv2 tag: `items` are kept raw so unrelated items survive byte for byte."""

    offset: int  # of the header if present, else of the first item
    size: int
    version: int
    flags: int
    items: tuple[tuple[str, int, bytes], ...]  # (key, item flags, raw item bytes)

    @property
    def name(self) -> str:
        return f"APEv{self.version // 1000} tag at offset {self.offset}"

    def labels(self) -> list[tuple[str, int, bytes]]:
        return [item for item in self.items if item[0].upper() == id3.LABEL_DESCRIPTION]


Trailer = id3.Tag | Ape


@dataclass(frozen=True)
class Layout:
    lead: id3.Tag | None
    audio_start: int
    audio_end: int
    trailers: tuple[Trailer, ...]  # in file order
    size: int


def sniff(head: bytes) -> bool:
    """An ID3v2 header, or a plausible MPEG audio frame header (sync, a defined
    version, layer, bitrate and sample rate: ADTS AAC has layer 0 and is not taken)."""
    if head.startswith(b"ID3"):
        return True
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    return version != 1 and layer != 0 and head[2] >> 4 != 15 and (head[2] >> 2) & 3 != 3


def read(src: BinaryIO) -> list[Site]:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "MP3 stream")
    layout = _layout(src)
    found: list[Site] = []
    for tag in (layout.lead, *layout.trailers):
        if isinstance(tag, id3.Tag):
            found += _id3_sites(tag)
        elif isinstance(tag, Ape):
            found += _ape_sites(tag)
    return found


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    src = seekable(src, MAX_UNSEEKABLE_BYTES, "MP3 stream")
    layout = _layout(src)
    dst.write(id3.build(layout.lead, label.to_json()))
    copy_range(src, dst, layout.audio_start, layout.audio_end - layout.audio_start)
    pos = layout.audio_end
    for trailer in layout.trailers:  # contiguous, in file order
        if _has_label(trailer):
            dst.write(_without_label(trailer))
        else:
            copy_range(src, dst, trailer.offset, trailer.size)
        pos = trailer.offset + trailer.size
    copy_range(src, dst, pos, layout.size - pos)  # the ID3v1 tag, if any


def update_in_place(rw: BinaryIO, label: AIGCLabel) -> bool:
    """Rewrite only the leading tag when the new one has exactly its size (the label
    fits the existing padding) and no other label site needs removing."""
    layout = _layout(rw)
    if layout.lead is None or any(_has_label(t) for t in layout.trailers):
        return False
    tag = id3.build(layout.lead, label.to_json())
    if len(tag) != layout.lead.size:
        return False
    rw.seek(0)
    rw.write(tag)
    return True


# --- sites ------------------------------------------------------------------------------


def _id3_sites(tag: id3.Tag) -> list[Site]:
    sites: list[Site] = []
    for index, frame in enumerate(tag.frames):
        location = f"{tag.name}, {frame.id} frame #{index}"
        text = id3.user_text(tag, frame)
        if text is not None and text.description.strip().upper() == id3.LABEL_DESCRIPTION:
            findings = list(text.findings)
            if text.description != id3.LABEL_DESCRIPTION:
                findings.append(Finding("description-case", "info",
                                        f"TXXX description is {text.description!r}, "
                                        f"not {id3.LABEL_DESCRIPTION!r}"))
            sites.append(Site("id3:TXXX", location, text.value, findings))
        packet = id3.xmp_packet(tag, frame)
        if packet is not None:
            sites += xmp_sites(packet, f"{location} (XMP)")
    return sites


def _ape_sites(ape: Ape) -> list[Site]:
    sites = []
    for key, flags, raw in ape.labels():
        value = raw[8 + len(key) + 1:]
        findings: list[Finding] = []
        if flags & 0x6:
            findings.append(Finding("ape-item-type", "error",
                                    "APE item AIGC is not marked as UTF-8 text"))
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("utf-8", errors="replace")
            findings.append(Finding("encoding", "error", "APE item AIGC is not valid UTF-8"))
        sites.append(Site("ape:AIGC", f"{ape.name}, item {key!r}", text, findings))
    return sites


def _has_label(trailer: Trailer) -> bool:
    if isinstance(trailer, Ape):
        return bool(trailer.labels())
    return id3.holds_label(trailer)


def _without_label(trailer: Trailer) -> bytes:
    if isinstance(trailer, id3.Tag):
        return id3.build(trailer, None)
    items = [raw for key, _, raw in trailer.items if key.upper() != id3.LABEL_DESCRIPTION]
    if not items:
        return b""
    body = b"".join(items)

    def frame(flags: int) -> bytes:
        return APE_FOOTER.pack(b"APETAGEX", trailer.version, len(body) + APE_FOOTER.size,
                               len(items), flags)

    header = frame(trailer.flags | 1 << 29) if trailer.flags & APE_HAS_HEADER else b""
    return header + body + frame(trailer.flags & ~(1 << 29))


# --- layout -----------------------------------------------------------------------------




def _read_at(src: BinaryIO, offset: int, size: int, what: str) -> bytes:
    if size > MAX_TAG_BYTES:
        raise MalformedFile(f"{what} is {size} bytes, over the {MAX_TAG_BYTES} byte limit")
    src.seek(offset)
    data = src.read(size)
    if len(data) != size:
        raise MalformedFile(f"truncated {what}: needs {size} bytes at offset {offset}")
    return data


def _layout(src: BinaryIO) -> Layout:
    size = stream_size(src)
    head = src.read(10)
    lead = None
    audio_start = 0
    if head.startswith(b"ID3"):
        if len(head) < 10:
            raise MalformedFile("truncated ID3v2 header at offset 0")
        total = id3.tag_size(head, "ID3v2 tag at offset 0")
        if total > size:
            raise MalformedFile(f"truncated MP3: ID3v2 tag declares {total} bytes, "
                                f"file has {size}")
        lead = id3.parse(_read_at(src, 0, total, "ID3v2 tag at offset 0"), 0)
        audio_start = total
    end = size
    if size - audio_start >= ID3V1_SIZE and _read_at(src, size - ID3V1_SIZE, 3,
                                                      "ID3v1 tag") == b"TAG":
        end -= ID3V1_SIZE
    trailers: list[Trailer] = []
    for _ in range(MAX_TRAILERS):
        trailer = _trailer_ending_at(src, end, audio_start)
        if trailer is None:
            break
        trailers.insert(0, trailer)
        end = trailer.offset
    return Layout(lead, audio_start, end, tuple(trailers), size)


def _trailer_ending_at(src: BinaryIO, end: int, floor: int) -> Trailer | None:
    """The APEv2 or footer-carrying ID3v2 tag that ends at `end`, if one does."""
    if end - floor >= APE_FOOTER.size:
        footer = _read_at(src, end - APE_FOOTER.size, APE_FOOTER.size, "APE footer")
        if footer.startswith(b"APETAGEX"):
            return _ape(src, footer, end, floor)
    if end - floor >= 20:
        footer = _read_at(src, end - 10, 10, "ID3v2 footer")
        # Three bytes "3DI" could end the audio by chance, so a footer counts only when
        # it is a well-formed v2.4 footer that matches a header exactly `size` before.
        if not footer.startswith(b"3DI\x04") or not footer[5] & id3.FOOTER or any(
                b & 0x80 for b in footer[6:10]):
            return None
        total = id3.tag_size(footer, f"ID3v2 footer at offset {end - 10}")
        start = end - total
        if start < floor:
            return None
        header = _read_at(src, start, 10, f"ID3v2 header at offset {start}")
        if header != b"ID3" + footer[3:]:
            return None
        return id3.parse(_read_at(src, start, total, f"appended ID3v2 tag at offset {start}"),
                         start)
    return None


def _ape(src: BinaryIO, footer: bytes, end: int, floor: int) -> Ape:
    _, version, size, count, flags = APE_FOOTER.unpack(footer)
    where = f"APE tag footer at offset {end - APE_FOOTER.size}"
    header = APE_FOOTER.size if flags & APE_HAS_HEADER else 0
    start = end - size - header
    if size < APE_FOOTER.size or start < floor:
        raise MalformedFile(f"{where} declares {size} bytes, which does not fit the file")
    body_size = size - APE_FOOTER.size
    if count > min(body_size // APE_ITEM_MIN, id3.MAX_FRAMES):
        raise MalformedFile(f"{where} declares {count} items in {body_size} bytes")
    body = _read_at(src, start + header, body_size, f"APE tag at offset {start}")
    items = []
    pos = 0
    for i in range(count):
        if pos + 8 > len(body):
            raise MalformedFile(f"{where}: item {i} header runs past the tag")
        value_size, item_flags = struct.unpack_from("<II", body, pos)
        key_end = body.find(b"\x00", pos + 8, pos + 8 + 256)
        if key_end < 0 or key_end + 1 + value_size > len(body):
            raise MalformedFile(f"{where}: item {i} key or value runs past the tag")
        key = body[pos + 8:key_end].decode("latin-1")
        item_end = key_end + 1 + value_size
        items.append((key, item_flags, body[pos:item_end]))
        pos = item_end
    return Ape(start, end - start, version, flags, tuple(items))
