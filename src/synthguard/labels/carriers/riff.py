"""RIFF chunk trees for the WAV and AVI carriers: hostile-safe walking, label sites, rebuilds.

Not a carrier itself. The walker seeks from header to header and never reads a payload
it does not need, so a multi-gigabyte `data` or `movi` costs one 8-byte read. Every
declared size is checked against its parent and the real file size before anything is
read; LIST nesting, the number of chunks and every payload we do read are bounded.

Label sites in a RIFF file:
- a chunk with ID `AIGC` whose payload is the label (the audio guide's WAV location);
- an `AIGC` sub-chunk of a `LIST/INFO` list (the video guide's AVI location, and what
  gtkit/aigc writes into WAV as well); INFO values are ZSTR, so trailing NULs are the
  container's terminator, not part of the value;
- XMP `TC260:AIGC` in an Adobe `_PMX` chunk, where XMP lives in RIFF files.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import MAX_LABEL_CHARS, Finding
from synthguard.labels.carriers.base import Site, xmp_sites

AIGC = b"AIGC"
LIST = b"LIST"
INFO = b"INFO"
JUNK = b"JUNK"
XMP_CHUNK = b"_PMX"  # Adobe's RIFF chunk for an XMP packet (XMP spec part 3, WAV and AVI)
FORMS = (b"RIFF", b"RF64", b"BW64")

MAX_DEPTH = 8  # LIST nesting; real files use three (AVI hdrl/strl)
MAX_CHUNKS = 100_000  # outside opaque lists; real headers hold a few dozen
LABEL_LIMIT = 4 * MAX_LABEL_CHARS + 16  # UTF-8 bytes of the longest label we would decode
REBUILD_LIMIT = 16 * 1024 * 1024  # a metadata list we re-serialize must fit in memory
COPY_BLOCK = 1024 * 1024
NO_SIZE = 0xFFFFFFFF  # RF64: "the real size is in ds64"


@dataclass(frozen=True)
class Chunk:
    fourcc: bytes
    at: int  # offset of the 8-byte header
    size: int  # payload size (from ds64 for an RF64 placeholder)
    form: bytes = b""  # list type of a RIFF or LIST chunk
    children: tuple[Chunk, ...] = ()
    padded: bool = True  # False: an odd last chunk whose pad byte the writer left out

    @property
    def body(self) -> int:
        return self.at + 8

    @property
    def end(self) -> int:
        return self.body + self.size

    @property
    def next(self) -> int:
        return self.end + (self.size & 1 if self.padded else 0)

    @property
    def span(self) -> int:
        """Bytes this chunk occupies when written correctly (pad byte included)."""
        return 8 + self.size + (self.size & 1)

    def is_list(self, form: bytes) -> bool:
        return self.fourcc == LIST and self.form == form

    def describe(self) -> str:
        name = self.fourcc.decode("latin-1")
        return f"'{name}/{self.form.decode('latin-1')}'" if self.form else f"'{name}'"


@dataclass(frozen=True)
class Riff:
    forms: tuple[Chunk, ...]  # the RIFF (or RF64/BW64) chunk, then any OpenDML AVIX RIFFs
    end: int  # where bytes after the last form (kept verbatim) begin
    file_size: int


@dataclass
class _Walk:
    src: BinaryIO
    opaque: frozenset[bytes]
    ds64: dict[bytes, int] = field(default_factory=dict)
    count: int = 0

    def header(self, at: int) -> tuple[bytes, int]:
        self.src.seek(at)
        head = self.src.read(8)
        if len(head) < 8:
            raise MalformedFile(f"truncated RIFF: chunk header at offset {at} is cut off")
        fourcc, size = head[:4], int.from_bytes(head[4:], "little")
        if any(b < 0x20 or b > 0x7E for b in fourcc):
            raise MalformedFile(f"garbage where a chunk ID belongs at offset {at}: {fourcc!r}")
        if size == NO_SIZE and self.ds64:
            if fourcc not in self.ds64:
                raise MalformedFile(f"chunk {fourcc!r} at offset {at} has no size in ds64")
            size = self.ds64[fourcc]
        return fourcc, size

    def children(self, start: int, end: int, depth: int) -> tuple[Chunk, ...]:
        out: list[Chunk] = []
        at = start
        while at < end:
            if end - at < 8:
                raise MalformedFile(f"{end - at} stray bytes at offset {at}, too few for a chunk")
            self.count += 1
            if self.count > MAX_CHUNKS:
                raise MalformedFile(f"more than {MAX_CHUNKS} chunks outside the media data")
            fourcc, size = self.header(at)
            if size > end - at - 8:
                raise MalformedFile(f"chunk {fourcc!r} at offset {at} declares {size} bytes; "
                                    f"its parent has {end - at - 8} left")
            # A missing pad byte after an odd last chunk is a common writer slip; tolerate it.
            padded = at + 8 + size + (size & 1) <= end
            form = b""
            kids: tuple[Chunk, ...] = ()
            if fourcc == LIST:
                if size < 4:
                    raise MalformedFile(f"LIST at offset {at} is too small for its list type")
                form = self.src.read(4)
                if depth + 1 > MAX_DEPTH:
                    raise MalformedFile(f"LIST nesting deeper than {MAX_DEPTH} at offset {at}")
                if form not in self.opaque:
                    kids = self.children(at + 12, at + 8 + size, depth + 1)
            out.append(Chunk(fourcc, at, size, form, kids, padded))
            at += 8 + size + (size & 1 if padded else 0)
        return tuple(out)

    def form(self, at: int, file_size: int) -> Chunk:
        fourcc, size = self.header(at)
        form = self.src.read(4)
        if fourcc not in FORMS or len(form) < 4:
            raise MalformedFile(f"no RIFF header at offset {at}")
        body = at + 12
        if fourcc != b"RIFF":
            size = self._read_ds64(body, file_size, size)
        if size < 4 or size > file_size - at - 8:
            raise MalformedFile(f"{fourcc.decode()} at offset {at} declares {size} bytes; "
                                f"the file has {file_size - at - 8} after its header")
        kids = self.children(body, at + 8 + size, 1)
        return Chunk(fourcc, at, size, form, kids, at + 8 + size + (size & 1) <= file_size)

    def _read_ds64(self, body: int, file_size: int, declared: int) -> int:
        """RF64/BW64 (EBU Tech 3306, ITU-R BS.2088): 64-bit sizes in the first chunk."""
        fourcc, size = self.header(body)
        if fourcc != b"ds64" or size < 28 or size > 64 * 1024 or body + 8 + size > file_size:
            raise MalformedFile("RF64/BW64 file without a valid ds64 chunk")
        data = self.src.read(size)
        riff_size, data_size, _samples, entries = struct.unpack_from("<QQQI", data)
        table = {b"data": data_size}
        for i in range(min(entries, (size - 28) // 12)):
            cid, csize = struct.unpack_from("<4sQ", data, 28 + 12 * i)
            table.setdefault(cid, csize)
        self.ds64 = table
        return riff_size if declared == NO_SIZE else declared


def walk(src: BinaryIO, *, opaque: frozenset[bytes] = frozenset(),
         extensions: bytes | None = None) -> Riff:
    """The chunk tree of a RIFF file. Lists whose type is in `opaque` (AVI `movi`) are
    not descended into. `extensions`: the form type of further top-level RIFF chunks to
    parse (OpenDML `AVIX`); anything else after the first form is trailing bytes."""
    file_size = src.seek(0, 2)
    state = _Walk(src, opaque)
    forms = [state.form(0, file_size)]
    at = forms[0].next
    while extensions is not None and file_size - at >= 12:
        src.seek(at)
        head = src.read(12)
        if head[:4] != b"RIFF" or head[8:12] != extensions:
            break
        forms.append(state.form(at, file_size))
        at = forms[-1].next
    return Riff(tuple(forms), at, file_size)


def descendants(chunks: tuple[Chunk, ...], parent: Chunk | None = None
                ) -> Iterator[tuple[Chunk, Chunk | None]]:
    """Every chunk under `chunks`, depth first, with its parent list."""
    for chunk in chunks:
        yield chunk, parent
        yield from descendants(chunk.children, chunk)


# --- reading payloads and label sites -------------------------------------------------------


def payload(src: BinaryIO, chunk: Chunk, limit: int) -> bytes:
    """A chunk's payload, refusing one larger than `limit` (sizes are already checked)."""
    if chunk.size > limit:
        raise MalformedFile(f"chunk {chunk.describe()} at offset {chunk.at} is {chunk.size} "
                            f"bytes, more than the {limit} byte limit for it")
    src.seek(chunk.body)
    data = src.read(chunk.size)
    if len(data) != chunk.size:
        raise MalformedFile(f"truncated chunk {chunk.describe()} at offset {chunk.at}")
    return data


def label_text(data: bytes, zstr: bool) -> tuple[str, list[Finding]]:
    """The label string a chunk stores. INFO values are ZSTR: the NUL terminator (and NUL
    padding after it) belongs to the container, not to the value."""
    if zstr:
        data = data.rstrip(b"\x00")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), [
            Finding("encoding", "error", "label bytes are not valid UTF-8")]


def label_sites(src: BinaryIO, riff: Riff, prefix: str, native_in_info: bool) -> list[Site]:
    """Every label site in the tree. `native_in_info`: the format's own location is an
    INFO sub-chunk (AVI) rather than a top-level `AIGC` chunk (WAV); the other location
    is still a site, reported with a finding saying where the guide puts the label."""
    sites: list[Site] = []
    tops = {c.at for form in riff.forms for c in form.children}
    for form in riff.forms:
        for chunk, parent in descendants(form.children, form):
            where = f"at offset {chunk.at}"
            if chunk.fourcc == AIGC and parent is not None and parent.is_list(INFO):
                raw, findings = label_text(payload(src, chunk, LABEL_LIMIT), zstr=True)
                if not native_in_info:
                    findings.append(Finding(
                        "riff-info-location", "info",
                        "label in LIST/INFO (gtkit's location); the audio guide puts it "
                        "in a top-level AIGC chunk"))
                sites.append(Site(f"{prefix}:INFO/AIGC", f"LIST/INFO sub-chunk 'AIGC' {where}",
                                  raw, findings))
            elif chunk.fourcc == AIGC:
                raw, findings = label_text(payload(src, chunk, LABEL_LIMIT), zstr=False)
                if native_in_info:
                    findings.append(Finding(
                        "riff-chunk-location", "warning",
                        "label in an 'AIGC' chunk; the video guide puts it in LIST/INFO"))
                elif chunk.at not in tops:
                    findings.append(Finding(
                        "riff-chunk-location", "warning",
                        f"'AIGC' chunk nested in {parent.describe() if parent else 'a list'}, "
                        "not at the top level of the RIFF"))
                sites.append(Site(f"{prefix}:AIGC", f"RIFF chunk 'AIGC' {where}", raw, findings))
            elif chunk.fourcc == XMP_CHUNK:
                packet = payload(src, chunk, xmp.MAX_PACKET_BYTES)
                sites += xmp_sites(packet, f"XMP packet in '_PMX' chunk {where}")
    return sites


# --- writing --------------------------------------------------------------------------------


def encode_chunk(fourcc: bytes, data: bytes) -> bytes:
    """Header, payload and the zero pad byte an odd payload needs."""
    if len(data) > NO_SIZE - 1:
        raise UnsupportedFormat("RIFF unsupported for writing: a chunk over 4 GiB")
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)


def encode_list(form: bytes, parts: list[bytes]) -> bytes:
    return encode_chunk(LIST, form + b"".join(parts))


def raw_chunk(src: BinaryIO, chunk: Chunk, limit: int = REBUILD_LIMIT) -> bytes:
    """The chunk as it must be written, with a pad byte the source left out restored."""
    if chunk.span > limit:
        raise UnsupportedFormat(f"RIFF unsupported for writing: chunk {chunk.describe()} at "
                                f"offset {chunk.at} is too large to re-serialize")
    src.seek(chunk.at)
    data = src.read(8 + chunk.size)
    if len(data) != 8 + chunk.size:
        raise MalformedFile(f"truncated chunk {chunk.describe()} at offset {chunk.at}")
    return data + b"\x00" * (chunk.size & 1)


def holds_label(src: BinaryIO, chunk: Chunk) -> bool:
    """Whether writing must change this chunk: it is, holds or nests a label site."""
    if chunk.fourcc == AIGC:
        return True
    if chunk.fourcc == XMP_CHUNK:
        return bool(xmp_sites(payload(src, chunk, xmp.MAX_PACKET_BYTES), ""))
    return any(holds_label(src, c) for c in chunk.children)


def without_labels(src: BinaryIO, chunk: Chunk, append: dict[int, bytes] | None = None,
                   fixed_xmp: bool = False) -> bytes | None:
    """`chunk` re-serialized with every label site removed, and `append[chunk.at]` added
    at the end of a list; None when it needs no change. An emptied INFO list is dropped
    (b""), every other chunk kept byte for byte. `fixed_xmp`: keep `_PMX` chunks at
    exactly their size (their XMP padding absorbs the difference)."""
    extra = (append or {}).get(chunk.at)
    if extra is None and not holds_label(src, chunk):
        return None
    if chunk.fourcc == AIGC:
        return b""
    if chunk.fourcc == XMP_CHUNK:
        packet = xmp.remove_aigc(payload(src, chunk, xmp.MAX_PACKET_BYTES))
        if fixed_xmp:
            fitted = xmp.fit_packet(packet, chunk.size)
            if fitted is None:
                raise UnsupportedFormat("RIFF unsupported for writing: the XMP packet without "
                                        "its label does not fit its chunk")
            packet = fitted
        return encode_chunk(XMP_CHUNK, packet)
    parts = []
    for child in chunk.children:
        new = without_labels(src, child, append, fixed_xmp)
        parts.append(raw_chunk(src, child) if new is None else new)
    if extra is not None:
        parts.append(extra)
    if chunk.is_list(INFO) and not any(parts):
        return b""
    return encode_list(chunk.form, parts)


def neutralize(src: BinaryIO, chunk: Chunk) -> dict[int, bytes]:
    """Same-size patches that stop `chunk` and its descendants from being label sites,
    for data whose offsets must not move: an `AIGC` chunk becomes zero-filled `JUNK`,
    an XMP packet loses its label and is padded back to its size."""
    patches: dict[int, bytes] = {}
    for c, _ in descendants((chunk,)):
        if c.fourcc == AIGC:
            patches[c.at] = JUNK + struct.pack("<I", c.size) + b"\x00" * c.size
        elif c.fourcc == XMP_CHUNK and holds_label(src, c):
            new = without_labels(src, c, fixed_xmp=True)
            patches[c.at] = new[:8 + c.size] if new else b""
    return patches


def copy_range(src: BinaryIO, dst: BinaryIO, at: int, length: int,
               patches: dict[int, bytes] | None = None) -> None:
    """Copy `length` bytes from offset `at` in blocks, overlaying same-size `patches`
    (keyed by absolute offset); media payloads never sit in memory whole."""
    end = at + length
    points = sorted((p, p + len(b), b) for p, b in (patches or {}).items() if at <= p < end)
    src.seek(at)
    pos = at
    for p_start, p_end, data in [*points, (end, end, b"")]:
        while pos < p_start:
            block = src.read(min(COPY_BLOCK, p_start - pos))
            if not block:
                raise MalformedFile(f"file ends at offset {pos} while copying")
            dst.write(block)
            pos += len(block)
        if p_end > end:
            raise MalformedFile(f"metadata patch at offset {p_start} overruns its region")
        dst.write(data)
        pos = p_end
        src.seek(pos)


def write_parts(src: BinaryIO, dst: BinaryIO, parts: list[bytes | Chunk],
                patches: dict[int, bytes] | None = None) -> None:
    """Emit planned parts: new bytes as they are, source chunks copied (with patches)."""
    for part in parts:
        if isinstance(part, bytes):
            dst.write(part)
        else:
            copy_range(src, dst, part.at, 8 + part.size, patches)
            if part.size & 1:
                if part.padded:
                    copy_range(src, dst, part.end, 1)
                else:
                    dst.write(b"\x00")


def part_size(part: bytes | Chunk) -> int:
    return len(part) if isinstance(part, bytes) else part.span


def form_header(fourcc: bytes, form: bytes, parts: list[bytes | Chunk]) -> bytes:
    size = 4 + sum(part_size(p) for p in parts)
    if size > NO_SIZE - 1:
        raise UnsupportedFormat("RIFF unsupported for writing: the labeled file would exceed "
                                "the 4 GiB RIFF size limit")
    return fourcc + struct.pack("<I", size) + form
