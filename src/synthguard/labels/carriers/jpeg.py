"""JPEG: the label as XMP `TC260:AIGC` in the standard APP1 XMP packet.

Read sites: every standard XMP packet (the JPEG XMP embedding allows one; more is
reported), Extended XMP (reassembled from `xmp/extension` APP1 segments), and EXIF
`UserComment` (image guide TC260-PG-20259A Annex B, wrapped `{"AIGC":{...}}` form).

Write: merge the label into the standard packet, replacing that APP1 segment where it
stands (or insert one after the leading APP0/APP1 segments); neutralize a UserComment
label in place; cut the label out of any further standard packet; drop Extended XMP
that carries a label. Everything else, and the whole
scan from SOS to the end of the file, is copied byte for byte: only header segments
before the first SOS are parsed, which is also all that a label can live in.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site, xmp_sites
from synthguard.labels.carriers.tiff import TiffView, find_user_comment, neutral_comment

NAME = "jpeg"
EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif")
WRITABLE = True

SOI, EOI, SOS, TEM = 0xD8, 0xD9, 0xDA, 0x01
APP0, APP1 = 0xE0, 0xE1
RST = range(0xD0, 0xD8)
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_SIG = b"Exif\x00"

MAX_SEGMENT_PAYLOAD = 0xFFFF - 2  # the length field counts its own two bytes
MAX_XMP_PACKET = MAX_SEGMENT_PAYLOAD - len(XMP_SIG)
XMP_PADDING = 2048
# Hostile-file bounds: the header area before SOS (EXIF, ICC, XMP, thumbnails) is
# rarely above a few MiB; a segment count limit keeps a file of 4-byte segments cheap.
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_SEGMENTS = 65536


@dataclass
class Segment:
    """One marker segment as it stands in the file (fill bytes included in `raw`)."""

    marker: int
    offset: int  # file offset of the marker's 0xFF (after any fill bytes)
    raw: bytes  # the exact bytes, fill bytes + marker + length + payload
    payload: bytes  # empty for standalone markers


def sniff(head: bytes) -> bool:
    return head[:3] == b"\xff\xd8\xff"


class _Stream:
    """Exact reads from the source, counting the offset and the header budget."""

    def __init__(self, src: BinaryIO) -> None:
        self.src = src
        self.offset = 0

    def need(self, size: int, what: str) -> bytes:
        if self.offset + size > MAX_HEADER_BYTES:
            raise MalformedFile(f"JPEG header segments exceed {MAX_HEADER_BYTES} bytes")
        data = self.src.read(size)
        if len(data) != size:
            raise MalformedFile(f"truncated JPEG: {what} at offset {self.offset} needs "
                                f"{size} bytes, file has {len(data)}")
        self.offset += size
        return data


def _segments(src: BinaryIO) -> list[Segment]:
    """The segments from SOI up to and including the first SOS (or EOI, for a file
    with no scan). The source is left positioned just after that segment."""
    stream = _Stream(src)
    if stream.need(2, "SOI marker") != b"\xff\xd8":
        raise MalformedFile("not a JPEG: the file does not start with the SOI marker")
    found = [Segment(SOI, 0, b"\xff\xd8", b"")]
    while True:
        if len(found) > MAX_SEGMENTS:
            raise MalformedFile(f"JPEG has more than {MAX_SEGMENTS} header segments")
        start = stream.offset
        if stream.need(1, "marker") != b"\xff":
            raise MalformedFile(f"JPEG: expected a marker at offset {start}")
        marker = stream.need(1, "marker")[0]
        while marker == 0xFF:  # B.1.1.2: any number of 0xFF fill bytes may precede a marker
            marker = stream.need(1, "marker")[0]
        at = stream.offset - 2
        prefix = b"\xff" * (at - start)
        if marker in RST or marker == TEM:
            found.append(Segment(marker, at, prefix + bytes((0xFF, marker)), b""))
            continue
        if marker in (0x00, SOI):
            raise MalformedFile(f"JPEG: invalid marker 0xFF{marker:02X} at offset {at}")
        if marker == EOI:
            found.append(Segment(marker, at, prefix + b"\xff\xd9", b""))
            return found
        length_bytes = stream.need(2, f"length of marker 0xFF{marker:02X}")
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:
            raise MalformedFile(f"JPEG: segment 0xFF{marker:02X} at offset {at} declares "
                                f"length {length}, less than its own length field")
        payload = stream.need(length - 2, f"segment 0xFF{marker:02X} payload")
        found.append(Segment(marker, at, prefix + bytes((0xFF, marker)) + length_bytes + payload,
                             payload))
        if marker == SOS:
            return found


# --- EXIF UserComment and XMP, through the walker the TIFF carrier shares ----------------


def _is_exif(seg: Segment) -> bool:
    return seg.marker == APP1 and seg.payload.startswith(EXIF_SIG) and len(seg.payload) > 5


def _is_xmp(seg: Segment) -> bool:
    return seg.marker == APP1 and seg.payload.startswith(XMP_SIG)


def _is_extended(seg: Segment) -> bool:
    return seg.marker == APP1 and seg.payload.startswith(EXTENDED_SIG)


def _exif_labels(seg: Segment) -> list[tuple[int, int, Site]]:
    """(payload offset, size, site) of each label UserComment in an EXIF APP1."""
    base = len(EXIF_SIG) + 1  # "Exif\0" and a pad byte precede the TIFF header
    view = TiffView(seg.payload[base:], f"JPEG EXIF APP1 at offset {seg.offset}")
    ifd0 = next(view.chain(), None)
    if ifd0 is None:
        return []
    return [(base + c.value_at, c.size,
             Site("exif:UserComment",
                  f"EXIF UserComment in APP1 at offset {seg.offset} "
                  f"(value at {seg.offset + 4 + base + c.value_at})",
                  c.text, list(c.findings)))
            for c in find_user_comment(view, ifd0)]


@dataclass
class _Extended:
    guid: str
    segments: list[Segment]
    packet: bytes


def _extended_packets(segments: list[Segment]) -> list[_Extended]:
    """Reassemble Extended XMP (XMP Specification Part 3, §1.1.3.1): each chunk carries
    a 32-character GUID, the full packet length and its own offset in the packet."""
    chunks: dict[str, list[tuple[int, int, bytes, Segment]]] = {}
    header = len(EXTENDED_SIG) + 32 + 8
    for seg in filter(_is_extended, segments):
        if len(seg.payload) < header:
            raise MalformedFile(f"Extended XMP segment at offset {seg.offset} is too short")
        guid = seg.payload[len(EXTENDED_SIG):len(EXTENDED_SIG) + 32].decode("latin-1")
        full, where = struct.unpack_from(">II", seg.payload, header - 8)
        chunks.setdefault(guid, []).append((where, full, seg.payload[header:], seg))
    packets = []
    for guid, parts in chunks.items():
        parts.sort(key=lambda p: p[0])
        full = parts[0][1]
        # Chunks must tile the declared length exactly; checking that before joining
        # means a declared size is never allocated beyond the bytes actually present.
        expected = 0
        for where, length, data, seg in parts:
            if length != full or where != expected:
                raise MalformedFile(f"Extended XMP {guid!r}: chunk at offset {seg.offset} "
                                    "does not continue the packet (length or offset mismatch)")
            expected += len(data)
        if expected != full or full > xmp.MAX_PACKET_BYTES:
            raise MalformedFile(f"Extended XMP {guid!r}: chunks hold {expected} bytes, "
                                f"declared {full}")
        packets.append(_Extended(guid, [p[3] for p in parts], b"".join(p[2] for p in parts)))
    return packets


def _extended_sites(ext: _Extended) -> list[Site]:
    sites = xmp_sites(ext.packet, f"Extended XMP {ext.guid} in APP1 at offset "
                      f"{ext.segments[0].offset}",
                      (Finding("extended-xmp", "warning",
                               "label in Extended XMP, which many readers ignore"),))
    for site in sites:
        site.carrier = "xmp:extended"
    return sites


def read(src: BinaryIO) -> list[Site]:
    segments = _segments(src)
    sites: list[Site] = []
    standard = [s for s in segments if _is_xmp(s)]
    duplicate = (Finding("duplicate-xmp-packet", "warning",
                         f"{len(standard)} standard XMP APP1 segments; JPEG allows one"),
                 ) if len(standard) > 1 else ()
    for seg in standard:
        sites += xmp_sites(seg.payload[len(XMP_SIG):],
                           f"APP1 XMP packet at offset {seg.offset}", duplicate)
    for ext in _extended_packets(segments):
        sites += _extended_sites(ext)
    for seg in filter(_is_exif, segments):
        sites += [site for _, _, site in _exif_labels(seg)]
    return sites


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _xmp_segment(existing: bytes | None, label: AIGCLabel) -> bytes:
    value = label.to_json()
    packet = xmp.set_aigc(existing, value, padding=XMP_PADDING)
    if len(packet) > MAX_XMP_PACKET:
        # Padding is only room for later in-place edits; give it up before giving up.
        packet = xmp.set_aigc(existing, value, padding=max(
            0, XMP_PADDING - (len(packet) - MAX_XMP_PACKET)))
    if len(packet) > MAX_XMP_PACKET:
        raise UnsupportedFormat(
            f"JPEG unsupported for writing: the standard XMP packet with the label is "
            f"{len(packet)} bytes, over the {MAX_XMP_PACKET} bytes one APP1 segment holds")
    return _app1(XMP_SIG + packet)


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    segments = _segments(src)
    standard = [s for s in segments if _is_xmp(s)]
    # Extended XMP carrying a label is dropped whole. The standard packet's
    # xmpNote:HasExtendedXMP may then name a GUID with no segments; readers treat that
    # as "no extension", and the pointer cannot hold a label, so it is left as it was.
    dropped = {id(seg) for ext in _extended_packets(segments)
               if _extended_sites(ext) for seg in ext.segments}
    labeled = _xmp_segment(standard[0].payload[len(XMP_SIG):] if standard else None, label)

    out: list[bytes] = []
    inserted = False
    for i, seg in enumerate(segments):
        # The segment list always ends with SOS or EOI, so a new packet always finds a
        # place: after SOI and the leading APP0 (JFIF) / APP1 (EXIF) run.
        if not standard and not inserted and i > 0 and seg.marker not in (APP0, APP1):
            out.append(labeled)
            inserted = True
        if standard and seg is standard[0]:
            out.append(labeled)
        elif id(seg) in dropped:
            continue
        elif _is_xmp(seg) and xmp_sites(seg.payload[len(XMP_SIG):], ""):
            # A second standard packet is outside the JPEG XMP embedding; it stays,
            # with its AIGC property cut out so it is no second label site.
            stripped = xmp.remove_aigc(seg.payload[len(XMP_SIG):])
            if len(stripped) > MAX_XMP_PACKET:
                raise UnsupportedFormat("JPEG unsupported for writing: a second XMP packet "
                                        "without its label no longer fits one APP1 segment")
            out.append(_app1(XMP_SIG + stripped))
        elif _is_exif(seg) and (comments := _exif_labels(seg)):
            exif = bytearray(seg.payload)
            for at, size, _ in comments:
                # Same length, so no offset inside the TIFF block moves.
                exif[at:at + size] = neutral_comment(size)
            out.append(seg.raw[:-len(seg.payload)] + bytes(exif))
        else:
            out.append(seg.raw)
    dst.write(b"".join(out))
    shutil.copyfileobj(src, dst)  # the entropy-coded scans and anything after EOI, verbatim
