"""Matroska / WebM: the label as `Segment/Tags/Tag/SimpleTag` with `TagName=AIGC`.

A Matroska file is EBML: elements of (variable-length ID, variable-length size, data).
The Segment holds level-1 elements (SeekHead, Info, Tracks, Tags, Cues, Clusters ...).
SeekHead and Cues store positions relative to the Segment's data start, so the writer
never moves an element: like mkvpropedit it rewrites Tags in place (growing into
neighbouring Void elements, or into a Void before the Clusters when there was no Tags),
or else turns the old Tags into a Void, appends the new Tags at the end of the Segment
and indexes it in the SeekHead (grown into the Void after it, or a second SeekHead in a
Void before the Clusters, where readers meet it on their first pass). Clusters are
copied in chunks, never decoded; only element headers and metadata are read.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import MAX_LABEL_CHARS, AIGCLabel, Finding
from synthguard.labels.carriers.base import Site, copy_range

NAME = "matroska"
EXTENSIONS = (".mkv", ".mka", ".webm", ".mk3d")
WRITABLE = True

EBML, DOCTYPE, SEGMENT = 0x1A45DFA3, 0x4282, 0x18538067
SEEKHEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
TAGS, TAG, TARGETS, SIMPLE_TAG = 0x1254C367, 0x7373, 0x63C0, 0x67C8
TAG_NAME, TAG_STRING, TAG_BINARY = 0x45A3, 0x4487, 0x4485
TARGET_TYPE_VALUE = 0x68CA
TARGET_UIDS = {0x63C5: "track", 0x63C9: "edition", 0x63C4: "chapter", 0x63C6: "attachment"}
CLUSTER, CUES, VOID, CRC32 = 0x1F43B675, 0x1C53BB6B, 0xEC, 0xBF
LEVEL1 = {SEEKHEAD, 0x1549A966, 0x1654AE6B, CUES, 0x1043A770, 0x1941A469, TAGS, CLUSTER}
DOCTYPES = (b"matroska", b"webm")

MAX_HEADER_BYTES = 4096  # the EBML header: a handful of small fields
MAX_METADATA_BYTES = 16 << 20  # a Tags or SeekHead we rebuild in memory
MAX_LEVEL1 = 65536  # non-Cluster level-1 elements; real files have a dozen
MAX_ELEMENTS = 1 << 20  # elements visited inside metadata masters
MAX_DEPTH = 16  # SimpleTag may nest SimpleTag; real files go two or three deep
MAX_NAME_BYTES = 256
MAX_VALUE_BYTES = 4 * MAX_LABEL_CHARS + 1  # decode() reports anything longer as oversized


@dataclass(frozen=True)
class Element:
    id: int
    start: int  # offset of the ID
    data_start: int
    end: int  # one past the data; for an unknown size, where the content stopped

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class Slot:
    """A run of the Segment's data: one level-1 element, a run of Clusters, or new bytes."""

    id: int
    start: int
    end: int
    data: bytes | None = None  # None: copy the original bytes

    @property
    def length(self) -> int:
        return self.end - self.start if self.data is None else len(self.data)


@dataclass
class Segment:
    element: Element
    size_width: int  # bytes of the size field, which a grown Segment must fit in
    unknown_size: bool
    slots: list[Slot] = field(default_factory=list)


class _Reader:
    """Bounded, seek-based reads of a hostile file; counts elements as a loop guard."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src
        self.size = src.seek(0, io.SEEK_END)
        self.visited = 0

    def at(self, pos: int, n: int) -> bytes:
        self.src.seek(pos)
        return self.src.read(max(0, min(n, self.size - pos)))

    def header(self, pos: int, parent_end: int, *, allow_unknown: bool = False) -> Element:
        head = self.at(pos, min(12, parent_end - pos))
        ident, id_len = _vint(head, 0, f"element ID at offset {pos}", keep_marker=True)
        if id_len > 4:  # Matroska's EBMLMaxIDLength
            raise MalformedFile(f"element ID at offset {pos} is {id_len} bytes (limit 4)")
        size, size_len = _vint(head, id_len, f"element size at offset {pos}")
        data_start = pos + id_len + size_len
        if size == (1 << (7 * size_len)) - 1:  # all value bits set: unknown size
            if not allow_unknown:
                raise MalformedFile(f"element 0x{ident:X} at offset {pos} has an unknown "
                                    "size, which only a Segment or Cluster may have")
            return Element(ident, pos, data_start, -1)
        if data_start + size > parent_end:
            raise MalformedFile(f"element 0x{ident:X} at offset {pos} declares {size} bytes, "
                                f"but its parent ends at offset {parent_end}")
        return Element(ident, pos, data_start, data_start + size)

    def children(self, parent: Element) -> Iterator[Element]:
        pos = parent.data_start
        while pos < parent.end:
            self.visited += 1
            if self.visited > MAX_ELEMENTS:
                raise MalformedFile(f"more than {MAX_ELEMENTS} metadata elements")
            child = self.header(pos, parent.end)
            yield child
            pos = child.end

    def value(self, element: Element, limit: int) -> bytes:
        return self.at(element.data_start, min(element.end - element.data_start, limit))

    def copy(self, dst: BinaryIO, offset: int, length: int) -> None:
        copy_range(self.src, dst, offset, length)


def _vint(buf: bytes, pos: int, what: str, *, keep_marker: bool = False) -> tuple[int, int]:
    """An EBML variable-length integer: the count of leading zero bits gives its width."""
    if pos >= len(buf):
        raise MalformedFile(f"truncated {what}")
    first = buf[pos]
    if first == 0:
        raise MalformedFile(f"invalid {what}: a zero first byte means a width over 8 bytes")
    width = 9 - first.bit_length()
    if pos + width > len(buf):
        raise MalformedFile(f"truncated {what}")
    value = first if keep_marker else first & (0xFF >> width)
    for b in buf[pos + 1:pos + width]:
        value = (value << 8) | b
    return value, width


# --- the layout -----------------------------------------------------------------------


def _layout(src: BinaryIO) -> tuple[_Reader, list[Segment]]:
    """Top level: EBML header, then Segments (a chained file repeats the pair)."""
    if not src.seekable():
        raise UnsupportedFormat("Matroska needs a seekable stream")
    r = _Reader(src)
    found: list[Segment] = []
    pos = 0
    seen_header = False
    while pos < r.size:
        el = r.header(pos, r.size, allow_unknown=True)
        if el.id == EBML and el.end > 0:
            _check_doctype(r, el)
            seen_header = True
        elif el.id == SEGMENT and seen_header:
            segment = _segment(r, el)
            found.append(segment)
            el = segment.element
        elif el.id != VOID or el.end < 0:
            raise MalformedFile(f"unexpected top-level element 0x{el.id:X} at offset {pos}")
        pos = el.end
    if not found:
        raise MalformedFile("no Matroska Segment")
    return r, found


def _check_doctype(r: _Reader, header: Element) -> None:
    if header.end - header.data_start > MAX_HEADER_BYTES:
        raise MalformedFile(f"EBML header is over {MAX_HEADER_BYTES} bytes")
    for child in r.children(header):
        if child.id == DOCTYPE:
            doctype = r.value(child, 64).rstrip(b"\x00")
            if doctype not in DOCTYPES:
                raise MalformedFile(f"EBML DocType {doctype!r} is not Matroska or WebM")
            return
    raise MalformedFile("EBML header has no DocType")


def _segment(r: _Reader, el: Element) -> Segment:
    """The level-1 layout. Consecutive Clusters merge into one slot, so a long file costs
    a few slots, and an unknown-size Cluster ends at the next level-1 element."""
    unknown = el.end < 0
    end = r.size if unknown else el.end
    segment = Segment(el, el.data_start - el.start - len(_id_bytes(SEGMENT)), unknown)
    slots = segment.slots
    pos = el.data_start
    while pos < end:
        child = r.header(pos, end, allow_unknown=True)
        if unknown and child.id in (EBML, SEGMENT):
            end = pos  # a live Segment ends where the next chained one begins
            break
        if child.end < 0:
            if child.id != CLUSTER:
                raise MalformedFile(f"element 0x{child.id:X} at offset {pos} has an unknown "
                                    "size, which only a Segment or Cluster may have")
            child = Element(CLUSTER, pos, child.data_start, _cluster_end(r, child, end))
        if child.id == CLUSTER and slots and slots[-1].id == CLUSTER:
            slots[-1].end = child.end
        else:
            if len(slots) >= MAX_LEVEL1:
                raise MalformedFile(f"Segment has more than {MAX_LEVEL1} level-1 elements")
            slots.append(Slot(child.id, child.start, child.end))
        pos = child.end
    segment.element = Element(SEGMENT, el.start, el.data_start, end)
    return segment


def _cluster_end(r: _Reader, cluster: Element, limit: int) -> int:
    pos = cluster.data_start
    while pos < limit:
        child = r.header(pos, limit, allow_unknown=True)
        if child.id in LEVEL1 or child.id in (EBML, SEGMENT):
            break
        if child.end < 0:
            raise MalformedFile(f"element 0x{child.id:X} at offset {pos} in a Cluster has "
                                "an unknown size")
        pos = child.end
    return pos


# --- reading --------------------------------------------------------------------------


def sniff(head: bytes) -> bool:
    if not head.startswith(_id_bytes(EBML)):
        return False
    # the DocType normally sits in the first 40 bytes; a longer header hides it
    return any(d in head for d in DOCTYPES) or _id_bytes(DOCTYPE) not in head


def read(src: BinaryIO) -> list[Site]:
    r, segments = _layout(src)
    found: list[Site] = []
    for segment in segments:
        for slot in segment.slots:
            if slot.id == TAGS:
                tags = r.header(slot.start, slot.end)
                for tag in r.children(tags):
                    if tag.id == TAG:
                        found += _tag_sites(r, tag)
    return found


def _tag_sites(r: _Reader, tag: Element) -> list[Site]:
    target_findings: list[Finding] = []
    sites: list[Site] = []
    for child in r.children(tag):
        if child.id == TARGETS:
            target_findings = _target_findings(r, child)
    for child in r.children(tag):
        if child.id == SIMPLE_TAG:
            sites += _simple_tag_sites(r, child, 0)
    for site in sites:
        site.findings += target_findings
    return sites


def _target_findings(r: _Reader, targets: Element) -> list[Finding]:
    findings: list[Finding] = []
    for child in r.children(targets):
        value = int.from_bytes(r.value(child, 8), "big")
        if child.id in TARGET_UIDS and value:
            findings.append(Finding("tag-target", "warning", f"the Tag applies to one "
                                    f"{TARGET_UIDS[child.id]}, not to the whole file"))
        elif child.id == TARGET_TYPE_VALUE and value != 50:
            findings.append(Finding("tag-target", "info", f"Tag TargetTypeValue is {value}, "
                                    "not 50 (the whole file)"))
    return findings


def _simple_tag_sites(r: _Reader, simple: Element, depth: int) -> list[Site]:
    if depth > MAX_DEPTH:
        raise MalformedFile(f"SimpleTag nesting deeper than {MAX_DEPTH} at offset "
                            f"{simple.start}")
    name: bytes | None = None
    values: dict[int, bytes] = {}
    sites: list[Site] = []
    for child in r.children(simple):
        if child.id == TAG_NAME:
            name = r.value(child, MAX_NAME_BYTES).rstrip(b"\x00")
        elif child.id in (TAG_STRING, TAG_BINARY):
            values[child.id] = r.value(child, MAX_VALUE_BYTES)
        elif child.id == SIMPLE_TAG:
            sites += _simple_tag_sites(r, child, depth + 1)
    if name is None or name.upper() != b"AIGC":
        return sites
    findings: list[Finding] = []
    text = name.decode("ascii")
    if text != "AIGC":
        findings.append(Finding("key-case", "warning",
                                f"TagName is {text!r}; the TC260 name is 'AIGC'"))
    if depth:
        findings.append(Finding("nested-tag", "warning",
                                "the AIGC SimpleTag is nested inside another SimpleTag"))
    value = values.get(TAG_STRING)
    if value is None:
        value = values.get(TAG_BINARY, b"")
        source = "read from TagBinary" if TAG_BINARY in values else "and no TagBinary"
        findings.append(Finding("tag-binary", "warning", f"no TagString; value {source}"))
    try:
        raw = value.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raw = value.rstrip(b"\x00").decode("utf-8", errors="replace")
        findings.append(Finding("encoding", "error", "TagString is not valid UTF-8"))
    path = "/SimpleTag" * (depth + 1)
    location = f"Segment/Tags/Tag{path} TagName={text} at offset {simple.start}"
    return [Site("matroska:SimpleTag", location, raw, findings), *sites]


# --- writing --------------------------------------------------------------------------


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    r, segment, new_size = _plan(src, label)
    el = segment.element
    size_at = el.data_start - segment.size_width
    r.copy(dst, 0, size_at)
    if segment.unknown_size:
        r.copy(dst, size_at, segment.size_width)
    else:
        dst.write(_size(new_size, segment.size_width))
    for slot in segment.slots:
        if slot.data is None:
            r.copy(dst, slot.start, slot.length)
        else:
            dst.write(slot.data)
    r.copy(dst, el.end, r.size - el.end)


def update_in_place(rw: BinaryIO, label: AIGCLabel) -> bool:
    """Relabel a file opened "r+b" by writing only the elements that change: no element
    moves, so this works unless the Segment changes size and something follows it.
    Returns False, having written nothing, in that case.

    Crash behaviour: Clusters are never written. The steps go in the order that keeps
    an interrupted update readable: the new Tags, the Segment size, the SeekHead, and
    last the Void over the old Tags, so a crash between steps leaves the old label, the
    new one, or both (relabeling again repairs it). A crash in the middle of one write
    can tear that Tags or SeekHead; the media still plays, but the label needs rewriting
    from a copy. Callers that cannot accept that use `write` and an atomic rename."""
    r, segment, new_size = _plan(rw, label)
    el = segment.element
    if new_size != el.end - el.data_start and el.end != r.size:
        return False
    positions = _final_positions(segment)
    changed = [s for s in segment.slots if s.data is not None]
    order = {TAGS: 0, SEEKHEAD: 2}  # the Segment size goes in as step 1, Voids last
    for step in range(4):
        if step == 1 and not segment.unknown_size:
            rw.seek(el.data_start - segment.size_width)
            rw.write(_size(new_size, segment.size_width))
        for slot in changed:
            if order.get(slot.id, 3) == step and slot.data is not None:
                rw.seek(el.data_start + positions[id(slot)])
                rw.write(slot.data)
    if el.data_start + new_size < r.size:
        rw.truncate(el.data_start + new_size)
    return True


def _plan(src: BinaryIO, label: AIGCLabel) -> tuple[_Reader, Segment, int]:
    """The Segment's new layout (slots with new bytes where something changes) and its
    new data size; every untouched element keeps its offset."""
    r, segments = _layout(src)
    if len(segments) != 1:
        raise UnsupportedFormat(f"Matroska with {len(segments)} chained Segments is "
                                "unsupported for writing: SeekHead positions are ambiguous")
    segment = segments[0]
    slots = segment.slots
    if any(s.id == CRC32 for s in slots):
        raise UnsupportedFormat("Matroska unsupported for writing: a CRC-32 covers the "
                                "whole Segment")
    original_size = sum(s.length for s in slots)
    tags_slots = [s for s in slots if s.id == TAGS]
    for extra in tags_slots[1:]:  # a second Tags keeps its other tags but loses any AIGC
        parts, crc, changed = _tags_content(r, extra)
        if changed:
            has_tag = any(p.startswith(_id_bytes(TAG)) for p in parts)
            fitted = _fit(TAGS, b"".join(parts), extra.length, crc) if has_tag else None
            if fitted is None:
                extra.id, fitted = VOID, (_void(extra.length), b"")
            extra.data = b"".join(fitted)
    new_tag = _master(TAG, _master(TARGETS, b"") + _master(SIMPLE_TAG, _master(
        TAG_NAME, b"AIGC") + _master(TAG_STRING, label.to_json().encode("ascii"))))
    parts, crc = [], False
    if tags_slots:
        parts, crc, _ = _tags_content(r, tags_slots[0])
    tags = _place_tags(slots, tags_slots[0] if tags_slots else None,
                       b"".join([*parts, new_tag]), crc)
    before_clusters = slots.index(tags) < _first_cluster(slots)
    _index_tags(r, segment, tags, before_clusters=before_clusters)
    new_size = sum(s.length for s in slots)
    _check_positions(segment, original_size, new_size)
    return r, segment, new_size


def _tags_content(r: _Reader, slot: Slot) -> tuple[list[bytes], bool, bool]:
    """The Tags' children without any AIGC SimpleTag, whether it carried a CRC-32, and
    whether anything was removed."""
    if slot.length > MAX_METADATA_BYTES:
        raise UnsupportedFormat(f"Matroska Tags of {slot.length} bytes is unsupported for "
                                f"writing (limit {MAX_METADATA_BYTES})")
    kids = list(r.children(r.header(slot.start, slot.end)))
    raw = [r.at(k.start, k.length) for k in kids if k.id != CRC32]
    kept = [_without_aigc(r, k, 0) for k in kids if k.id != CRC32]
    parts = [p for p in kept if p is not None]
    return parts, any(k.id == CRC32 for k in kids), kept != raw


def _without_aigc(r: _Reader, el: Element, depth: int) -> bytes | None:
    """`el` rebuilt without AIGC SimpleTags; None when `el` itself goes (an AIGC
    SimpleTag, or a Tag left without any SimpleTag, which Matroska forbids)."""
    if depth > MAX_DEPTH:
        raise MalformedFile(f"Tags nesting deeper than {MAX_DEPTH} at offset {el.start}")
    if el.id not in (TAG, SIMPLE_TAG):
        return r.at(el.start, el.length)
    kids = list(r.children(el))
    if el.id == SIMPLE_TAG and any(
            k.id == TAG_NAME and r.value(k, MAX_NAME_BYTES).rstrip(b"\x00").upper() == b"AIGC"
            for k in kids):
        return None
    raw = [r.at(k.start, k.length) for k in kids if k.id != CRC32]
    parts = [_without_aigc(r, k, depth + 1) for k in kids if k.id != CRC32]
    if parts == raw:
        return r.at(el.start, el.length)  # untouched: keep its exact bytes, CRC included
    kept = [p for p in parts if p is not None]
    if el.id == TAG and not any(p.startswith(_id_bytes(SIMPLE_TAG)) for p in kept):
        return None
    return _master(el.id, b"".join(kept), crc=any(k.id == CRC32 for k in kids))


def _place_tags(slots: list[Slot], old: Slot | None, content: bytes, crc: bool) -> Slot:
    """Put the new Tags where it moves nothing else, else at the end of the Segment."""
    if old is not None:
        i = slots.index(old)
        j = _void_run_end(slots, i + 1)
        start = i
        while start > 0 and slots[start - 1].id == VOID:
            start -= 1
        for first in (i, start):  # keep its position when the Voids after it suffice
            placed = _rewrite(slots, first, j, TAGS, content, crc, pad_first=False)
            if placed is not None:
                return placed
    else:
        for i, slot in enumerate(slots[:_first_cluster(slots)]):
            if slot.id == VOID:
                # padding first, so a SeekHead just before can still grow into it
                placed = _rewrite(slots, i, _void_run_end(slots, i), TAGS, content, crc,
                                  pad_first=True)
                if placed is not None:
                    return placed
    tags = Slot(TAGS, -1, -1, _master(TAGS, content, crc=crc))
    if old is not None and _void_run_end(slots, slots.index(old) + 1) == len(slots):
        slots[slots.index(old):] = [tags]  # nothing but Voids follow: grow it in place
    else:
        if old is not None:
            old.id, old.data = VOID, _void(old.length)
        slots.append(tags)
    return tags


def _void_run_end(slots: list[Slot], i: int) -> int:
    while i < len(slots) and slots[i].id == VOID:
        i += 1
    return i


def _rewrite(slots: list[Slot], i: int, j: int, ident: int, content: bytes, crc: bool,
             *, pad_first: bool) -> Slot | None:
    """Replace slots[i:j] by the element plus a padding Void of exactly their length."""
    fitted = _fit(ident, content, sum(s.length for s in slots[i:j]), crc)
    if fitted is None:
        return None
    element, pad = fitted
    placed = Slot(ident, -1, -1, element)
    padding = [Slot(VOID, -1, -1, pad)] if pad else []
    slots[i:j] = [*padding, placed] if pad_first else [placed, *padding]
    return placed


def _index_tags(r: _Reader, segment: Segment, tags: Slot, *, before_clusters: bool) -> None:
    """Drop SeekHead entries for Tags that moved; add one for the new Tags. Only a Tags
    after the Clusters needs it: readers parse every element before the first one."""
    slots = segment.slots
    positions = _final_positions(segment)
    tags_now = {positions[id(s)] for s in slots if s.id == TAGS}
    wanted = positions[id(tags)]
    entry = _master(SEEK, _master(SEEK_ID, _id_bytes(TAGS)) + _uint(SEEK_POSITION, wanted))
    heads = [s for s in slots if s.id == SEEKHEAD]
    rebuilt = [_seek_entries(r, head, tags_now) for head in heads]
    indexed = any((TAGS, wanted) in targets for *_, targets in rebuilt)
    for head, crc, stale, entries, _ in rebuilt:
        i = slots.index(head)
        if not indexed and _rewrite(slots, i, _void_run_end(slots, i + 1), SEEKHEAD,
                                    b"".join([*entries, entry]), crc, pad_first=False):
            indexed = True
        elif stale and not _rewrite(slots, i, i + 1, SEEKHEAD, b"".join(entries), crc,
                                    pad_first=False):
            raise UnsupportedFormat("Matroska SeekHead could not be rewritten in place")
    if heads and not indexed and not before_clusters:
        # Matroska allows a second SeekHead; one in a Void before the Clusters is found
        # by the same linear read that finds the first
        voids = [i for i, s in enumerate(slots[:_first_cluster(slots)])
                 if s.id == VOID] if len(heads) < 2 else []
        if not any(_rewrite(slots, i, _void_run_end(slots, i), SEEKHEAD, entry, False,
                            pad_first=True) for i in voids):
            raise UnsupportedFormat("Matroska unsupported for writing: no room in the "
                                    "SeekHead to index the Tags moved to the end")


def _seek_entries(r: _Reader, head: Slot, tags_now: set[int]
                  ) -> tuple[Slot, bool, bool, list[bytes], set[tuple[int, int]]]:
    """A SeekHead's children without its CRC-32 and without entries for a Tags that is
    no longer there; whether it had a CRC-32, whether an entry was dropped, and the
    (element ID, position) pairs it keeps."""
    if head.length > MAX_METADATA_BYTES:
        raise UnsupportedFormat("Matroska SeekHead is unsupported for writing: over "
                                f"{MAX_METADATA_BYTES} bytes")
    entries: list[bytes] = []
    targets: set[tuple[int, int]] = set()
    crc = stale = False
    for child in r.children(r.header(head.start, head.end)):
        crc = crc or child.id == CRC32
        if child.id == SEEK:
            target, position = _seek_entry(r, child)
            if target == TAGS and position not in tags_now:
                stale = True
                continue
            targets.add((target, position))
        if child.id != CRC32:
            entries.append(r.at(child.start, child.length))
    return head, crc, stale, entries, targets


def _first_cluster(slots: list[Slot]) -> int:
    return next((i for i, s in enumerate(slots) if s.id == CLUSTER), len(slots))


def _seek_entry(r: _Reader, seek: Element) -> tuple[int, int]:
    target = position = -1
    for child in r.children(seek):
        if child.id == SEEK_ID:
            target = int.from_bytes(r.value(child, 8), "big")
        elif child.id == SEEK_POSITION:
            position = int.from_bytes(r.value(child, 8), "big")
    return target, position


def _final_positions(segment: Segment) -> dict[int, int]:
    positions: dict[int, int] = {}
    pos = 0
    for slot in segment.slots:
        positions[id(slot)] = pos
        pos += slot.length
    return positions


def _check_positions(segment: Segment, original_size: int, new_size: int) -> None:
    """Every untouched element must keep its offset: SeekHead and Cues depend on it."""
    base = segment.element.data_start
    positions = _final_positions(segment)
    for slot in segment.slots:
        if slot.data is None and positions[id(slot)] != slot.start - base:
            raise UnsupportedFormat(f"Matroska rewrite would move element 0x{slot.id:X}")
    if new_size != original_size and not segment.unknown_size and \
            new_size >= (1 << (7 * segment.size_width)) - 1:
        raise UnsupportedFormat("Matroska unsupported for writing: the Segment size field "
                                f"({segment.size_width} bytes) cannot hold the grown size")


# --- encoding -------------------------------------------------------------------------


def _id_bytes(ident: int) -> bytes:
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big")


def _size(value: int, width: int | None = None) -> bytes:
    """An EBML size; all-ones is reserved for "unknown", hence the -1."""
    if width is None:
        width = next(w for w in range(1, 9) if value < (1 << (7 * w)) - 1)
    return ((1 << (7 * width)) | value).to_bytes(width, "big")


def _master(ident: int, content: bytes, *, crc: bool = False) -> bytes:
    if crc:  # EBML CRC-32: ISO 3309 over the parent's other children, little-endian
        content = b"\xbf\x84" + zlib.crc32(content).to_bytes(4, "little") + content
    return _id_bytes(ident) + _size(len(content)) + content


def _uint(ident: int, value: int) -> bytes:
    return _master(ident, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _void(total: int) -> bytes:
    """A Void element of exactly `total` (>= 2) bytes, zero-filled so no old label
    text lingers in it."""
    for width in range(1, 9):
        data = total - 1 - width
        if 0 <= data < (1 << (7 * width)) - 1:
            return bytes([VOID]) + _size(data, width) + bytes(data)
    raise UnsupportedFormat(f"cannot pad {total} bytes with a Void element")


def _fit(ident: int, content: bytes, total: int, crc: bool) -> tuple[bytes, bytes] | None:
    """The element and the padding Void that fill exactly `total` bytes, or None. A
    one-byte gap cannot hold a Void, so the element's size field widens by a byte."""
    if crc:
        content = b"\xbf\x84" + zlib.crc32(content).to_bytes(4, "little") + content
    for width in range(len(_size(len(content))), 9):
        element = _id_bytes(ident) + _size(len(content), width) + content
        gap = total - len(element)
        if gap == 0 or gap >= 2:
            return element, _void(gap) if gap else b""
    return None
