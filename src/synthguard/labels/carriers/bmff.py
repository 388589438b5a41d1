"""ISO base media file format boxes (MP4, MOV, M4A, 3GP): bounded walking and rebuilding.

The top level is walked with seeks, so a multi-gigabyte `mdat` is never read; only the
small boxes a label writer edits (`moov`, `moof`, `mfra`, file-level `meta`) are parsed
into a `Box` tree, under a size limit, a depth limit and a box-count limit. Every size a
box declares is checked against its parent and the file before it is believed.

`layout` places rewritten boxes, into the room of `free` boxes after them where they fit.
When a box still changes size, every box after it moves; `OffsetMap` carries the move to
the absolute file offsets the format stores (`stco`/`co64` chunk offsets, `saio` in
sample tables, `tfhd` base data offsets in fragments, `tfra` fragment offsets).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.carriers.base import COPY_BLOCK

MAX_DEPTH = 16
MAX_BOXES = 200_000  # in one parsed moov, moof ...: far above real files
MAX_TOP_LEVEL_BOXES = 1_000_000  # a fragment a frame, for hours, stays below this
U32_MAX = 0xFFFFFFFF
FREE_TYPES = (b"free", b"skip")

# Boxes whose payload is a list of boxes, as far as the label writer needs to look.
_CONTAINERS = frozenset((b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"ilst",
                         b"moof", b"traf", b"mfra"))


def fourcc(kind: bytes) -> str:
    return kind.decode("latin-1").encode("unicode_escape").decode("ascii")


@dataclass(frozen=True, slots=True)
class TopBox:
    """A top-level box, known by its header only."""

    type: bytes
    offset: int
    size: int
    header: int  # 8, or 16 with a 64-bit largesize

    @property
    def end(self) -> int:
        return self.offset + self.size




def walk_top(f: BinaryIO, size: int) -> list[TopBox]:
    """The top-level boxes, read header by header; sizes are checked against the file."""
    boxes: list[TopBox] = []
    offset = 0
    while offset < size:
        if len(boxes) >= MAX_TOP_LEVEL_BOXES:
            raise MalformedFile(f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes")
        f.seek(offset)
        head = f.read(16)
        if len(head) < 8:
            raise MalformedFile(f"{size - offset} stray bytes at offset {offset}, "
                                "too few for a box header")
        declared, kind = struct.unpack_from(">I4s", head)
        header = 8
        if declared == 1:
            if len(head) < 16:
                raise MalformedFile(f"box {fourcc(kind)} at offset {offset} is cut off "
                                    "inside its 64-bit size")
            declared = struct.unpack_from(">Q", head, 8)[0]
            header = 16
        elif declared == 0:  # "extends to the end of the file"
            declared = size - offset
        if declared < header or offset + declared > size:
            raise MalformedFile(f"box {fourcc(kind)} at offset {offset} declares {declared} "
                                f"bytes; the file has {size - offset} from there")
        boxes.append(TopBox(kind, offset, declared, header))
        offset += declared
    return boxes


def read_exact(f: BinaryIO, offset: int, length: int, what: str) -> bytes:
    f.seek(offset)
    data = f.read(length)
    if len(data) != length:
        raise MalformedFile(f"truncated {what}: {length} bytes expected at offset {offset}")
    return data




def free_header(size: int) -> bytes:
    """The header of a `free` box of `size` bytes (8 or more)."""
    if size > U32_MAX:
        return struct.pack(">I4sQ", 1, b"free", size)
    return struct.pack(">I4s", size, b"free")


def write_zeros(dst: BinaryIO, size: int) -> None:
    while size > 0:
        step = min(COPY_BLOCK, size)
        dst.write(bytes(step))
        size -= step


def write_free(dst: BinaryIO, size: int) -> None:
    header = free_header(size)
    dst.write(header)
    write_zeros(dst, size - len(header))


# --- box trees -----------------------------------------------------------------------------


@dataclass(slots=True)
class Box:
    """A parsed box. A container keeps its children; `data` is then only the bytes before
    them (the version and flags of a full-box `meta`)."""

    type: bytes
    data: bytes = b""
    children: list[Box] | None = None
    trailer: bytes = b""  # QuickTime's zero terminator at the end of a `udta`
    offset: int = -1  # where the box started in the source file; -1 for a new box
    large: bool = False  # the source used a 64-bit size; keep it so sizes stay the same

    def to_bytes(self) -> bytes:
        if self.children is None:
            body = self.data
        else:
            body = b"".join([self.data, *(c.to_bytes() for c in self.children), self.trailer])
        if self.large or len(body) + 8 > U32_MAX:
            return struct.pack(">I4sQ", 1, self.type, len(body) + 16) + body
        return struct.pack(">I4s", len(body) + 8, self.type) + body

    def first(self, kind: bytes) -> Box | None:
        return next((c for c in self.children or () if c.type == kind), None)

    def all(self, kind: bytes) -> list[Box]:
        return [c for c in self.children or () if c.type == kind]

    @property
    def header_size(self) -> int:
        return 16 if self.large else 8


def child_prefix(kind: bytes, parent: bytes, body: bytes) -> int | None:
    """How many bytes precede the children of box `kind`, or None for a leaf."""
    if parent == b"ilst":  # metadata items hold `data`, `mean` and `name` boxes
        return 0
    if kind == b"meta":
        # ISO meta is a full box (4 bytes of version and flags); QuickTime's is not and
        # starts straight with its `hdlr` box, which is how readers tell them apart.
        return 0 if body[4:8] == b"hdlr" else 4
    return 0 if kind in _CONTAINERS else None


def parse_tree(kind: bytes, body: bytes, offset: int, large: bool) -> Box:
    """Parse the body of a top-level box found at `offset` into a tree."""
    budget = [MAX_BOXES]
    prefix = child_prefix(kind, b"", body)
    if prefix is None:
        return Box(kind, body, None, b"", offset, large)
    start = offset + (16 if large else 8)
    children, trailer = _parse_children(body, prefix, len(body), start, kind, 1, budget)
    return Box(kind, body[:prefix], children, trailer, offset, large)


def _parse_children(buf: bytes, pos: int, end: int, base: int, parent: bytes, depth: int,
                    budget: list[int]) -> tuple[list[Box], bytes]:
    if pos > end:
        raise MalformedFile(f"box {fourcc(parent)} at offset {base} is too short for its header")
    children: list[Box] = []
    while pos < end:
        if end - pos < 8:
            tail = buf[pos:end]
            if tail.strip(b"\x00"):
                raise MalformedFile(f"{len(tail)} stray bytes at the end of box "
                                    f"{fourcc(parent)}, offset {base + pos}")
            return children, tail
        budget[0] -= 1
        if budget[0] < 0:
            raise MalformedFile(f"more than {MAX_BOXES} boxes in one structure")
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise MalformedFile(f"box {fourcc(kind)} at offset {base + pos} is cut off "
                                    "inside its 64-bit size")
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or size > end - pos:
            raise MalformedFile(f"box {fourcc(kind)} at offset {base + pos} declares {size} "
                                f"bytes; its parent {fourcc(parent)} has {end - pos} left")
        body_start, body_end = pos + header, pos + size
        prefix = child_prefix(kind, parent, buf[body_start:body_start + 8])
        if prefix is None:
            box = Box(kind, buf[body_start:body_end], None, b"", base + pos, header == 16)
        else:
            if depth >= MAX_DEPTH:
                raise MalformedFile(f"boxes nested deeper than {MAX_DEPTH} levels at offset "
                                    f"{base + pos}")
            kids, trailer = _parse_children(buf, body_start + prefix, body_end, base, kind,
                                            depth + 1, budget)
            box = Box(kind, buf[body_start:body_start + prefix], kids, trailer, base + pos,
                      header == 16)
        children.append(box)
        pos = body_end
    return children, b""


def walk(box: Box, path: str = "") -> Iterator[tuple[Box, Box | None, str]]:
    """Every box of a tree, depth first, with its parent and a readable path."""
    here = f"{path}/{fourcc(box.type)}" if path else fourcc(box.type)
    stack: list[tuple[Box, Box | None, str]] = [(box, None, here)]
    while stack:
        node, parent, where = stack.pop()
        yield node, parent, where
        for child in reversed(node.children or ()):
            stack.append((child, node, f"{where}/{fourcc(child.type)}"))


# --- moving absolute offsets ---------------------------------------------------------------


class OffsetMap:
    """Old file offset -> new file offset, for bytes inside boxes copied unchanged."""

    def __init__(self, spans: list[tuple[int, int, int]]) -> None:
        self.spans = sorted(spans)  # (start, end, delta)
        self.starts = [s for s, _, _ in self.spans]

    @property
    def moves(self) -> bool:
        return any(delta for _, _, delta in self.spans)

    def span(self, offset: int, what: str) -> tuple[int, int, int]:
        """The (start, end, delta) of the copied box holding `offset`; the end of the
        last box counts (an empty chunk may sit at the very end of the file)."""
        i = bisect_right(self.starts, offset) - 1
        last = i == len(self.spans) - 1
        if i < 0 or offset > self.spans[i][1] or (offset == self.spans[i][1] and not last):
            raise UnsupportedFormat(f"MP4 unsupported for writing: {what} {offset} does not "
                                    "point into media data this writer copies unchanged")
        return self.spans[i]

    def remap(self, offsets: tuple[int, ...], what: str) -> list[int]:
        out: list[int] = []
        lo = hi = delta = 0
        for offset in offsets:
            if not lo <= offset < hi:  # most offsets fall in the span of the one before
                lo, hi, delta = self.span(offset, what)
            out.append(offset + delta)
        return out


def u32(data: bytes, pos: int, what: str) -> int:
    if pos < 0 or pos + 4 > len(data):
        raise MalformedFile(f"truncated {what}")
    value: int = struct.unpack_from(">I", data, pos)[0]
    return value


def _table(data: bytes, pos: int, count: int, wide: bool, what: str) -> tuple[int, ...]:
    width = 8 if wide else 4
    if count * width > len(data) - pos:
        raise MalformedFile(f"{what} declares {count} entries; the box holds "
                            f"{max(0, len(data) - pos) // width}")
    values: tuple[int, ...] = struct.unpack_from(f">{count}{'Q' if wide else 'I'}", data, pos)
    return values


def remap_sample_table(box: Box, omap: OffsetMap) -> Box:
    """`stco`/`co64`/`saio` of a sample table with its absolute offsets moved; a 32-bit
    table becomes 64-bit when an offset no longer fits."""
    data = box.data
    if box.type in (b"stco", b"co64"):
        count = u32(data, 4, f"{fourcc(box.type)} box")
        offsets = _table(data, 8, count, box.type == b"co64", "chunk offset table")
        moved = omap.remap(offsets, "chunk offset")
        if box.type == b"stco" and max(moved, default=0) <= U32_MAX:
            return Box(b"stco", data[:8] + struct.pack(f">{count}I", *moved), large=box.large)
        return Box(b"co64", data[:8] + struct.pack(f">{count}Q", *moved), large=box.large)
    if box.type == b"saio":
        version, flags = data[:1], u32(data, 0, "saio box") & 0xFFFFFF
        pos = 12 if flags & 1 else 4
        count = u32(data, pos, "saio box")
        offsets = _table(data, pos + 4, count, version != b"\x00", "auxiliary info offsets")
        moved = omap.remap(offsets, "sample auxiliary information offset")
        wide = version != b"\x00" or max(moved, default=0) > U32_MAX
        return Box(b"saio", (b"\x01" if wide else b"\x00") + data[1:pos + 4]
                   + struct.pack(f">{count}{'Q' if wide else 'I'}", *moved), large=box.large)
    return box


def remap_fragment(raw: bytes, tree: Box, omap: OffsetMap) -> bytes:
    """A `moof` or `mfra` box (raw bytes and parsed tree) with its absolute offsets moved:
    `tfhd` base data offsets, `tfra` fragment offsets. Patched in place: same size."""
    out = bytearray(raw)
    for box, _, _ in walk(tree):
        at = box.offset - tree.offset + box.header_size  # payload start within `raw`
        if box.type == b"tfhd":
            flags = u32(box.data, 0, "tfhd box") & 0xFFFFFF
            if flags & 1:  # base-data-offset-present: an absolute file offset
                old = _table(box.data, 8, 1, True, "tfhd base data offset")[0]
                new = old + omap.span(old, "fragment base data offset")[2]
                struct.pack_into(">Q", out, at + 8, new)
        elif box.type == b"tfra":
            _remap_tfra(box.data, out, at, omap)
    return bytes(out)


def _remap_tfra(data: bytes, out: bytearray, at: int, omap: OffsetMap) -> None:
    wide = data[:1] != b"\x00"
    sizes = u32(data, 8, "tfra box")
    count = u32(data, 12, "tfra box")
    entry = (16 if wide else 8) + sum(((sizes >> s) & 3) + 1 for s in (4, 2, 0))
    if count * entry > len(data) - 16:
        raise MalformedFile(f"tfra box declares {count} entries of {entry} bytes; it holds "
                            f"{len(data) - 16} bytes")
    width = 8 if wide else 4
    for i in range(count):
        pos = 16 + i * entry + width  # moof_offset follows the entry's time
        old = int.from_bytes(data[pos:pos + width], "big")
        new = old + omap.span(old, "fragment random access offset")[2]
        if new > (1 << (8 * width)) - 1:
            raise UnsupportedFormat("fragmented MP4 unsupported for writing: a 32-bit tfra "
                                    "offset would overflow")
        out[at + pos:at + pos + width] = new.to_bytes(width, "big")



# --- laying out a rewritten file ------------------------------------------------------------


@dataclass
class Layout:
    pad: dict[int, int]  # rewritten box -> size of the free box that follows it (0: none)
    absorbed: set[int]  # free boxes whose room a rewritten box took
    offsets: OffsetMap  # for the boxes copied unchanged
    size: int


def layout(boxes: list[TopBox], sizes: dict[int, int]) -> Layout:
    """Where everything goes when the boxes in `sizes` get those new sizes. A rewritten box
    takes the room of the free boxes after it when that spares moving the rest; leftover
    room becomes a free box (a free box needs 8 bytes, so a leftover of 1-7 cannot be)."""
    pad: dict[int, int] = {}
    absorbed: set[int] = set()
    spans: list[tuple[int, int, int]] = []
    pos = i = 0
    while i < len(boxes):
        box = boxes[i]
        if i not in sizes:
            spans.append((box.offset, box.end, pos - box.offset))
            pos += box.size
            i += 1
            continue
        new, room, j = sizes[i], box.size, i + 1
        while not (new == room or new + 8 <= room) and j < len(boxes) \
                and boxes[j].type in FREE_TYPES and j not in sizes:
            room, j = room + boxes[j].size, j + 1
        if new == room or new + 8 <= room:
            pad[i] = room - new
            absorbed.update(range(i + 1, j))
            pos, i = pos + room, j
        else:
            pad[i] = 0
            pos, i = pos + new, i + 1
    return Layout(pad, absorbed, OffsetMap(spans), pos)


def check_segment_indexes(boxes: list[TopBox], rewritten: set[int], offsets: OffsetMap) -> None:
    """A segment index (`sidx`) counts bytes from its own end, so it stays right only if
    nothing after it changes size or moves differently from it."""
    # uniform[k]: the delta shared by every copied box from the k-th on (None: they differ)
    uniform: list[int | None] = [None] * len(offsets.spans)
    for k in range(len(offsets.spans) - 1, -1, -1):
        delta = offsets.spans[k][2]
        after = uniform[k + 1] if k + 1 < len(uniform) else delta
        uniform[k] = delta if after == delta else None
    last_rewritten = max(rewritten, default=-1)
    for i, box in enumerate(boxes):
        if box.type == b"sidx" and (
                i < last_rewritten
                or uniform[bisect_right(offsets.starts, box.offset) - 1] is None):
            raise UnsupportedFormat("fragmented MP4 unsupported for writing: a sidx segment "
                                    "index precedes a box that changes size")


def remap_fragments(src: BinaryIO, boxes: list[TopBox], offsets: OffsetMap,
                    limit: int) -> dict[int, bytes]:
    """The `moof` and `mfra` boxes whose absolute offsets change, patched (same sizes)."""
    patched: dict[int, bytes] = {}
    for i, box in enumerate(boxes):
        if box.type in (b"moof", b"mfra"):
            if box.size > limit:
                raise MalformedFile(f"{fourcc(box.type)} box at offset {box.offset} is over "
                                    f"the {limit} byte limit")
            raw = read_exact(src, box.offset, box.size, f"{fourcc(box.type)} box")
            tree = parse_tree(box.type, raw[box.header:], box.offset, box.header == 16)
            fixed = remap_fragment(raw, tree, offsets)
            if fixed != raw:
                patched[i] = fixed
    return patched
