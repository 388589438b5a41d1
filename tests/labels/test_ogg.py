"""Ogg Vorbis and Opus carrier: comment header `AIGC=`, re-paginated headers,
renumbered audio pages with untouched payloads, chained and multiplexed streams."""

from __future__ import annotations

import io
import json
import struct
import subprocess
from pathlib import Path

import av
import mutagen.oggopus
import mutagen.oggvorbis
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutagen.ogg import OggPage

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import ogg
from tests.tools import exiftool_json, require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="ogg-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="ogg-2")


def tone(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 0.3).astype(np.float32)


def make_vorbis(path: Path, seconds: float = 8.0) -> Path:
    sf.write(path, tone(44100, seconds), 44100, format="OGG", subtype="VORBIS")
    return path


def make_opus(path: Path, seconds: float = 1.0) -> Path:
    """An Ogg Opus file from PyAV (libopus via FFmpeg's ogg muxer)."""
    rate = 48000
    samples = (tone(rate, seconds) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate)
        for i in range(0, samples.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(samples[:, i:i + 960], format="s16",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def decode_opus(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def pages(data: bytes) -> list[OggPage]:
    """Pages as mutagen (an independent parser) sees them."""
    buffer = io.BytesIO(data)
    out = []
    while buffer.tell() < len(data):
        out.append(OggPage(buffer))
    return out


def crc_ok(data: bytes) -> bool:
    """mutagen recomputes each page's CRC when it serialises it."""
    buffer = io.BytesIO(data)
    while buffer.tell() < len(data):
        start = buffer.tell()
        page = OggPage(buffer)
        if page.write() != data[start:buffer.tell()]:
            return False
    return True


def audio_pages(data: bytes, headers: int) -> list[tuple[int, bytes, bool, bool]]:
    """(granule, payload, continued, complete) of the pages after the header packets."""
    found = 0
    result = []
    for page in pages(data):
        if found >= headers:
            result.append((page.position, b"".join(page.packets), page.continued,
                           page.complete))
        else:
            found += len(page.packets) - (0 if page.complete else 1)
    return result


def label(data: bytes, aigc: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    ogg.write(io.BytesIO(data), out, aigc)
    return out.getvalue()


def test_vorbis_round_trip(tmp_path: Path) -> None:
    src = make_vorbis(tmp_path / "in.ogg")
    original = src.read_bytes()
    dst = tmp_path / "out.ogg"
    dst.write_bytes(label(original))
    new = dst.read_bytes()

    assert [(s.carrier, s.raw) for s in ogg.read(io.BytesIO(new))] == [
        ("vorbis-comment", LABEL.to_json())]
    tags = mutagen.oggvorbis.OggVorbis(dst).tags
    assert tags is not None and tags["AIGC"] == [LABEL.to_json()]
    assert tags["ENCODER"] == mutagen.oggvorbis.OggVorbis(src).tags["ENCODER"]  # type: ignore[index]
    assert crc_ok(new)
    assert audio_pages(new, 3) == audio_pages(original, 3)
    assert len(audio_pages(new, 3)) > 1
    seqs = [p.sequence for p in pages(new)]
    assert seqs == list(range(len(seqs)))
    assert all(p.position == 0 for p in pages(new)[:2])
    a, _ = sf.read(src, dtype="float32")
    b, _ = sf.read(dst, dtype="float32")
    assert np.array_equal(a, b)
    assert label(new) == new  # relabel with the same label: nothing changes


def test_opus_round_trip(tmp_path: Path) -> None:
    src = make_opus(tmp_path / "in.opus")
    original = src.read_bytes()
    dst = tmp_path / "out.opus"
    dst.write_bytes(label(original))
    new = dst.read_bytes()
    assert [s.raw for s in ogg.read(io.BytesIO(new))] == [LABEL.to_json()]
    tags = mutagen.oggopus.OggOpus(dst).tags
    assert tags is not None and tags["AIGC"] == [LABEL.to_json()]
    assert crc_ok(new)
    assert audio_pages(new, 2) == audio_pages(original, 2)
    assert np.array_equal(decode_opus(src), decode_opus(dst))
    relabeled = label(new, OTHER)
    assert [s.raw for s in ogg.read(io.BytesIO(relabeled))] == [OTHER.to_json()]


def test_header_page_count_change_renumbers_audio_pages(tmp_path: Path) -> None:
    src = make_vorbis(tmp_path / "in.ogg")
    tagged = mutagen.oggvorbis.OggVorbis(src)
    tagged["DESCRIPTION"] = "d" * 30000  # mutagen lays this out in ~4 KiB pages
    tagged["AIGC"] = OTHER.to_json()
    tagged.save()
    original = src.read_bytes()
    new = label(original)
    assert len(pages(new)) < len(pages(original))  # our pages hold up to 255 segments
    assert crc_ok(new)
    assert [p.sequence for p in pages(new)] == list(range(len(pages(new))))
    assert audio_pages(new, 3) == audio_pages(original, 3)
    header_pages = pages(new)[:len(pages(new)) - len(audio_pages(new, 3))]
    assert all(p.position in (0, -1) for p in header_pages)
    assert header_pages[0].first and not any(p.first for p in header_pages[1:])
    final = mutagen.oggvorbis.OggVorbis(io.BytesIO(new)).tags
    assert final is not None
    assert final["AIGC"] == [LABEL.to_json()] and final["DESCRIPTION"] == ["d" * 30000]
    dst = tmp_path / "out.ogg"
    dst.write_bytes(new)
    assert np.array_equal(sf.read(src)[0], sf.read(dst)[0])


def test_duplicate_and_lower_case_entries_collapse_to_one(tmp_path: Path) -> None:
    src = make_opus(tmp_path / "in.opus")
    tagged = mutagen.oggopus.OggOpus(src)
    assert tagged.tags is not None
    tagged.tags.extend([("AIGC", OTHER.to_json()), ("aigc", "x"), ("TITLE", "keep")])
    tagged.save()
    sites = ogg.read(io.BytesIO(src.read_bytes()))
    assert len(sites) == 2 and [f.code for f in sites[1].findings] == ["field-name-case"]
    assert judge("dup.opus", ogg.NAME, sites).verdict == "noncompliant"
    new = label(src.read_bytes())
    assert judge("one.opus", ogg.NAME, ogg.read(io.BytesIO(new))).verdict == "compliant"
    final = mutagen.oggopus.OggOpus(io.BytesIO(new)).tags
    assert final is not None
    assert final["AIGC"] == [LABEL.to_json()] and final["TITLE"] == ["keep"]


def test_chained_file_labels_first_link_and_clears_later_ones(tmp_path: Path) -> None:
    first = make_vorbis(tmp_path / "a.ogg", 0.5).read_bytes()
    second = label(make_vorbis(tmp_path / "b.ogg", 0.5).read_bytes(), OTHER)
    chained = first + second
    assert len(ogg.read(io.BytesIO(chained))) == 1  # the second link's label
    new = label(chained)
    sites = ogg.read(io.BytesIO(new))
    assert [s.raw for s in sites] == [LABEL.to_json()]
    assert "comment header" in sites[0].location
    assert crc_ok(new)
    serials = [p.serial for p in pages(new)]
    second_serial = pages(second)[0].serial
    tail = [p for p in pages(new) if p.serial == second_serial]
    assert serials.index(second_serial) > 0 and tail[0].first
    second_link = b"".join(p.write() for p in tail)
    assert audio_pages(second_link, 3) == audio_pages(second, 3)
    assert mutagen.oggvorbis.OggVorbis(io.BytesIO(second_link)).tags.get("AIGC") is None


def test_multiplexed_streams_are_read_but_refused_for_writing(tmp_path: Path) -> None:
    a = pages(label(make_vorbis(tmp_path / "a.ogg", 0.3).read_bytes()))
    b = pages(make_vorbis(tmp_path / "b.ogg", 0.3).read_bytes())
    # grouped: both BOS pages first, then the rest interleaved
    order = [a[0], b[0], *[p for pair in zip(a[1:], b[1:], strict=False) for p in pair]]
    muxed = b"".join(p.write() for p in order)
    assert [s.raw for s in ogg.read(io.BytesIO(muxed))] == [LABEL.to_json()]
    with pytest.raises(UnsupportedFormat, match="multiplexed"):
        label(muxed)


def test_audio_sharing_the_last_header_page_is_refused() -> None:
    ident = b"\x01vorbis" + bytes(23)
    comment = b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01"
    setup = b"\x05vorbis" + bytes(10)
    head = ogg.paginate(7, 0, [ident, comment, setup, b"audio"], eos=True)
    with pytest.raises(UnsupportedFormat, match="shares"):
        label(b"".join(head))


def test_ffprobe_and_exiftool_read_the_label(tmp_path: Path) -> None:
    ffprobe = require_tool("ffprobe")
    for path in (make_vorbis(tmp_path / "v.ogg"), make_opus(tmp_path / "o.opus")):
        out = path.with_name("labeled" + path.suffix)
        out.write_bytes(label(path.read_bytes()))
        probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "stream_tags",
                                "-of", "json", str(out)], capture_output=True, check=True,
                               timeout=60)
        tags = json.loads(probe.stdout)["streams"][0]["tags"]
        assert tags["AIGC"] == LABEL.to_json(), path.suffix
        assert exiftool_json(out, "Vorbis:all")["Vorbis:Aigc"] == LABEL.to_json()


def test_crc_matches_libogg_pages(tmp_path: Path) -> None:
    data = make_vorbis(tmp_path / "in.ogg").read_bytes()
    for page in pages(data):
        raw = page.write()
        assert ogg.ogg_crc(raw[:22] + b"\0\0\0\0" + raw[26:]) == struct.unpack("<I", raw[22:26])[0]


# --- bad input --------------------------------------------------------------------------


def test_truncated_headers_are_malformed(tmp_path: Path) -> None:
    data = label(make_vorbis(tmp_path / "in.ogg", 0.3).read_bytes())
    header_end = sum(len(p.write()) for p in pages(data)[:2])
    for cut in range(1, header_end, 7):
        with pytest.raises(MalformedFile):
            ogg.read(io.BytesIO(data[:cut]))
        with pytest.raises(MalformedFile):
            ogg.write(io.BytesIO(data[:cut]), io.BytesIO(), LABEL)
    for cut in range(header_end + 1, len(data), 997):  # inside audio pages: still caught
        with pytest.raises(MalformedFile):
            ogg.read(io.BytesIO(data[:cut]))


@pytest.mark.parametrize("garbage", [b"", b"OggS", b"OggS" + bytes(23) + b"\xff",
                                     b"RIFF" + bytes(60), bytes(500)])
def test_garbage_is_malformed(garbage: bytes) -> None:
    with pytest.raises(MalformedFile):
        ogg.read(io.BytesIO(garbage))
    with pytest.raises(MalformedFile):
        ogg.write(io.BytesIO(garbage), io.BytesIO(), LABEL)


def test_huge_declared_comment_counts_and_lengths_are_malformed() -> None:
    ident = b"OpusHead" + bytes(11)
    for body in (struct.pack("<I", 0xFFFFFFFF), struct.pack("<I", 1) + b"v"
                 + struct.pack("<I", 0xFFFFFFFF), struct.pack("<I", 0) + struct.pack(
                     "<II", 1, 0xFFFFFFF0)):
        stream = b"".join(ogg.paginate(1, 0, [ident, b"OpusTags" + body], eos=True))
        with pytest.raises(MalformedFile):
            ogg.read(io.BytesIO(stream))
        with pytest.raises(MalformedFile):
            label(stream)


def test_bad_crc_on_a_renumbered_page_is_malformed(tmp_path: Path) -> None:
    src = make_vorbis(tmp_path / "in.ogg")
    tagged = mutagen.oggvorbis.OggVorbis(src)
    tagged["DESCRIPTION"] = "d" * 30000
    tagged.save()
    data = bytearray(src.read_bytes())
    data[-5] ^= 0xFF  # inside the last audio page
    with pytest.raises(MalformedFile, match="CRC"):
        label(bytes(data))


def test_sequence_numbers_wrap_at_32_bits() -> None:
    ident = b"OpusHead" + bytes(11)
    tags = b"OpusTags" + struct.pack("<II", 0, 0)
    stream = b"".join(ogg.paginate(3, 0xFFFFFFFF, [ident, tags, b"audio"], eos=True))
    assert [p.sequence for p in pages(stream)] == [0xFFFFFFFF, 0]
    labeled = label(b"".join(ogg.paginate(3, 0xFFFFFFFF, [ident, tags], eos=True)))
    assert [p.sequence for p in pages(labeled)] == [0xFFFFFFFF, 0] and crc_ok(labeled)


def test_stray_page_and_unknown_codec() -> None:
    other = b"".join(ogg.paginate(5, 0, [b"\x80theora" + bytes(40), b"x"], eos=True))
    assert ogg.read(io.BytesIO(other)) == []
    with pytest.raises(UnsupportedFormat, match="neither Vorbis nor Opus"):
        label(other)
    orphan = ogg.paginate(9, 3, [b"a", b"b"], eos=False)[1]  # a page with no BOS before it
    with pytest.raises(MalformedFile, match="no BOS"):
        ogg.read(io.BytesIO(orphan))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_never_escape_as_other_errors(data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(_SEED) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=6))
    mutated = _SEED[:pos] + patch + _SEED[pos + len(patch):]
    try:
        ogg.read(io.BytesIO(mutated))
        ogg.write(io.BytesIO(mutated), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _seed() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(8000, 0.05), 8000, format="OGG", subtype="VORBIS")
    return label(buffer.getvalue())


_SEED = _seed()


def test_library_api_labels_and_inspects(tmp_path: Path) -> None:
    for path in (make_vorbis(tmp_path / "in.ogg", 1.0), make_opus(tmp_path / "in.opus")):
        assert synthguard.inspect(path).verdict == "not_found"
        synthguard.label(path, producer=PRODUCER, produce_id="api-1")
        report = synthguard.inspect(path)
        assert report.format == "ogg" and report.verdict == "compliant", path.suffix
        assert report.label is not None and report.label.produce_id == "api-1"
