"""Plain text: no metadata container, so no implicit label can be written.

GB 45438 §5.1 leaves text with the explicit label (a prompt in the text itself); the
reference lists no metadata location for .txt. The carrier exists so that inspecting a
text file says "no label site" instead of "unknown format", and so that asking to
label one gets a reason rather than a guess. It is registered last: its sniffer
accepts any UTF-8 text, including Markdown and other text formats.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO

from synthguard.errors import UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers.base import SNIFF_BYTES, Site

NAME = "text"
EXTENSIONS = (".txt",)
WRITABLE = False
# Said by `inspect` for a text file, and by `label` when asked to write one.
NO_CARRIER = ("plain text has no metadata carrier; only an explicit label can apply "
              "(GB 45438 §5.1)")

# C0 controls that do occur in text files; any other (NUL above all) means binary.
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")
_CHECK_BYTES = 64 * 1024


def looks_like_text(head: bytes) -> bool:
    """True if `head` is the start of UTF-8 text (an optional BOM, no binary controls).

    `head` may end inside a multi-byte character, so decoding is incremental. An empty
    head is not text: an empty file has no format to claim.
    """
    if not head:
        return False
    if any(b < 0x20 and b not in _TEXT_CONTROLS for b in head) or b"\x7f" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def sniff(head: bytes) -> bool:
    return looks_like_text(head[:SNIFF_BYTES])


def read(src: BinaryIO) -> list[Site]:
    src.seek(0)
    head = src.read(_CHECK_BYTES)
    if head and not looks_like_text(head):
        raise UnsupportedFormat("not plain UTF-8 text")
    return []


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    raise UnsupportedFormat(NO_CARRIER)
