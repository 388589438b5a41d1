"""TIFF: the label as XMP `TC260:AIGC` in IFD0 tag 700; plus the TIFF/EXIF structure
walker that every EXIF block (WebP's EXIF chunk, TIFF's own EXIF IFD) is parsed with.

Read sites: tag 700 XMP in every IFD of the main chain (outside IFD0 with a warning:
readers look in IFD0 only), and EXIF `UserComment` (image guide Annex B, wrapped form)
in IFD0's EXIF IFD or, misplaced, in IFD0 itself.

Write, byte-preserving: no strip, tile or IFD is ever moved. The new packet goes in
place when it fits the old tag 700 value, else at the end of the file; IFD0 either gets
its tag 700 entry's count/offset changed in place, or (no tag 700 yet) a copy of IFD0
with the added entry is appended and the header's IFD0 link points to it. A label in
UserComment or in another IFD's XMP is neutralized in place. Both byte orders and
BigTIFF (version 43, 8-byte offsets).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site, read_bounded, xmp_sites

NAME = "tiff"
EXTENSIONS = (".tif", ".tiff")
WRITABLE = True

XMP_TAG = 700
EXIF_IFD_TAG = 0x8769
USER_COMMENT_TAG = 0x9286
# The XMP spec (Part 3 §1.1.5) says tag 700 is BYTE; the TC260 reference says type 7.
# Readers accept both (exiftool, libtiff), so we write BYTE and accept 1, 2 and 7.
XMP_TYPE = 1
XMP_TYPES = (1, 2, 7)
XMP_PADDING = 2048  # room for a later label to be rewritten in place

ASCII_PREFIX = b"ASCII\x00\x00\x00"
UNICODE_PREFIX = b"UNICODE\x00"
OTHER_PREFIXES = (b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00")

MAX_FILE_BYTES = 1 << 30
MAX_IFDS = 65_536  # pages: microscopy and scanner stacks run to thousands
# One budget for all entries parsed in a file: IFDs may overlap, so a per-IFD limit
# alone would still let a small hostile file cost billions of entry parses.
MAX_ENTRIES_TOTAL = 1_000_000
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               13: 4, 16: 8, 17: 8, 18: 8}


@dataclass(frozen=True)
class IfdEntry:
    tag: int
    type: int
    count: int
    at: int  # offset of the entry itself
    value_at: int  # offset of the value: inside the entry when it fits, else the pointed-to data
    size: int  # bytes of value; -1 when the type is unknown


@dataclass(frozen=True)
class Ifd:
    at: int
    entries: tuple[IfdEntry, ...]
    next_at: int  # offset of the link to the next IFD
    next: int

    def find(self, tag: int) -> IfdEntry | None:
        return next((e for e in self.entries if e.tag == tag), None)


class TiffView:
    """A TIFF structure (a .tif file or an EXIF block) over bytes; offsets are relative
    to `data`. Every offset and count is checked against `len(data)`."""

    def __init__(self, data: bytes, what: str = "TIFF") -> None:
        self.data, self.what = data, what
        if len(data) < 8 or data[:2] not in (b"II", b"MM"):
            raise MalformedFile(f"{what}: no TIFF byte-order mark")
        self.order = "<" if data[:2] == b"II" else ">"
        (version,) = struct.unpack_from(self.order + "H", data, 2)
        if version == 42:
            self.big, self.link_at = False, 4
        elif version == 43 and len(data) >= 16 and \
                struct.unpack_from(self.order + "HH", data, 4) == (8, 0):
            self.big, self.link_at = True, 8
        else:
            raise MalformedFile(f"{what}: TIFF version {version} is neither 42 nor BigTIFF 43")
        self.off = "Q" if self.big else "I"
        self.count_fmt = "Q" if self.big else "H"
        self.entry_size = 20 if self.big else 12
        self.inline = 8 if self.big else 4
        self.budget = MAX_ENTRIES_TOTAL
        (self.first,) = self.unpack(self.off, self.link_at)

    def unpack(self, fmt: str, at: int) -> tuple[int, ...]:
        fmt = self.order + fmt
        if at < 0 or at + struct.calcsize(fmt) > len(self.data):
            raise MalformedFile(f"{self.what}: field at offset {at} runs past the end "
                                f"({len(self.data)} bytes)")
        return struct.unpack_from(fmt, self.data, at)

    def pack(self, fmt: str, *values: int) -> bytes:
        return struct.pack(self.order + fmt, *values)

    def ifd(self, at: int) -> Ifd:
        if at < 8:
            raise MalformedFile(f"{self.what}: IFD offset {at} is invalid")
        (count,) = self.unpack(self.count_fmt, at)
        first = at + struct.calcsize(self.count_fmt)
        if count > (len(self.data) - first) // self.entry_size:
            raise MalformedFile(f"{self.what}: IFD at {at} declares {count} entries, more "
                                "than the file holds")
        self.budget -= count
        if self.budget < 0:
            raise MalformedFile(f"{self.what}: more than {MAX_ENTRIES_TOTAL} IFD entries")
        entries = []
        for i in range(count):
            e_at = first + i * self.entry_size
            tag, kind, n = self.unpack("HH" + self.off, e_at)
            field_at = e_at + 4 + self.inline
            size = n * _TYPE_SIZES[kind] if kind in _TYPE_SIZES else -1
            value_at = field_at if 0 <= size <= self.inline else -1
            if size > self.inline:
                (value_at,) = self.unpack(self.off, field_at)
            entries.append(IfdEntry(tag, kind, n, e_at, value_at, size))
        next_at = first + count * self.entry_size
        (nxt,) = self.unpack(self.off, next_at)
        return Ifd(at, tuple(entries), next_at, nxt)

    def chain(self) -> Iterator[Ifd]:
        """IFD0 and the IFDs linked after it, with a loop guard."""
        seen: set[int] = set()
        at = self.first
        while at:
            if at in seen:
                raise MalformedFile(f"{self.what}: IFD chain loops back to offset {at}")
            if len(seen) >= MAX_IFDS:
                raise MalformedFile(f"{self.what}: more than {MAX_IFDS} IFDs")
            seen.add(at)
            ifd = self.ifd(at)
            yield ifd
            at = ifd.next

    def value(self, entry: IfdEntry) -> bytes:
        if entry.size < 0 or entry.value_at + entry.size > len(self.data):
            raise MalformedFile(f"{self.what}: tag {entry.tag} value of {entry.size} bytes "
                                f"at {entry.value_at} runs past the end")
        return self.data[entry.value_at:entry.value_at + entry.size]

    def sub_ifd(self, ifd: Ifd, tag: int) -> Ifd | None:
        """The IFD a pointer tag (EXIF IFD, GPS IFD) of `ifd` leads to."""
        entry = ifd.find(tag)
        if entry is None or entry.type not in (4, 13, 16, 18) or entry.count != 1:
            return None
        (at,) = self.unpack("Q" if entry.size == 8 else "I", entry.value_at)
        return self.ifd(at) if at else None


def iter_ifd_entries(view: TiffView, at: int) -> Iterator[IfdEntry]:
    yield from view.ifd(at).entries


# --- EXIF UserComment --------------------------------------------------------------------


@dataclass(frozen=True)
class UserComment:
    value_at: int  # offset of the value within the TIFF block
    size: int
    text: str
    findings: tuple[Finding, ...]


def comment_text(value: bytes, big_endian: bool) -> tuple[str, list[Finding]]:
    """Decode a UserComment by its 8-byte character code (EXIF 2.3 §4.6.5)."""
    prefix, body = value[:8], value[8:]
    if prefix == UNICODE_PREFIX:
        encoding = "utf-16-be" if big_endian else "utf-16-le"
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):  # a BOM overrides the TIFF byte order
            encoding = "utf-16"
        return body[:len(body) & ~1].decode(encoding, errors="replace"), []
    if prefix == ASCII_PREFIX or prefix in OTHER_PREFIXES:
        return body.decode("utf-8", errors="replace"), []
    return value.decode("utf-8", errors="replace"), [Finding(
        "exif-charset", "warning", "EXIF UserComment lacks the 8-byte character code prefix")]


def holds_label(text: str) -> bool:
    """A comment is a label site when it is JSON naming AIGC or an Annex E field, or the
    real-world `AIGC{...}` form; free-text comments are not."""
    stripped = text.strip(" \t\r\n\x00")
    return stripped.startswith("AIGC") or (stripped.startswith("{") and any(
        key in stripped for key in ('"AIGC"', '"Label"', '"ContentProducer"')))


def find_user_comment(view: TiffView, ifd0: Ifd) -> list[UserComment]:
    """UserComment values holding a label: in the EXIF IFD, and misplaced in IFD0."""
    found = []
    for ifd in (ifd0, view.sub_ifd(ifd0, EXIF_IFD_TAG)):
        entry = ifd.find(USER_COMMENT_TAG) if ifd else None
        if entry is None or entry.size <= 0:
            continue
        text, findings = comment_text(view.value(entry), view.order == ">")
        if holds_label(text):
            found.append(UserComment(entry.value_at, entry.size, text, tuple(findings)))
    return found


def neutral_comment(size: int) -> bytes:
    """Same-length replacement for a label comment: no offset in the block moves."""
    return (ASCII_PREFIX + b" " * size)[:size]


def write_spliced(dst: BinaryIO, data: bytes, edits: dict[int, tuple[int, bytes]],
                  tail: bytes = b"") -> None:
    """Copy `data` with `edits` applied, then `tail`. An edit `at: (length, new)` puts
    `new` where `data[at:at+length]` was; the rest is copied untouched."""
    view, pos = memoryview(data), 0
    for at in sorted(edits):
        length, new = edits[at]
        if at < pos or at + length > len(data):
            # Only a hostile file makes two metadata values share bytes.
            raise MalformedFile(f"metadata values overlap at offset {at}")
        dst.write(view[pos:at])
        dst.write(new)
        pos = at + length
    dst.write(view[pos:])
    dst.write(tail)


# --- the TIFF carrier ----------------------------------------------------------------------


def sniff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read(src: BinaryIO) -> list[Site]:
    view = TiffView(read_bounded(src, MAX_FILE_BYTES, "TIFF file"))
    sites: list[Site] = []
    ifd0: Ifd | None = None
    for page, ifd in enumerate(view.chain()):
        ifd0 = ifd0 or ifd
        entry = ifd.find(XMP_TAG)
        if entry is not None and entry.type in XMP_TYPES:
            extra = () if page == 0 else (Finding(
                "xmp-outside-ifd0", "warning",
                f"XMP in IFD{page}; readers take the file's XMP from IFD0 only"),)
            sites += xmp_sites(view.value(entry),
                               f"TIFF IFD{page} tag 700 (XMP) at offset {entry.value_at}", extra)
    if ifd0 is not None:
        for comment in find_user_comment(view, ifd0):
            sites.append(Site("exif:UserComment",
                              f"TIFF EXIF UserComment at offset {comment.value_at}",
                              comment.text, list(comment.findings)))
    return sites


class _Appender:
    """New data after the end of the file, each piece aligned for the TIFF reader."""

    def __init__(self, view: TiffView) -> None:
        self.view, self.tail = view, bytearray()
        self.align = 8 if view.big else 4

    def add(self, blob: bytes) -> int:
        self.tail += b"\x00" * (-(len(self.view.data) + len(self.tail)) % self.align)
        at = len(self.view.data) + len(self.tail)
        self.tail += blob
        if not self.view.big and len(self.view.data) + len(self.tail) > 0xFFFFFFFF:
            raise UnsupportedFormat("TIFF unsupported for writing: the labeled file would "
                                    "exceed the 4 GiB classic TIFF offset range")
        return at


def _entry_bytes(view: TiffView, tag: int, kind: int, count: int, at: int) -> bytes:
    return view.pack("HH" + view.off + view.off, tag, kind, count, at)


def _place(view: TiffView, appender: _Appender, patches: dict[int, bytes],
           entry: IfdEntry, packet: bytes, *, move: bool = False) -> None:
    """Store `packet` as the value of tag-700 `entry`: over the old value when it fits
    (count unchanged), else appended with the entry's count and offset rewritten."""
    in_place = entry.type in XMP_TYPES and entry.size > view.inline
    fitted = xmp.fit_packet(packet, len(view.value(entry))) if in_place and not move else None
    if fitted is not None:
        patches[entry.value_at] = fitted
        return
    if in_place and b"AIGC" in view.value(entry):  # leave no copy of the old label behind
        patches[entry.value_at] = b" " * entry.size
    packet = xmp.add_padding(packet, XMP_PADDING)
    kind = entry.type if entry.type in (1, 7) else XMP_TYPE
    patches[entry.at] = _entry_bytes(view, entry.tag, kind, len(packet), appender.add(packet))


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    data = read_bounded(src, MAX_FILE_BYTES, "TIFF file")
    view = TiffView(data)
    ifds = list(view.chain())
    if not ifds:
        raise MalformedFile("TIFF has no IFD0")
    ifd0, appender = ifds[0], _Appender(view)
    patches: dict[int, bytes] = {}
    entry = ifd0.find(XMP_TAG)
    old = view.value(entry) if entry is not None and entry.type in XMP_TYPES else None
    packet = xmp.set_aigc(old, label.to_json(), padding=0)
    others = [e for ifd in ifds[1:]
              if (e := ifd.find(XMP_TAG)) is not None and e.type in XMP_TYPES]
    if entry is not None:
        # A page sharing IFD0's packet must not see the new label: move it out of there.
        shared = any(o.value_at == entry.value_at for o in others)
        _place(view, appender, patches, entry, packet, move=shared)
    else:
        packet = xmp.add_padding(packet, XMP_PADDING)
        new_entry = _entry_bytes(view, XMP_TAG, XMP_TYPE, len(packet), appender.add(packet))
        rows = [(e.tag, data[e.at:e.at + view.entry_size]) for e in ifd0.entries]
        rows.append((XMP_TAG, new_entry))
        rows.sort(key=lambda row: row[0])  # TIFF 6: entries in ascending tag order
        if not view.big and len(rows) > 0xFFFF:
            raise UnsupportedFormat("TIFF unsupported for writing: IFD0 has no room for "
                                    "another entry")
        copy = (view.pack(view.count_fmt, len(rows)) + b"".join(r for _, r in rows)
                + view.pack(view.off, ifd0.next))
        patches[view.link_at] = view.pack(view.off, appender.add(copy))
    # A later page's stripped packet, at the same offset as a packet moved away from IFD0,
    # replaces the blanking patch there: the dict keeps the last write per offset.
    for other in others:
        if xmp_sites(view.value(other), ""):
            _place(view, appender, patches, other, xmp.remove_aigc(view.value(other)))
    for comment in find_user_comment(view, ifd0):
        patches[comment.value_at] = neutral_comment(comment.size)
    write_spliced(dst, data, {at: (len(new), new) for at, new in patches.items()},
                  bytes(appender.tail))
