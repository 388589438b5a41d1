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

from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from synthguard.errors import MalformedFile
from synthguard.labels.aigc import AIGCLabel, Finding

SNIFF_BYTES = 64


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
