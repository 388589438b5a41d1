"""MP4/MOV/M4A carrier: the mdta `keys` label, moved chunk and fragment offsets, in-place
updates, every other label site, and hostile input."""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
from pathlib import Path
from typing import Any

import av
import mutagen.mp4
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthguard
from fuzz.fuzz_mp4 import make_movie
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import bmff, mp4
from synthguard.labels.carriers.bmff import Box
from tests.tools import exiftool_json, exiftool_xmp_aigc, require_tool

PRODUCER = "001191110102MACQD9K64010000"
FIRST = AIGCLabel.create(producer=PRODUCER, produce_id="first-0001")
SECOND = AIGCLabel.create(producer=PRODUCER, produce_id="second-0002-longer", label="2")
DC_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
          b'<dc:format>video/mp4</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>')

# name -> (file suffix, make_movie options)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "mp4-moov-at-end": (".mp4", {}),
    "mp4-faststart": (".mp4", {"movflags": "faststart"}),
    "mov": (".mov", {"fmt": "mov"}),
    "m4a": (".m4a", {"fmt": "ipod", "video": False}),
    "mp4-title-mdta": (".mp4", {"movflags": "use_metadata_tags", "metadata": {"title": "T1"}}),
    "mp4-title-itunes": (".mp4", {"movflags": "faststart", "metadata": {"title": "T2"}}),
    "mov-title": (".mov", {"fmt": "mov", "metadata": {"title": "T3"}}),
    "mp4-fragmented": (".mp4", {"movflags": "frag_keyframe+empty_moov", "frames": 9, "gop": 3}),
    "mp4-faststart-co64": (".mp4", {"movflags": "faststart"}),
    # DASH: segment indexes after the moov, fragments based on their moof
    "mp4-dash": (".mp4", {"movflags": "dash+frag_keyframe+empty_moov", "frames": 9, "gop": 3}),
}


_MADE: dict[str, bytes] = {}


def _make(case: str, tmp_path: Path) -> bytes:
    """The fixture file of `case`, encoded once per test session."""
    if case not in _MADE:
        suffix, options = CASES[case]
        data = make_movie(tmp_path / f"{case}{suffix}", **options)
        _MADE[case] = _to_co64(data) if case.endswith("co64") else data
    return _MADE[case]


def _label(data: bytes, label: AIGCLabel) -> bytes:
    out = io.BytesIO()
    mp4.write(io.BytesIO(data), out, label)
    return out.getvalue()


def _sites(data: bytes) -> list[tuple[str, str]]:
    return [(s.carrier, s.raw) for s in mp4.read(io.BytesIO(data))]


def _packets(data: bytes) -> list[tuple[int, int | None, int | None, bytes]]:
    """Every demuxed packet (libavformat's reading of the sample tables and fragments)."""
    with av.open(io.BytesIO(data)) as container:
        return [(p.stream.index, p.pts, p.dts, bytes(p)) for p in container.demux() if p.size]


def _decoded(data: bytes) -> list[bytes]:
    """Every decoded video picture and audio frame, as raw plane bytes."""
    with av.open(io.BytesIO(data)) as container:
        return [b"".join(bytes(plane) for plane in frame.planes)
                for frame in container.decode(*container.streams)]


def _metadata(data: bytes) -> dict[str, str]:
    with av.open(io.BytesIO(data)) as container:
        return dict(container.metadata)


def _top(data: bytes) -> list[bmff.TopBox]:
    return bmff.walk_top(io.BytesIO(data), len(data))


def _tree(data: bytes, kind: bytes) -> tuple[bmff.TopBox, Box]:
    box = next(b for b in _top(data) if b.type == kind)
    return box, bmff.parse_tree(kind, data[box.offset + box.header:box.end], box.offset,
                                box.header == 16)


def _find(tree: Box, kind: bytes) -> list[Box]:
    return [b for b, _, _ in bmff.walk(tree) if b.type == kind]


def _replace_moov(data: bytes, moov: Box) -> bytes:
    """`data` with a new moov; only for files whose moov is the last box, so no chunk
    offset changes."""
    box = next(b for b in _top(data) if b.type == b"moov")
    assert box.end == len(data)
    return data[:box.offset] + moov.to_bytes()


def _udta(moov: Box) -> Box:
    udta = moov.first(b"udta")
    if udta is None:
        udta = Box(b"udta", children=[])
        assert moov.children is not None
        moov.children.append(udta)
    return udta


def _to_co64(data: bytes) -> bytes:
    """A faststart file with its 32-bit chunk offset tables widened to co64: the moov grows
    by 4 bytes per chunk, so every offset moves by that growth."""
    box, moov = _tree(data, b"moov")
    tables = _find(moov, b"stco")
    growth = sum(4 * struct.unpack_from(">I", t.data, 4)[0] for t in tables)
    for t in tables:
        count = struct.unpack_from(">I", t.data, 4)[0]
        offsets = struct.unpack_from(f">{count}I", t.data, 8)
        t.type, t.data = b"co64", t.data[:8] + struct.pack(f">{count}Q",
                                                          *(o + growth for o in offsets))
    out = data[:box.offset] + moov.to_bytes() + data[box.end:]
    assert _packets(out) == _packets(data)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_label_twice_keeps_packets_and_metadata_and_leaves_one_site(
        case: str, tmp_path: Path) -> None:
    original = _make(case, tmp_path)
    assert mp4.sniff(original[:64])
    assert _sites(original) == []
    once = _label(original, FIRST)
    twice = _label(once, SECOND)
    assert _sites(once) == [("mp4:mdta", FIRST.to_json())]
    assert _sites(twice) == [("mp4:mdta", SECOND.to_json())]
    packets = _packets(original)
    assert packets and _packets(once) == packets and _packets(twice) == packets
    before, after = _metadata(original), _metadata(twice)
    assert after.pop("AIGC") == SECOND.to_json()
    assert after == before  # title, encoder, brands: all kept
    assert _label(twice, SECOND) == twice  # relabeling with the same label changes nothing


@pytest.mark.interop
@pytest.mark.parametrize("case", sorted(CASES))
def test_ffprobe_reads_our_label_and_keeps_the_title(case: str, tmp_path: Path) -> None:
    ffprobe = require_tool("ffprobe")
    original = _make(case, tmp_path)
    path = tmp_path / f"labeled{CASES[case][0]}"
    path.write_bytes(_label(_label(original, SECOND), FIRST))
    out = subprocess.run([ffprobe, "-v", "error", "-show_format", "-print_format", "json",
                          str(path)], capture_output=True, check=True, timeout=60)
    tags = json.loads(out.stdout)["format"]["tags"]
    assert tags["AIGC"] == FIRST.to_json()
    title = CASES[case][1].get("metadata", {}).get("title")
    assert tags.get("title") == title


@pytest.mark.interop
@pytest.mark.parametrize("case", ["mp4-title-itunes", "mov", "m4a", "mp4-fragmented"])
def test_exiftool_reads_our_label_as_a_quicktime_key(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"labeled{CASES[case][0]}"
    path.write_bytes(_label(_make(case, tmp_path), FIRST))
    info = exiftool_json(path)
    assert info["Keys:AIGC"] == FIRST.to_json()
    assert info.get("ItemList:Title") == CASES[case][1].get("metadata", {}).get("title")


@pytest.mark.interop
def test_reads_the_label_ffmpeg_writes_and_rewrites_it_to_the_same_bytes(
        tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    source = tmp_path / "plain.mp4"
    source.write_bytes(_make("mp4-title-itunes", tmp_path))
    target = tmp_path / "ffmpeg.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-c", "copy", "-movflags",
                    "use_metadata_tags", "-metadata", f"AIGC={FIRST.to_json()}", str(target)],
                   check=True, timeout=60)
    data = target.read_bytes()
    assert _sites(data) == [("mp4:mdta", FIRST.to_json())]
    assert _label(data, FIRST) == data  # our layout is ffmpeg's, key for key
    assert _sites(_label(data, SECOND)) == [("mp4:mdta", SECOND.to_json())]


def test_faststart_moves_every_chunk_offset_by_the_growth(tmp_path: Path) -> None:
    original = _make("mp4-faststart", tmp_path)
    labeled = _label(original, FIRST)
    old_mdat = next(b for b in _top(original) if b.type == b"mdat")
    new_mdat = next(b for b in _top(labeled) if b.type == b"mdat")
    growth = new_mdat.offset - old_mdat.offset
    assert growth > 0
    assert labeled[new_mdat.offset:new_mdat.end] == original[old_mdat.offset:old_mdat.end]
    old = [t.data for t in _find(_tree(original, b"moov")[1], b"stco")]
    new = [t.data for t in _find(_tree(labeled, b"moov")[1], b"stco")]
    for before, after in zip(old, new, strict=True):
        count = struct.unpack_from(">I", before, 4)[0]
        assert [o + growth for o in struct.unpack_from(f">{count}I", before, 8)] == list(
            struct.unpack_from(f">{count}I", after, 8))


def test_co64_tables_stay_wide_and_move(tmp_path: Path) -> None:
    original = _make("mp4-faststart-co64", tmp_path)
    labeled = _label(original, FIRST)
    moov = _tree(labeled, b"moov")[1]
    assert _find(moov, b"co64") and not _find(moov, b"stco")


def test_a_chunk_table_widens_when_offsets_pass_4_gib() -> None:
    stco = Box(b"stco", bytes(4) + struct.pack(">4I", 3, 100, 4000, 0xFFFFFF00))
    moved = bmff.remap_sample_table(stco, bmff.OffsetMap([(0, 1 << 32, 0x200)]))
    assert moved.type == b"co64"
    assert struct.unpack_from(">I3Q", moved.data, 4) == (3, 0x264, 4000 + 0x200,
                                                        0xFFFFFF00 + 0x200)
    small = bmff.remap_sample_table(stco, bmff.OffsetMap([(0, 1 << 32, -50)]))
    assert small.type == b"stco"
    assert struct.unpack_from(">4I", small.data, 4) == (3, 50, 3950, 0xFFFFFF00 - 50)
    saio = Box(b"saio", bytes(4) + struct.pack(">2I", 1, 0xFFFFFFF0))
    assert bmff.remap_sample_table(saio, bmff.OffsetMap([(0, 1 << 33, 0x20)])).data == (
        b"\x01" + bytes(3) + struct.pack(">IQ", 1, 0x1_0000_0010))
    with pytest.raises(UnsupportedFormat, match="chunk offset"):
        bmff.remap_sample_table(stco, bmff.OffsetMap([(0, 1000, 8)]))


def test_fragment_offsets_follow_the_grown_moov(tmp_path: Path) -> None:
    original = _make("mp4-fragmented", tmp_path)
    labeled = _label(original, FIRST)
    moofs = [b for b in _top(labeled) if b.type == b"moof"]
    assert len(moofs) > 2 and moofs[0].offset > _top(original)[2].offset
    for moof in moofs:  # ffmpeg's base data offset is the start of the fragment's moof
        tree = bmff.parse_tree(b"moof", labeled[moof.offset + 8:moof.end], moof.offset, False)
        for tfhd in _find(tree, b"tfhd"):
            assert struct.unpack_from(">Q", tfhd.data, 8)[0] == moof.offset
    tfra = _find(_tree(labeled, b"mfra")[1], b"tfra")
    assert tfra
    for table in tfra:
        count = struct.unpack_from(">I", table.data, 12)[0]
        for i in range(count):
            offset = struct.unpack_from(">Q", table.data, 16 + i * 19 + 8)[0]
            assert labeled[offset + 4:offset + 8] == b"moof"


def test_a_segment_index_before_the_moov_is_refused(tmp_path: Path) -> None:
    original = _make("mp4-fragmented", tmp_path)
    ftyp = _top(original)[0]
    sidx = Box(b"sidx", bytes(4) + struct.pack(">IIIIHH", 1, 1000, 0, 0, 0, 0)).to_bytes()
    data = original[:ftyp.end] + sidx + original[ftyp.end:]
    with pytest.raises(UnsupportedFormat, match="fragmented MP4 unsupported for writing"):
        _label(data, FIRST)


def test_update_in_place_rewrites_a_trailing_moov_and_never_touches_mdat(
        tmp_path: Path) -> None:
    original = _make("mp4-moov-at-end", tmp_path)
    mdat = next(b for b in _top(original) if b.type == b"mdat")
    path = tmp_path / "in-place.mp4"
    path.write_bytes(original)
    for label in (FIRST, SECOND, FIRST):  # grows at the end, then shrinks
        with path.open("r+b") as f:
            assert mp4.update_in_place(f, label)
        data = path.read_bytes()
        assert _sites(data) == [("mp4:mdta", label.to_json())]
        assert data[:mdat.end] == original[:mdat.end]
        assert _packets(data) == _packets(original)
    decoded = _decoded(path.read_bytes())
    assert decoded and decoded == _decoded(original)


def test_update_in_place_uses_free_room_after_moov_and_refuses_to_move_media(
        tmp_path: Path) -> None:
    original = _make("mp4-faststart", tmp_path)
    path = tmp_path / "fast.mp4"
    path.write_bytes(original)
    with path.open("r+b") as f:
        assert not mp4.update_in_place(f, FIRST)  # no room: nothing was written
    assert path.read_bytes() == original
    long = AIGCLabel.create(producer=PRODUCER, produce_id="long-0003", reserved_code1="A" * 300)
    path.write_bytes(_label(original, long))
    mdat = next(b for b in _top(path.read_bytes()) if b.type == b"mdat")
    for label in (FIRST, SECOND):  # shrinks (a free box pads), then grows into the pad
        with path.open("r+b") as f:
            assert mp4.update_in_place(f, label)
        data = path.read_bytes()
        assert _sites(data) == [("mp4:mdta", label.to_json())]
        assert next(b for b in _top(data) if b.type == b"mdat") == mdat
        assert _packets(data) == _packets(original)
        assert b"long-0003" not in data  # the room the moov left holds no stale label
    assert _decoded(path.read_bytes()) == _decoded(original)


def test_update_in_place_refuses_a_fragmented_file_whose_moov_grows(tmp_path: Path) -> None:
    original = _make("mp4-fragmented", tmp_path)
    stream = io.BytesIO(original)
    assert not mp4.update_in_place(stream, FIRST)
    assert stream.getvalue() == original


def test_itunes_freeform_label_is_read_then_replaced_and_itunes_tags_kept(
        tmp_path: Path) -> None:
    path = tmp_path / "tune.m4a"
    path.write_bytes(_make("m4a", tmp_path))
    tags = mutagen.mp4.MP4(path)
    tags["\xa9nam"] = ["Tune"]
    tags["----:com.apple.iTunes:AIGC"] = [mutagen.mp4.MP4FreeForm(FIRST.to_json().encode())]
    tags.save()
    data = path.read_bytes()
    assert _sites(data) == [("mp4:----", FIRST.to_json())]
    path.write_bytes(_label(data, SECOND))
    assert _sites(path.read_bytes()) == [("mp4:mdta", SECOND.to_json())]
    reread = mutagen.mp4.MP4(path)
    assert reread["\xa9nam"] == ["Tune"]
    assert "----:com.apple.iTunes:AIGC" not in reread
    assert _packets(path.read_bytes()) == _packets(data)


def test_xmp_uuid_box_label_is_read_then_removed_keeping_other_xmp(tmp_path: Path) -> None:
    original = _make("mp4-faststart", tmp_path)
    packet = xmp.set_aigc(DC_XMP, FIRST.to_json())
    path = tmp_path / "xmp.mp4"
    path.write_bytes(original + Box(b"uuid", mp4.XMP_UUID + packet).to_bytes())
    assert _sites(path.read_bytes()) == [("xmp", FIRST.to_json())]
    assert exiftool_xmp_aigc(path) == FIRST.to_json()
    labeled = _label(path.read_bytes(), SECOND)
    path.write_bytes(labeled)
    assert _sites(labeled) == [("mp4:mdta", SECOND.to_json())]
    assert exiftool_xmp_aigc(path) is None
    assert exiftool_json(path, "XMP-dc:Format").get("XMP-dc:Format") == "video/mp4"
    assert _packets(labeled) == _packets(original)


def test_quicktime_xmp_and_user_data_items_are_sites_and_are_removed(tmp_path: Path) -> None:
    original = _make("mov-title", tmp_path)
    moov = _tree(original, b"moov")[1]
    text = FIRST.to_json().encode()
    _udta(moov).children = [*(_udta(moov).children or []),
                            Box(b"XMP_", xmp.set_aigc(DC_XMP, FIRST.to_json())),
                            Box(b"AIGC", struct.pack(">HH", len(text), 0x55C4) + text)]
    path = tmp_path / "qt.mov"
    path.write_bytes(_replace_moov(original, moov))
    found = mp4.read(io.BytesIO(path.read_bytes()))
    assert [(s.carrier, s.raw) for s in found] == [("xmp", FIRST.to_json()),
                                                   ("quicktime:udta", FIRST.to_json())]
    assert "XMP_" in found[0].location
    assert exiftool_xmp_aigc(path) == FIRST.to_json()
    labeled = _label(path.read_bytes(), SECOND)
    assert _sites(labeled) == [("mp4:mdta", SECOND.to_json())]
    assert _metadata(labeled)["title"] == "T3"
    assert _packets(labeled) == _packets(original)


def test_duplicate_and_movie_level_keys_are_all_sites_and_collapse_to_one(
        tmp_path: Path) -> None:
    original = _make("mp4-title-mdta", tmp_path)
    labeled = _label(original, FIRST)
    moov = _tree(labeled, b"moov")[1]
    meta = next(m for m in _find(moov, b"meta"))
    keys, ilst = meta.first(b"keys"), meta.first(b"ilst")
    assert keys is not None and ilst is not None and ilst.children is not None
    count = struct.unpack_from(">I", keys.data, 4)[0]
    keys.data = (keys.data[:4] + struct.pack(">I", count + 1) + keys.data[8:]
                 + struct.pack(">I", 12) + b"mdtaaigc")
    value = Box(b"data", struct.pack(">II", 1, 0) + SECOND.to_json().encode())
    ilst.children.append(Box((count + 1).to_bytes(4, "big"), b"", [value]))
    assert moov.children is not None
    moov.children.append(Box(b"meta", b"", [  # QuickTime's own movie-level metadata
        Box(b"hdlr", bytes(8) + b"mdta" + bytes(13)),
        Box(b"keys", struct.pack(">II", 0, 1) + struct.pack(">I", 12) + b"mdtaAIGC"),
        Box(b"ilst", b"", [Box(b"\x00\x00\x00\x01", b"", [value])])]))
    data = _replace_moov(labeled, moov)
    found = mp4.read(io.BytesIO(data))
    assert [s.carrier for s in found] == ["mp4:mdta"] * 3
    assert [f.code for f in found[1].findings] == ["key-name"]
    relabeled = _label(data, SECOND)
    assert _sites(relabeled) == [("mp4:mdta", SECOND.to_json())]
    assert _metadata(relabeled)["title"] == "T1"


def test_library_api_labels_copies_and_in_place(tmp_path: Path) -> None:
    original = _make("mp4-moov-at-end", tmp_path)
    src, dst = tmp_path / "clip.mp4", tmp_path / "labeled.mp4"
    src.write_bytes(original)
    assert synthguard.inspect(src).verdict == "not_found"
    report = synthguard.label(src, dst, producer=PRODUCER, produce_id="api-0001")
    assert report.verdict == "compliant" and report.format == "mp4"
    assert src.read_bytes() == original
    assert synthguard.inspect(dst).label == AIGCLabel.create(producer=PRODUCER,
                                                             produce_id="api-0001")
    mdat = next(b for b in _top(original) if b.type == b"mdat")
    synthguard.label(src, producer=PRODUCER, produce_id="api-0002", label="3")  # in place
    assert src.read_bytes()[:mdat.end] == original[:mdat.end]
    inspected = synthguard.inspect(src)
    assert inspected.verdict == "compliant" and len(inspected.sites) == 1
    assert inspected.sites[0].fields == {**FIRST.fields(), "ProduceID": "api-0002",
                                         "PropagateID": "api-0002", "Label": "3"}
    src.write_bytes(original[:mdat.end - 5])
    assert synthguard.inspect(src).verdict == "inconclusive"


def _file_meta(*extra: Box) -> bytes:
    value = Box(b"data", struct.pack(">II", 1, 0) + FIRST.to_json().encode())
    return Box(b"meta", bytes(4), [
        Box(b"hdlr", bytes(8) + b"mdta" + bytes(13)),
        Box(b"keys", struct.pack(">II", 0, 1) + struct.pack(">I", 12) + b"mdtaAIGC"),
        Box(b"ilst", b"", [Box(b"\x00\x00\x00\x01", b"", [value])]), *extra]).to_bytes()


def test_a_file_level_keyed_meta_is_a_site_and_is_emptied_in_place(tmp_path: Path) -> None:
    original = _make("mp4-moov-at-end", tmp_path)
    ftyp = _top(original)[0]
    with_meta = original + _file_meta()
    assert [s.location.split(" at ")[0] for s in mp4.read(io.BytesIO(with_meta))] == [
        "meta/ilst key 1 (mdta:AIGC)"]
    labeled = _label(with_meta, SECOND)
    assert _sites(labeled) == [("mp4:mdta", SECOND.to_json())]
    assert [b.type for b in _top(labeled)][-2:] == [b"meta", b"free"]  # shrunk, padded
    assert labeled[:ftyp.end] == original[:ftyp.end]
    assert _packets(labeled) == _packets(original)


def test_item_locations_in_a_file_level_meta_are_not_moved_but_refused(tmp_path: Path) -> None:
    original = _make("mp4-faststart", tmp_path)
    iloc = Box(b"iloc", bytes(4) + struct.pack(">BBH", 0x44, 0, 0))
    with pytest.raises(UnsupportedFormat, match="file-level meta"):
        _label(original + _file_meta(iloc), FIRST)


@pytest.mark.parametrize(("head", "expected"), [
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", True),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", True),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomiso2", True),
    (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", True),
    (b"\x00\x00\x10\x00moov\x00\x00\x00\x6cmvhd", True),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", False),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", False),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", False),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
    (b"\x00\x00\x00", False),
])
def test_sniff(head: bytes, expected: bool) -> None:
    assert mp4.sniff(head) is expected


# --- hostile input ---------------------------------------------------------------------------


def _survives(data: bytes) -> None:
    """Only SynthGuardError may come out, and a write that succeeds reads back labeled."""
    try:
        mp4.read(io.BytesIO(data))
    except MalformedFile:
        pass
    try:
        out = _label(data, FIRST)
    except SynthGuardError:
        return
    assert _sites(out) == [("mp4:mdta", FIRST.to_json())]


@pytest.mark.parametrize("case", ["mp4-faststart", "mp4-fragmented", "mov-title"])
def test_truncated_files_are_refused(case: str, tmp_path: Path) -> None:
    original = _label(_make(case, tmp_path), FIRST)
    ends = {b.end for b in _top(original)}
    for cut in [*range(0, len(original), 61), *(e + d for e in ends for d in (-9, -1, 1, 7))]:
        if 0 <= cut < len(original) and cut not in ends:
            with pytest.raises(MalformedFile):
                mp4.read(io.BytesIO(original[:cut]))
            _survives(original[:cut])


def test_garbage_is_refused() -> None:
    rng = random.Random(7)
    for size in (0, 5, 8, 64, 4096):
        data = bytes(rng.randrange(256) for _ in range(size))
        with pytest.raises(MalformedFile):
            mp4.read(io.BytesIO(data))


def _set(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def test_lying_sizes_are_refused(tmp_path: Path) -> None:
    original = _make("mp4-faststart", tmp_path)
    moov = next(b for b in _top(original) if b.type == b"moov")
    child = moov.offset + 8  # mvhd: claims more than its parent holds
    with pytest.raises(MalformedFile, match="its parent moov"):
        mp4.read(io.BytesIO(_set(original, child, struct.pack(">I", moov.size))))
    tail = Box(b"free", bytes(8)).to_bytes()
    for largesize in (len(original) + 1000, 4, 1 << 63):  # past the end; below the header
        lie = struct.pack(">I4sQ", 1, b"free", largesize)
        with pytest.raises(MalformedFile):
            mp4.read(io.BytesIO(original + lie))
        with pytest.raises(MalformedFile):
            mp4.read(io.BytesIO(_set(original, child, lie) + tail))
    with pytest.raises(MalformedFile, match="moov boxes"):
        mp4.read(io.BytesIO(original + original[moov.offset:moov.end]))
    with pytest.raises(MalformedFile, match="no moov"):
        mp4.read(io.BytesIO(original[:moov.offset]))


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    original = _make("mp4-moov-at-end", tmp_path)
    moov = _tree(original, b"moov")[1]
    nest = Box(b"udta", children=[])
    for _ in range(bmff.MAX_DEPTH + 2):
        nest = Box(b"udta", children=[nest])
    assert moov.children is not None
    moov.children.append(nest)
    with pytest.raises(MalformedFile, match="nested deeper"):
        mp4.read(io.BytesIO(_replace_moov(original, moov)))


def test_huge_entry_counts_are_refused_without_allocating(tmp_path: Path) -> None:
    faststart = _make("mp4-faststart", tmp_path)
    stco = _find(_tree(faststart, b"moov")[1], b"stco")[0]
    at = stco.offset + 8 + 4  # the entry count
    huge = _set(faststart, at, b"\x7f\xff\xff\xff")
    with pytest.raises(MalformedFile, match="chunk offset table declares 2147483647"):
        _label(huge, FIRST)
    labeled = _label(_make("mp4-moov-at-end", tmp_path), FIRST)
    keys = _find(_tree(labeled, b"moov")[1], b"keys")[0]
    with pytest.raises(MalformedFile, match="keys box"):
        mp4.read(io.BytesIO(_set(labeled, keys.offset + 12, b"\xff\xff\xff\xff")))


def test_a_moov_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(mp4, "MAX_MOOV_BYTES", 512)
    with pytest.raises(MalformedFile, match="limit"):
        mp4.read(io.BytesIO(_make("mp4-moov-at-end", tmp_path)))


_SEED: dict[str, bytes] = {}


def _seed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if not _SEED:
        path = tmp_path_factory.mktemp("seed")
        _SEED["data"] = _label(make_movie(path / "s.mp4", frames=2, movflags="faststart"), FIRST)
    return _SEED["data"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=1, max_size=8)),
                      min_size=1, max_size=4))
def test_mutated_files_only_raise_synthguard_errors(edits: list[tuple[int, bytes]],
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    data = bytearray(_seed(tmp_path_factory))
    for at, value in edits:
        pos = at % len(data)
        data[pos:pos + len(value)] = value
    _survives(bytes(data))
    try:
        mp4.update_in_place(io.BytesIO(bytes(data)), SECOND)
    except SynthGuardError:
        pass
