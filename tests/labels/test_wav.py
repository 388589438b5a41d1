"""WAV carrier: top-level `AIGC` chunk before `data`, on files written by libsndfile.

The chunk lists are checked with a parser written here, independent of the carrier;
samples with soundfile and the stdlib `wave` module; the chunk with exiftool (which
shows unknown RIFF chunks as `Unknown_<ID>` with -u). ffprobe does not show a
top-level custom chunk, only INFO tags, so it checks the INFO list we must keep.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import tracemalloc
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mutagen.id3
import mutagen.wave
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import riff, wav
from tests.tools import require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="wav-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="wav-2", label="2")


def chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def info(*entries: tuple[bytes, bytes]) -> bytes:
    return chunk(b"LIST", b"INFO" + b"".join(chunk(k, v) for k, v in entries))


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Top-level (ID, payload) pairs; asserts the RIFF size and every pad byte."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    out, at = [], 12
    while at < len(data):
        cid, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        out.append((cid, data[at + 8:at + 8 + size]))
        if size & 1:
            assert data[at + 8 + size] == 0
        at += 8 + size + (size & 1)
    assert at == len(data)
    return out


def rebuild(data: bytes, before_data: Sequence[bytes] = (), after: Sequence[bytes] = ()) -> bytes:
    """A libsndfile WAV with extra chunks put before `data` and after it."""
    parts = []
    for cid, payload in chunks(data):
        if cid == b"data":
            parts += list(before_data)
        parts.append(chunk(cid, payload))
    body = b"WAVE" + b"".join([*parts, *after])
    return b"RIFF" + struct.pack("<I", len(body)) + body


def samples(subtype: str, channels: int, frames: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(frames)
    if subtype == "FLOAT":
        return rng.uniform(-1, 1, (frames, channels)).astype(np.float32)
    return rng.integers(-(2**31), 2**31 - 1, (frames, channels), dtype=np.int32)


def encode(subtype: str, channels: int, frames: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples(subtype, channels, frames), 16000, format="WAV", subtype=subtype)
    return buffer.getvalue()


def bext() -> bytes:
    description = b"SynthGuard test take".ljust(256, b"\x00")
    fixed = description + b"tester".ljust(32, b"\x00") + b"ref-1".ljust(32, b"\x00") + \
        b"2025-09-01" + b"12:00:00" + struct.pack("<QH", 0, 1) + bytes(64 + 10 + 180)
    return fixed + b"A=PCM,F=16000\r\n"


def labelled(data: bytes, label: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    wav.write(io.BytesIO(data), out, label)
    return out.getvalue()


def read(data: bytes) -> list[riff.Site]:
    return wav.read(io.BytesIO(data))


def rich(subtype: str = "PCM_16", channels: int = 2, frames: int = 1001) -> bytes:
    """A libsndfile file plus the metadata chunks real WAVs carry."""
    return rebuild(
        encode(subtype, channels, frames),
        before_data=[info((b"INAM", b"Take 1\x00"), (b"ICMT", b"odd comment\x00")),
                     chunk(b"bext", bext()), chunk(b"iXML", b"<BWFXML><NOTE>x</NOTE></BWFXML>")],
        after=[chunk(b"abcd", b"odd")])


@pytest.mark.parametrize(("subtype", "channels", "frames"), [
    ("PCM_16", 2, 1001), ("PCM_24", 1, 1001), ("FLOAT", 2, 500), ("PCM_U8", 1, 777)])
def test_round_trip_keeps_samples_and_every_chunk(subtype: str, channels: int,
                                                  frames: int) -> None:
    src = rich(subtype, channels, frames)
    out = labelled(src)
    sites = read(out)
    assert [(s.carrier, s.raw) for s in sites] == [("wav:AIGC", LABEL.to_json())]
    expected = []
    for cid, payload in chunks(src):
        if cid == b"data":
            expected.append((b"AIGC", LABEL.to_json().encode()))
        expected.append((cid, payload))
    assert chunks(out) == expected  # byte for byte, AIGC right before data
    before, rate = sf.read(io.BytesIO(src), dtype="float64")
    after, rate_after = sf.read(io.BytesIO(out), dtype="float64")
    assert rate == rate_after and np.array_equal(before, after)
    assert sf.info(io.BytesIO(out)).subtype == subtype


def test_odd_data_gets_its_pad_byte_and_stdlib_wave_reads_identical_frames() -> None:
    src = encode("PCM_24", 1, 333)  # 999 bytes of samples
    assert len(dict(chunks(src))[b"data"]) % 2 == 1
    out = labelled(src)
    assert len(out) % 2 == 0
    with wave.open(io.BytesIO(src)) as a, wave.open(io.BytesIO(out)) as b:
        assert a.getparams() == b.getparams()
        assert a.readframes(a.getnframes()) == b.readframes(b.getnframes())


def test_missing_final_pad_byte_is_tolerated_and_restored() -> None:
    src = encode("PCM_24", 1, 333)
    body = src[8:-1]  # drop the pad byte, RIFF size to match
    unpadded = b"RIFF" + struct.pack("<I", len(body)) + body
    assert read(unpadded) == []
    out = labelled(unpadded)
    assert chunks(out)[-1] == (b"data", dict(chunks(src))[b"data"])


def test_relabel_replaces_the_label_and_removes_every_other_site() -> None:
    src = rebuild(encode("PCM_16", 1, 100),
                  before_data=[chunk(b"AIGC", b'{"Label":"3"}'),
                               info((b"INAM", b"t\x00"), (b"AIGC", b'{"Label":"2"}\x00'))],
                  after=[chunk(b"AIGC", OTHER.to_json().encode())])
    assert [s.carrier for s in read(src)] == ["wav:AIGC", "wav:INFO/AIGC", "wav:AIGC"]
    once = labelled(src)
    assert [s.raw for s in read(once)] == [LABEL.to_json()]
    assert dict(chunks(once))[b"LIST"] == b"INFO" + chunk(b"INAM", b"t\x00")
    twice = labelled(once, OTHER)
    assert [s.raw for s in read(twice)] == [OTHER.to_json()]
    assert labelled(twice, LABEL) == once  # stable: same label, same bytes


def test_gtkit_info_label_is_a_site_and_an_emptied_info_list_goes() -> None:
    src = rebuild(encode("PCM_16", 1, 50),
                  before_data=[info((b"AIGC", LABEL.to_json().encode() + b"\x00"))])
    [site] = read(src)
    assert site.carrier == "wav:INFO/AIGC" and site.raw == LABEL.to_json()
    assert [f.code for f in site.findings] == ["riff-info-location"]
    out = labelled(src)
    assert [cid for cid, _ in chunks(out)] == [b"fmt ", b"AIGC", b"data"]


def test_xmp_label_in_pmx_is_removed_and_other_properties_kept() -> None:
    packet = xmp.set_aigc(None, OTHER.to_json()).replace(
        b"<rdf:RDF>", b'<rdf:RDF><rdf:Description rdf:about="" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>audio/wav</dc:format>'
        b"</rdf:Description>")
    src = rebuild(encode("PCM_16", 1, 50), after=[chunk(b"_PMX", packet)])
    assert [(s.carrier, s.raw) for s in read(src)] == [("xmp", OTHER.to_json())]
    out = labelled(src)
    assert [s.carrier for s in read(out)] == ["wav:AIGC"]
    kept = dict(chunks(out))[b"_PMX"]
    assert xmp.find_aigc(kept) == [] and b"<dc:format>audio/wav</dc:format>" in kept


def test_stays_compliant_for_the_inspect_report() -> None:
    report = judge("x.wav", wav.NAME, read(labelled(rich())))
    assert report.verdict == "compliant" and report.label == LABEL


def exiftool(path: Path) -> dict[str, Any]:
    exe = require_tool("exiftool")
    out = subprocess.run([exe, "-j", "-b", "-a", "-u", "-G1", str(path)],
                         capture_output=True, check=True, timeout=60)
    data: list[dict[str, Any]] = json.loads(out.stdout)
    return data[0]


def unbase64(value: str) -> str:
    return base64.b64decode(value[7:]).decode() if value.startswith("base64:") else value


@pytest.mark.interop
def test_exiftool_reads_the_aigc_chunk_and_the_kept_metadata(tmp_path: Path) -> None:
    path = tmp_path / "labelled.wav"
    path.write_bytes(labelled(rich()))
    tags = exiftool(path)
    # exiftool reports the chunk's word-aligned data: an odd chunk comes with its pad byte.
    expected = LABEL.to_json() + "\x00" * (len(LABEL.to_json()) & 1)
    assert unbase64(tags["RIFF:Unknown_AIGC"]) == expected
    assert tags["RIFF:Title"] == "Take 1"
    assert tags["RIFF:Description"] == "SynthGuard test take"  # from bext


@pytest.mark.interop
def test_ffprobe_sees_the_info_tags_and_mutagen_the_id3_chunk(tmp_path: Path) -> None:
    path = tmp_path / "src.wav"
    path.write_bytes(rich())
    tagged = mutagen.wave.WAVE(path)
    tagged.add_tags()
    assert tagged.tags is not None
    tagged.tags.add(mutagen.id3.TIT2(encoding=3, text=["id3 title"]))
    tagged.save()
    out = tmp_path / "labelled.wav"
    out.write_bytes(labelled(path.read_bytes()))
    exe = require_tool("ffprobe")
    probe = json.loads(subprocess.run(
        [exe, "-v", "error", "-show_format", "-of", "json", str(out)],
        capture_output=True, check=True, timeout=60).stdout)
    assert probe["format"]["tags"]["title"] == "Take 1"
    id3 = mutagen.wave.WAVE(out).tags
    assert id3 is not None and str(id3["TIT2"]) == "id3 title"


def rf64(data: bytes, extra: bytes) -> bytes:
    """`data` (an RF64 file from libsndfile, sizes in ds64) with `extra` chunks appended."""
    out = bytearray(data + extra)
    struct.pack_into("<Q", out, 20, len(out) - 8)  # ds64 riffSize
    return bytes(out)


def test_rf64_is_read_through_ds64_and_refused_for_writing() -> None:
    buffer = io.BytesIO()
    sf.write(buffer, samples("PCM_16", 1, 101), 8000, format="RF64", subtype="PCM_16")
    data = rf64(buffer.getvalue(), chunk(b"AIGC", LABEL.to_json().encode()))
    assert data[:4] == b"RF64" and b"data\xff\xff\xff\xff" in data
    assert wav.sniff(data[:64])
    assert [s.raw for s in read(data)] == [LABEL.to_json()]
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        labelled(data)


class _Reads(io.BytesIO):
    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def test_write_streams_the_samples_in_blocks() -> None:
    src = encode("PCM_16", 2, 1_000_000)  # 4 MB of samples
    reader, out = _Reads(src), io.BytesIO()
    wav.write(reader, out, LABEL)
    assert reader.largest <= riff.COPY_BLOCK
    assert dict(chunks(out.getvalue()))[b"data"] == dict(chunks(src))[b"data"]


# --- hostile input --------------------------------------------------------------------------


def test_truncation_anywhere_is_malformed() -> None:
    data = labelled(rich("PCM_16", 1, 20))
    for cut in range(len(data)):
        with pytest.raises(MalformedFile):
            read(data[:cut])


@pytest.mark.parametrize("data", [
    b"", b"RIFF", b"RIFF\x04\x00\x00\x00WAVE", bytes(range(256)) * 4,
    b"RIFF\x20\x00\x00\x00WAVE" + bytes(range(40, 72)),
])
def test_garbage_is_malformed(data: bytes) -> None:
    if data == b"RIFF\x04\x00\x00\x00WAVE":
        assert read(data) == []  # an empty RIFF is well-formed, just without a label
        return
    with pytest.raises(MalformedFile):
        read(data)


def _lie(data: bytes, cid: bytes, size: int) -> bytes:
    at = data.index(cid)
    return data[:at + 4] + struct.pack("<I", size) + data[at + 8:]


@pytest.mark.parametrize(("cid", "size"), [
    (b"data", 0xFFFFFFFF), (b"data", 0x7FFFFFF0), (b"RIFF", 0xFFFFFFFF), (b"fmt ", 1 << 20),
    (b"AIGC", 0xFFFFFFF0),
])
def test_lying_sizes_are_malformed_without_allocating_them(cid: bytes, size: int) -> None:
    data = _lie(labelled(encode("PCM_16", 1, 20)), cid, size)
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFile):
            read(data)
        with pytest.raises(MalformedFile):
            labelled(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_deep_list_nesting_is_malformed() -> None:
    nested = chunk(b"LIST", b"INFO")
    for _ in range(riff.MAX_DEPTH + 2):
        nested = chunk(b"LIST", b"adtl" + nested)
    with pytest.raises(MalformedFile, match="nesting"):
        read(rebuild(encode("PCM_16", 1, 4), before_data=[nested]))


def test_too_many_chunks_and_an_oversized_label_are_malformed() -> None:
    many = rebuild(encode("PCM_16", 1, 4), after=[chunk(b"JUNK", b"")] * riff.MAX_CHUNKS)
    with pytest.raises(MalformedFile, match="chunks"):
        read(many)
    huge = rebuild(encode("PCM_16", 1, 4), after=[chunk(b"AIGC", b"x" * (riff.LABEL_LIMIT + 1))])
    with pytest.raises(MalformedFile, match="limit"):
        read(huge)


def test_rf64_without_ds64_is_malformed() -> None:
    data = b"RF64\xff\xff\xff\xffWAVE" + chunk(b"fmt ", bytes(16))
    with pytest.raises(MalformedFile, match="ds64"):
        read(data)


SEED = labelled(rich("PCM_16", 1, 30))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(SEED)))
def test_mutations_raise_only_synthguard_errors(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEED)
    for at, value in flips:
        data[at] = value
    mutated = bytes(data[:cut])
    try:
        read(mutated)
        labelled(mutated)
    except SynthGuardError:
        pass
