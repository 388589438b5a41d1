"""OOXML (docx/xlsx/pptx and their macro/template variants): a custom document property.

The label is `<property name="AIGC">` with a `<vt:lpwstr>` value in the package's custom
properties part (`docProps/custom.xml`, found through the package relationship of type
custom-properties). Writing merges into an existing part, keeping every other property
byte for byte, and adds the `[Content_Types].xml` Override and the `_rels/.rels`
relationship when they are missing.

The package is a zip. We read its central directory ourselves rather than through
`zipfile`, because `zipfile` cannot copy a member without decompressing and
recompressing it: every member we do not edit is copied as its raw local record
(header, compressed bytes, data descriptor), so its bytes and CRC are unchanged. Only
the parts we edit are decompressed, each bounded, and overlapping or out-of-range
records are refused, so a zip bomb costs nothing.

XML goes through defusedxml with DTDs forbidden (no entity bombs); edits are splices at
the byte offsets expat reports, so nothing we do not touch is re-serialized.
"""

from __future__ import annotations

import posixpath
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site

NAME = "ooxml"
EXTENSIONS = (".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm", ".dotx", ".potx", ".xltx")
WRITABLE = True

CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"
DEFAULT_CUSTOM = "docProps/custom.xml"
CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# The FMTID every custom document property carries (MS-OLEPS user-defined properties).
FMTID_USER = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
PROPERTY = "AIGC"

MAX_MEMBERS = 50_000
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
MAX_PART_BYTES = 16 * 1024 * 1024  # per XML part we decompress; we decompress at most three
_COPY_CHUNK = 1024 * 1024

_EOCD = struct.Struct("<4sHHHHLLH")
_CENTRAL = struct.Struct("<4sBBHHHHHLLLHHHHHLL")
_LOCAL = struct.Struct("<4sHHHHHLLLHH")
_ZIP64 = 0xFFFFFFFF


def sniff(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


# --- the zip container ------------------------------------------------------------------------

@dataclass
class Member:
    name: str
    central: bytes  # the raw central directory record
    flags: int
    method: int
    crc: int
    size: int
    compressed_size: int
    local_offset: int
    data_offset: int = 0
    record_end: int = 0  # end of the local record, data descriptor included


@dataclass
class Package:
    src: BinaryIO
    members: list[Member]
    comment: bytes
    by_name: dict[str, Member] = field(default_factory=dict)

    def part(self, name: str) -> bytes | None:
        """A member's content, decompressed with a bound; None if absent."""
        member = self.by_name.get(name)
        return None if member is None else _inflate(self.src, member)


def _open(src: BinaryIO) -> Package:
    size = src.seek(0, 2)
    tail_len = min(size, _EOCD.size + 0xFFFF)
    src.seek(size - tail_len)
    tail = src.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise MalformedFile("zip end-of-central-directory record not found (truncated?)")
    (_, disk, cd_disk, _, count, cd_size, cd_offset,
     comment_len) = _EOCD.unpack_from(tail, at)
    eocd_pos = size - tail_len + at
    if disk or cd_disk:
        raise UnsupportedFormat("multi-disk zip archives are unsupported")
    if count == 0xFFFF or _ZIP64 in (cd_size, cd_offset):
        raise UnsupportedFormat("zip64 OOXML packages (over 4 GiB or 65535 parts) are "
                                "unsupported")
    if count > MAX_MEMBERS or cd_size > MAX_CENTRAL_DIRECTORY:
        raise MalformedFile(f"zip central directory has {count} entries in {cd_size} bytes, "
                            f"limit {MAX_MEMBERS} entries")
    if cd_offset + cd_size != eocd_pos:
        raise MalformedFile(f"zip central directory ({cd_size} bytes at {cd_offset}) does not "
                            f"end at its end record at {eocd_pos}")
    src.seek(cd_offset)
    directory = src.read(cd_size)
    package = Package(src, [], tail[at + _EOCD.size:at + _EOCD.size + comment_len])
    pos = 0
    for _ in range(count):
        member = _central_record(directory, pos)
        pos += len(member.central)
        if member.name in package.by_name:
            raise MalformedFile(f"zip has two members named {member.name!r}")
        package.members.append(member)
        package.by_name[member.name] = member
    if pos != cd_size:
        raise MalformedFile("zip central directory size disagrees with its entries")
    end = 0
    for member in sorted(package.members, key=lambda m: m.local_offset):
        if member.local_offset < end:
            raise MalformedFile(f"zip member {member.name!r} overlaps the one before it")
        end = _local_record(src, member, cd_offset)
    return package


def _central_record(directory: bytes, pos: int) -> Member:
    if pos + _CENTRAL.size > len(directory):
        raise MalformedFile("zip central directory is truncated")
    (sig, _, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len,
     comment_len, _, _, _, offset) = _CENTRAL.unpack_from(directory, pos)
    end = pos + _CENTRAL.size + name_len + extra_len + comment_len
    if sig != b"PK\x01\x02" or end > len(directory):
        raise MalformedFile(f"bad zip central directory entry at offset {pos}")
    if _ZIP64 in (csize, usize, offset):
        raise UnsupportedFormat("zip64 OOXML packages are unsupported")
    raw_name = directory[pos + _CENTRAL.size:pos + _CENTRAL.size + name_len]
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
    return Member(name, directory[pos:end], flags, method, crc, usize, csize, offset)


def _local_record(src: BinaryIO, member: Member, limit: int) -> int:
    src.seek(member.local_offset)
    head = src.read(_LOCAL.size)
    if len(head) < _LOCAL.size or not head.startswith(b"PK\x03\x04"):
        raise MalformedFile(f"zip member {member.name!r}: no local header at "
                            f"{member.local_offset}")
    name_len, extra_len = _LOCAL.unpack(head)[9:11]
    member.data_offset = member.local_offset + _LOCAL.size + name_len + extra_len
    end = member.data_offset + member.compressed_size
    if member.flags & 0x08:  # sizes follow the data in a descriptor, signature optional
        src.seek(end)
        end += 16 if src.read(4) == b"PK\x07\x08" else 12
    if end > limit:
        raise MalformedFile(f"zip member {member.name!r} runs past the central directory")
    member.record_end = end
    return end


def _inflate(src: BinaryIO, member: Member) -> bytes:
    if member.flags & 0x01:
        raise UnsupportedFormat(f"zip member {member.name!r} is encrypted")
    # Deflate never grows data by more than a few bytes per 16 KiB block.
    if member.size > MAX_PART_BYTES or member.compressed_size > member.size + 65536:
        raise MalformedFile(f"{member.name} declares {member.size} bytes "
                            f"({member.compressed_size} compressed), limit {MAX_PART_BYTES}")
    src.seek(member.data_offset)
    raw = src.read(member.compressed_size)
    if member.method == 0:
        data = raw
    elif member.method == 8:
        try:
            data = zlib.decompressobj(-15).decompress(raw, member.size + 1)
        except zlib.error as exc:
            raise MalformedFile(f"{member.name} does not inflate: {exc}") from None
    else:
        raise UnsupportedFormat(f"{member.name} uses zip compression method {member.method}")
    if len(data) != member.size or zlib.crc32(data) != member.crc:
        raise MalformedFile(f"{member.name}: size or CRC disagrees with the zip directory")
    return data


# --- XML: safe parsing and byte-offset splicing ------------------------------------------------

@dataclass
class Child:
    """A direct child element of the root: its parsed form and its byte range."""

    elem: ET.Element
    start: int
    end: int


@dataclass
class Layout:
    root: ET.Element
    root_qname: str  # as written, e.g. "Types" or "ct:Types"
    root_attrs: dict[str, str]
    children: list[Child]
    insert_at: int  # where a new last child goes
    self_closing: bool  # root written as <Root .../>

    def prefix(self) -> str:
        qualified, _, _ = self.root_qname.rpartition(":")
        return f"{qualified}:" if qualified else ""

    def add(self, data: bytes, markup: str) -> bytes:
        if self.self_closing:  # `<Root .../>` becomes `<Root ...>markup</Root>`
            head = data[:self.insert_at].rstrip()
            return (head[:-2] + b">" + markup.encode() + f"</{self.root_qname}>".encode()
                    + data[self.insert_at:])
        return data[:self.insert_at] + markup.encode() + data[self.insert_at:]


_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")


def _tree(data: bytes, part: str) -> ET.Element:
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedFile(f"{part} is not well-formed XML without a DTD: {exc}") from None
    return root


def _layout(data: bytes, part: str) -> Layout:
    """The parsed tree plus byte offsets, for splicing; needs an ASCII-compatible part."""
    root = _tree(data, part)
    _ascii_compatible(data, part)
    # defusedxml has refused any DTD, so plain expat is safe here; it adds byte offsets.
    parser = expat.ParserCreate()
    spans: list[tuple[int, int]] = []
    top = Layout(root, "", {}, [], -1, False)
    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        at = parser.CurrentByteIndex
        tag = _START_TAG.match(data, at)
        if tag is None:
            raise MalformedFile(f"{part}: cannot delimit the tag at offset {at}")
        if depth == 1:
            top.root_qname, top.root_attrs = name, attrs
            top.self_closing, top.insert_at = bool(tag.group(1)), tag.end()
        elif depth == 2:
            spans.append((at, tag.end() if tag.group(1) else -1))

    def end(_name: str) -> None:
        nonlocal depth
        at = parser.CurrentByteIndex
        if depth == 2 and spans[-1][1] < 0:
            spans[-1] = (spans[-1][0], data.index(b">", at) + 1)
        elif depth == 1 and not top.self_closing:
            top.insert_at = at
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise MalformedFile(f"{part} is not well-formed XML: {exc}") from None
    elements = list(root)
    if len(elements) != len(spans):
        raise MalformedFile(f"{part}: parsers disagree on the element structure")
    top.children = [Child(e, s, t) for e, (s, t) in zip(elements, spans, strict=True)]
    return top


def _ascii_compatible(data: bytes, part: str) -> None:
    """Our splices are ASCII, so the part must be in an ASCII-compatible encoding."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        raise UnsupportedFormat(f"{part} is UTF-16: unsupported for writing")


def _local(tag: str) -> tuple[str, str]:
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return ns, local


# --- reading ----------------------------------------------------------------------------------

def _custom_rel(rels: ET.Element | None) -> str | None:
    """The custom-properties part the package relationships point at, if any."""
    for e in rels if rels is not None else []:
        if _local(e.tag)[1] == "Relationship" and e.get("Type") == CUSTOM_REL \
                and e.get("TargetMode", "Internal") == "Internal":
            target = unquote(e.get("Target", ""))
            name = posixpath.normpath(target.lstrip("/")) if target else ""
            if not name or name.startswith("..") or name == ".":
                raise MalformedFile(f"custom properties relationship target {target!r} is "
                                    "outside the package")
            return name
    return None


def _package(src: BinaryIO) -> Package:
    package = _open(src)
    if CONTENT_TYPES not in package.by_name:
        raise UnsupportedFormat(f"zip archive without {CONTENT_TYPES} is not an OOXML package")
    return package


def _is_label(elem: ET.Element) -> bool:
    return _local(elem.tag) == (CP_NS, "property") and PROPERTY in elem.get("name", "").upper()


def read(src: BinaryIO) -> list[Site]:
    package = _package(src)
    rels = package.part(PACKAGE_RELS)
    name = _custom_rel(_tree(rels, PACKAGE_RELS) if rels is not None else None) or DEFAULT_CUSTOM
    data = package.part(name)
    if data is None:
        return []
    root = _tree(data, name)
    if _local(root.tag) != (CP_NS, "Properties"):
        raise MalformedFile(f"{name} root is {root.tag}, not custom-properties")
    sites = []
    for prop in filter(_is_label, root):
        findings: list[Finding] = []
        key = prop.get("name", "")
        if key != PROPERTY:
            findings.append(Finding("nonstandard-key", "warning",
                                    f"label stored under property name {key!r}, not {PROPERTY!r}"))
        value = next(iter(prop), None)
        vtype = _local(value.tag) if value is not None else ("", "")
        if vtype != (VT_NS, "lpwstr"):
            findings.append(Finding("ooxml-value-type", "warning",
                                    f"property value is vt:{vtype[1] or 'nothing'}, not vt:lpwstr"))
        raw = "".join(value.itertext()) if value is not None else ""
        sites.append(Site("ooxml:custom", f"{name} property {key!r} (pid {prop.get('pid')})",
                          raw, findings))
    return sites


# --- writing ----------------------------------------------------------------------------------

def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    package = _package(src)
    rels = package.part(PACKAGE_RELS)
    rels_layout = _layout(rels, PACKAGE_RELS) if rels is not None else None
    related = _custom_rel(rels_layout.root if rels_layout else None)
    name = related or DEFAULT_CUSTOM
    edits: dict[str, bytes] = {name: _set_property(package.part(name), name, label.to_json())}
    types = package.part(CONTENT_TYPES) or b""  # present: _package checked
    new_types = _with_override(types, "/" + name)
    if new_types is not None:
        edits[CONTENT_TYPES] = new_types
    if related is None:
        edits[PACKAGE_RELS] = _with_relationship(rels, rels_layout, name)
    _rewrite(package, dst, edits)


def _set_property(data: bytes | None, part: str, value: str) -> bytes:
    if data is None:
        return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                + f'<Properties xmlns="{CP_NS}" xmlns:vt="{VT_NS}">'.encode()
                + _property_markup("", "vt:", "", 2, value).encode() + b"</Properties>")
    layout = _layout(data, part)
    if _local(layout.root.tag) != (CP_NS, "Properties"):
        raise UnsupportedFormat(f"{part} root is not custom-properties: unsupported for writing")
    # The exact name is the one to keep (in place, with its pid); other AIGC-like go.
    existing = sorted((c for c in layout.children if _is_label(c.elem)),
                      key=lambda c: c.elem.get("name") != PROPERTY)
    vt = next((k[6:] + ":" for k, v in layout.root_attrs.items()
               if k.startswith("xmlns:") and v == VT_NS), None)
    vt_decl = "" if vt else f" xmlns:vt={quoteattr(VT_NS)}"
    if existing:  # rewrite the first in place (its pid), drop the others
        keep = existing[0]
        pid = _pid(keep.elem) or 2
        markup = _property_markup(layout.prefix(), vt or "vt:", vt_decl, pid, value).encode()
        out = data
        for child in sorted(existing, key=lambda c: c.start, reverse=True):
            out = out[:child.start] + (markup if child is keep else b"") + out[child.end:]
        return out
    pids = [p for p in (_pid(c.elem) for c in layout.children) if p is not None]
    pid = max([1, *pids]) + 1
    return layout.add(data, _property_markup(layout.prefix(), vt or "vt:", vt_decl, pid, value))


def _pid(elem: ET.Element) -> int | None:
    text = elem.get("pid", "")
    return int(text) if text.isdigit() and len(text) < 10 else None


def _property_markup(prefix: str, vt: str, vt_decl: str, pid: int, value: str) -> str:
    return (f'<{prefix}property fmtid="{FMTID_USER}" pid="{pid}" name="{PROPERTY}">'
            f"<{vt}lpwstr{vt_decl}>{escape(value)}</{vt}lpwstr></{prefix}property>")


def _with_override(data: bytes, part_name: str) -> bytes | None:
    layout = _layout(data, CONTENT_TYPES)
    if _local(layout.root.tag) != (CT_NS, "Types"):
        raise MalformedFile(f"{CONTENT_TYPES} root is not content-types")
    for child in layout.children:
        if _local(child.elem.tag)[1] == "Override" and \
                child.elem.get("PartName", "").lower() == part_name.lower():
            return None  # part names compare case-insensitively (OPC §9.1.1.1)
    return layout.add(data, f"<{layout.prefix()}Override PartName={quoteattr(part_name)} "
                            f"ContentType={quoteattr(CUSTOM_TYPE)}/>")


def _with_relationship(data: bytes | None, layout: Layout | None, part: str) -> bytes:
    if data is None or layout is None:
        data = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                + f'<Relationships xmlns="{REL_NS}"></Relationships>'.encode())
        layout = _layout(data, PACKAGE_RELS)
    taken = {c.elem.get("Id") for c in layout.children}
    n = 1
    while f"rId{n}" in taken:
        n += 1
    return layout.add(data, f'<{layout.prefix()}Relationship Id="rId{n}" '
                            f'Type="{CUSTOM_REL}" Target={quoteattr(part)}/>')


def _rewrite(package: Package, dst: BinaryIO, edits: dict[str, bytes]) -> None:
    """Copy every member's raw record except the edited ones, then a new directory."""
    src = package.src
    stamp = package.by_name[CONTENT_TYPES].central[12:16]  # DOS time+date for new parts
    directory = bytearray()
    written = 0
    pending = dict(edits)

    def emit(data: bytes) -> None:
        nonlocal written
        dst.write(data)
        written += len(data)

    for member in package.members:
        offset = written
        if member.name in pending:
            central = _deflated(pending.pop(member.name), member.central, emit)
        else:
            src.seek(member.local_offset)
            left = member.record_end - member.local_offset
            while left:
                chunk = src.read(min(left, _COPY_CHUNK))
                if not chunk:
                    raise MalformedFile(f"zip member {member.name!r} is truncated")
                emit(chunk)
                left -= len(chunk)
            central = member.central
        directory += central[:42] + struct.pack("<L", offset) + central[46:]
    for name, data in pending.items():
        offset = written
        central = _CENTRAL.pack(b"PK\x01\x02", 20, 0, 20, 0, 8, 0, 0, 0, 0, 0,
                                len(name.encode()), 0, 0, 0, 0, 0, 0) + name.encode()
        central = central[:12] + stamp + central[16:]
        central = _deflated(data, central, emit)
        directory += central[:42] + struct.pack("<L", offset) + central[46:]
    cd_offset = written
    count = len(package.members) + len(pending)
    if cd_offset + len(directory) >= _ZIP64 or count >= 0xFFFF:
        raise UnsupportedFormat("labelled package would need zip64: unsupported for writing")
    emit(bytes(directory))
    emit(_EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), cd_offset,
                    len(package.comment)) + package.comment)


def _deflated(data: bytes, central: bytes, emit: Callable[[bytes], None]) -> bytes:
    """Write `data` as a fresh deflated local record modelled on a central entry's name,
    version and timestamp; return the central record updated to match."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    fields = list(_CENTRAL.unpack_from(central))
    name_len = fields[11]
    raw_name = central[_CENTRAL.size:_CENTRAL.size + name_len]
    flags = fields[4] & 0x0800  # keep only the UTF-8 name flag: no descriptor, no encryption
    crc = zlib.crc32(data)
    emit(_LOCAL.pack(b"PK\x03\x04", 20, flags, 8, fields[6], fields[7], crc, len(packed),
                     len(data), name_len, 0) + raw_name)
    emit(packed)
    fields[3], fields[4], fields[5] = max(fields[3], 20), flags, 8
    fields[8], fields[9], fields[10] = crc, len(packed), len(data)
    return _CENTRAL.pack(*fields) + central[_CENTRAL.size:]
