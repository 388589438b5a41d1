"""GIF: the label as XMP `TC260:AIGC` in the `XMP DataXMP` application extension.

XMP Specification Part 3 (and exiftool) store the packet raw after the 11-byte
application identifier, not as data sub-blocks, followed by a 258-byte "landing zone"
(0x01, 0xFF down to 0x00, then the block terminator 0x00). A decoder that walks the
packet as sub-blocks lands somewhere in that zone and is led to the terminator, so the
raw bytes of the extension are exactly the packet plus the zone. The packet must hold no
0x00 byte, which UTF-8 XML never does.

A Comment extension whose text is an AIGC label is a second site; the writer removes it
so one label remains (GB 45438 §6.1 c). Every other block (frames with their LZW data,
graphic control, comments, other application extensions) is copied byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site, read_bounded, take, xmp_sites
from synthguard.labels.xmp import find_aigc, set_aigc

NAME = "gif"
EXTENSIONS = (".gif",)
WRITABLE = True

XMP_APP_ID = b"XMP DataXMP"
LANDING_ZONE = bytes([0x01, *range(0xFF, -1, -1)])  # 257 bytes; the terminator follows
LOOP_APP_IDS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")

EXTENSION = 0x21
IMAGE = 0x2C
TRAILER = 0x3B
APPLICATION = 0xFF
COMMENT = 0xFE
GRAPHIC_CONTROL = 0xF9
PLAIN_TEXT = 0x01

MAX_FILE_BYTES = 1 << 30
MAX_BLOCKS = 1_000_000  # extensions plus frames; far above real animations

_XPACKET_END = re.compile(rb"<\?xpacket end=['\"][wr]['\"]\?>")


@dataclass(frozen=True)
class Block:
    """A top-level block: an extension or an image (descriptor, palette, LZW data)."""

    introducer: int
    label: int  # the extension label; IMAGE for an image
    start: int
    body: int  # offset of the first data sub-block length byte
    end: int  # offset after the block terminator
    app_id: bytes = b""  # application identifier + authentication code

    @property
    def is_xmp(self) -> bool:
        return self.label == APPLICATION and self.app_id == XMP_APP_ID

    @property
    def is_loop(self) -> bool:
        return self.label == APPLICATION and self.app_id in LOOP_APP_IDS


@dataclass(frozen=True)
class Layout:
    data: bytes
    header_end: int  # after the logical screen descriptor and global color table
    blocks: list[Block]
    trailer: int  # offset of the 0x3B trailer; it and anything after are kept on write


def sniff(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def read(src: BinaryIO) -> list[Site]:
    layout = _walk(src)
    sites: list[Site] = []
    for block in layout.blocks:
        if block.is_xmp:
            packet, findings = _xmp_packet(layout.data, block)
            sites.extend(xmp_sites(packet, f"XMP Data application extension at offset "
                                            f"{block.start}", findings))
        elif block.label == COMMENT:
            text, findings = _comment(layout.data, block)
            if _is_label(text):
                sites.append(Site("gif:comment", f"Comment extension at offset {block.start}",
                                  text, findings))
    return sites


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    layout = _walk(src)
    data = layout.data
    xmps = [(i, _xmp_packet(data, b)[0]) for i, b in enumerate(layout.blocks) if b.is_xmp]
    # Merge into the packet that already holds the label, else the first one, so the
    # other properties of that packet survive; any further labelled packet goes.
    holding = [(i, p) for i, p in xmps if find_aigc(p)]
    base = (holding or xmps)[0] if xmps else None
    packet = set_aigc(base[1] if base else None, label.to_json())
    if b"\x00" in packet:
        raise UnsupportedFormat("GIF unsupported for writing: the XMP packet holds a NUL "
                                "byte, which cannot be stored raw in a GIF extension")
    extension = bytes([EXTENSION, APPLICATION, len(XMP_APP_ID)]) + XMP_APP_ID + packet \
        + LANDING_ZONE + b"\x00"

    dropped = {i for i, _ in holding}
    dropped |= {i for i, b in enumerate(layout.blocks)
                if b.label == COMMENT and _is_label(_comment(data, b)[0])}
    insert_at = base[0] if base else _insertion_point(layout.blocks)
    if base:
        dropped.add(base[0])

    # Extensions exist only from GIF89a on; exiftool upgrades the version the same way.
    dst.write(b"GIF89a" + data[6:layout.header_end])
    for i, block in enumerate(layout.blocks):
        if i == insert_at:
            dst.write(extension)
        if i not in dropped:
            dst.write(data[block.start:block.end])
    if insert_at == len(layout.blocks):
        dst.write(extension)
    dst.write(data[layout.trailer:])


def _insertion_point(blocks: list[Block]) -> int:
    """Before the first frame, after any loop extension, and never between a graphic
    control extension and the frame it governs."""
    at = 0
    for i, block in enumerate(blocks):
        if block.label in (IMAGE, GRAPHIC_CONTROL, PLAIN_TEXT):
            break
        if block.is_loop:
            at = i + 1
    return at


def _xmp_packet(data: bytes, block: Block) -> tuple[bytes, list[Finding]]:
    """The raw packet: the bytes after the identifier, less the landing zone."""
    raw = data[block.body + 1 + len(XMP_APP_ID):block.end - 1]
    if raw.endswith(LANDING_ZONE):
        return raw[:-len(LANDING_ZONE)], []
    finding = Finding("xmp-landing-zone", "warning",
                      "XMP Data extension lacks the standard 258-byte landing zone")
    # exiftool's rule: the packet ends at its xpacket end marker.
    end = _XPACKET_END.search(raw)
    return (raw[:end.end()] if end else raw), [finding]


def _comment(data: bytes, block: Block) -> tuple[str, list[Finding]]:
    text = b"".join(_sub_blocks(data, block.body))
    try:
        return text.decode("ascii"), []
    except UnicodeDecodeError:
        return text.decode("latin-1"), [Finding(
            "encoding", "warning", "GIF comment is not 7-bit ASCII; read as Latin-1")]


def _is_label(text: str) -> bool:
    """A comment that is an AIGC label (JSON or `AIGC{...}`), not prose mentioning it."""
    stripped = text.strip().strip("\x00")
    return stripped.startswith(("{", "AIGC")) and (
        "AIGC" in stripped or "ContentProducer" in stripped)


# --- block walking -------------------------------------------------------------------------


def _walk(src: BinaryIO) -> Layout:
    src.seek(0)
    data = read_bounded(src, MAX_FILE_BYTES, "GIF file")
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise MalformedFile("not a GIF file: signature missing")
    packed = take(data, 6, 7, "GIF logical screen descriptor")[4]
    pos = 13 + _color_table_size(packed)
    header_end = pos
    blocks: list[Block] = []
    while True:
        if len(blocks) >= MAX_BLOCKS:
            raise MalformedFile(f"GIF has more than {MAX_BLOCKS} blocks")
        introducer = take(data, pos, 1, "GIF block introducer")[0]
        if introducer == TRAILER:
            return Layout(data, header_end, blocks, pos)
        if introducer == EXTENSION:
            label = take(data, pos + 1, 1, "GIF extension label")[0]
            body = pos + 2
            app_id = b""
            if label == APPLICATION:
                size = take(data, body, 1, "GIF application extension")[0]
                app_id = take(data, body + 1, size, "GIF application identifier")
            blocks.append(Block(introducer, label, pos, body, _skip_sub_blocks(data, body),
                                app_id))
        elif introducer == IMAGE:
            packed = take(data, pos + 1, 9, "GIF image descriptor")[8]
            code_size_at = pos + 10 + _color_table_size(packed)
            take(data, code_size_at, 1, "GIF LZW minimum code size")
            body = code_size_at + 1
            blocks.append(Block(introducer, IMAGE, pos, body, _skip_sub_blocks(data, body)))
        else:
            raise MalformedFile(f"GIF has an unknown block introducer 0x{introducer:02X} "
                                f"at offset {pos}")
        pos = blocks[-1].end


def _color_table_size(packed: int) -> int:
    return 3 << ((packed & 0x07) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """The offset after the terminator of the sub-block chain starting at `pos`."""
    while True:
        size = take(data, pos, 1, "GIF data sub-block")[0]
        pos += 1 + size
        if size == 0:
            return pos
        if pos > len(data):
            raise MalformedFile(f"truncated GIF: data sub-block ends past the file end "
                                f"({pos} > {len(data)})")


def _sub_blocks(data: bytes, pos: int) -> list[bytes]:
    parts = []
    while (size := data[pos]) != 0:
        parts.append(data[pos + 1:pos + 1 + size])
        pos += 1 + size
    return parts
