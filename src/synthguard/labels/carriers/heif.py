"""HEIF/HEIC/AVIF: the label as XMP `TC260:AIGC` in an XMP item (ISO/IEC 23008-12 §A.2:
an item of type `mime`, content type `application/rdf+xml`, linked to the primary image
by a `cdsc` reference).

Read sites: every XMP item of the top-level `meta`, its bytes gathered through `iloc`
(construction method 0, file offsets, or 1, the `idat` box).

Write: the packet is merged into the first XMP item, over its old bytes when it fits;
otherwise (or when there is no XMP item yet) it goes into a new `mdat` appended to the
file, with the item's `iloc` entry pointing there (a new item also gets its `infe` and
`cdsc` reference). Rewriting `iinf`/`iloc`/`iref` changes the size of `meta`, which
moves every box after it, so each `iloc` extent that points past `meta` is shifted by the
same amount. Coded image data is never touched. Files whose other top-level boxes could
hold file offsets (`moov` of an image sequence, ...) are refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers.base import Site, read_bounded, xmp_sites
from synthguard.labels.carriers.tiff import write_spliced

NAME = "heif"
EXTENSIONS = (".heic", ".heif", ".avif", ".hif")
WRITABLE = True

BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1",
          b"avif", b"avis", b"avio"}
XMP_TYPE = b"application/rdf+xml"
# Top-level boxes whose contents hold no file offsets, so they may move when meta grows.
MOVABLE = {b"ftyp", b"meta", b"mdat", b"free", b"skip", b"uuid"}
XMP_PADDING = 1024  # room for a later label to be rewritten in place
MAX_FILE_BYTES = 1 << 30
MAX_BOXES = 100_000  # per container
MAX_EXTENTS = 1_000_000  # for the whole iloc: extents with zero-width fields take no bytes
_WIDTHS = (0, 4, 8)


@dataclass(frozen=True)
class Box:
    type: bytes
    at: int
    body: int  # offset of the payload, after the (large)size, type and any uuid
    end: int
    open_ended: bool = False  # declared size 0: "extends to the end of the file"


def sniff(head: bytes) -> bool:
    if head[4:8] != b"ftyp" or len(head) < 12:
        return False
    size = min(int.from_bytes(head[:4], "big"), len(head))
    return head[8:12] in BRANDS or any(
        head[i:i + 4] in BRANDS for i in range(16, size - 3, 4))


def boxes(data: bytes, start: int, end: int, what: str) -> list[Box]:
    found: list[Box] = []
    pos = start
    while pos < end:
        if len(found) >= MAX_BOXES:
            raise MalformedFile(f"{what} holds more than {MAX_BOXES} boxes")
        if end - pos < 8:
            raise MalformedFile(f"truncated box header at offset {pos} in {what}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header, open_ended = 8, size == 0
        if size == 1:
            if end - pos < 16:
                raise MalformedFile(f"truncated box header at offset {pos} in {what}")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if kind == b"uuid":
            header += 16
        if size < header or size > end - pos:
            raise MalformedFile(f"box {kind!r} at offset {pos} in {what} declares {size} "
                                f"bytes, {end - pos} remain")
        found.append(Box(kind, pos, pos + header, pos + size, open_ended))
        pos += size
    return found


class _Reader:
    """Big-endian fields from one box, never past its end."""

    def __init__(self, data: bytes, box: Box, skip: int = 0) -> None:
        self.data, self.pos, self.end, self.box = data, box.body + skip, box.end, box

    def uint(self, width: int) -> int:
        if width == 0:
            return 0
        if self.pos + width > self.end:
            raise MalformedFile(f"box {self.box.type!r} at offset {self.box.at} is truncated")
        value = int.from_bytes(self.data[self.pos:self.pos + width], "big")
        self.pos += width
        return value

    def cstr(self) -> bytes:
        """A NUL-terminated string; a missing terminator at the box end is tolerated."""
        stop = self.data.find(b"\x00", self.pos, self.end)
        stop = self.end if stop < 0 else stop
        text, self.pos = self.data[self.pos:stop], min(stop + 1, self.end)
        return text


def _full(data: bytes, box: Box) -> tuple[int, int]:
    reader = _Reader(data, box)
    return reader.uint(1), reader.uint(3)


@dataclass(frozen=True)
class Item:
    id: int
    type: bytes
    content_type: bytes


def _infe(data: bytes, box: Box) -> Item:
    version, _ = _full(data, box)
    r = _Reader(data, box, 4)
    if version < 2:  # the item type did not exist yet: every item had a content type
        item_id = r.uint(2)
        r.uint(2)
        r.cstr()
        return Item(item_id, b"mime", r.cstr())
    item_id = r.uint(2 if version == 2 else 4)
    r.uint(2)
    kind = r.uint(4).to_bytes(4, "big")
    r.cstr()
    return Item(item_id, kind, r.cstr() if kind == b"mime" else b"")


@dataclass
class Location:
    item_id: int
    method: int
    dref: int
    base: int
    extents: list[tuple[int, int, int]]  # (index, offset, length)


@dataclass
class Iloc:
    version: int
    flags: int
    widths: list[int]  # offset, length, base offset, index
    items: dict[int, Location] = field(default_factory=dict)


def _iloc(data: bytes, box: Box) -> Iloc:
    version, flags = _full(data, box)
    if version > 2:
        raise MalformedFile(f"iloc version {version} is unknown")
    r = _Reader(data, box, 4)
    a, b = r.uint(1), r.uint(1)
    widths = [a >> 4, a & 15, b >> 4, b & 15 if version else 0]
    if any(w not in _WIDTHS for w in widths):
        raise MalformedFile(f"iloc field widths {widths} are not 0, 4 or 8")
    iloc, budget = Iloc(version, flags, widths), MAX_EXTENTS
    for _ in range(r.uint(2 if version < 2 else 4)):
        item_id = r.uint(2 if version < 2 else 4)
        method = r.uint(2) & 15 if version else 0
        dref, base, count = r.uint(2), r.uint(widths[2]), r.uint(2)
        budget -= count
        if budget < 0:
            raise MalformedFile(f"iloc declares more than {MAX_EXTENTS} extents")
        extents = [(r.uint(widths[3]), r.uint(widths[0]), r.uint(widths[1]))
                   for _ in range(count)]
        if item_id in iloc.items:
            raise MalformedFile(f"iloc lists item {item_id} twice")
        iloc.items[item_id] = Location(item_id, method, dref, base, extents)
    return iloc


class _Heif:
    """The parts of a HEIF file the label lives in."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.top = boxes(data, 0, len(data), "file")
        if not self.top or self.top[0].type != b"ftyp":
            raise MalformedFile("HEIF file does not start with an ftyp box")
        metas = [b for b in self.top if b.type == b"meta"]
        if len(metas) > 1:
            raise MalformedFile("HEIF file has more than one top-level meta box")
        self.meta = metas[0] if metas else None
        self.children: dict[bytes, Box] = {}
        self.order: list[Box] = []
        self.items: list[Item] = []
        self.iloc = Iloc(0, 0, [4, 4, 0, 0])
        if self.meta is None:
            return
        self.order = boxes(data, self.meta.body + 4, self.meta.end, "meta")
        for child in self.order:
            if child.type in (b"iinf", b"iloc", b"iref", b"pitm", b"idat", b"grpl"):
                if child.type in self.children:
                    raise MalformedFile(f"meta holds two {child.type!r} boxes")
                self.children[child.type] = child
        if b"iinf" in self.children:
            iinf = self.children[b"iinf"]
            skip = 4 + (2 if _full(data, iinf)[0] == 0 else 4)
            self.items = [_infe(data, b) for b in boxes(data, iinf.body + skip, iinf.end, "iinf")
                          if b.type == b"infe"]
        if b"iloc" in self.children:
            self.iloc = _iloc(data, self.children[b"iloc"])

    def xmp_items(self) -> list[Item]:
        return [i for i in self.items
                if i.type == b"mime" and i.content_type.strip() == XMP_TYPE]

    def extents(self, item: Item) -> list[tuple[int, int]]:
        """(file offset, length) of each extent of an item's data."""
        loc = self.iloc.items.get(item.id)
        if loc is None:
            raise MalformedFile(f"HEIF item {item.id} has no iloc entry")
        if loc.dref != 0 or loc.method not in (0, 1):
            raise MalformedFile(f"HEIF item {item.id}: data in another file or item "
                                f"(construction method {loc.method}) is not supported")
        start, end = 0, len(self.data)
        if loc.method == 1:
            idat = self.children.get(b"idat")
            if idat is None:
                raise MalformedFile(f"HEIF item {item.id} is in idat, but there is no idat")
            start, end = idat.body, idat.end
        spans = []
        for _, offset, length in loc.extents:
            at = start + loc.base + offset
            length = length or end - at
            if at > end or length < 0 or length > end - at:
                raise MalformedFile(f"HEIF item {item.id}: extent of {length} bytes at "
                                    f"{at} lies outside its container")
            spans.append((at, length))
        return spans

    def item_data(self, item: Item) -> bytes:
        spans = self.extents(item)
        if sum(length for _, length in spans) > xmp.MAX_PACKET_BYTES:
            raise MalformedFile(f"HEIF XMP item {item.id} is over {xmp.MAX_PACKET_BYTES} bytes")
        return b"".join(self.data[at:at + length] for at, length in spans)

    def max_id(self) -> int:
        ids = [i.id for i in self.items] + list(self.iloc.items) + [self.primary() or 0]
        if b"grpl" in self.children:  # entity groups share the item ID space
            grpl = self.children[b"grpl"]
            ids += [_Reader(self.data, g, 4).uint(4)
                    for g in boxes(self.data, grpl.body, grpl.end, "grpl")]
        return max(ids, default=0)

    def primary(self) -> int | None:
        pitm = self.children.get(b"pitm")
        if pitm is None:
            return None
        return _Reader(self.data, pitm, 4).uint(2 if _full(self.data, pitm)[0] == 0 else 4)


def read(src: BinaryIO) -> list[Site]:
    heif = _Heif(read_bounded(src, MAX_FILE_BYTES, "HEIF file"))
    sites: list[Site] = []
    for item in heif.xmp_items():
        where = heif.extents(item)
        sites += xmp_sites(heif.item_data(item), f"HEIF XMP item {item.id} at offset "
                                                 f"{where[0][0] if where else -1}")
    return sites


# --- writing ---------------------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _width(original: int, values: list[int]) -> int:
    """The field width to write: the file's own, widened only when a value needs it."""
    if any(v < 0 for v in values):  # a hostile base/offset pair moved below zero
        raise UnsupportedFormat("HEIF unsupported for writing: an iloc offset would be "
                                "negative after moving the boxes behind meta")
    for width in (original, 4, 8):
        if width >= original and all(v < 1 << (8 * width) for v in values):
            return width
    raise UnsupportedFormat("HEIF unsupported for writing: an iloc value exceeds 64 bits")


def _iloc_payload(iloc: Iloc, locations: list[Location]) -> bytes:
    version = 2 if any(loc.item_id > 0xFFFF for loc in locations) or \
        len(locations) > 0xFFFF else iloc.version
    extents = [e for loc in locations for e in loc.extents]
    offset_w = _width(iloc.widths[0], [e[1] for e in extents])
    length_w = _width(iloc.widths[1], [e[2] for e in extents])
    base_w = _width(iloc.widths[2], [loc.base for loc in locations])
    index_w = iloc.widths[3] if version else 0
    id_w = 2 if version < 2 else 4
    out = bytearray([version]) + iloc.flags.to_bytes(3, "big")
    out += bytes([offset_w << 4 | length_w, base_w << 4 | index_w])
    out += len(locations).to_bytes(id_w, "big")
    for loc in locations:
        out += loc.item_id.to_bytes(id_w, "big")
        if version:
            out += loc.method.to_bytes(2, "big")
        out += loc.dref.to_bytes(2, "big") + loc.base.to_bytes(base_w, "big")
        out += len(loc.extents).to_bytes(2, "big")
        for index, offset, length in loc.extents:
            if version:
                out += index.to_bytes(index_w, "big")
            out += offset.to_bytes(offset_w, "big") + length.to_bytes(length_w, "big")
    return bytes(out)


def _shifted(loc: Location, meta: Box, delta: int, file_size: int, base_w: int) -> Location:
    """`loc` with file offsets past `meta` moved by `delta`, the distance every box after
    meta moves. "Length 0" (to the end of the file) is made explicit first, because a new
    mdat will follow the old end."""
    if loc.method != 0 or loc.dref != 0:
        return loc  # relative to idat or to another item, or in another file: unmoved
    spans = [(loc.base + offset, length or file_size - loc.base - offset)
             for _, offset, length in loc.extents]
    for at, length in spans:
        if at > file_size or length < 0 or length > file_size - at:
            raise MalformedFile(f"HEIF item {loc.item_id}: extent of {length} bytes at {at} "
                                "lies outside the file")
    moves = [at >= meta.end for at, _ in spans]
    if any(not m and at + length > meta.at for m, (at, length) in zip(moves, spans, strict=True)):
        raise UnsupportedFormat(f"HEIF unsupported for writing: item {loc.item_id} has data "
                                "inside the meta box, which is rewritten")
    extents = [(index, offset, span[1]) for (index, offset, _), span in
               zip(loc.extents, spans, strict=True)]
    if spans and all(moves) and base_w:
        return replace(loc, base=loc.base + delta, extents=extents)
    return replace(loc, extents=[(i, o + delta if m else o, n) for (i, o, n), m in
                                 zip(extents, moves, strict=True)])


def _added_item(heif: _Heif, item_id: int, primary: int | None) -> dict[bytes, bytes]:
    """New iinf (and iref) boxes declaring XMP item `item_id` describing the primary."""
    data, iinf = heif.data, heif.children[b"iinf"]
    version, flags = _full(data, iinf)
    count_w = 2 if version == 0 else 4
    count = _Reader(data, iinf, 4).uint(count_w) + 1
    if count >= 1 << (8 * count_w):
        raise UnsupportedFormat("HEIF unsupported for writing: iinf is full")
    infe_v, id_w = (2, 2) if item_id <= 0xFFFF else (3, 4)
    # Flag 1 marks the item hidden, as libheif marks its metadata items.
    infe = _box(b"infe", bytes([infe_v, 0, 0, 1]) + item_id.to_bytes(id_w, "big")
                + b"\x00\x00mime\x00" + XMP_TYPE + b"\x00")
    boxes_out = {b"iinf": _box(b"iinf", bytes([version]) + flags.to_bytes(3, "big")
                               + count.to_bytes(count_w, "big")
                               + data[iinf.body + 4 + count_w:iinf.end] + infe)}
    if primary is None:
        return boxes_out  # no primary image to describe: the item stands alone
    iref = heif.children.get(b"iref")
    ref_v = _full(data, iref)[0] if iref else int(max(item_id, primary) > 0xFFFF)
    ref_w = 2 if ref_v == 0 else 4
    if max(item_id, primary) >= 1 << (8 * ref_w):
        raise UnsupportedFormat("HEIF unsupported for writing: item IDs exceed iref's width")
    cdsc = _box(b"cdsc", item_id.to_bytes(ref_w, "big") + b"\x00\x01"
                + primary.to_bytes(ref_w, "big"))
    head = data[iref.body:iref.end] if iref else bytes([ref_v, 0, 0, 0])
    boxes_out[b"iref"] = _box(b"iref", head + cdsc)
    return boxes_out


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    data = read_bounded(src, MAX_FILE_BYTES, "HEIF file")
    heif = _Heif(data)
    meta = heif.meta
    if meta is None or b"iinf" not in heif.children or b"iloc" not in heif.children:
        raise UnsupportedFormat("HEIF unsupported for writing: no meta box with item "
                                "information and locations")
    for box in heif.top:
        if box.type not in MOVABLE or box.open_ended:
            raise UnsupportedFormat(f"HEIF unsupported for writing: the top-level "
                                    f"{box.type!r} box may hold file offsets or runs to the "
                                    "end of the file, so it cannot safely move or be followed")

    xmps = heif.xmp_items()
    packet = xmp.set_aigc(heif.item_data(xmps[0]) if xmps else None, label.to_json(),
                          padding=0)
    stores = [(xmps[0], packet)] if xmps else []
    stores += [(item, xmp.remove_aigc(heif.item_data(item))) for item in xmps[1:]
               if xmp_sites(heif.item_data(item), "")]
    meta_raw = bytearray(data[meta.at:meta.end])
    edits: dict[int, tuple[int, bytes]] = {}
    relocated: dict[int, bytes] = {}

    def patch(at: int, blob: bytes) -> None:
        if meta.at <= at and at + len(blob) <= meta.end:  # in idat
            meta_raw[at - meta.at:at - meta.at + len(blob)] = blob
        else:
            edits[at] = (len(blob), blob)

    # An item sharing the first item's bytes must not see the new label: the packet then
    # moves, and that item's stripped packet replaces the blanking patch (last one wins).
    starts = [heif.extents(item)[0][0] for item in xmps if heif.extents(item)]
    move_first = len(starts) != len(set(starts))
    for n, (item, new) in enumerate(stores):
        spans = heif.extents(item)
        fits = len(spans) == 1 and not (n == 0 and move_first)
        fitted = xmp.fit_packet(new, spans[0][1]) if fits else None
        if fitted is not None:
            patch(spans[0][0], fitted)
            continue
        relocated[item.id] = xmp.add_padding(new, XMP_PADDING)
        if b"AIGC" in heif.item_data(item):  # leave no copy of the old label behind
            for at, length in spans:
                patch(at, b" " * length)
    added: dict[bytes, bytes] = {}
    if not xmps:
        new_id = heif.max_id() + 1
        relocated[new_id] = xmp.add_padding(packet, XMP_PADDING)
        added = _added_item(heif, new_id, heif.primary())

    def build(delta: int) -> bytes:
        locations = [_shifted(loc, meta, delta, len(data), heif.iloc.widths[2])
                     for loc in heif.iloc.items.values() if loc.item_id not in relocated]
        cursor = len(data) + delta + 8  # past the new mdat's header
        for item_id, blob in relocated.items():
            locations.append(Location(item_id, 0, 0, 0, [(0, cursor, len(blob))]))
            cursor += len(blob)
        children = {b"iloc": _box(b"iloc", _iloc_payload(heif.iloc, locations)), **added}
        body = [children.pop(c.type, b"") or bytes(meta_raw[c.at - meta.at:c.end - meta.at])
                for c in heif.order]
        return _box(b"meta", bytes(meta_raw[meta.body - meta.at:meta.body - meta.at + 4])
                    + b"".join(body) + b"".join(children.values()))

    delta = 0
    for _ in range(4):  # field widths only grow, so this settles in two or three rounds
        new_meta = build(delta)
        if len(new_meta) - (meta.end - meta.at) == delta:
            break
        delta = len(new_meta) - (meta.end - meta.at)
    else:
        raise UnsupportedFormat("HEIF unsupported for writing: meta size does not settle")
    edits[meta.at] = (meta.end - meta.at, new_meta)
    write_spliced(dst, data, edits, _box(b"mdat", b"".join(relocated.values()))
                  if relocated else b"")
