"""AVI carrier: `AIGC` in LIST/INFO, written without moving any media byte.

Files come from the ffmpeg CLI (MJPEG + PCM, raw video). Independent checks: the chunk
layout parsed here, `idx1` entries still naming the right chunks, PyAV packets and
decoded frames, ffprobe `-show_format` (ffmpeg exports every INFO sub-chunk as a tag,
AIGC included) and exiftool (which shows the unknown INFO ID as `Unknown_AIGC`).
OpenDML files over 1 GiB (AVIX, `indx`) cannot be made in a unit test, so one is
assembled here from an ffmpeg file: a super-index in place of the stream's reserved
JUNK, pointing at an `ix00` standard index inside an appended `RIFF AVIX`.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import avi, riff
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="avi-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="avi-2", label="3")


def chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


Entry = tuple[bytes, int, int, bytes]


def top(data: bytes, start: int = 12, end: int | None = None) -> list[Entry]:
    """(ID, offset, size, list type) of each chunk in [start, end)."""
    end = len(data) if end is None else end
    out, at = [], start
    while at < end:
        cid, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        out.append((cid, at, size, data[at + 8:at + 12] if cid in (b"LIST", b"RIFF") else b""))
        at += 8 + size + (size & 1)
    assert at == end
    return out


def first_riff(data: bytes) -> list[Entry]:
    return top(data, 12, 8 + int.from_bytes(data[4:8], "little"))


def movi_at(data: bytes) -> int:
    return next(at for cid, at, _, form in first_riff(data) if form == b"movi")


def assert_idx1_consistent(data: bytes) -> None:
    """Every idx1 entry names the chunk at its offset. Offsets are relative to the 'movi'
    list type (the spec) or absolute (some writers): the first entry tells which."""
    movi = movi_at(data)
    idx1 = next(at for cid, at, _, _ in first_riff(data) if cid == b"idx1")
    size = int.from_bytes(data[idx1 + 4:idx1 + 8], "little")
    entries = [struct.unpack_from("<4sIII", data, idx1 + 8 + i) for i in range(0, size, 16)]
    assert entries
    base = movi + 8 if data[movi + 8 + entries[0][2]:][:4] == entries[0][0] else 0
    for ckid, _flags, offset, length in entries:
        assert data[base + offset:base + offset + 4] == ckid
        assert int.from_bytes(data[base + offset + 4:base + offset + 8], "little") == length


def media(path: Path) -> tuple[list[bytes], list[bytes]]:
    """Every packet payload, and every decoded video frame's planes."""
    with av.open(str(path)) as container:
        packets = [bytes(p) for p in container.demux() if p.size]
    with av.open(str(path)) as container:
        frames = [b"".join(bytes(plane) for plane in f.planes)
                  for f in container.decode(video=0)]
    return packets, frames


def ffmpeg(path: Path, *args: str) -> bytes:
    exe = require_tool("ffmpeg")
    subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=10:duration=1", *args, str(path)],
                   check=True, timeout=60)
    return path.read_bytes()


@pytest.fixture(scope="module")
def mjpeg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ffmpeg(tmp_path_factory.mktemp("avi") / "mjpeg.avi", "-f", "lavfi", "-i",
                  "sine=duration=1:sample_rate=8000", "-c:v", "mjpeg", "-c:a", "pcm_s16le",
                  "-metadata", "title=Clip", "-metadata", "comment=odd")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ffmpeg(tmp_path_factory.mktemp("avi") / "raw.avi", "-c:v", "rawvideo",
                  "-pix_fmt", "bgr24", "-fflags", "+bitexact")


def labelled(data: bytes, label: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    avi.write(io.BytesIO(data), out, label)
    return out.getvalue()


def read(data: bytes) -> list[riff.Site]:
    return avi.read(io.BytesIO(data))


def probe_tags(path: Path) -> dict[str, str]:
    exe = require_tool("ffprobe")
    out = subprocess.run([exe, "-v", "error", "-show_format", "-of", "json", str(path)],
                         capture_output=True, check=True, timeout=60)
    tags: dict[str, str] = json.loads(out.stdout)["format"].get("tags", {})
    return tags


def exiftool(path: Path) -> dict[str, Any]:
    exe = require_tool("exiftool")
    out = subprocess.run([exe, "-j", "-b", "-a", "-u", "-G1", str(path)],
                         capture_output=True, check=True, timeout=60)
    data: list[dict[str, Any]] = json.loads(out.stdout)
    return data[0]


def check_same_media(tmp_path: Path, src: bytes, out: bytes) -> None:
    (tmp_path / "src.avi").write_bytes(src)
    (tmp_path / "out.avi").write_bytes(out)
    assert media(tmp_path / "src.avi") == media(tmp_path / "out.avi")
    assert_idx1_consistent(out)


@pytest.mark.interop
@pytest.mark.parametrize("fixture", ["mjpeg", "raw"])
def test_label_fills_junk_before_movi_and_no_media_byte_moves(
        fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    src: bytes = request.getfixturevalue(fixture)
    out = labelled(src)
    assert [(s.carrier, s.raw) for s in read(out)] == [("avi:INFO/AIGC", LABEL.to_json())]
    movi = movi_at(src)
    assert len(out) == len(src) and movi_at(out) == movi and out[movi:] == src[movi:]
    check_same_media(tmp_path, src, out)
    tags = probe_tags(tmp_path / "out.avi")
    assert tags["AIGC"] == LABEL.to_json()
    before = probe_tags(tmp_path / "src.avi")
    assert {k: v for k, v in tags.items() if k != "AIGC"} == before
    # Without -b exiftool calls a long unknown INFO value binary; with it, the ZSTR text.
    assert exiftool(tmp_path / "out.avi")["RIFF:Unknown_AIGC"] == LABEL.to_json()


def test_ffmpeg_info_entries_are_kept_byte_for_byte(mjpeg: bytes) -> None:
    out = labelled(mjpeg)
    [(_, at, size, _)] = [c for c in first_riff(mjpeg) if c[3] == b"INFO"]
    [(_, new_at, new_size, _)] = [c for c in first_riff(out) if c[3] == b"INFO"]
    assert new_at == at
    assert out[new_at + 12:new_at + 8 + size] == mjpeg[at + 12:at + 8 + size]
    assert out[new_at + 8 + size:new_at + 8 + new_size] == \
        chunk(b"AIGC", LABEL.to_json().encode() + b"\x00")


def test_relabel_in_place_matches_a_copy_and_keeps_one_label(mjpeg: bytes,
                                                             tmp_path: Path) -> None:
    once = labelled(mjpeg)
    twice = labelled(once, OTHER)
    assert [s.raw for s in read(twice)] == [OTHER.to_json()]
    assert labelled(twice, LABEL) == once
    path = tmp_path / "in-place.avi"
    path.write_bytes(once)
    with path.open("r+b") as rw:
        assert avi.update_in_place(rw, OTHER) is True
    assert path.read_bytes() == twice
    assert judge(str(path), avi.NAME, read(twice)).verdict == "compliant"


def without_junk(data: bytes) -> bytes:
    """`data` with its top-level JUNK removed: movi moves, idx1 (relative) stays valid."""
    parts = [data[at:at + 8 + size + (size & 1)] for cid, at, size, _ in first_riff(data)
             if cid != b"JUNK"]
    body = b"AVI " + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.interop
def test_without_junk_room_the_label_goes_after_idx1(mjpeg: bytes, tmp_path: Path) -> None:
    src = without_junk(mjpeg)
    assert_idx1_consistent(src)
    out = labelled(src)
    [site] = read(out)
    idx1 = next(at for cid, at, _, _ in first_riff(out) if cid == b"idx1")
    assert int(site.location.rsplit(" ", 1)[1]) > idx1
    assert out[:len(src)][8:] == src[8:] and first_riff(out)[-1][3] == b"INFO"
    check_same_media(tmp_path, src, out)
    assert probe_tags(tmp_path / "out.avi")["AIGC"] == LABEL.to_json()
    again = labelled(out, OTHER)
    assert [s.raw for s in read(again)] == [OTHER.to_json()] and len(again) == len(out)
    with io.BytesIO(out) as rw:
        assert avi.update_in_place(rw, OTHER) is False


def opendml(data: bytes, info_label: bytes | None = None) -> bytes:
    """`data` plus an OpenDML extension: RIFF AVIX holding movi (ix00 + one frame) and,
    optionally, a LIST/INFO with an AIGC; the video stream's reserved JUNK becomes an
    `indx` super-index of the same size pointing at ix00 by absolute offset."""
    frame_at = movi_at(data) + 12
    frame = data[frame_at:frame_at + 8 + int.from_bytes(data[frame_at + 4:frame_at + 8],
                                                       "little")]
    assert frame[:2] == b"00"
    avix_at = len(data)
    ix_at = avix_at + 24  # RIFF hdr (12) + LIST hdr (12)
    ix_size = 24 + 8 + 8  # header, one entry
    frame_abs = ix_at + 8 + ix_size
    ix = chunk(b"ix00", struct.pack("<HBBI4sQI", 2, 0, 1, 1, frame[:4], frame_abs + 8, 0)
               + struct.pack("<II", 0, len(frame) - 8))
    movi = chunk(b"LIST", b"movi" + ix + frame)
    extra = chunk(b"LIST", b"INFO" + chunk(b"AIGC", info_label)) if info_label else b""
    avix = chunk(b"RIFF", b"AVIX" + movi + extra)
    out = bytearray(data + avix)
    junk = out.index(b"JUNK", 0, movi_at(data))  # the first: inside the video strl
    size = int.from_bytes(out[junk + 4:junk + 8], "little")
    index = struct.pack("<HBBI4s12xQII", 4, 0, 0, 1, frame[:4], ix_at, len(ix), 1)
    out[junk:junk + 8 + size] = b"indx" + struct.pack("<I", size) + index.ljust(size, b"\x00")
    return bytes(out)


def indx_targets(data: bytes) -> list[bytes]:
    at = data.index(b"indx")
    entries = struct.unpack_from("<I", data, at + 12)[0]
    return [data[o:o + 4] for o, _, _ in
            (struct.unpack_from("<QII", data, at + 32 + 16 * i) for i in range(entries))]


def test_opendml_avix_is_read_and_labelled_in_the_first_riff(mjpeg: bytes,
                                                             tmp_path: Path) -> None:
    src = opendml(mjpeg, info_label=OTHER.to_json().encode() + b"\x00")
    assert indx_targets(src) == [b"ix00"]
    assert [s.raw for s in read(src)] == [OTHER.to_json()]
    out = labelled(src)
    [site] = read(out)
    assert site.raw == LABEL.to_json() and int(site.location.rsplit(" ", 1)[1]) < movi_at(out)
    movi = movi_at(src)
    assert len(out) == len(src) and indx_targets(out) == [b"ix00"]
    assert out[movi:] == src[movi:].replace(b"AIGC", b"JUNK").replace(
        OTHER.to_json().encode(), bytes(len(OTHER.to_json())))
    (tmp_path / "src.avi").write_bytes(src)
    (tmp_path / "out.avi").write_bytes(out)
    assert media(tmp_path / "src.avi") == media(tmp_path / "out.avi")


def test_opendml_without_junk_room_is_refused(mjpeg: bytes) -> None:
    src = opendml(without_junk(mjpeg))
    with pytest.raises(UnsupportedFormat, match="AVIX"):
        labelled(src)


def test_stray_chunk_and_xmp_sites_are_found_and_removed(mjpeg: bytes) -> None:
    packet = xmp.set_aigc(None, OTHER.to_json(), padding=64)
    info_at = next(at for _, at, _, form in first_riff(mjpeg) if form == b"INFO")
    extra = chunk(b"AIGC", b'{"Label":"2"}') + chunk(b"_PMX", packet)
    # Inserted before INFO and taken from the JUNK that follows it: offsets stay put.
    junk = next((at, size) for cid, at, size, _ in first_riff(mjpeg) if cid == b"JUNK")
    body = mjpeg[:info_at] + extra + mjpeg[info_at:junk[0]] + \
        chunk(b"JUNK", bytes(junk[1] - len(extra))) + mjpeg[junk[0] + 8 + junk[1]:]
    assert len(body) == len(mjpeg)
    sites = read(body)
    assert [s.carrier for s in sites] == ["avi:AIGC", "xmp"]
    assert [f.code for f in sites[0].findings] == ["riff-chunk-location"]
    out = labelled(body)
    assert [s.carrier for s in read(out)] == ["avi:INFO/AIGC"] and len(out) == len(body)
    pmx = out.index(b"_PMX")
    assert out[pmx + 4:pmx + 8] == body[body.index(b"_PMX") + 4:][:4]  # same size
    assert xmp.find_aigc(out[pmx + 8:pmx + 8 + len(packet)]) == []


def test_write_streams_movi_in_blocks(raw: bytes) -> None:
    class Reads(io.BytesIO):
        largest = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            self.largest = max(self.largest, len(data))
            return data

    big = without_junk(raw)  # the fallback path copies movi, then appends
    reader = Reads(big)
    avi.write(reader, io.BytesIO(), LABEL)
    assert reader.largest <= max(riff.COPY_BLOCK, movi_at(big))


# --- hostile input --------------------------------------------------------------------------


def test_truncation_is_malformed(raw: bytes) -> None:
    data = labelled(raw)
    for cut in range(0, len(data), 97):
        with pytest.raises(MalformedFile):
            read(data[:cut])


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00", bytes(range(256)) * 8,
                                  b"RIFF\x10\x00\x00\x00AVI " + b"\xff" * 16])
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        read(data)


@pytest.mark.parametrize(("form", "size"), [(b"movi", 0xFFFFFFFF), (b"hdrl", 0x7FFFFFFF),
                                            (b"AVI ", 0xFFFFFFFF), (b"INFO", 1 << 24)])
def test_lying_sizes_are_malformed(mjpeg: bytes, form: bytes, size: int) -> None:
    at = mjpeg.index(form) - 8
    data = mjpeg[:at + 4] + struct.pack("<I", size) + mjpeg[at + 8:]
    for action in (read, labelled):
        with pytest.raises(MalformedFile):
            action(data)


def test_deep_list_nesting_is_malformed(raw: bytes) -> None:
    nested = chunk(b"LIST", b"INFO")
    for _ in range(riff.MAX_DEPTH + 1):
        nested = chunk(b"LIST", b"strl" + nested)
    at = movi_at(raw)
    junk = next((a, s) for cid, a, s, _ in first_riff(raw) if cid == b"JUNK")
    data = raw[:junk[0]] + nested + chunk(b"JUNK", bytes(junk[1] - len(nested))) + raw[at:]
    assert len(data) == len(raw)
    with pytest.raises(MalformedFile, match="nesting"):
        read(data)


@pytest.fixture(scope="module")
def seed(raw: bytes) -> bytes:
    return labelled(raw)


def test_mutations_raise_only_synthguard_errors(seed: bytes) -> None:
    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, 2200), st.integers(0, 255)), max_size=6),
           st.integers(0, len(seed)))
    def mutate(flips: list[tuple[int, int]], cut: int) -> None:
        data = bytearray(seed)
        for at, value in flips:  # the header region, where the structure is
            data[at] = value
        try:
            read(bytes(data[:cut]))
            labelled(bytes(data[:cut]))
        except SynthGuardError:
            pass

    mutate()

