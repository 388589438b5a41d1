"""AVI: the label as an `AIGC` sub-chunk of `LIST/INFO` (TC260 video guide, Annex D).

Read sites: `AIGC` in any INFO list (including OpenDML `AVIX` extensions), a stray
`AIGC` chunk elsewhere (warning), and XMP `TC260:AIGC` in `_PMX`. `movi` lists are
never walked: they hold only media.

Write without moving a single media byte. AVI indexes hold byte offsets: `idx1`
entries relative to `movi` (or absolute, in some files), OpenDML `indx` super-indexes
absolute offsets of `ix##` chunks and `AVIX` RIFFs. So nothing at or after the first
`LIST/movi` may move. The header region before it is rebuilt (INFO gains the label,
other sites lose theirs) and kept at exactly its old length by resizing the `JUNK`
filler there, which writers leave for precisely this (ffmpeg reserves 1 KiB after
INFO). If that filler is too small, and no `AVIX` follows, the label goes in a
LIST/INFO at the end of the first RIFF, after `idx1`, where nothing points; ffmpeg
and exiftool read INFO there too. Sites that sit inside the frozen region are
neutralized in place (an `AIGC` chunk becomes `JUNK` of the same size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import riff
from synthguard.labels.carriers.base import Site

NAME = "avi"
EXTENSIONS = (".avi",)
WRITABLE = True

MEDIA_LISTS = frozenset({b"movi", b"rec "})
HEAD_LIMIT = riff.REBUILD_LIMIT  # a header region relabelled in place is held in memory


def sniff(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def _walk(src: BinaryIO) -> riff.Riff:
    return riff.walk(src, opaque=MEDIA_LISTS, extensions=b"AVIX")


def read(src: BinaryIO) -> list[Site]:
    return riff.label_sites(src, _walk(src), NAME, native_in_info=True)


@dataclass
class _Plan:
    head: list[riff.Chunk]  # before the first movi: rebuilt, same length if frozen follows
    frozen: list[riff.Chunk]  # movi .. idx1 (or to the end of the RIFF if AVIX follows)
    tail: list[riff.Chunk]  # after idx1 in the last RIFF: free to change
    fixed: bool  # whether the head must keep its length


def _plan(tree: riff.Riff) -> _Plan:
    kids = list(tree.forms[0].children)
    movi = next((i for i, c in enumerate(kids) if c.is_list(b"movi")), len(kids))
    extended = len(tree.forms) > 1
    if extended:
        last = len(kids) - 1
    else:
        media = [i for i, c in enumerate(kids) if c.is_list(b"movi") or c.fourcc == b"idx1"]
        last = media[-1] if media else movi - 1
    frozen = kids[movi:last + 1]
    return _Plan(kids[:movi], frozen, kids[last + 1:], bool(frozen) or extended)


def _entry(label: AIGCLabel) -> bytes:
    # INFO values are ZSTR; ffmpeg's INFO writer terminates them the same way.
    return riff.encode_chunk(riff.AIGC, label.to_json().encode("ascii") + b"\x00")


def _rebuild(src: BinaryIO, chunks: list[riff.Chunk], entry: bytes | None,
             fixed: bool) -> list[bytes | riff.Chunk] | None:
    """`chunks` with labels removed and `entry` added to the first INFO list (a new one if
    none); unchanged chunks stay references to copy. With `fixed`, top-level JUNK is
    resized so the result is exactly as long as before; None when it cannot be."""
    infos = [c for c in chunks if c.is_list(riff.INFO)]
    append = {infos[0].at: entry} if entry is not None and infos else {}
    parts: list[bytes | riff.Chunk] = []
    for chunk in chunks:
        if fixed and chunk.fourcc == riff.JUNK:
            continue
        new = riff.without_labels(src, chunk, append, fixed_xmp=fixed)
        parts.append(chunk if new is None else new)
    if entry is not None and not infos:
        parts.append(riff.encode_list(riff.INFO, [entry]))
    if not fixed:
        return parts
    room = sum(c.span for c in chunks) - sum(riff.part_size(p) for p in parts)
    if room == 0:
        return parts
    if room < 8:
        return None
    return [*parts, riff.encode_chunk(riff.JUNK, b"\x00" * (room - 8))]


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    tree = _walk(src)
    plan = _plan(tree)
    entry = _entry(label)
    head = _rebuild(src, plan.head, entry, plan.fixed)
    tail_entry = None
    if head is None:
        if len(tree.forms) > 1:
            raise UnsupportedFormat(
                "AVI unsupported for writing: no JUNK space before 'movi' for the label, and "
                "an OpenDML AVIX RIFF follows, so adding a chunk would move indexed data")
        head = _rebuild(src, plan.head, None, plan.fixed)
        if head is None:
            raise UnsupportedFormat("AVI unsupported for writing: removing the old label "
                                    "would leave a gap too small for a JUNK chunk")
        tail_entry = entry
    tail = _rebuild(src, plan.tail, tail_entry, fixed=False) or []
    patches: dict[int, bytes] = {}
    for chunk in plan.frozen:
        patches |= riff.neutralize(src, chunk)
    for form in tree.forms[1:]:
        patches |= riff.neutralize(src, form)
    first = tree.forms[0]
    parts: list[bytes | riff.Chunk] = [*head, *plan.frozen, *tail]
    dst.write(riff.form_header(b"RIFF", first.form, parts))
    riff.write_parts(src, dst, parts, patches)
    riff.copy_range(src, dst, first.next, tree.file_size - first.next, patches)


def update_in_place(rw: BinaryIO, label: AIGCLabel) -> bool:
    """Relabel without copying the media: possible when the header region absorbs the
    change and nothing after it needs touching. False leaves the file unchanged."""
    tree = _walk(rw)
    plan = _plan(tree)
    if not plan.fixed or not plan.head or any(riff.holds_label(rw, c) for c in plan.tail):
        return False
    if any(riff.holds_label(rw, c) for c in [*plan.frozen, *tree.forms[1:]]):
        return False
    head = _rebuild(rw, plan.head, _entry(label), fixed=True)
    if head is None or sum(c.span for c in plan.head) > HEAD_LIMIT:
        return False
    # Read everything kept before overwriting the region it comes from.
    data = b"".join(p if isinstance(p, bytes) else riff.raw_chunk(rw, p) for p in head)
    rw.seek(plan.head[0].at)
    rw.write(data)
    return True
