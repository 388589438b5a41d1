"""The Vorbis comment block that FLAC, Ogg Vorbis and Opus share: `AIGC=<json>`.

Layout (Vorbis I spec §5): a little-endian 32-bit vendor length and vendor string, a
32-bit comment count, then that many length-prefixed `NAME=value` UTF-8 strings. The
audio guide (TC260-PG-202510A, Annexes C-E) puts the label in a comment named AIGC.

Comments are kept as raw bytes so that a relabel changes only the AIGC entry and every
other comment, the vendor string and any trailing bytes survive byte for byte. This
module is a codec, not a carrier: `flac` and `ogg` wrap it in their own containers.
Also here: the two stream helpers those carriers share (the size of a stream, and a
bounded range copy that never holds more than one block of media in memory).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from synthguard.errors import MalformedFile
from synthguard.labels.aigc import Finding
from synthguard.labels.carriers.base import Site

FIELD_NAME = "AIGC"
DEFAULT_VENDOR = b"synthguard"
# Real blocks hold tens of comments; the cap keeps a hostile block of millions of tiny
# comments from costing hundreds of MB of Python objects.
MAX_COMMENTS = 65536


@dataclass
class VorbisComment:
    """A parsed comment block. `tail` is whatever followed the last comment (a Vorbis
    framing byte, Opus padding or extension data): kept, not interpreted."""

    vendor: bytes
    comments: list[bytes] = field(default_factory=list)
    tail: bytes = b""

    def aigc_entries(self) -> list[tuple[int, bytes]]:
        """(index, value) of every comment whose field name is AIGC; Vorbis field names
        are case-insensitive ASCII, so `aigc=` is the same field."""
        found = []
        for index, comment in enumerate(self.comments):
            name, sep, value = comment.partition(b"=")
            if sep and name.upper() == FIELD_NAME.encode():
                found.append((index, value))
        return found

    def with_label(self, value: str | None) -> VorbisComment:
        """A copy whose only AIGC comment is `AIGC=value`, at the position of the first
        existing one (or appended); `None` removes every AIGC comment."""
        entries = self.aigc_entries()
        drop = {index for index, _ in entries}
        new = f"{FIELD_NAME}={value}".encode() if value is not None else None
        comments: list[bytes] = []
        for index, comment in enumerate(self.comments):
            if index not in drop:
                comments.append(comment)
            elif new is not None and index == entries[0][0]:
                comments.append(new)
        if new is not None and not entries:
            comments.append(new)
        return VorbisComment(self.vendor, comments, self.tail)

    def to_bytes(self) -> bytes:
        parts = [struct.pack("<I", len(self.vendor)), self.vendor,
                 struct.pack("<I", len(self.comments))]
        for comment in self.comments:
            parts += [struct.pack("<I", len(comment)), comment]
        parts.append(self.tail)
        return b"".join(parts)


def parse(data: bytes, what: str) -> VorbisComment:
    """Parse a comment block; `what` names it in errors. Every declared length and the
    comment count are checked against the bytes present before anything is allocated,
    so a block claiming 2^32-1 comments fails at once."""
    view = memoryview(data)
    pos = 0

    def u32(name: str) -> int:
        nonlocal pos
        if pos + 4 > len(view):
            raise MalformedFile(f"truncated {what}: {name} missing at byte {pos}")
        (value,) = struct.unpack_from("<I", view, pos)
        pos += 4
        return int(value)

    def chunk(length: int, name: str) -> bytes:
        nonlocal pos
        if length > len(view) - pos:
            raise MalformedFile(f"{what}: {name} declares {length} bytes at byte {pos}, "
                                f"only {len(view) - pos} remain")
        out = bytes(view[pos:pos + length])
        pos += length
        return out

    vendor = chunk(u32("vendor length"), "vendor string")
    count = u32("comment count")
    # Each comment takes at least its 4-byte length, which bounds an honest count.
    if count > (len(view) - pos) // 4:
        raise MalformedFile(f"{what} declares {count} comments, but only "
                            f"{len(view) - pos} bytes remain")
    if count > MAX_COMMENTS:
        raise MalformedFile(f"{what} declares {count} comments, limit {MAX_COMMENTS}")
    comments = [chunk(u32(f"comment {i} length"), f"comment {i}") for i in range(count)]
    return VorbisComment(vendor, comments, bytes(view[pos:]))


def sites(block: VorbisComment, location: str) -> list[Site]:
    """One site per AIGC comment, with findings for the field-name case and encoding."""
    found = []
    for index, value in block.aigc_entries():
        findings: list[Finding] = []
        name = block.comments[index].partition(b"=")[0]
        if name != FIELD_NAME.encode():
            findings.append(Finding("field-name-case", "info",
                                    f"comment name is {name.decode('ascii', 'replace')!r}; "
                                    "Vorbis names are case-insensitive, AIGC is canonical"))
        try:
            raw = value.decode("utf-8")
        except UnicodeDecodeError:
            raw = value.decode("utf-8", errors="replace")
            findings.append(Finding("encoding", "error",
                                    "Vorbis comment value is not valid UTF-8"))
        found.append(Site("vorbis-comment", f"{location}, comment #{index}", raw, findings))
    return found



