"""FLV: the label as key `AIGC` (an AMF0 string holding the bare JSON) in `onMetaData`.

Read sites: `AIGC` in every `onMetaData` script tag, and a top-level `AIGC` key in any
other script tag, or a script tag named `AIGC` (warning: not where the guide puts it).

Write: only script tags are re-encoded; audio and video tags are copied byte for byte,
in blocks. In the first `onMetaData` the `AIGC` entry is replaced (or appended); every
other entry keeps its exact AMF0 bytes. A file without `onMetaData` gets one right
after the header. Changing a script tag's size moves every later tag, so the absolute
offsets some writers store in `onMetaData` (`keyframes.filepositions`, ffmpeg with
`add_keyframe_index`, yamdi, flvtool2; `lastkeyframelocation`; `filesize`) are shifted
to match: players seek with them.

AMF0 is parsed with a depth limit, a value budget, and every length checked against
the tag body, which itself is at most 16 MiB (24-bit DataSize).
"""

from __future__ import annotations

import bisect
import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import Site
from synthguard.labels.carriers.riff import copy_range, label_text

NAME = "flv"
EXTENSIONS = (".flv",)
WRITABLE = True

SCRIPT = 18
MAX_DEPTH = 32
MAX_VALUES = 2_000_000  # AMF0 values per file, all script tags together
MAX_SCRIPT_TAGS = 10_000
MAX_HELD_SCRIPT = 64 * 1024 * 1024  # bytes of label-relevant script bodies held at once
MAX_HEADER = 1024 * 1024
ON_META = b"onMetaData"
KEY = b"AIGC"
NUMBER, STRING, OBJECT, ECMA, STRICT, LONG_STRING = 0x00, 0x02, 0x03, 0x08, 0x0A, 0x0C
_FIXED = {NUMBER: 9, 0x01: 2, 0x05: 1, 0x06: 1, 0x07: 3, 0x0B: 11, 0x0D: 1}
_TYPE_NAMES = {NUMBER: "number", 0x01: "boolean", STRING: "string", OBJECT: "object",
               0x05: "null", 0x06: "undefined", ECMA: "ECMA array", STRICT: "strict array",
               LONG_STRING: "long string"}


class _Budget:
    left = MAX_VALUES


class _Amf:
    """Validating AMF0 reader over one script tag body; positions index `buf`."""

    def __init__(self, buf: bytes, where: str, budget: _Budget) -> None:
        self.buf, self.where, self.budget = buf, where, budget

    def fail(self, why: str, pos: int) -> MalformedFile:
        return MalformedFile(f"bad AMF0 in {self.where}, body offset {pos}: {why}")

    def uint(self, pos: int, n: int) -> int:
        if pos + n > len(self.buf):
            raise self.fail("value runs past the end of the tag", pos)
        return int.from_bytes(self.buf[pos:pos + n], "big")

    def key(self, pos: int) -> tuple[bytes, int]:
        end = pos + 2 + self.uint(pos, 2)
        if end > len(self.buf):
            raise self.fail("string runs past the end of the tag", pos)
        return self.buf[pos + 2:end], end

    def skip(self, pos: int, depth: int = 0) -> int:
        """The end of the value at `pos`, after checking all of it."""
        self.budget.left -= 1
        if self.budget.left < 0:
            raise self.fail(f"more than {MAX_VALUES} values", pos)
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH}", pos)
        marker = self.uint(pos, 1)
        if marker in _FIXED:
            end = pos + _FIXED[marker]
        elif marker == STRING:
            end = self.key(pos + 1)[1]
        elif marker in (LONG_STRING, 0x0F):  # long string, XML document
            end = pos + 5 + self.uint(pos + 1, 4)
        elif marker in (OBJECT, ECMA):
            end = self.entries(pos, depth)[1]
        elif marker == 0x10:  # typed object: class name, then properties
            end = self._properties(self.key(pos + 1)[1], depth, False, None)
        elif marker == STRICT:
            count, end = self.uint(pos + 1, 4), pos + 5
            if count > len(self.buf) - end:  # every element takes at least one byte
                raise self.fail(f"strict array claims {count} elements", pos)
            for _ in range(count):
                end = self.skip(end, depth + 1)
        else:
            raise self.fail(f"unsupported AMF0 marker 0x{marker:02X}", pos)
        if end > len(self.buf):
            raise self.fail("value runs past the end of the tag", pos)
        return end

    def entries(self, pos: int, depth: int = 0) -> tuple[list[tuple[bytes, int, int, int]], int]:
        """Properties of an object or ECMA array at `pos`: (key, entry start, value start,
        value end) each, and the end of the whole value."""
        marker = self.uint(pos, 1)
        if marker not in (OBJECT, ECMA):
            raise self.fail(f"expected an object, got marker 0x{marker:02X}", pos)
        out: list[tuple[bytes, int, int, int]] = []
        start = pos + (5 if marker == ECMA else 1)
        return out, self._properties(start, depth, marker == ECMA, out)

    def _properties(self, pos: int, depth: int, ecma: bool,
                    out: list[tuple[bytes, int, int, int]] | None) -> int:
        while True:
            # ffmpeg and others accept an ECMA array that ends with the tag, unterminated.
            if ecma and pos == len(self.buf):
                return pos
            if self.uint(pos, 2) == 0 and self.uint(pos + 2, 1) == 0x09:
                return pos + 3
            key, vpos = self.key(pos)
            end = self.skip(vpos, depth + 1)
            if out is not None:
                out.append((key, pos, vpos, end))
            pos = end

    def string(self, pos: int) -> bytes | None:
        """The bytes of a string or long string value at `pos`; None for other types."""
        marker = self.uint(pos, 1)
        if marker == STRING:
            return self.key(pos + 1)[0]
        if marker == LONG_STRING:
            end = pos + 5 + self.uint(pos + 1, 4)
            return self.buf[pos + 5:end]
        return None


@dataclass(frozen=True)
class Tag:
    at: int
    kind: int  # type byte without its reserved and filter bits
    size: int  # DataSize

    @property
    def span(self) -> int:
        return 11 + self.size + 4  # header, body, PreviousTagSize


@dataclass(frozen=True)
class Script:
    """A parsed script tag: its name, and where its data value sits in `body`."""

    tag: Tag
    body: bytes
    name: bytes
    value: int  # start of the data value
    value_end: int
    amf: _Amf
    entries: list[tuple[bytes, int, int, int]] | None  # when the value is an object

    def labels(self) -> list[tuple[int, int, int]]:
        """(entry start, value start, value end) of each top-level AIGC key."""
        return [(e, v, end) for key, e, v, end in self.entries or () if key == KEY]


def _kind(body: bytes, pos: int) -> str:
    if pos >= len(body):
        return "nothing"
    return _TYPE_NAMES.get(body[pos], f"value of type 0x{body[pos]:02X}")


def sniff(head: bytes) -> bool:
    return head[:3] == b"FLV" and len(head) >= 9 and head[3] == 1


def _header(src: BinaryIO) -> tuple[int, int]:
    """(offset of the first tag, file size)."""
    file_size = src.seek(0, 2)
    src.seek(0)
    head = src.read(9)
    if len(head) < 9 or head[:3] != b"FLV":
        raise MalformedFile("not an FLV file: header missing")
    offset = int.from_bytes(head[5:9], "big")
    if offset < 9 or offset > min(file_size - 4, MAX_HEADER):
        raise MalformedFile(f"FLV header declares data offset {offset}")
    return offset + 4, file_size


def _tags(src: BinaryIO, first: int, file_size: int) -> Iterator[Tag]:
    at = first
    while at < file_size:
        src.seek(at)
        head = src.read(11)
        if len(head) < 11:
            raise MalformedFile(f"truncated FLV: tag header at offset {at} is cut off")
        size = int.from_bytes(head[1:4], "big")
        if size + 15 > file_size - at:
            raise MalformedFile(f"FLV tag at offset {at} declares {size} bytes; "
                                f"{file_size - at - 15} remain")
        filtered = head[0] & 0x20  # encrypted: its body is not AMF we can read
        yield Tag(at, 0x100 if filtered else head[0] & 0x1F, size)
        at += 15 + size


def _script(src: BinaryIO, tag: Tag, budget: _Budget) -> Script:
    src.seek(tag.at + 11)
    body = src.read(tag.size)
    where = f"script tag at offset {tag.at}"
    amf = _Amf(body, where, budget)
    name = amf.string(0)
    if name is None:
        raise amf.fail("a script tag must start with its name, an AMF0 string", 0)
    value = amf.skip(0)
    # RTMP ingest keeps the "@setDataFrame" wrapper: the real name is the next string.
    if name == b"@setDataFrame" and value < len(body) and (inner := amf.string(value)):
        name, value = inner, amf.skip(value)
    entries = None
    if value == len(body):
        value_end = value
    elif body[value] in (OBJECT, ECMA):
        entries, value_end = amf.entries(value)
    else:
        value_end = amf.skip(value)
    return Script(tag, body, name, value, value_end, amf, entries)


def _scripts(src: BinaryIO) -> tuple[list[Script], int, int]:
    """The script tags that matter (onMetaData, or holding a label), the offset of the
    first tag, and the file size. Other script tags are checked, then let go."""
    first, file_size = _header(src)
    out, seen, held, budget = [], 0, 0, _Budget()
    for tag in _tags(src, first, file_size):
        if tag.kind != SCRIPT:
            continue
        seen += 1
        if seen > MAX_SCRIPT_TAGS:
            raise MalformedFile(f"more than {MAX_SCRIPT_TAGS} script tags")
        script = _script(src, tag, budget)
        if script.name in (ON_META, KEY) or script.labels():
            held += tag.size
            if held > MAX_HELD_SCRIPT:
                raise MalformedFile(f"more than {MAX_HELD_SCRIPT} bytes of metadata script")
            out.append(script)
    return out, first, file_size


def read(src: BinaryIO) -> list[Site]:
    scripts, _, _ = _scripts(src)
    sites = []
    for s in scripts:
        name = s.name.decode("latin-1")
        where = f"script tag '{name}' at offset {s.tag.at}"
        if s.name == KEY:
            spots = [(s.value, s.value_end)] if s.value_end > s.value else []
        else:
            spots = [(v, end) for _, v, end in s.labels()]
        for v, _end in spots:
            text = s.amf.string(v)
            findings: list[Finding] = []
            if text is None:
                raw = ""
                findings.append(Finding("flv-not-string", "error",
                                        f"AIGC is an AMF0 {_kind(s.body, v)}, not a string"))
            else:
                raw, findings = label_text(text, zstr=False)
            if s.name != ON_META:
                findings.append(Finding("flv-script-location", "warning",
                                        f"label in script tag '{name}', not in onMetaData"))
            sites.append(Site(f"{NAME}:onMetaData" if s.name == ON_META else f"{NAME}:script",
                              f"{where}, key 'AIGC'", raw, findings))
    return sites


# --- writing --------------------------------------------------------------------------------


def _amf_string(data: bytes) -> bytes:
    if len(data) <= 0xFFFF:
        return bytes([STRING]) + struct.pack(">H", len(data)) + data
    return bytes([LONG_STRING]) + struct.pack(">I", len(data)) + data


def _number(value: float) -> bytes:
    return bytes([NUMBER]) + struct.pack(">d", value)


class _Moves:
    """Where old file offsets land after script tags change size."""

    def __init__(self, insert_at: int, inserted: int) -> None:
        self.insert_at, self.inserted = insert_at, inserted
        self.changes: list[tuple[int, int]] = []  # (old tag offset, size delta)
        self._starts: list[int] = []
        self._shifts: list[int] = []  # cumulative deltas, for a bisect per offset

    def total(self) -> int:
        return self.inserted + sum(d for _, d in self.changes)

    def map(self, old: int) -> int:
        if len(self._starts) != len(self.changes):
            ordered = sorted(self.changes)
            self._starts = [at for at, _ in ordered]
            self._shifts = list(itertools.accumulate(d for _, d in ordered))
        i = bisect.bisect_left(self._starts, old)  # changes strictly before `old`
        shift = self.inserted if old >= self.insert_at else 0
        return old + shift + (self._shifts[i - 1] if i else 0)


def _offset(number: bytes, file_size: int) -> int | None:
    """The file offset an encoded AMF0 number holds, if it can be one."""
    if len(number) != 9 or number[0] != NUMBER:
        return None
    value = struct.unpack_from(">d", number, 1)[0]
    if not (0 <= value <= file_size) or value != int(value):  # NaN fails the first test
        return None
    return int(value)


def _shift_number(number: bytes, move: _Moves, key: bytes, file_size: int) -> bytes | None:
    """A re-encoded offset-bearing number, or None to keep the bytes."""
    value = _offset(number, file_size)
    if value is None:
        return None
    if key == b"filesize":
        return _number(file_size + move.total()) if value == file_size else None
    return _number(move.map(value))


def _keyframes(amf: _Amf, v: int, move: _Moves, file_size: int) -> bytes | None:
    """The `keyframes` object with its `filepositions` shifted; None if not that shape."""
    if amf.buf[v] not in (OBJECT, ECMA):
        return None
    entries, end = amf.entries(v)
    out = bytearray(amf.buf[v:entries[0][1]] if entries else amf.buf[v:end])
    for key, e, kv, kend in entries:
        out += amf.buf[e:kv]
        if key == b"filepositions" and amf.buf[kv] == STRICT:
            out += amf.buf[kv:kv + 5]
            pos = kv + 5
            for _ in range(amf.uint(kv + 1, 4)):
                end_of = amf.skip(pos)
                old = amf.buf[pos:end_of]
                out += _shift_number(old, move, key, file_size) or old
                pos = end_of
        else:
            out += amf.buf[kv:kend]
    out += amf.buf[entries[-1][3]:end] if entries else b""
    return bytes(out)


def _body(s: Script, entry: bytes | None, move: _Moves | None, file_size: int) -> bytes:
    """The script body without AIGC entries, with `entry` in place of the first (or at the
    end), and with offsets moved when `move` is given. Other bytes are kept."""
    amf, body, end = s.amf, s.body, s.value_end
    out = bytearray(body[:s.value + (5 if body[s.value] == ECMA else 1)])
    kept = 0
    for key, e, v, vend in s.entries or ():
        if key == KEY:
            if entry is not None:
                out += entry
                kept += 1
                entry = None
            continue
        new = None
        if move is not None and key in (b"filesize", b"lastkeyframelocation"):
            new = _shift_number(body[v:vend], move, key, file_size)
        elif move is not None and key == b"keyframes":
            new = _keyframes(amf, v, move, file_size)
        out += body[e:v] + (body[v:vend] if new is None else new)
        kept += 1
    if entry is not None:
        out += entry
        kept += 1
    if body[s.value] == ECMA:
        struct.pack_into(">I", out, s.value + 1, kept)
    out += b"\x00\x00\x09" + body[end:]
    return bytes(out)


def _tag_bytes(header: bytes, body: bytes) -> bytes:
    if len(body) > 0xFFFFFF:
        raise UnsupportedFormat("FLV unsupported for writing: onMetaData would exceed the "
                                "16 MiB script tag limit")
    return header[:1] + len(body).to_bytes(3, "big") + header[4:11] + body + \
        struct.pack(">I", 11 + len(body))


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    scripts, first, file_size = _scripts(src)
    entry = struct.pack(">H", len(KEY)) + KEY + _amf_string(label.to_json().encode("ascii"))
    meta = [s for s in scripts if s.name == ON_META]
    target = meta[0] if meta else None
    if target is not None and target.entries is None:
        raise UnsupportedFormat("FLV unsupported for writing: onMetaData holds an AMF0 "
                                f"{_kind(target.body, target.value)}, not an object")
    new_tag = b""
    if target is None:
        body = _amf_string(ON_META) + bytes([ECMA]) + struct.pack(">I", 1) + entry + \
            b"\x00\x00\x09"
        new_tag = _tag_bytes(bytes([SCRIPT]) + bytes(10), body)
    move = _Moves(first, len(new_tag))
    bodies: dict[int, bytes | None] = {}  # tag offset -> new body (None: drop the tag)
    for s in scripts:
        if s is target:
            continue
        if s.name == KEY:
            bodies[s.tag.at] = None
            move.changes.append((s.tag.at, -s.tag.span))
        elif s.labels():
            bodies[s.tag.at] = _body(s, None, None, file_size)
            move.changes.append((s.tag.at, len(bodies[s.tag.at] or b"") - s.tag.size))
    if target is not None:
        # The new body's length does not depend on the offsets inside it (AMF0 numbers
        # are fixed-size), so measure it first, then encode it with the final offsets.
        trial = _body(target, entry, None, file_size)
        move.changes.append((target.tag.at, len(trial) - target.tag.size))
        bodies[target.tag.at] = _body(target, entry, move, file_size)
    copy_range(src, dst, 0, first)
    dst.write(new_tag)
    at = first
    for s in scripts:
        if s.tag.at not in bodies:
            continue
        copy_range(src, dst, at, s.tag.at - at)
        new_body = bodies[s.tag.at]
        if new_body is not None:
            src.seek(s.tag.at)
            dst.write(_tag_bytes(src.read(11), new_body))
        at = s.tag.at + s.tag.span
    copy_range(src, dst, at, file_size - at)
