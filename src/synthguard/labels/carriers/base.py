"""What every carrier module provides, and the small helpers they share.

A carrier is a module (like a Pillow plugin or a mutagen format) exposing:

    NAME: str                       short format name, e.g. "jpeg"
    EXTENSIONS: tuple[str, ...]     lower-case, with the dot, e.g. (".jpg", ".jpeg")
    WRITABLE: bool                  False if the carrier can only read
    def sniff(head: bytes) -> bool                      head = first 64 bytes of the file
    def read(src: BinaryIO) -> list[Site]               every label site found
    def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None

`read` raises `MalformedFile` for a truncated or inconsistent container (the report
then says "inconclusive"). `write` copies `src` to `dst` with exactly one label in the
format-native location, removing any other AIGC site so one label remains (GB 45438
§6.1 c), and copies the compressed media data byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from synthguard.errors import MalformedFile
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, Finding

SNIFF_BYTES = 64
COPY_BLOCK = 1 << 20  # media is copied in blocks of this size, never held whole


@dataclass
class Site:
    """One place in a file where a label was found."""

    carrier: str  # the kind of site, e.g. "xmp", "exif:UserComment", "png:tEXt"
    location: str  # where, for a person: e.g. "APP1 XMP packet at offset 2"
    raw: str  # the value exactly as stored (after the container's own decoding)
    findings: list[Finding] = field(default_factory=list)  # container-level observations


class Carrier(Protocol):
    NAME: str
    EXTENSIONS: tuple[str, ...]
    WRITABLE: bool

    def sniff(self, head: bytes) -> bool: ...

    def read(self, src: BinaryIO) -> list[Site]: ...

    def write(self, src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None: ...


def read_bounded(src: BinaryIO, limit: int, what: str) -> bytes:
    """Read a whole stream, refusing one larger than `limit` bytes."""
    data = src.read(limit + 1)
    if len(data) > limit:
        raise MalformedFile(f"{what} is larger than the {limit} byte limit")
    return data


def take(data: bytes | memoryview, offset: int, size: int, what: str) -> bytes:
    """`data[offset:offset+size]`, or `MalformedFile` if the container lies about sizes."""
    if offset < 0 or size < 0 or offset + size > len(data):
        raise MalformedFile(f"truncated {what}: needs {size} bytes at offset {offset}, "
                            f"file has {len(data)}")
    return bytes(data[offset:offset + size])


def stream_size(src: BinaryIO) -> int:
    """The stream's length; the position is left at the start."""
    size = src.seek(0, io.SEEK_END)
    src.seek(0)
    return size


def seekable(src: BinaryIO, limit: int, what: str) -> BinaryIO:
    """`src` itself if it can seek, else its bytes (at most `limit`) in memory."""
    if src.seekable():
        return src
    return io.BytesIO(read_bounded(src, limit, what))


def copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    """Copy `length` bytes from `offset` in blocks; a short source is `MalformedFile`."""
    src.seek(offset)
    while length > 0:
        block = src.read(min(length, COPY_BLOCK))
        if not block:
            raise MalformedFile(f"file ended early while copying at offset {src.tell()}")
        dst.write(block)
        length -= len(block)


def xmp_sites(packet: bytes, location: str, findings: Iterable[Finding] = ()) -> list[Site]:
    """One site per AIGC property in an XMP packet, with the container's `findings` and
    the packet's own (attribute form, a namespace other than TC260's)."""
    if b"AIGC" not in packet:  # a packet without the name cannot hold a site; skip parsing
        return []
    sites = []
    for value in xmp.find_aigc(packet):
        found = list(findings)
        if value.form == "attribute":
            found.append(Finding("xmp-attribute-form", "info",
                                 "AIGC is an rdf:Description attribute, not an element"))
        if value.namespace != xmp.TC260_NS:
            found.append(Finding("xmp-namespace", "error",
                                 f"AIGC property is in namespace {value.namespace!r}, "
                                 f"not {xmp.TC260_NS!r}"))
        sites.append(Site("xmp", location, value.raw, found))
    return sites
