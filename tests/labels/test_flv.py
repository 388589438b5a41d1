"""FLV carrier: `AIGC` string in `onMetaData`; only script tags re-encoded.

Files come from the ffmpeg CLI (Sorenson Spark + MP3 with a keyframe index, H.264 +
AAC). Independent checks: a tag walker written here (DataSize, PreviousTagSize), PyAV
packets, decoded frames and a keyframe seek, ffprobe `-show_format` (ffmpeg exports
onMetaData string entries as format tags), and the shifted `keyframes.filepositions`
each landing on a video keyframe tag.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import tracemalloc
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import flv, riff
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="flv-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="flv-2", label="2")

Tag = tuple[int, int, bytes, bytes]  # type, offset, timestamp + stream id, body


def tags(data: bytes) -> list[Tag]:
    """Every tag; asserts each DataSize and PreviousTagSize and that nothing is left over."""
    assert data[:3] == b"FLV"
    at = int.from_bytes(data[5:9], "big")
    assert data[at:at + 4] == bytes(4)
    at += 4
    out = []
    while at < len(data):
        size = int.from_bytes(data[at + 1:at + 4], "big")
        end = at + 11 + size
        assert int.from_bytes(data[end:end + 4], "big") == 11 + size
        out.append((data[at], at, data[at + 4:at + 11], data[at + 11:end]))
        at = end + 4
    assert at == len(data)
    return out


def media_tags(data: bytes) -> list[tuple[int, bytes, bytes]]:
    return [(kind, head, body) for kind, _, head, body in tags(data) if kind != 18]


def amf_str(text: str) -> bytes:
    return b"\x02" + struct.pack(">H", len(text)) + text.encode()


def amf_key(text: str) -> bytes:
    return struct.pack(">H", len(text)) + text.encode()


def script_tag(body: bytes) -> bytes:
    return bytes([18]) + len(body).to_bytes(3, "big") + bytes(7) + body + \
        struct.pack(">I", 11 + len(body))


def numbers_after(data: bytes, key: bytes) -> list[float]:
    """The AMF0 number or strict array of numbers stored under `key` in onMetaData."""
    at = data.index(amf_key(key.decode())) + 2 + len(key)
    if data[at] == 0x00:
        return [struct.unpack_from(">d", data, at + 1)[0]]
    count = struct.unpack_from(">I", data, at + 1)[0]
    return [struct.unpack_from(">d", data, at + 6 + 9 * i)[0] for i in range(count)]


def ffmpeg(path: Path, *args: str) -> bytes:
    exe = require_tool("ffmpeg")
    subprocess.run([exe, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=10:duration=3", "-f", "lavfi", "-i",
                    "sine=duration=3:sample_rate=22050", "-g", "5", *args, str(path)],
                   check=True, timeout=60)
    return path.read_bytes()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ffmpeg(tmp_path_factory.mktemp("flv") / "spark.flv", "-c:v", "flv1", "-c:a",
                  "libmp3lame", "-flvflags", "add_keyframe_index", "-metadata", "title=Clip")


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return ffmpeg(tmp_path_factory.mktemp("flv") / "h264.flv", "-c:v", "libx264", "-c:a", "aac",
                  "-metadata", f"AIGC={OTHER.to_json()}")


def labelled(data: bytes, label: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    flv.write(io.BytesIO(data), out, label)
    return out.getvalue()


def read(data: bytes) -> list[riff.Site]:
    return flv.read(io.BytesIO(data))


def probe_tags(path: Path) -> dict[str, str]:
    exe = require_tool("ffprobe")
    out = subprocess.run([exe, "-v", "error", "-show_format", "-of", "json", str(path)],
                         capture_output=True, check=True, timeout=60)
    found: dict[str, str] = json.loads(out.stdout)["format"].get("tags", {})
    return found


def media(path: Path) -> tuple[list[bytes], list[bytes], bytes]:
    """Packet payloads, decoded video frames, and the frame after a seek to 2 s."""
    with av.open(str(path)) as container:
        packets = [bytes(p) for p in container.demux() if p.size]
    with av.open(str(path)) as container:
        frames = [f.to_ndarray().tobytes() for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        container.seek(int(2 / stream.time_base), stream=stream)
        after_seek = next(container.decode(stream)).to_ndarray().tobytes()
    return packets, frames, after_seek


@pytest.mark.interop
@pytest.mark.parametrize("fixture", ["spark", "h264"])
def test_round_trip_copies_every_media_tag(fixture: str, request: pytest.FixtureRequest,
                                           tmp_path: Path) -> None:
    src: bytes = request.getfixturevalue(fixture)
    out = labelled(src)
    assert [(s.carrier, s.raw) for s in read(out)] == [("flv:onMetaData", LABEL.to_json())]
    assert media_tags(out) == media_tags(src)
    (tmp_path / "src.flv").write_bytes(src)
    (tmp_path / "out.flv").write_bytes(out)
    assert media(tmp_path / "src.flv") == media(tmp_path / "out.flv")
    after, before = probe_tags(tmp_path / "out.flv"), probe_tags(tmp_path / "src.flv")
    assert after["AIGC"] == LABEL.to_json()
    moved = {"AIGC", "lastkeyframelocation"}
    assert {k: v for k, v in after.items() if k not in moved} == \
        {k: v for k, v in before.items() if k not in moved}


def test_keyframe_offsets_and_filesize_follow_the_moved_tags(spark: bytes) -> None:
    out = labelled(spark)
    assert len(out) != len(spark)
    video_at = {at: body for kind, at, _, body in tags(out) if kind == 9}
    positions = numbers_after(out, b"filepositions")
    assert len(positions) == len(numbers_after(spark, b"filepositions")) > 1
    for position in positions:
        assert video_at[int(position)][0] >> 4 == 1  # frame type 1: keyframe
    delta = len(out) - len(spark)
    assert numbers_after(out, b"filesize") == [len(out)]
    assert numbers_after(out, b"lastkeyframelocation") == \
        [numbers_after(spark, b"lastkeyframelocation")[0] + delta]


def test_relabel_replaces_in_place_and_is_stable(h264: bytes) -> None:
    assert [s.raw for s in read(h264)] == [OTHER.to_json()]
    once = labelled(h264)
    assert [s.raw for s in read(once)] == [LABEL.to_json()]
    meta, old = tags(once)[0][3], tags(h264)[0][3]
    assert meta.index(b"AIGC") == old.index(b"AIGC")  # same entry position
    assert meta[13:18] == old[13:18]  # ECMA marker, same entry count
    assert labelled(labelled(once, OTHER), LABEL) == once
    assert judge("x.flv", flv.NAME, read(once)).verdict == "compliant"


def without_metadata(data: bytes) -> bytes:
    first = tags(data)[0]
    assert first[0] == 18
    end = first[1] + 11 + len(first[3]) + 4
    return data[:first[1]] + data[end:]


@pytest.mark.interop
def test_a_file_without_onmetadata_gets_one_after_the_header(spark: bytes,
                                                             tmp_path: Path) -> None:
    src = without_metadata(spark)
    assert read(src) == []
    out = labelled(src)
    assert tags(out)[0][0] == 18 and tags(out)[0][1] == 13
    assert out[13 + 11 + len(tags(out)[0][3]) + 4:] == src[13:]
    (tmp_path / "out.flv").write_bytes(out)
    assert probe_tags(tmp_path / "out.flv")["AIGC"] == LABEL.to_json()


def test_labels_in_other_script_tags_are_sites_and_are_removed(spark: bytes) -> None:
    text = script_tag(amf_str("onTextData") + b"\x03" + amf_key("text") + amf_str("hi")
                      + amf_key("AIGC") + amf_str(OTHER.to_json()) + b"\x00\x00\x09")
    named = script_tag(amf_str("AIGC") + amf_str(OTHER.to_json()))
    src = spark + text + named  # after the media: no stored offset points there
    sites = read(src)
    assert [s.carrier for s in sites] == ["flv:script", "flv:script"]
    assert all(f.code == "flv-script-location" for s in sites for f in s.findings)
    out = labelled(src)
    assert [s.carrier for s in read(out)] == ["flv:onMetaData"]
    last = tags(out)[-1]
    assert last[3] == amf_str("onTextData") + b"\x03" + amf_key("text") + amf_str("hi") + \
        b"\x00\x00\x09"
    assert media_tags(out) == media_tags(spark)


def test_set_data_frame_wrapper_is_onmetadata(h264: bytes) -> None:
    first = tags(h264)[0]
    body = amf_str("@setDataFrame") + first[3]
    src = h264[:first[1]] + script_tag(body) + h264[first[1] + 15 + len(first[3]):]
    assert [s.carrier for s in read(src)] == ["flv:onMetaData"]
    out = labelled(src)
    assert [s.raw for s in read(out)] == [LABEL.to_json()]
    assert tags(out)[0][3].startswith(amf_str("@setDataFrame") + amf_str("onMetaData"))


def test_non_string_label_is_an_error_site_and_a_non_object_metadata_is_refused(
        h264: bytes) -> None:
    number = script_tag(amf_str("onMetaData") + b"\x08" + bytes(4) + amf_key("AIGC")
                        + b"\x00" + bytes(8) + b"\x00\x00\x09")
    [site] = read(h264[:13] + number + h264[13:])[:1]
    assert site.raw == "" and site.findings[0].code == "flv-not-string"
    for value in (b"\x05", b""):  # null, and no value at all
        odd_meta = h264[:13] + script_tag(amf_str("onMetaData") + value) + h264[13:]
        with pytest.raises(UnsupportedFormat, match="not an object"):
            labelled(odd_meta)


# --- hostile input --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed(h264: bytes) -> bytes:
    return labelled(h264)


def test_truncation_is_malformed_except_at_tag_boundaries(seed: bytes) -> None:
    boundaries = {at for _, at, _, _ in tags(seed)} | {len(seed)}
    for cut in range(0, len(seed), 41):
        if cut in boundaries:
            continue
        with pytest.raises(MalformedFile):
            read(seed[:cut])


@pytest.mark.parametrize("data", [b"", b"FLV", b"FLV\x01\x05\xff\xff\xff\xff\x00\x00\x00\x00",
                                  b"FLV\x01\x05\x00\x00\x00\x03" + bytes(20),
                                  bytes(range(256)) * 4])
def test_garbage_and_lying_headers_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        read(data)


def body_file(body: bytes) -> bytes:
    return b"FLV\x01\x05\x00\x00\x00\x09" + bytes(4) + script_tag(body)


@pytest.mark.parametrize(("body", "why"), [
    (amf_str("onMetaData") + b"\x03" + (amf_key("a") + b"\x03") * 5000, "nesting"),
    (amf_str("onMetaData") + b"\x0a\xff\xff\xff\xff", "claims"),
    (amf_str("onMetaData") + b"\x02\xff\xff", "past the end"),
    (amf_str("onMetaData") + b"\x11\x0a", "marker"),
    (amf_str("onMetaData") + b"\x08\xff\xff\xff\xff" + amf_key("AIGC") + b"\x0c\xff\xff\xff\xf0",
     "past the end"),
    (b"\x05", "name"),
])
def test_amf_bombs_are_malformed_without_allocating(body: bytes, why: str) -> None:
    tracemalloc.start()
    try:
        for action in (read, labelled):
            with pytest.raises(MalformedFile, match=why):
                action(body_file(body))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024


def test_lying_data_size_is_malformed(seed: bytes) -> None:
    at = tags(seed)[3][1]
    data = seed[:at + 1] + b"\xff\xff\xff" + seed[at + 4:]
    with pytest.raises(MalformedFile, match="declares"):
        read(data)


def test_value_budget_bounds_work(monkeypatch: pytest.MonkeyPatch) -> None:
    body = amf_str("onMetaData") + b"\x0a" + struct.pack(">I", 5000) + b"\x05" * 5000
    assert read(body_file(body)) == []
    monkeypatch.setattr(flv._Budget, "left", 1000)
    with pytest.raises(MalformedFile, match="values"):
        read(body_file(body))


def test_mutations_raise_only_synthguard_errors(seed: bytes) -> None:
    meta_end = tags(seed)[1][1] + 40

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, meta_end), st.integers(0, 255)), max_size=6),
           st.integers(0, len(seed)))
    def mutate(flips: list[tuple[int, int]], cut: int) -> None:
        data = bytearray(seed)
        for at, value in flips:  # header and onMetaData, where the structure is
            data[at] = value
        try:
            read(bytes(data[:cut]))
            labelled(bytes(data[:cut]))
        except SynthGuardError:
            pass

    mutate()
