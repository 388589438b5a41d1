"""Matroska / WebM carrier: Segment/Tags/Tag/SimpleTag TagName=AIGC.

Fixtures come from real encoders (the ffmpeg CLI, PyAV, mkvmerge); `check_index` is an
independent EBML walker (what mkvinfo shows) that proves every SeekHead entry, CuePoint
and CRC-32 still holds after labeling. Layouts no encoder writes (nested tags, chained
Segments, hostile sizes) are built by hand with the fuzz target's EBML helpers.
"""

from __future__ import annotations

import io
import json
import subprocess
import tracemalloc
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.fuzz_matroska import ebml_header, element, encoded_file, simple_tag, tag, tiny_file
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import matroska
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="mkv-0001")
LABEL2 = AIGCLabel.create(producer=PRODUCER, produce_id="mkv-0002-a-longer-id", label="2",
                          propagator="001191110102MACQD9K64020000", propagate_id="share-77")
SEGMENT, SEEKHEAD, TAGS, CLUSTER, CUES, VOID, CRC32 = (
    0x18538067, 0x114D9B74, 0x1254C367, 0x1F43B675, 0x1C53BB6B, 0xEC, 0xBF)
LEVEL1 = {SEEKHEAD, 0x1549A966, 0x1654AE6B, CUES, 0x1043A770, 0x1941A469, TAGS, CLUSTER}
# masters the index check descends into (SeekHead/Seek, Info, Tracks, Tags..., Cues...)
MASTERS = {SEEKHEAD, 0x4DBB, 0x1549A966, 0x1654AE6B, 0xAE, TAGS, 0x7373, 0x63C0, 0x67C8,
           CUES, 0xBB, 0xB7, CLUSTER}


# --- an independent EBML walker --------------------------------------------------------


def vint(data: bytes, pos: int, *, marker: bool = False) -> tuple[int, int]:
    width = 9 - data[pos].bit_length()
    value = int.from_bytes(data[pos:pos + width], "big")
    return (value if marker else value & ((1 << (7 * width)) - 1)), width


def walk(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(id, start, data start, end) of each child; an unknown-size Cluster or Segment
    ends where an element of its parent's level begins."""
    out = []
    pos = start
    while pos < end:
        ident, id_len = vint(data, pos, marker=True)
        size, size_len = vint(data, pos + id_len)
        data_start = pos + id_len + size_len
        stop = data_start + size
        if size == (1 << (7 * size_len)) - 1:
            assert ident in (SEGMENT, CLUSTER), f"unknown size on 0x{ident:X}"
            stop = end
            if ident == CLUSTER:
                stop = next((c[1] for c in walk_until_level1(data, data_start, end)), end)
        assert stop <= end, f"0x{ident:X} at {pos} overruns its parent"
        out.append((ident, pos, data_start, stop))
        pos = stop
    return out


def walk_until_level1(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    pos = start
    while pos < end:
        ident, id_len = vint(data, pos, marker=True)
        if ident in LEVEL1:
            return [(ident, pos)]
        size, size_len = vint(data, pos + id_len)
        pos += id_len + size_len + size
    return []


def segment_children(data: bytes) -> tuple[int, list[tuple[int, int, int, int]]]:
    top = walk(data, 0, len(data))
    assert [t[0] for t in top] == [0x1A45DFA3, SEGMENT]
    _, _, seg_data, seg_end = top[1]
    assert seg_end == len(data), "the Segment's size must cover the file"
    return seg_data, walk(data, seg_data, seg_end)


def check_index(data: bytes) -> None:
    """Every SeekHead entry points at an element with its ID, every CuePoint at a
    Cluster, and every CRC-32 matches its parent's other children."""
    seg_data, level1 = segment_children(data)
    ids_at = {start - seg_data: ident for ident, start, _, _ in level1}

    def visit(ident: int, data_start: int, end: int) -> None:
        kids = walk(data, data_start, end)
        if kids and kids[0][0] == CRC32:
            stored = int.from_bytes(data[kids[0][2]:kids[0][3]], "little")
            assert zlib.crc32(data[kids[0][3]:end]) == stored, f"CRC-32 of 0x{ident:X}"
        for kid, _, kid_data, kid_end in kids:
            if kid == 0x4DBB:
                fields = {i: data[s:e] for i, _, s, e in walk(data, kid_data, kid_end)}
                target = int.from_bytes(fields[0x53AB], "big")
                position = int.from_bytes(fields[0x53AC], "big")
                assert ids_at.get(position) == target, f"Seek to 0x{target:X} at {position}"
            if kid == 0xF1:  # CueClusterPosition
                position = int.from_bytes(data[kid_data:kid_end], "big")
                assert ids_at.get(position) == CLUSTER, f"CuePoint to {position}"
            if kid in MASTERS:
                visit(kid, kid_data, kid_end)

    for ident, _, data_start, end in level1:
        if ident in MASTERS:
            visit(ident, data_start, end)


def clusters(data: bytes) -> list[tuple[int, bytes]]:
    _, level1 = segment_children(data)
    return [(s, data[s:e]) for i, s, _, e in level1 if i == CLUSTER]


# --- fixtures from real encoders -------------------------------------------------------

VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
# a keyframe and a Cluster every half second, so Cues have several points to check
SPLIT = ["-g", "5", "-cluster_time_limit", "500"]
PLACEHOLDER = json.dumps({"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "x" * 300})
SAMPLES: dict[str, list[str]] = {
    "h264-flac.mkv": [*VIDEO, *AUDIO, "-c:v", "libx264", "-preset", "ultrafast", "-c:a",
                      "flac", "-metadata", "artist=SynthGuard tests", "-metadata", "title=Hi"],
    "ffv1-opus-cues-front.mkv": [*VIDEO, *AUDIO, "-c:v", "ffv1", "-c:a", "libopus",
                                 "-cues_to_front", "1", "-metadata", "comment=keep me"],
    "vp8-vorbis-cues-front.webm": [*VIDEO, *AUDIO, "-c:v", "libvpx", "-c:a", "libvorbis",
                                   "-cues_to_front", "1", "-metadata", "artist=SynthGuard"],
    "vp9-opus.webm": [*VIDEO, *AUDIO, "-c:v", "libvpx-vp9", "-deadline", "realtime",
                      "-cpu-used", "8", "-c:a", "libopus"],
    "flac.mka": [*AUDIO, "-c:a", "flac", "-metadata", "album=Tones"],
    "labeled-by-ffmpeg.mkv": [*VIDEO, "-c:v", "ffv1", "-metadata", f"AIGC={PLACEHOLDER}"],
    "live.webm": [*VIDEO, *AUDIO, "-c:v", "libvpx", "-c:a", "libopus", "-live", "1"],
}


def ffmpeg(args: list[str], out: Path) -> None:
    exe = require_tool("ffmpeg")
    if "-live" in args:  # a pipe: ffmpeg cannot seek back, so the Segment size stays unknown
        with out.open("wb") as f:
            subprocess.run([exe, "-v", "error", *args, *SPLIT, "-f", "webm", "pipe:1"],
                           stdout=f, check=True, timeout=120)
        return
    subprocess.run([exe, "-v", "error", "-y", *args, *SPLIT, str(out)], check=True,
                   timeout=120)


def unknown_size_clusters(data: bytes) -> bytes:
    """A live recorder's file: every Cluster size replaced by "unknown" (all value bits
    set), keeping the field width. ffmpeg buffers whole Clusters, so it never writes one."""
    out = bytearray(data)
    _, level1 = segment_children(data)
    for ident, start, data_start, _ in level1:
        if ident == CLUSTER:
            width = data_start - start - 4
            out[start + 4:data_start] = ((1 << (8 * width - width + 1)) - 1).to_bytes(width,
                                                                                    "big")
    return bytes(out)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("matroska")
    made = {}
    for name, args in SAMPLES.items():
        made[name] = folder / name
        ffmpeg(args, made[name])
    live = folder / "live-unknown-clusters.webm"
    live.write_bytes(unknown_size_clusters(made["live.webm"].read_bytes()))
    made[live.name] = live
    return made


NAMES = [*SAMPLES, "live-unknown-clusters.webm"]


def label_file(src: Path, dst: Path, label: AIGCLabel) -> Path:
    with src.open("rb") as f, dst.open("wb") as g:
        matroska.write(f, g, label)
    return dst


def sites(path: Path) -> list[matroska.Site]:
    with path.open("rb") as f:
        return matroska.read(f)


def packets(path: Path) -> list[tuple[int, int | None, int | None, bytes]]:
    with av.open(str(path)) as container:
        return [(p.stream.index, p.pts, p.dts, bytes(p)) for p in container.demux() if p.size]


def ffprobe(path: Path) -> dict[str, Any]:
    exe = require_tool("ffprobe")
    out = subprocess.run([exe, "-v", "error", "-show_format", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, check=True, timeout=60)
    assert out.stderr == b"", out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@cache
def probed(path: Path) -> dict[str, Any]:
    return ffprobe(path)


# --- round trips on real files -----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_label_twice_leaves_one_label_and_identical_packets(
        samples: dict[str, Path], tmp_path: Path, name: str) -> None:
    src = samples[name]
    once = label_file(src, tmp_path / f"once-{name}", LABEL)
    twice = label_file(once, tmp_path / f"twice-{name}", LABEL2)
    again = label_file(twice, tmp_path / f"again-{name}", LABEL2)
    assert [(s.carrier, s.raw, s.findings) for s in sites(once)] == [
        ("matroska:SimpleTag", LABEL.to_json(), [])]
    assert [s.raw for s in sites(twice)] == [LABEL2.to_json()]
    assert again.read_bytes() == twice.read_bytes()  # relabeling is idempotent
    for path in (once, twice):
        data = path.read_bytes()
        check_index(data)
        assert clusters(data) == clusters(src.read_bytes())  # same bytes, same offsets
    before = packets(src)
    assert len(before) >= 20
    assert packets(once) == before
    assert packets(twice) == before


@pytest.mark.parametrize("name", NAMES)
def test_update_in_place_writes_what_write_writes(
        samples: dict[str, Path], tmp_path: Path, name: str) -> None:
    expected = label_file(samples[name], tmp_path / f"copy-{name}", LABEL).read_bytes()
    target = tmp_path / name
    target.write_bytes(samples[name].read_bytes())
    with target.open("r+b") as rw:
        assert matroska.update_in_place(rw, LABEL)
    assert target.read_bytes() == expected
    with target.open("r+b") as rw:  # and again, with a label of another length
        assert matroska.update_in_place(rw, LABEL2)
    assert target.read_bytes() == label_file(samples[name], tmp_path / "2", LABEL2).read_bytes()


def test_update_in_place_refuses_to_move_what_follows_the_segment() -> None:
    data = tiny_file() + element(VOID, bytes(10))
    rw = io.BytesIO(data)
    assert not matroska.update_in_place(rw, LABEL)
    assert rw.getvalue() == data
    assert [s.raw for s in read_bytes(write_bytes(data))] == [JSON]


@pytest.mark.interop
@pytest.mark.parametrize("name", NAMES)
def test_ffprobe_reads_the_label_and_the_other_metadata(
        samples: dict[str, Path], tmp_path: Path, name: str) -> None:
    before = probed(samples[name])
    after = ffprobe(label_file(samples[name], tmp_path / name, LABEL))
    tags = after["format"]["tags"]
    assert tags["AIGC"] == LABEL.to_json()
    kept = {k: v for k, v in before["format"].get("tags", {}).items() if k != "AIGC"}
    assert kept.items() <= tags.items()
    assert [s.get("tags") for s in after["streams"]] == [s.get("tags")
                                                         for s in before["streams"]]
    assert after["format"].get("duration") == before["format"].get("duration")


@pytest.mark.parametrize("name", NAMES)
def test_seeking_to_the_middle_decodes_the_same_frame(
        samples: dict[str, Path], tmp_path: Path, name: str) -> None:
    out = label_file(samples[name], tmp_path / name, LABEL)

    def middle_frame(path: Path) -> tuple[int | None, bytes]:
        with av.open(str(path)) as container:
            stream = (container.streams.video or container.streams.audio)[0]
            assert stream.time_base is not None
            container.seek(int(1.1 / stream.time_base), stream=stream)
            frame = next(container.decode(stream))
            return frame.pts, b"".join(bytes(p) for p in frame.planes)

    pts, pixels = middle_frame(out)
    assert pts is not None and pts > 0
    assert (pts, pixels) == middle_frame(samples[name])


def test_live_file_has_unknown_sizes(samples: dict[str, Path]) -> None:
    data = samples["live-unknown-clusters.webm"].read_bytes()
    size_field = slice(segment_children(data)[0] - 8, segment_children(data)[0])
    assert data[size_field] == b"\x01" + b"\xff" * 7  # Segment size: unknown
    assert len(clusters(data)) > 3
    assert all(data[start + 4] == 0x7F for start, _ in clusters(data))  # so are Clusters'
    out = write_bytes(data)
    assert out[size_field] == data[size_field]  # still unknown after appending the Tags
    assert clusters(out) == clusters(data)


def test_a_label_written_by_ffmpeg_is_replaced_in_place(
        samples: dict[str, Path], tmp_path: Path) -> None:
    src = samples["labeled-by-ffmpeg.mkv"]
    assert [s.raw for s in sites(src)] == [PLACEHOLDER]
    once = label_file(src, tmp_path / "once.mkv", LABEL)
    twice = label_file(once, tmp_path / "twice.mkv", LABEL2)
    # the shorter label leaves a Void that the longer one grows back into
    assert len(once.read_bytes()) == len(twice.read_bytes()) == len(src.read_bytes())
    assert [s.raw for s in sites(twice)] == [LABEL2.to_json()]
    check_index(twice.read_bytes())


def test_case_variant_key_is_reported_and_replaced(
        samples: dict[str, Path], tmp_path: Path) -> None:
    # ffmpeg upper-cases tag names, so the variant is made by editing its output
    src = tmp_path / "aigc.mkv"
    src.write_bytes(samples["labeled-by-ffmpeg.mkv"].read_bytes().replace(
        b"\x45\xa3\x84AIGC", b"\x45\xa3\x84aigc"))
    [site] = sites(src)
    assert site.raw == PLACEHOLDER
    assert [f.code for f in site.findings] == ["key-case"]
    out = label_file(src, tmp_path / "out.mkv", LABEL)
    assert [(s.raw, s.location.split(" ")[1]) for s in sites(out)] == [
        (LABEL.to_json(), "TagName=AIGC")]
    assert ffprobe(out)["format"]["tags"]["AIGC"] == LABEL.to_json()


def test_an_old_seekhead_entry_for_tags_is_dropped(
        samples: dict[str, Path], tmp_path: Path) -> None:
    """A hand-edited file whose Tags became a Void while its SeekHead still points
    there: the writer leaves no entry pointing at an element of another kind."""
    data = bytearray(samples["h264-flac.mkv"].read_bytes())
    _, level1 = segment_children(bytes(data))
    [(_, start, _, end)] = [c for c in level1 if c[0] == TAGS]
    data[start:end] = b"\xec" + (0x0100000000000000 | (end - start - 9)).to_bytes(8, "big") \
        + bytes(end - start - 9)
    src = tmp_path / "voided.mkv"
    src.write_bytes(bytes(data))
    assert sites(src) == []
    out = label_file(src, tmp_path / "out.mkv", LABEL).read_bytes()
    check_index(out)
    assert [s.raw for s in matroska.read(io.BytesIO(out))] == [LABEL.to_json()]
    assert ffprobe(tmp_path / "out.mkv")["format"]["tags"]["AIGC"] == LABEL.to_json()


def test_a_full_seekhead_gets_a_second_one_before_the_clusters(
        samples: dict[str, Path], tmp_path: Path) -> None:
    """No Tags entry and no Void after the SeekHead: the moved Tags is indexed by a second
    SeekHead in the Void left where the old Tags was."""
    data = bytearray(samples["h264-flac.mkv"].read_bytes())
    _, level1 = segment_children(bytes(data))
    head = next(c for c in level1 if c[0] == SEEKHEAD)
    for ident, start, _, end in walk(bytes(data), head[2], head[3]):
        if ident == 0x4DBB and b"\x12\x54\xc3\x67" in data[start:end]:
            data[start:end] = b"\xec" + bytes([0x80 | (end - start - 2)]) + bytes(end - start - 2)
    crc_at = head[2] + 2  # ffmpeg puts a CRC-32 first in each master: keep it valid
    data[crc_at:crc_at + 4] = zlib.crc32(data[crc_at + 4:head[3]]).to_bytes(4, "little")
    void = next(c for c in level1 if c[0] == VOID)
    data[void[1]] = 0xC1  # the Void after the SeekHead becomes an unknown element
    src = tmp_path / "full.mkv"
    src.write_bytes(bytes(data))
    out = label_file(src, tmp_path / "out.mkv", LABEL2)
    level1_ids = [c[0] for c in segment_children(out.read_bytes())[1]]
    assert level1_ids.count(SEEKHEAD) == 2
    assert level1_ids.index(SEEKHEAD, 1) < level1_ids.index(CLUSTER) < level1_ids.index(TAGS)
    check_index(out.read_bytes())
    assert ffprobe(out)["format"]["tags"]["AIGC"] == LABEL2.to_json()
    assert packets(out) == packets(samples["h264-flac.mkv"])


def test_no_room_to_index_tags_after_the_clusters_is_unsupported() -> None:
    info = element(0x1549A966, element(0x2AD7B1, b"\x0f\x42\x40"))
    seek = element(0x4DBB, element(0x53AB, b"\x15\x49\xa9\x66") + element(0x53AC, b"\x00"))
    body = element(SEEKHEAD, seek) + info
    cluster = element(CLUSTER, element(0xE7, b"\x00") + element(0xA3, b"\x81\x00\x00\x80"))
    tags = element(TAGS, tag(simple_tag("TITLE", "t")))
    data = ebml_header() + element(SEGMENT, body + cluster + tags + element(CUES, b""))
    assert [s.raw for s in read_bytes(data)] == []
    with pytest.raises(UnsupportedFormat, match="no room in the SeekHead"):
        write_bytes(data)


# --- layouts built by hand ---------------------------------------------------------------

JSON = LABEL.to_json()


def read_bytes(data: bytes) -> list[matroska.Site]:
    return matroska.read(io.BytesIO(data))


def write_bytes(data: bytes, label: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    matroska.write(io.BytesIO(data), out, label)
    return out.getvalue()


def test_every_aigc_site_is_found_with_its_findings() -> None:
    track_target = element(0x63C5, (7).to_bytes(8, "big"))
    binary = element(0x67C8, element(0x45A3, b"AIGC") + element(0x4485, JSON.encode()))
    data = tiny_file(element(TAGS, tag(simple_tag("TITLE", "t", simple_tag("AIGC", JSON)))
                             + tag(binary) + tag(simple_tag("Aigc", "x"),
                                                 targets=track_target)))
    found = read_bytes(data)
    assert [s.raw for s in found] == [JSON, JSON, "x"]
    assert [[f.code for f in s.findings] for s in found] == [
        ["nested-tag"], ["tag-binary"], ["key-case", "tag-target"]]
    assert "SimpleTag/SimpleTag" in found[0].location


def test_a_second_tags_element_loses_its_label_and_keeps_the_rest() -> None:
    data = tiny_file(element(TAGS, tag(simple_tag("TITLE", "first"))),
                     element(TAGS, tag(simple_tag("AIGC", "old"), simple_tag("ARTIST", "a"))
                                   + tag(simple_tag("aigc", "older"))))
    out = write_bytes(data)
    assert [s.raw for s in read_bytes(out)] == [JSON]
    assert b"ARTIST" in out and b"TITLE" in out and b"old" not in out
    assert clusters(out) == clusters(data)


def test_a_void_before_tags_is_used_and_nothing_moves() -> None:
    data = tiny_file(element(VOID, bytes(400)), element(TAGS, tag(simple_tag("TITLE", "t"))))
    out = write_bytes(data)
    assert len(out) == len(data)
    assert clusters(out) == clusters(data)
    assert [s.raw for s in read_bytes(out)] == [JSON]


def test_without_seekhead_or_tags_the_tags_go_to_the_end() -> None:
    data = tiny_file()
    out = write_bytes(data)
    assert clusters(out) == clusters(data)
    assert [s.raw for s in read_bytes(out)] == [JSON]
    assert write_bytes(out) == out


def test_segment_size_field_too_narrow_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormat, match="Segment size field"):
        write_bytes(tiny_file(size_width=1))


def test_chained_segments_are_read_but_not_written() -> None:
    one = tiny_file(element(TAGS, tag(simple_tag("AIGC", JSON))))
    assert len(read_bytes(one + one)) == 2
    with pytest.raises(UnsupportedFormat, match="chained"):
        write_bytes(one + one)


def test_sniff() -> None:
    assert matroska.sniff(tiny_file()[:64])
    assert matroska.sniff(tiny_file(doctype=b"webm")[:64])
    assert not matroska.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert not matroska.sniff(tiny_file(doctype=b"fooo")[:64])


# --- hostile input -----------------------------------------------------------------------


def test_every_truncation_is_malformed(samples: dict[str, Path]) -> None:
    data = samples["flac.mka"].read_bytes()
    for cut in [*range(0, 600), *range(600, len(data), 97)]:
        with pytest.raises(MalformedFile):
            read_bytes(data[:cut])
        with pytest.raises(MalformedFile):
            write_bytes(data[:cut])


def test_truncated_live_file_is_malformed_or_shorter(samples: dict[str, Path]) -> None:
    """A live file has no total size: cut between Clusters it is a shorter valid file,
    cut inside one it is malformed, and nothing else may happen."""
    data = samples["live-unknown-clusters.webm"].read_bytes()
    outcomes = set()
    for cut in [*range(600, len(data), 53), *(start for start, _ in clusters(data))]:
        try:
            outcomes.add(len(read_bytes(data[:cut])))
        except MalformedFile:
            outcomes.add(-1)
    assert outcomes == {-1, 0}


@pytest.mark.parametrize("data", [
    b"",
    b"\x1a\x45\xdf\xa3" + bytes(60),
    b"\x1a\x45\xdf\xa3\x80" + element(SEGMENT, b""),  # no DocType
    tiny_file(doctype=b"mp4"),
    bytes(range(256)) * 4,
    # a size that says 2^56 bytes: refused before any allocation
    tiny_file()[:40] + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xfe",
    tiny_file(element(TAGS, b"", size_width=8)[:4] + b"\x01\x00\xff\xff\xff\xff\xff\xff"),
    tiny_file(element(TAGS, tag(simple_tag("A", "b"))))[:-30],  # lies about the Cluster
    tiny_file(b"\x12\x54\xc3\x67\xff" + tag(simple_tag("AIGC", "x"))),  # unknown-size Tags
    b"\x1a\x45\xdf\xa3\xff" + tiny_file()[5:],  # unknown-size EBML header
    tiny_file(element(TAGS, element(0x7373, element(0x67C8, b"\x45\xa3\xff")))),
    tiny_file(b"\x00\x81\x00"),  # an ID wider than 8 bytes
    tiny_file(b"\x08\x00\x00\x00\x00\x81\x00"),  # a 5-byte ID
], ids=lambda d: f"{len(d)}B")
def test_bad_input_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        read_bytes(data)
    with pytest.raises(MalformedFile):
        write_bytes(data)


def test_nesting_deeper_than_the_limit_is_malformed() -> None:
    nested = simple_tag("AIGC", "x")
    for _ in range(matroska.MAX_DEPTH + 2):
        nested = simple_tag("N", "v", nested)
    data = tiny_file(element(TAGS, tag(nested)))
    with pytest.raises(MalformedFile, match="deeper"):
        read_bytes(data)
    with pytest.raises(MalformedFile, match="deeper"):
        write_bytes(data)


def test_huge_declared_sizes_allocate_nothing_big() -> None:
    value = element(0x4487, b"x" * 10)[:2] + b"\x01\x00\x00\x00\x7f\xff\xff\xff"
    data = tiny_file(element(TAGS, tag(element(0x67C8, element(0x45A3, b"AIGC") + value))))
    tracemalloc.start()
    with pytest.raises(MalformedFile):
        read_bytes(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20


SEED = encoded_file("matroska", "ffv1")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)),
                min_size=1, max_size=6),
       st.integers(0, len(SEED)))
def test_mutated_files_raise_only_synthguard_errors(
        edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEED)
    for pos, value in edits:
        data[pos] = value
    try:
        read_bytes(bytes(data[:cut]))
        write_bytes(bytes(data[:cut]))
    except SynthGuardError:
        pass


FIELD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                              blacklist_characters="\\"), min_size=1, max_size=400)


@settings(max_examples=40, deadline=None)
@given(st.lists(FIELD, min_size=1, max_size=4))
def test_any_sequence_of_labels_keeps_clusters_and_index_in_both_write_paths(
        produce_ids: list[str]) -> None:
    data = SEED
    for produce_id in produce_ids:
        label = AIGCLabel.create(producer=PRODUCER, produce_id=produce_id)
        out = write_bytes(data, label)
        rw = io.BytesIO(data)
        assert matroska.update_in_place(rw, label)
        assert rw.getvalue() == out
        assert clusters(out) == clusters(SEED)
        check_index(out)
        assert [s.raw for s in read_bytes(out)] == [label.to_json()]
        data = out


# --- mkvtoolnix, the reference Matroska implementation -----------------------------------


def mkvextract_tags(path: Path) -> list[tuple[str, str]]:
    exe = require_tool("mkvextract")
    out = subprocess.run([exe, str(path), "tags", "-"], capture_output=True, check=True,
                         timeout=60, text=True).stdout
    import defusedxml.ElementTree as SafeET

    root = SafeET.fromstring(out)
    return [(s.findtext("Name") or "", s.findtext("String") or "") for s in root.iter("Simple")]


@pytest.mark.interop
def test_mkvtoolnix_reads_our_label_and_we_read_theirs(
        samples: dict[str, Path], tmp_path: Path) -> None:
    mkvmerge = require_tool("mkvmerge")
    muxed = tmp_path / "mkvmerge.mkv"
    subprocess.run([mkvmerge, "-q", "-o", str(muxed), str(samples["h264-flac.mkv"])],
                   check=True, timeout=60)
    out = label_file(muxed, tmp_path / "out.mkv", LABEL)
    check_index(out.read_bytes())
    assert [v for k, v in mkvextract_tags(out) if k == "AIGC"] == [LABEL.to_json()]
    identify = json.loads(subprocess.run([mkvmerge, "-J", str(out)], capture_output=True,
                                         check=True, timeout=60).stdout)
    assert identify["errors"] == [] and identify["warnings"] == []
    assert packets(out) == packets(muxed)
    # mkvpropedit as the other writer: we find its label and leave only ours
    xml = tmp_path / "tags.xml"
    xml.write_text("<Tags><Tag><Targets/><Simple><Name>AIGC</Name>"
                   f"<String>{LABEL2.to_json()}</String></Simple></Tag></Tags>")
    subprocess.run([require_tool("mkvpropedit"), "-q", str(out), "--tags", f"global:{xml}"],
                   check=True, timeout=60)
    assert [s.raw for s in sites(out)] == [LABEL2.to_json()]
    again = label_file(out, tmp_path / "again.mkv", LABEL)
    assert [v for k, v in mkvextract_tags(again) if k.upper() == "AIGC"] == [LABEL.to_json()]


@pytest.mark.interop
def test_a_file_without_tags_gets_them_in_a_void_before_the_clusters(
        samples: dict[str, Path], tmp_path: Path) -> None:
    mkvmerge = require_tool("mkvmerge")
    bare = tmp_path / "bare.mkv"
    subprocess.run([mkvmerge, "-q", "-o", str(bare), "--no-global-tags", "--no-track-tags",
                    "--disable-track-statistics-tags", str(samples["flac.mka"])],
                   check=True, timeout=60)
    assert TAGS not in [c[0] for c in segment_children(bare.read_bytes())[1]]
    out = label_file(bare, tmp_path / "out.mka", LABEL)
    data = out.read_bytes()
    assert len(data) == len(bare.read_bytes())
    level1 = [c[0] for c in segment_children(data)[1]]
    assert level1.index(TAGS) < level1.index(CLUSTER)
    check_index(data)
    assert ffprobe(out)["format"]["tags"]["AIGC"] == LABEL.to_json()
    assert [v for k, v in mkvextract_tags(out) if k == "AIGC"] == [LABEL.to_json()]
