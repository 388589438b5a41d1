"""FLAC carrier: VORBIS_COMMENT `AIGC=`, padding reuse, byte-preserving blocks and frames."""

from __future__ import annotations

import io
import json
import struct
import subprocess
from pathlib import Path

import mutagen.flac
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import flac
from synthguard.labels.carriers.vorbiscomment import VorbisComment
from tests.tools import exiftool_json, require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="flac-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="flac-2-" + "x" * 60)


def make_flac(path: Path, seconds: float = 0.5) -> Path:
    """A real FLAC file from libsndfile: STREAMINFO, VORBIS_COMMENT, no padding."""
    rate = 8000
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 0.4 * 32767).astype(np.int16)
    sf.write(path, samples, rate, format="FLAC", subtype="PCM_16")
    return path


def blocks(data: bytes) -> list[tuple[int, bool, bytes]]:
    """(type, last flag, body) of every metadata block, walked independently."""
    out = []
    pos = 4
    while True:
        head = data[pos]
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        out.append((head & 0x7F, bool(head & 0x80), data[pos + 4:pos + 4 + length]))
        pos += 4 + length
        if head & 0x80:
            return out


def audio_start(data: bytes) -> int:
    return 4 + sum(4 + len(body) for _, _, body in blocks(data))


def label(data: bytes, aigc: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    flac.write(io.BytesIO(data), out, aigc)
    return out.getvalue()


def with_blocks(data: bytes, new_blocks: list[tuple[int, bytes]]) -> bytes:
    """`data` with its metadata replaced by `new_blocks` (last flag set on the final)."""
    meta = b"".join(bytes([t | (0x80 if i == len(new_blocks) - 1 else 0)])
                    + len(b).to_bytes(3, "big") + b for i, (t, b) in enumerate(new_blocks))
    return b"fLaC" + meta + data[audio_start(data):]


def decoded(path: Path) -> np.ndarray:
    samples, _ = sf.read(path, dtype="int16")
    return np.asarray(samples)


def test_label_soundfile_flac_round_trip(tmp_path: Path) -> None:
    src = make_flac(tmp_path / "in.flac")
    original = src.read_bytes()
    dst = tmp_path / "out.flac"
    dst.write_bytes(label(original))

    sites = flac.read(io.BytesIO(dst.read_bytes()))
    assert [(s.carrier, s.raw) for s in sites] == [("vorbis-comment", LABEL.to_json())]
    tags = mutagen.flac.FLAC(dst).tags
    assert tags is not None and tags["AIGC"] == [LABEL.to_json()]
    assert tags.vendor == mutagen.flac.FLAC(src).tags.vendor  # type: ignore[union-attr]
    new = dst.read_bytes()
    assert new[audio_start(new):] == original[audio_start(original):]
    assert blocks(new)[0] == (0, False, blocks(original)[0][2])  # STREAMINFO untouched
    assert np.array_equal(decoded(src), decoded(dst))
    # no room before: the audio moved, and fresh padding was left for the next label
    assert [b[0] for b in blocks(new)] == [0, 4, 1]
    assert [b[1] for b in blocks(new)] == [False, False, True]


def test_padding_absorbs_growth_and_shrink_so_frames_stay_put(tmp_path: Path) -> None:
    original = label(make_flac(tmp_path / "in.flac").read_bytes())
    start = audio_start(original)
    longer = label(original, OTHER)
    assert audio_start(longer) == start
    assert longer[start:] == original[start:]
    pad_before = [len(b) for t, _, b in blocks(original) if t == 1]
    pad_after = [len(b) for t, _, b in blocks(longer) if t == 1]
    assert pad_after[0] == pad_before[0] - (len(OTHER.to_json()) - len(LABEL.to_json()))
    shorter = label(longer, LABEL)
    assert shorter == original  # the padding grew back by exactly the shrink


def test_exact_fit_consumes_the_padding_block(tmp_path: Path) -> None:
    data = make_flac(tmp_path / "in.flac").read_bytes()
    old = blocks(data)
    comment = VorbisComment(b"v").to_bytes()
    grown = VorbisComment(b"v").with_label(LABEL.to_json()).to_bytes()
    pad = len(grown) - len(comment) - 4
    source = with_blocks(data, [(0, old[0][2]), (4, comment), (1, bytes(pad))])
    out = label(source)
    assert [b[0] for b in blocks(out)] == [0, 4]
    assert audio_start(out) == audio_start(source)


def test_other_blocks_kept_byte_for_byte(tmp_path: Path) -> None:
    src = make_flac(tmp_path / "in.flac")
    tagged = mutagen.flac.FLAC(src)
    picture = mutagen.flac.Picture()
    picture.data, picture.mime, picture.type = b"\x89PNG fake cover" * 50, "image/png", 3
    tagged.add_picture(picture)
    tagged["TITLE"] = "Sine"
    tagged["ARTIST"] = ["A", "B"]
    tagged.save()
    data = src.read_bytes()
    old = blocks(data)
    application = struct.pack(">4s", b"test") + b"application payload"
    seektable = struct.pack(">QQH", 0, 0, 4096)
    source = with_blocks(data, [(0, old[0][2]), (3, seektable), (2, application),
                                *[(t, b) for t, _, b in old[1:]]])
    out = label(source)
    kept = [(t, b) for t, _, b in blocks(out) if t not in (1, 4)]
    assert kept == [(t, b) for t, _, b in blocks(source) if t not in (1, 4)]
    final = mutagen.flac.FLAC(io.BytesIO(out))
    assert final.tags is not None
    assert final.tags["TITLE"] == ["Sine"] and final.tags["ARTIST"] == ["A", "B"]
    assert final.tags["AIGC"] == [LABEL.to_json()]
    assert final.pictures[0].data == picture.data
    assert sum(last for _, last, _ in blocks(out)) == 1 and blocks(out)[-1][1]


def test_duplicates_and_lower_case_name_collapse_to_one(tmp_path: Path) -> None:
    src = make_flac(tmp_path / "in.flac")
    tagged = mutagen.flac.FLAC(src)
    tagged["AIGC"] = [OTHER.to_json(), "second"]
    tagged["TITLE"] = "keep"
    assert tagged.tags is not None
    tagged.tags.append(("aigc", "third"))
    tagged.save()
    sites = flac.read(io.BytesIO(src.read_bytes()))
    assert len(sites) == 3
    assert judge("dup.flac", flac.NAME, sites).verdict == "noncompliant"
    out = label(src.read_bytes())
    assert [s.raw for s in flac.read(io.BytesIO(out))] == [LABEL.to_json()]
    assert judge("one.flac", flac.NAME, flac.read(io.BytesIO(out))).verdict == "compliant"
    final = mutagen.flac.FLAC(io.BytesIO(out)).tags
    assert final is not None and final["TITLE"] == ["keep"]
    assert label(out) == out  # labeling again changes nothing


def test_lower_case_field_name_is_read_with_an_info_finding(tmp_path: Path) -> None:
    data = make_flac(tmp_path / "in.flac").read_bytes()
    old = blocks(data)
    comment = VorbisComment(b"v", [b"aigc=" + LABEL.to_json().encode(), b"X=1"]).to_bytes()
    source = with_blocks(data, [(0, old[0][2]), (4, comment)])
    (site,) = flac.read(io.BytesIO(source))
    assert site.raw == LABEL.to_json()
    assert [f.code for f in site.findings] == ["field-name-case"]
    out = label(source)
    (entry,) = [b for t, _, b in blocks(out) if t == 4]
    assert b"X=1" in entry and b"aigc=" not in entry


def test_file_without_comment_block_gets_one_after_streaminfo(tmp_path: Path) -> None:
    data = make_flac(tmp_path / "in.flac").read_bytes()
    old = blocks(data)
    source = with_blocks(data, [(0, old[0][2]), (1, bytes(600))])
    assert flac.read(io.BytesIO(source)) == []
    out = label(source)
    assert [b[0] for b in blocks(out)] == [0, 4, 1]
    assert audio_start(out) == audio_start(source)  # the padding paid for it
    tags = mutagen.flac.FLAC(io.BytesIO(out)).tags
    assert tags is not None and tags["AIGC"] == [LABEL.to_json()]


def test_update_in_place_uses_padding_or_declines(tmp_path: Path) -> None:
    padded = label(make_flac(tmp_path / "in.flac").read_bytes())
    buffer = io.BytesIO(padded)
    assert flac.update_in_place(buffer, OTHER)
    assert buffer.getvalue() == label(padded, OTHER)
    bare = make_flac(tmp_path / "bare.flac").read_bytes()  # no padding block
    untouched = io.BytesIO(bare)
    assert not flac.update_in_place(untouched, LABEL)
    assert untouched.getvalue() == bare


def test_ffmpeg_made_flac_labels_and_ffprobe_and_exiftool_read_it(tmp_path: Path) -> None:
    ffmpeg = require_tool("ffmpeg")
    ffprobe = require_tool("ffprobe")
    src = tmp_path / "ff.flac"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=330:d=0.5",
                    "-metadata", "title=ff", str(src)], check=True, timeout=60)
    dst = tmp_path / "out.flac"
    original = src.read_bytes()
    dst.write_bytes(label(original))
    assert audio_start(dst.read_bytes()) == audio_start(original)  # ffmpeg leaves padding
    probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format_tags",
                            "-of", "json", str(dst)], capture_output=True, check=True,
                           timeout=60)
    tags = {k.upper(): v for k, v in json.loads(probe.stdout)["format"]["tags"].items()}
    assert tags["AIGC"] == LABEL.to_json()
    assert tags["TITLE"] == "ff"
    assert exiftool_json(dst, "Vorbis:all")["Vorbis:Aigc"] == LABEL.to_json()
    assert np.array_equal(decoded(src), decoded(dst))


# --- bad input --------------------------------------------------------------------------


def test_truncated_at_every_metadata_offset_is_malformed(tmp_path: Path) -> None:
    data = label(make_flac(tmp_path / "in.flac").read_bytes())
    for cut in range(audio_start(data)):
        with pytest.raises(MalformedFile):
            flac.read(io.BytesIO(data[:cut]))
        with pytest.raises(MalformedFile):
            flac.write(io.BytesIO(data[:cut]), io.BytesIO(), LABEL)


@pytest.mark.parametrize("garbage", [b"", b"fLaC", b"fLaC" + bytes(40), b"ID3" + bytes(100),
                                     b"\x00" * 1000])
def test_garbage_is_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedFile):
        flac.read(io.BytesIO(garbage))


def test_lying_lengths_and_counts_are_malformed(tmp_path: Path) -> None:
    data = make_flac(tmp_path / "in.flac").read_bytes()
    streaminfo = blocks(data)[0][2]
    huge_count = struct.pack("<I", 1) + b"v" + struct.pack("<I", 0xFFFFFFFF)
    huge_vendor = struct.pack("<I", 0xFFFFFFFF) + b"v"
    huge_entry = struct.pack("<I", 1) + b"v" + struct.pack("<II", 1, 0xFFFFFFF0)
    many = struct.pack("<I", 1) + b"v" + struct.pack("<I", 70000) + bytes(4 * 70000)
    for body in (huge_count, huge_vendor, huge_entry, many):
        with pytest.raises(MalformedFile):
            flac.read(io.BytesIO(with_blocks(data, [(0, streaminfo), (4, body)])))
    lying = bytearray(with_blocks(data, [(0, streaminfo), (1, bytes(10))]))
    lying[4 + 4 + 34 + 1:4 + 4 + 34 + 4] = b"\xff\xff\xff"  # padding claims 16 MiB
    with pytest.raises(MalformedFile):
        flac.read(io.BytesIO(bytes(lying)))
    short_info = with_blocks(data, [(0, streaminfo[:20])])
    with pytest.raises(MalformedFile):
        flac.read(io.BytesIO(short_info))
    with pytest.raises(MalformedFile):
        flac.read(io.BytesIO(with_blocks(data, [(0, streaminfo), (127, b"")])))


def test_oversized_comment_is_refused_for_writing(tmp_path: Path) -> None:
    data = make_flac(tmp_path / "in.flac").read_bytes()
    streaminfo = blocks(data)[0][2]
    big = VorbisComment(b"v", [b"X=" + bytes((1 << 24) - 20)]).to_bytes()
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        label(with_blocks(data, [(0, streaminfo), (4, big)]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_never_escape_as_other_errors(data: st.DataObject) -> None:
    seed = _SEED
    pos = data.draw(st.integers(0, min(len(seed), audio_start(seed) + 16) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=6))
    mutated = seed[:pos] + patch + seed[pos + len(patch):]
    try:
        flac.read(io.BytesIO(mutated))
        flac.write(io.BytesIO(mutated), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _seed() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(64, dtype=np.int16), 8000, format="FLAC", subtype="PCM_16")
    return label(buffer.getvalue())


_SEED = _seed()


def test_library_api_labels_in_place_and_inspects(tmp_path: Path) -> None:
    path = make_flac(tmp_path / "in.flac")
    synthguard.label(path, tmp_path / "copy.flac", producer=PRODUCER, produce_id="api-1")
    report = synthguard.inspect(tmp_path / "copy.flac")
    assert report.format == "flac" and report.verdict == "compliant"
    assert report.label is not None and report.label.produce_id == "api-1"
    start = audio_start((tmp_path / "copy.flac").read_bytes())
    synthguard.label(tmp_path / "copy.flac", producer=PRODUCER, produce_id="api-2")  # padding
    assert audio_start((tmp_path / "copy.flac").read_bytes()) == start
    again = synthguard.inspect(tmp_path / "copy.flac")
    assert again.label is not None and again.label.produce_id == "api-2"
    assert len(again.sites) == 1
