"""Markdown: the label is the `AIGC` key of the YAML front matter.

The reference says "YAML front matter with an AIGC: mapping", while Annex E and the
TC260 guides make the value the JSON string. We write the JSON string as a
single-quoted YAML scalar, `AIGC: '{"Label":"1",...}'`: valid YAML, one line, easy to
grep, and what every other carrier stores. We read both a string and a mapping.

Front matter is edited as text, line by line, never re-dumped: comments, key order,
quoting and line endings of everything else survive byte for byte, as does the body.
PyYAML (safe loader, bounded input) only validates: before and after the edit, and the
edit is refused if any other key would read back differently. Only the front matter is
held in memory; the body is streamed.
"""

from __future__ import annotations

import codecs
import datetime
import json
import re
import shutil
from dataclasses import dataclass
from typing import Any, BinaryIO

import yaml

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers.base import SNIFF_BYTES, Site
from synthguard.labels.carriers.text import looks_like_text

NAME = "markdown"
EXTENSIONS = (".md", ".markdown")
WRITABLE = True

KEY = "AIGC"
BOM = b"\xef\xbb\xbf"
# Front matter is a few hundred bytes in practice; the bound keeps the pure-Python YAML
# parser (chosen over libyaml for its recursion guard) to a few seconds on hostile input.
MAX_FRONT_MATTER = 256 * 1024
_COPY_CHUNK = 1024 * 1024
_OPEN = re.compile(rb"---[ \t]*(\r?\n)")
_CLOSE = re.compile(rb"^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)
_YAML_ERRORS = (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError)


EXTENSION_REQUIRED = True  # any text sniffs as Markdown; only .md/.markdown files are


def sniff(head: bytes) -> bool:
    head = head[:SNIFF_BYTES]
    return head.removeprefix(BOM).startswith(b"---") or looks_like_text(head)


@dataclass
class Document:
    """The start of a Markdown file, split around its front matter."""

    bom: bytes
    opening: bytes  # the `---` line with its line ending; b"" without front matter
    front: str  # front matter text between the delimiter lines
    rest_at: int  # file offset of the closing delimiter (or of the body without front matter)
    eol: str


def _document(src: BinaryIO) -> Document:
    src.seek(0)
    data = src.read(MAX_FRONT_MATTER + 1)
    at_eof = len(data) <= MAX_FRONT_MATTER
    if b"\x00" in data:
        raise MalformedFile("file contains NUL bytes: binary data, not Markdown")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=at_eof)
    except UnicodeDecodeError as exc:
        raise MalformedFile(f"not UTF-8 text at byte {exc.start}") from None
    bom = BOM if data.startswith(BOM) else b""
    start = len(bom)
    newline = re.search(rb"\r?\n", data)
    eol = "\r\n" if newline and newline.group() == b"\r\n" else "\n"
    opening = _OPEN.match(data, start)
    if opening:
        closing = _CLOSE.search(data, opening.end())
        if closing:
            front = data[opening.end():closing.start()].decode("utf-8")
            return Document(bom, opening.group(), front, closing.start(),
                            opening.group(1).decode())
        if not at_eof:
            raise MalformedFile(f"front matter is not closed within {MAX_FRONT_MATTER} bytes")
    # No front matter; a lone `---` line is then a thematic break of the body.
    return Document(bom, b"", "", start, eol)


def _load(front: str) -> Any:
    try:
        return yaml.safe_load(front)
    except _YAML_ERRORS as exc:
        raise MalformedFile(f"front matter is not valid YAML: {str(exc)[:200]}") from None


def _mapping(loaded: Any) -> dict[Any, Any]:
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UnsupportedFormat(f"front matter is a YAML {type(loaded).__name__}, not a "
                                "mapping: unsupported for writing")
    return loaded


def _same(a: Any, b: Any, seen: set[tuple[int, int]]) -> bool:
    """Deep equality that visits each pair of shared (aliased) nodes once, so a YAML
    alias bomb costs its size in nodes, not its expanded size."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list)):
        if (id(a), id(b)) in seen:
            return True
        seen.add((id(a), id(b)))
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(_same(a[k], b[k], seen) for k in a)
        return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN equals itself here


def _is_label_key(key: object) -> bool:
    # Annex E a): the field's name must contain "AIGC"; any such key is a label site.
    return isinstance(key, str) and KEY in key.upper()


def _scalar(value: object) -> object:
    """JSON-safe form of a YAML value one level down; nested structures are reported by
    type only, so an alias bomb never gets expanded into a string."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return [] if isinstance(value, list) else {}


def _raw(value: object) -> tuple[str, list[Finding]]:
    if isinstance(value, str):
        return value, []
    if isinstance(value, dict):
        flat = {str(k): _scalar(v) for k, v in value.items()}
        return json.dumps(flat, ensure_ascii=False, separators=(",", ":")), [Finding(
            "yaml-mapping", "info", "label written as a YAML mapping, not the Annex E JSON "
            "string")]
    if isinstance(value, list):
        value = [_scalar(v) for v in value]
    return json.dumps(_scalar(value) if not isinstance(value, list) else value,
                      ensure_ascii=False), []


def _lines(text: str) -> list[str]:
    """Lines split at LF only (CRLF keeps its CR): str.splitlines would also split at
    characters such as U+0085 that YAML treats as content."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _key_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"""^(["']?){re.escape(key)}\1[ \t]*:(?:[ \t]|$)""")
    return next((i for i, line in enumerate(lines) if pattern.match(line.rstrip("\r\n"))),
                None)


def read(src: BinaryIO) -> list[Site]:
    doc = _document(src)
    loaded = _load(doc.front) if doc.opening else None
    if not isinstance(loaded, dict):
        return []
    mapping = loaded
    lines = _lines(doc.front)
    sites = []
    for key, value in mapping.items():
        if not _is_label_key(key):
            continue
        raw, findings = _raw(value)
        if key != KEY:
            findings.append(Finding("nonstandard-key", "warning",
                                    f"label stored under front matter key {key!r}, not {KEY!r}"))
        line = _key_line(lines, key)
        where = f" at line {line + 2}" if line is not None else ""
        sites.append(Site("markdown:front-matter", f"YAML front matter key {key!r}{where}",
                          raw, findings))
    return sites


def _block_end(lines: list[str], start: int) -> int:
    """End (exclusive) of the key at `start`: its continuation lines are indented, blank
    or (a block sequence may sit at the key's own indent) start with `-`; trailing blank
    lines belong to no key and stay."""
    end = start + 1
    last = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"
                                or re.match(r"-(?:[ \t]|$)", lines[end])):
        end += 1
        if lines[end - 1].strip():
            last = end
    return last


def _edited_front(doc: Document, mapping: dict[Any, Any], value: str) -> str:
    entry = f"{KEY}: '{value.replace(chr(39), chr(39) * 2)}'"
    lines = _lines(doc.front)
    keys = sorted((k for k in mapping if _is_label_key(k)), key=lambda k: k != KEY)
    blocks = []
    for key in keys:
        line = _key_line(lines, key)
        if line is None:
            raise UnsupportedFormat(f"front matter key {key!r} is not a plain `key:` line: "
                                    "unsupported for writing")
        blocks.append((line, _block_end(lines, line)))
    if not blocks:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += doc.eol
        return "".join(lines) + entry + doc.eol
    first = blocks[0]
    eol = "\r\n" if lines[first[0]].endswith("\r\n") else doc.eol
    for start, end in sorted(blocks, reverse=True):
        lines[start:end] = [entry + eol] if (start, end) == first else []
    return "".join(lines)


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    doc = _document(src)
    value = label.to_json()
    mapping = _mapping(_load(doc.front)) if doc.opening else {}
    front = _edited_front(doc, mapping, value)
    try:
        after = _mapping(_load(front))
        others = {k: v for k, v in mapping.items() if not _is_label_key(k)}
        same = after.get(KEY) == value and _same(
            {k: v for k, v in after.items() if k != KEY}, others, set())
    except (MalformedFile, RecursionError):
        same = False
    if not same:
        raise UnsupportedFormat("front matter could not be edited without changing other keys: "
                                "unsupported for writing")
    opening = doc.opening or f"---{doc.eol}".encode()
    closing = b"" if doc.opening else f"---{doc.eol}".encode()
    dst.write(doc.bom + opening + front.encode("utf-8") + closing)
    src.seek(doc.rest_at)
    shutil.copyfileobj(src, dst, _COPY_CHUNK)
