"""PDF: the label lives in the document Info dictionary under the key `/AIGC`.

Reading goes through pikepdf (qpdf), which is robust on hostile input; it is opened
with recovery off, so a file whose cross-reference data is broken is reported as
malformed rather than silently reconstructed. The catalog's XMP `/Metadata` stream is
read as a second site, because XMP `TC260:AIGC` is the generic scheme.

Writing is an INCREMENTAL UPDATE (ISO 32000-1 §7.5.6): the original bytes are copied
unchanged as an exact prefix, then a new revision of the Info dictionary (all old
entries kept, `/AIGC` set), a cross-reference section of the same kind as the file's
last one (classic table or xref stream) and a trailer chained with `/Prev`. Pages,
content streams, signatures over earlier revisions and every other object stay
byte-identical. We build the update bytes ourselves; pikepdf only reads.

One label per file (GB 45438 §6.1 c): the Info key is the format-native location, so if
the XMP stream also holds an AIGC property, the same update carries a new revision of
that stream with the property removed, rather than keeping a second copy that could
later disagree with the Info key.
"""

from __future__ import annotations

import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Literal

import pikepdf

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import SNIFF_BYTES, Site, xmp_sites

NAME = "pdf"
EXTENSIONS = (".pdf",)
WRITABLE = True

# qpdf looks for `startxref` in the last 1 KiB; a little more tolerates trailing junk.
_TAIL_BYTES = 2048
_STARTXREF = re.compile(rb"startxref\s+(\d{1,15})(?!\d)")
_OBJ_HEADER = re.compile(rb"\s*\d{1,10}\s+\d{1,5}\s+obj\b")
_INFO_KEY = "/AIGC"
# PDF object numbers are bounded by the xref entry width readers accept.
_MAX_OBJECTS = 8_388_607
_COPY_CHUNK = 1024 * 1024
# Encoded bytes a filter may add over its output, and the most we hand to qpdf's
# unbounded decoders (LZW expands at most ~4096x: 4 KiB -> 16 MiB).
_SLACK = 4096
_PDF_ERRORS = (pikepdf.PdfError, ValueError, TypeError, KeyError, AttributeError,
               RuntimeError, OverflowError, IndexError)

XrefKind = Literal["table", "stream"]


def sniff(head: bytes) -> bool:
    return b"%PDF-" in head[:SNIFF_BYTES]


def read(src: BinaryIO) -> list[Site]:
    with _open(src) as pdf:
        try:
            return _info_sites(pdf) + _xmp_sites(pdf)
        except _PDF_ERRORS as exc:
            raise MalformedFile(f"PDF object structure is damaged: {_why(exc)}") from None


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    src_size = src.seek(0, 2)
    prev_xref = _last_startxref(src, src_size)
    kind = _xref_kind(src, prev_xref)
    src.seek(src_size - 1)
    # The original must end with an end-of-line before our first object header.
    lead = b"" if src.read(1) in (b"\n", b"\r") else b"\n"
    with _open(src) as pdf:
        if pdf.is_encrypted:
            raise UnsupportedFormat("PDF is encrypted: unsupported for writing, because the "
                                    "new Info strings would have to be encrypted too")
        try:
            update = _incremental_update(pdf, label, kind, prev_xref, src_size, lead)
        except _PDF_ERRORS as exc:
            raise MalformedFile(f"PDF object structure is damaged: {_why(exc)}") from None
    src.seek(0)
    shutil.copyfileobj(src, dst, _COPY_CHUNK)
    dst.write(update)


# --- reading --------------------------------------------------------------------------------

@contextmanager
def _open(src: BinaryIO) -> Iterator[pikepdf.Pdf]:
    src.seek(0)
    try:
        pdf = pikepdf.open(src, attempt_recovery=False)
    except pikepdf.PasswordError:
        raise UnsupportedFormat("PDF is encrypted: it needs a password to open") from None
    except _PDF_ERRORS as exc:
        raise MalformedFile(f"PDF is damaged or not a PDF: {_why(exc)}") from None
    try:
        yield pdf
    finally:
        pdf.close()


def _why(exc: BaseException) -> str:
    # qpdf prefixes messages with the stream's repr, which tells a user nothing.
    return re.sub(r"^stream <[^>]*>:\s*", "", str(exc).split("\n")[0])[:200]


def _where(pdf: pikepdf.Pdf, obj: pikepdf.Object) -> str:
    num, gen = obj.objgen
    if num == 0:
        return "direct object in the trailer"
    entry = pdf.get_xref_table().get((num, gen))
    offset = getattr(entry, "offset", None)
    at = f" at offset {offset}" if isinstance(offset, int) else " in an object stream"
    return f"object {num} {gen}{at}"


def _info_sites(pdf: pikepdf.Pdf) -> list[Site]:
    info = pdf.trailer.get("/Info")
    if not isinstance(info, pikepdf.Dictionary):
        return []
    sites = []
    for key in list(info.keys()):
        if "AIGC" not in key.upper():
            continue
        value = info[key]
        findings: list[Finding] = []
        if isinstance(value, pikepdf.String):
            raw = str(value)
        else:
            raw = (value.unparse().decode("latin-1") if isinstance(value, pikepdf.Object)
                   else str(value))
            findings.append(Finding("pdf-not-string", "error",
                                    f"Info {key} is not a PDF text string"))
        if key != _INFO_KEY:
            findings.append(Finding("nonstandard-key", "warning",
                                    f"label stored under Info key {key}, not {_INFO_KEY}"))
        sites.append(Site("pdf:Info", f"Info dictionary {key}, {_where(pdf, info)}",
                          raw, findings))
    return sites


def _metadata_stream(pdf: pikepdf.Pdf) -> pikepdf.Stream | None:
    metadata = pdf.Root.get("/Metadata")
    return metadata if isinstance(metadata, pikepdf.Stream) else None


def _xmp_packet(stream: pikepdf.Stream) -> bytes:
    """The stream's decoded bytes, bounded: a Flate bomb must not expand unchecked."""
    limit = xmp.MAX_PACKET_BYTES
    length = stream.stream_dict.get("/Length")
    if isinstance(length, int) and length > limit + _SLACK:
        raise MalformedFile(f"XMP metadata stream is {length} bytes, limit {limit}")
    filters = stream.stream_dict.get("/Filter")
    raw = stream.read_raw_bytes()
    if filters is None:
        data = raw
    elif filters == pikepdf.Name.FlateDecode and "/DecodeParms" not in stream.stream_dict:
        try:
            data = zlib.decompressobj().decompress(raw, limit + 1)
        except zlib.error as exc:
            raise MalformedFile(f"XMP metadata stream does not inflate: {exc}") from None
    elif len(raw) <= _SLACK:
        # Other filters (LZW, predictors, run-length) are rare for XMP; qpdf decodes them
        # without a bound, so only a small input, whose expansion is bounded, is decoded.
        data = stream.read_bytes()
    else:
        raise UnsupportedFormat(f"XMP metadata stream with filter {filters} and {len(raw)} "
                                "bytes is too large to decode safely")
    if len(data) > limit:
        raise MalformedFile(f"XMP metadata stream is larger than the {limit} byte limit")
    return data


def _xmp_sites(pdf: pikepdf.Pdf) -> list[Site]:
    stream = _metadata_stream(pdf)
    if stream is None:
        return []
    return xmp_sites(_xmp_packet(stream), f"XMP metadata stream, {_where(pdf, stream)}")


# --- writing --------------------------------------------------------------------------------

def _last_startxref(src: BinaryIO, size: int) -> int:
    src.seek(max(0, size - _TAIL_BYTES))
    tail = src.read(_TAIL_BYTES)
    matches = list(_STARTXREF.finditer(tail))
    if not matches:
        raise MalformedFile("PDF has no startxref in its last 2 KiB")
    offset = int(matches[-1].group(1))
    if offset >= size:
        raise MalformedFile(f"startxref {offset} points past the end of the {size} byte file")
    return offset


def _xref_kind(src: BinaryIO, offset: int) -> XrefKind:
    src.seek(offset)
    head = src.read(64)
    if head.lstrip().startswith(b"xref"):
        return "table"
    if _OBJ_HEADER.match(head):
        return "stream"
    raise MalformedFile(f"startxref {offset} points at neither an xref table nor an object")


def _incremental_update(pdf: pikepdf.Pdf, label: AIGCLabel, kind: XrefKind,
                        prev_xref: int, prefix_len: int, lead: bytes) -> bytes:
    trailer = pdf.trailer
    root = trailer.get("/Root")
    if not isinstance(root, pikepdf.Dictionary) or not root.is_indirect:
        raise UnsupportedFormat("PDF unsupported for writing: the trailer /Root is not an "
                                "indirect dictionary")
    xref_table = pdf.get_xref_table()
    size = max(_int(trailer.get("/Size"), "trailer /Size"),
               max((num for num, _ in xref_table), default=0) + 1)

    objects: dict[int, tuple[int, bytes]] = {}
    info_num, info_gen = _info_revision(pdf, label, objects, size)
    size = max(size, info_num + 1)
    _metadata_revision(pdf, objects)

    body = bytearray(lead)
    offsets: dict[int, tuple[int, int]] = {}
    for num in sorted(objects):
        gen, text = objects[num]
        offsets[num] = (prefix_len + len(body), gen)
        body += f"{num} {gen} obj\n".encode() + text + b"\nendobj\n"

    ids = trailer.get("/ID")
    id_entry = b" /ID " + ids.unparse() if isinstance(ids, pikepdf.Array) else b""
    root_num, root_gen = root.objgen
    refs = (f"/Root {root_num} {root_gen} R /Info {info_num} {info_gen} R "
            f"/Prev {prev_xref}").encode() + id_entry
    xref_at = prefix_len + len(body)
    if kind == "table":
        body += b"xref\n" + _xref_table(offsets)
        body += b"trailer\n<< /Size " + str(size).encode() + b" " + refs + b" >>\n"
    else:
        xref_num = size
        size += 1
        offsets[xref_num] = (xref_at, 0)
        body += _xref_stream(xref_num, offsets, size, refs)
    if size > _MAX_OBJECTS:
        raise UnsupportedFormat(f"PDF unsupported for writing: {size} objects is over the limit")
    body += b"startxref\n" + str(xref_at).encode() + b"\n%%EOF\n"
    return bytes(body)


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_OBJECTS:
        raise MalformedFile(f"PDF {what} is missing or out of range")
    return value


def _info_revision(pdf: pikepdf.Pdf, label: AIGCLabel,
                   objects: dict[int, tuple[int, bytes]], size: int) -> tuple[int, int]:
    """A new revision of the Info dictionary: same object number if there was one."""
    old = pdf.trailer.get("/Info")
    info = pikepdf.Dictionary()
    if isinstance(old, pikepdf.Dictionary):
        for key in list(old.keys()):
            # Every other AIGC-like key goes, so only /AIGC remains (one label per file).
            if "AIGC" not in key.upper():
                info[key] = old.get(key)
    info[_INFO_KEY] = pikepdf.String(label.to_json())
    num, gen = old.objgen if isinstance(old, pikepdf.Dictionary) else (0, 0)
    if num == 0:
        num, gen = size, 0
    objects[num] = (gen, info.unparse())
    return num, gen


def _metadata_revision(pdf: pikepdf.Pdf, objects: dict[int, tuple[int, bytes]]) -> None:
    """Drop AIGC from the XMP stream, if it has one; see the module docstring for why."""
    stream = _metadata_stream(pdf)
    if stream is None:
        return
    packet = _xmp_packet(stream)
    if not xmp.find_aigc(packet):
        return
    new_packet = xmp.remove_aigc(packet, padding=2048)
    stream_dict = pikepdf.Dictionary()
    for key in list(stream.stream_dict.keys()):
        if key not in ("/Length", "/Filter", "/DecodeParms", "/DL"):
            stream_dict[key] = stream.stream_dict.get(key)
    stream_dict["/Length"] = len(new_packet)
    num, gen = stream.objgen
    objects[num] = (gen, stream_dict.unparse() + b"\nstream\n" + new_packet + b"\nendstream")


def _runs(numbers: list[int]) -> Iterator[list[int]]:
    """Contiguous runs of object numbers: one xref subsection each."""
    run: list[int] = []
    for num in sorted(numbers):
        if run and num != run[-1] + 1:
            yield run
            run = []
        run.append(num)
    if run:
        yield run


def _xref_table(offsets: dict[int, tuple[int, int]]) -> bytes:
    out = bytearray()
    for run in _runs(list(offsets)):
        out += f"{run[0]} {len(run)}\n".encode()
        for num in run:
            offset, gen = offsets[num]
            out += f"{offset:010d} {gen:05d} n\r\n".encode()
    return bytes(out)


def _xref_stream(num: int, offsets: dict[int, tuple[int, int]], size: int,
                 refs: bytes) -> bytes:
    width = max(4, (max(off for off, _ in offsets.values()).bit_length() + 7) // 8)
    index: list[int] = []
    rows = bytearray()
    for run in _runs(list(offsets)):
        index += [run[0], len(run)]
        for obj in run:
            offset, gen = offsets[obj]
            rows += b"\x01" + offset.to_bytes(width, "big") + gen.to_bytes(2, "big")
    head = (f"<< /Type /XRef /Size {size} /W [1 {width} 2] "
            f"/Index [{' '.join(map(str, index))}] /Length {len(rows)} ").encode()
    return (f"{num} 0 obj\n".encode() + head + refs + b" >>\nstream\n" + bytes(rows)
            + b"\nendstream\nendobj\n")
