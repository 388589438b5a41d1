"""MP4, MOV, M4A, 3GP (ISO base media / QuickTime): the label in `moov/udta/meta`.

The native site is the one the TC260 video guide (Annex A) makes with
`ffmpeg -movflags use_metadata_tags -metadata AIGC=...`: a `meta` box with handler `mdta`
whose `keys` box holds key `AIGC` (namespace `mdta`) and whose `ilst` holds, under the
key's 1-based index, a `data` box of type 1 (UTF-8), locale 0, with the bare Annex E
object (the key is itself named AIGC). ffprobe reports it as format tag AIGC.

`read` also reports, each as its own site: an AIGC key in any other keyed `meta`
(QuickTime's `moov/meta`, track metas), XMP TC260:AIGC in a `uuid` box (top level or in
the movie) or in QuickTime's `udta/XMP_`, an iTunes `----` freeform item named AIGC, and
a QuickTime user-data item `udta/AIGC`.

`write` rebuilds `moov` (and a top-level XMP or file-level `meta` that held a label) and
copies every other box in chunks. An iTunes-style `meta` (handler `mdir`: ©nam ...) is a
different kind of metadata and stays as it is; the `mdta` meta goes after it in the same
`udta`, the order in which ffmpeg reads both. When the new `moov` fits where the old one
and any `free` boxes after it were, nothing else moves; otherwise the boxes after it move
and every absolute offset into them is corrected (see `bmff`).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, Finding
from synthguard.labels.carriers import bmff
from synthguard.labels.carriers.base import Site, copy_range, stream_size, xmp_sites
from synthguard.labels.carriers.bmff import Box, TopBox, fourcc, u32

NAME = "mp4"
EXTENSIONS = (".mp4", ".m4v", ".m4a", ".mov", ".3gp", ".m4b")
WRITABLE = True

MAX_MOOV_BYTES = 256 * 1024 * 1024
MAX_SMALL_BOX_BYTES = 64 * 1024 * 1024  # moof, mfra, a top-level meta or XMP uuid box
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# Major brands of still-image HEIF/AVIF files: the HEIF carrier's, not ours.
_IMAGE_BRANDS = frozenset((b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"))
# QuickTime movies from before `ftyp` start straight with one of these.
_QUICKTIME_FIRST = frozenset((b"moov", b"mdat", b"wide", b"free", b"skip"))
_UDTA_AIGC = (b"AIGC", b"aigc")
_MDTA = b"mdta"
_UTF8 = 1


def sniff(head: bytes) -> bool:
    if len(head) < 8:
        return False
    if head[4:8] == b"ftyp":
        return len(head) >= 12 and head[8:12] not in _IMAGE_BRANDS
    size = int.from_bytes(head[:4], "big")
    return head[4:8] in _QUICKTIME_FIRST and (size in (0, 1) or size >= 8)


# --- loading ---------------------------------------------------------------------------------


@dataclass
class _Movie:
    size: int
    boxes: list[TopBox]
    moov_index: int
    moov: Box


def _load(src: BinaryIO) -> _Movie:
    size = stream_size(src)
    boxes = bmff.walk_top(src, size)
    found = [i for i, box in enumerate(boxes) if box.type == b"moov"]
    if not found:
        raise MalformedFile("no moov box: the file has no movie header")
    if len(found) > 1:
        raise MalformedFile(f"{len(found)} moov boxes; a movie has exactly one")
    return _Movie(size, boxes, found[0], _tree(src, boxes[found[0]], MAX_MOOV_BYTES))


def _tree(src: BinaryIO, box: TopBox, limit: int) -> Box:
    length = box.size - box.header
    if length > limit:
        raise MalformedFile(f"{fourcc(box.type)} box at offset {box.offset} is {length} "
                            f"bytes, over the {limit} byte limit")
    body = bmff.read_exact(src, box.offset + box.header, length, f"{fourcc(box.type)} box")
    return bmff.parse_tree(box.type, body, box.offset, box.header == 16)


def _side_boxes(src: BinaryIO, movie: _Movie) -> dict[int, Box]:
    """The top-level boxes besides moov that can hold a label: file-level metas and XMP
    uuid boxes (other uuid boxes are not read at all)."""
    found: dict[int, Box] = {}
    for i, box in enumerate(movie.boxes):
        if box.type == b"meta" or (
                box.type == b"uuid" and box.size - box.header >= 16
                and bmff.read_exact(src, box.offset + box.header, 16, "uuid") == XMP_UUID):
            found[i] = _tree(src, box, MAX_SMALL_BOX_BYTES)
    return found


# --- reading ---------------------------------------------------------------------------------


def read(src: BinaryIO) -> list[Site]:
    movie = _load(src)
    trees = {movie.moov_index: movie.moov, **_side_boxes(src, movie)}
    sites: list[Site] = []
    for i in sorted(trees):
        sites.extend(_sites(trees[i]))
    return sites


def _sites(root: Box) -> list[Site]:
    sites: list[Site] = []
    for box, parent, where in bmff.walk(root):
        in_udta = parent is not None and parent.type == b"udta"
        at = f"{where} at offset {box.offset}"
        if box.type == b"meta" and box.children is not None:
            sites.extend(_meta_sites(box, where))
        elif box.type == b"uuid" and box.data[:16] == XMP_UUID:
            sites.extend(xmp_sites(box.data[16:], f"XMP uuid box {at}"))
        elif box.type == b"XMP_" and in_udta:
            sites.extend(xmp_sites(box.data, f"QuickTime XMP_ box {at}"))
        elif box.type in _UDTA_AIGC and in_udta:
            raw, findings = _user_data_text(box.data)
            sites.append(Site("quicktime:udta", f"user data item {at}", raw, findings))
    return sites


def _meta_sites(meta: Box, where: str) -> list[Site]:
    ilst = meta.first(b"ilst")
    if ilst is None:
        return []
    keys = _keys(meta)
    sites: list[Site] = []
    for item in ilst.children or ():
        extra: list[Finding] = []
        if keys is not None:
            index = int.from_bytes(item.type, "big")
            if not 1 <= index <= len(keys) or keys[index - 1][1].lower() != b"aigc":
                continue
            namespace, name = keys[index - 1]
            carrier, what = "mp4:mdta", f"key {index} ({fourcc(namespace)}:{fourcc(name)})"
            if name != b"AIGC":
                extra.append(Finding("key-name", "warning", f"key is {fourcc(name)!r}, not AIGC"))
        elif item.type == b"----" and _freeform_name(item).lower() == "aigc":
            carrier, what = "mp4:----", "freeform item"
        else:
            continue
        for data in item.all(b"data"):
            raw, findings = _data_text(data)
            sites.append(Site(carrier, f"{where}/ilst {what} at offset {item.offset}", raw,
                              extra + findings))
    return sites


def _keys(meta: Box) -> list[tuple[bytes, bytes]] | None:
    """(namespace, name) of each key, in index order; None when the meta has no `keys`."""
    box = meta.first(b"keys")
    if box is None:
        return None
    data = box.data
    count = u32(data, 4, "keys box")
    if count > (len(data) - 8) // 8:
        raise MalformedFile(f"keys box at offset {box.offset} declares {count} keys; it has "
                            f"room for {max(0, len(data) - 8) // 8}")
    entries: list[tuple[bytes, bytes]] = []
    pos = 8
    for _ in range(count):
        size = u32(data, pos, "keys box")
        if size < 8 or pos + size > len(data):
            raise MalformedFile(f"key entry at offset {box.offset + 8 + pos} declares {size} "
                                "bytes, past the end of its keys box")
        entries.append((data[pos + 4:pos + 8], data[pos + 8:pos + size]))
        pos += size
    return entries


def _handler(meta: Box) -> bytes:
    hdlr = meta.first(b"hdlr")
    return hdlr.data[8:12] if hdlr is not None else b""


def _freeform_name(item: Box) -> str:
    name = item.first(b"name")
    return name.data[4:].decode("utf-8", errors="replace") if name is not None else ""


def _text(payload: bytes, what: str) -> tuple[str, list[Finding]]:
    try:
        return payload.decode("utf-8"), []
    except UnicodeDecodeError:
        return payload.decode("utf-8", errors="replace"), [
            Finding("encoding", "error", f"{what} is not valid UTF-8")]


def _data_text(box: Box) -> tuple[str, list[Finding]]:
    if len(box.data) < 8:
        raise MalformedFile(f"data box at offset {box.offset} is shorter than its type and "
                            "locale fields")
    kind = u32(box.data, 0, "data box") & 0xFFFFFF
    if kind == 2:  # UTF-16 big-endian, allowed by the QuickTime well-known types
        return box.data[8:].decode("utf-16-be", errors="replace"), [
            Finding("data-type", "warning", "value is stored as UTF-16, not UTF-8")]
    raw, findings = _text(box.data[8:], "value")
    if kind != _UTF8:
        findings.append(Finding("data-type", "warning",
                                f"value has data type {kind}, not 1 (UTF-8 text)"))
    return raw, findings


def _user_data_text(payload: bytes) -> tuple[str, list[Finding]]:
    # A QuickTime text item is a 16-bit length and a language code before the text;
    # a writer may equally have stored the JSON bare.
    if len(payload) >= 4 and not payload.startswith(b"{"):
        length = int.from_bytes(payload[:2], "big")
        if 4 + length <= len(payload):
            payload = payload[4:4 + length]
    return _text(payload, "user data item")


# --- relabeling the boxes ------------------------------------------------------------------


def _relabel(moov: Box, value: str) -> None:
    """Leave exactly one label in moov: the mdta meta of moov/udta holds `value`, every
    other AIGC site in the movie is removed."""
    if moov.children is None:
        raise MalformedFile("moov box is not a container")
    udta = moov.first(b"udta")
    if udta is None or udta.children is None:
        udta = Box(b"udta", children=[])
        moov.children.append(udta)
    target = next((m for m in udta.all(b"meta")
                   if m.children is not None and _handler(m) == _MDTA), None)
    _neutralize(moov, target)
    if target is None:
        hdlr = Box(b"hdlr", bytes(8) + _MDTA + bytes(13))  # what ffmpeg writes
        target = Box(b"meta", bytes(4), [hdlr])
        assert udta.children is not None
        udta.children.append(target)
    _set_keyed(target, value)


def _neutralize(box: Box, keep: Box | None) -> bool:
    """Remove every AIGC site below `box` except the meta `keep`; True if any was found."""
    if box.children is None:
        return False
    changed = False
    kept: list[Box] = []
    for child in box.children:
        if box.type == b"udta" and child.type in _UDTA_AIGC:
            changed = True
            continue
        if child.type == b"meta" and child.children is not None:
            changed |= child is not keep and _set_keyed(child, None)
        elif child.type == b"uuid" and child.data[:16] == XMP_UUID:
            changed |= _strip_xmp(child, 16)
        elif child.type == b"XMP_" and box.type == b"udta":
            changed |= _strip_xmp(child, 0)
        else:
            changed |= _neutralize(child, keep)
        kept.append(child)
    box.children = kept
    return changed


def _strip_xmp(box: Box, skip: int) -> bool:
    packet = box.data[skip:]
    if not xmp_sites(packet, ""):
        return False
    stripped = xmp.remove_aigc(packet)
    # Padding the packet back to its old length keeps the box, and the file, in place.
    box.data = box.data[:skip] + (xmp.fit_packet(stripped, len(packet)) or stripped)
    return True


def _set_keyed(meta: Box, value: str | None) -> bool:
    """Make `meta` hold `value` under key AIGC (None: no AIGC key or freeform item at all),
    keeping every other key and item; True if anything changed."""
    assert meta.children is not None
    ilst = meta.first(b"ilst")
    keys_box = meta.first(b"keys")
    if keys_box is None and value is None:  # iTunes-style: only freeform items name a key
        if ilst is None or ilst.children is None:
            return False
        before = len(ilst.children)
        ilst.children = [i for i in ilst.children
                         if not (i.type == b"----" and _freeform_name(i).lower() == "aigc")]
        return len(ilst.children) != before
    keys = _keys(meta) or []
    labels = [n for n, (_, name) in enumerate(keys, 1) if name.lower() == b"aigc"]
    if value is None and not labels:
        return False
    # The first AIGC key is rewritten in place; any further one (a duplicate) goes, and
    # the keys after it move down, so every item is renumbered.
    keep = labels[0] if labels and value is not None else 0
    new_keys: list[tuple[bytes, bytes]] = []
    renumber: dict[int, int] = {}
    for n, entry in enumerate(keys, 1):
        if n in labels and n != keep:
            continue
        new_keys.append((_MDTA, b"AIGC") if n == keep else entry)
        renumber[n] = len(new_keys)
    if value is not None and not keep:
        new_keys.append((_MDTA, b"AIGC"))
    target = renumber.get(keep, len(new_keys))
    label_item = Box(target.to_bytes(4, "big"), b"", [
        Box(b"data", struct.pack(">II", _UTF8, 0) + (value or "").encode("utf-8"))])
    items: list[Box] = []
    placed = False
    for item in ilst.children or () if ilst is not None else ():
        n = int.from_bytes(item.type, "big")
        if keep and n == keep:
            if not placed:  # the label stays where it was; a second value for it goes
                items.append(label_item)
                placed = True
        elif n in renumber:
            items.append(dataclasses.replace(item, type=renumber[n].to_bytes(4, "big")))
        elif n not in labels and not (value is not None and n == target):
            items.append(item)  # an index without a key: not ours to judge
    if value is not None and not placed:
        items.append(label_item)
    table = b"".join(struct.pack(">I", 8 + len(name)) + ns + name for ns, name in new_keys)
    version = keys_box.data[:4] if keys_box is not None else bytes(4)
    new_keys_box = Box(b"keys", version + struct.pack(">I", len(new_keys)) + table)
    if keys_box is not None:
        keys_box.data = new_keys_box.data
    else:
        hdlr_at = next((k + 1 for k, c in enumerate(meta.children) if c.type == b"hdlr"), 0)
        meta.children.insert(hdlr_at, new_keys_box)
    if ilst is None:
        meta.children.append(Box(b"ilst", b"", items))
    else:
        ilst.children = items
    return True


# --- laying out and writing the file -----------------------------------------------------------


@dataclass
class _Rewrite:
    movie: _Movie
    side: dict[int, Box]  # top-level metas and XMP boxes, as rewritten
    new: dict[int, bytes]  # top-level boxes rewritten
    layout: bmff.Layout


def _rewrite(src: BinaryIO, label: AIGCLabel) -> _Rewrite:
    movie = _load(src)
    _relabel(movie.moov, label.to_json())
    new = {movie.moov_index: movie.moov.to_bytes()}
    side = _side_boxes(src, movie)
    for i, tree in side.items():
        if _neutralize(Box(b"", children=[tree]), None):
            new[i] = tree.to_bytes()
    return _Rewrite(movie, side, new,
                    bmff.layout(movie.boxes, {i: len(b) for i, b in new.items()}))


def _settle_offsets(src: BinaryIO, job: _Rewrite) -> dict[int, bytes]:
    """Correct the absolute offsets for boxes that move; returns patched fragment boxes.

    The new moov's size depends on whether 32-bit chunk offset tables must widen, which
    depends on how far the media moves, which depends on the moov's size: repeat until
    the size stops changing (a table only ever widens, so this ends)."""
    movie = job.movie
    bmff.check_segment_indexes(movie.boxes, set(job.new), job.layout.offsets)
    if any(tree.type == b"meta" and tree.first(b"iloc") is not None
           for tree in job.side.values()):
        raise UnsupportedFormat("MP4 unsupported for writing: a file-level meta locates items "
                                "by absolute offsets, and they would move")
    tables = [(box, list(box.children or ())) for box, _, _ in bmff.walk(movie.moov)
              if box.type == b"stbl"]
    for _ in range(len(tables) + 2):
        for stbl, original in tables:
            stbl.children = [bmff.remap_sample_table(c, job.layout.offsets) for c in original]
        data = movie.moov.to_bytes()
        if len(data) == len(job.new[movie.moov_index]):
            job.new[movie.moov_index] = data
            break
        job.new[movie.moov_index] = data
        job.layout = bmff.layout(movie.boxes, {i: len(b) for i, b in job.new.items()})
    else:
        raise UnsupportedFormat("MP4 unsupported for writing: chunk offsets did not settle")
    return bmff.remap_fragments(src, movie.boxes, job.layout.offsets, MAX_SMALL_BOX_BYTES)


def write(src: BinaryIO, dst: BinaryIO, label: AIGCLabel) -> None:
    job = _rewrite(src, label)
    patched = _settle_offsets(src, job) if job.layout.offsets.moves else {}
    for i, box in enumerate(job.movie.boxes):
        if i in job.layout.absorbed:
            continue
        if i in job.new:
            dst.write(job.new[i])
            if job.layout.pad[i]:
                bmff.write_free(dst, job.layout.pad[i])
        elif i in patched:
            dst.write(patched[i])
        else:
            copy_range(src, dst, box.offset, box.size)


def update_in_place(f: BinaryIO, label: AIGCLabel) -> bool:
    """Relabel a file opened "r+b" without copying its media, when that moves nothing:
    the new moov fits in the old one plus the free boxes after it (leftover room becomes
    a free box), or moov is the last box. Returns False, having written nothing, when the
    media would have to move; the caller then writes a copy and renames it.

    Cost: the top-level box headers, the moov and the bytes written, whatever the size of
    the media. Crash behaviour: the media data is never written, so a crash cannot damage
    it; but a crash while the new moov is being written leaves a half-written moov (or,
    for a moov that grew at the end of the file, a moov whose declared size runs past the
    end), and the file does not play until relabeled from a copy. Callers that cannot
    accept that use `write` to a temporary file and an atomic rename."""
    job = _rewrite(f, label)
    if job.layout.offsets.moves:
        return False
    for i in sorted(job.new):
        box = job.movie.boxes[i]
        f.seek(box.offset)
        f.write(job.new[i])
        if job.layout.pad[i]:
            header = bmff.free_header(job.layout.pad[i])
            f.write(header)
            # The rest of the old box becomes free space; blank it so no stale copy of
            # the old label stays readable in the file. Free boxes it absorbed stay as
            # they were (they were free space already).
            stale = box.end - (box.offset + len(job.new[i]) + len(header))
            if stale > 0:
                bmff.write_zeros(f, stale)
    if job.layout.size < job.movie.size:
        f.truncate(job.layout.size)
    f.flush()
    try:
        os.fsync(f.fileno())
    except (OSError, ValueError):  # an in-memory stream has no descriptor to sync
        pass
    return True
