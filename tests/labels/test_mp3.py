"""MP3 carrier: ID3v2 TXXX:AIGC in v2.2/v2.3/v2.4 tags, trailing tags, byte-preserving writes.

Tags for the odd cases (v2.2, unsynchronisation, extended headers, footers, compressed
frames, iTunes-style sizes) are built byte by byte here from the ID3v2 specifications,
independently of the carrier's own codec; mutagen and ffprobe are the readers that
must agree with us.
"""

from __future__ import annotations

import io
import json
import subprocess
import zlib
from pathlib import Path

import av
import mutagen.apev2
import mutagen.id3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import judge
from synthguard.labels.carriers import mp3
from synthguard.labels.xmp import find_aigc
from tests.tools import exiftool_json, require_tool

PRODUCER = "001191110102MACQD9K64010000"
LABEL = AIGCLabel.create(producer=PRODUCER, produce_id="mp3-1")
OTHER = AIGCLabel.create(producer=PRODUCER, produce_id="mp3-2-" + "y" * 40)
XMP_WITH_LABEL = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">'
    b"<TC260:AIGC>{}</TC260:AIGC><dc:format xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
    b"audio/mpeg</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>")


def encode_mp3(options: dict[str, str], title: str | None = None, seconds: float = 0.5
               ) -> bytes:
    """A real MP3 from libmp3lame through PyAV; `options` are the FFmpeg muxer's."""
    rate = 44100
    t = np.arange(int(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 0.3 * 32767).astype(np.int16).reshape(1, -1)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options=options) as container:
        if title:
            container.metadata["title"] = title
        stream = container.add_stream("mp3", rate=rate)
        for i in range(0, samples.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(samples[:, i:i + 1152], format="s16",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def bare_audio() -> bytes:
    return encode_mp3({"id3v2_version": "0"})


def decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data), format="mp3") as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def label(data: bytes, aigc: AIGCLabel = LABEL) -> bytes:
    out = io.BytesIO()
    mp3.write(io.BytesIO(data), out, aigc)
    return out.getvalue()


def raws(data: bytes) -> list[str]:
    return [s.raw for s in mp3.read(io.BytesIO(data))]


# --- an independent ID3v2 writer, straight from the specifications -----------------------


def syncsafe(n: int) -> bytes:
    return bytes((n >> s) & 0x7F for s in (21, 14, 7, 0))


def lead_size(data: bytes) -> int:
    """Size of the leading ID3v2 tag, footer included; 0 without one."""
    if data[:3] != b"ID3":
        return 0
    b = data[6:10]
    body = (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]
    return 10 + body + (10 if data[3] == 4 and data[5] & 0x10 else 0)


def txxx_data(desc: str, value: str, encoding: int = 0) -> bytes:
    codec = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}[encoding]
    term = b"\x00\x00" if encoding in (1, 2) else b"\x00"
    return bytes([encoding]) + desc.encode(codec) + term + value.encode(codec)


def frame(major: int, fid: bytes, data: bytes, flags: int = 0, plain: bool = False) -> bytes:
    if major == 2:
        return fid + len(data).to_bytes(3, "big") + data
    size = len(data).to_bytes(4, "big") if major == 3 or plain else syncsafe(len(data))
    return fid + size + flags.to_bytes(2, "big") + data


def tag(major: int, body: bytes, flags: int = 0, padding: int = 0) -> bytes:
    fields = bytes([major, 0, flags]) + syncsafe(len(body) + padding)
    footer = b"3DI" + fields if flags & 0x10 else b""
    return b"ID3" + fields + body + bytes(padding) + footer


def unsync(data: bytes) -> bytes:
    out = bytearray()
    for i, b in enumerate(data):
        out.append(b)
        if b == 0xFF and (i + 1 == len(data) or data[i + 1] >= 0xE0 or data[i + 1] == 0):
            out.append(0)
    return bytes(out)


# --- real encoder files ------------------------------------------------------------------


def test_ffmpeg_v24_tag_round_trip() -> None:
    original = encode_mp3({}, title="Sine")
    assert original[:4] == b"ID3\x04" and mp3.sniff(original[:64])
    new = label(original)
    assert raws(new) == [LABEL.to_json()]
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.version == (2, 4, 0)
    assert [f.text for f in tags.getall("TXXX:AIGC")] == [[LABEL.to_json()]]
    assert tags["TIT2"].text == ["Sine"]
    before = mutagen.id3.ID3(io.BytesIO(original))
    assert tags["TSSE"] == before["TSSE"]
    # the other frames are the same bytes, in the same order, before the new one
    old_frames = original[10:lead_size(original)].rstrip(b"\x00")
    assert new[10:10 + len(old_frames)] == old_frames
    assert new[lead_size(new):] == original[lead_size(original):]
    assert np.array_equal(decode(new), decode(original))


def test_v23_tag_and_id3v1_kept_and_ffprobe_and_exiftool_read_the_label(tmp_path: Path) -> None:
    original = encode_mp3({"id3v2_version": "3", "write_id3v1": "1"}, title="Sine")
    assert original[:4] == b"ID3\x03" and original[-128:-125] == b"TAG"
    new = label(original)
    assert new[:4] == b"ID3\x03"
    assert new[-128:] == original[-128:]
    assert new[lead_size(new):] == original[lead_size(original):]
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.version == (2, 3, 0) and tags.getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    ffprobe = require_tool("ffprobe")
    path = tmp_path / "labeled.mp3"
    path.write_bytes(new)
    probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format_tags", "-of",
                            "json", str(path)], capture_output=True, check=True, timeout=60)
    probed = json.loads(probe.stdout)["format"]["tags"]
    assert probed["AIGC"] == LABEL.to_json() and probed["title"] == "Sine"
    seen = exiftool_json(path, "ID3:all")
    assert seen["ID3v2_3:UserDefinedText"] == f"(AIGC) {LABEL.to_json()}"
    assert seen["ID3v2_3:Title"] == "Sine"


def test_bare_mpeg_audio_gets_a_v23_tag() -> None:
    audio = bare_audio()
    assert audio[:2] in (b"\xff\xfb", b"\xff\xfa") and mp3.sniff(audio[:64])
    assert raws(audio) == []
    new = label(audio)
    assert new[:4] == b"ID3\x03"
    assert new[lead_size(new):] == audio
    assert mutagen.id3.ID3(io.BytesIO(new)).getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    assert np.array_equal(decode(new), decode(audio))


def test_sniffer() -> None:
    assert mp3.sniff(b"ID3\x04\x00") and mp3.sniff(b"\xff\xfb\x90\x00")
    assert not mp3.sniff(b"\xff\xf1\x50\x80")  # ADTS AAC: layer bits 00
    assert not mp3.sniff(b"\xff\xfb\xf0\x00")  # bitrate index 15 is invalid
    assert not mp3.sniff(b"fLaC") and not mp3.sniff(b"")


def test_relabel_reuses_padding_and_can_update_in_place() -> None:
    first = label(bare_audio())
    size = lead_size(first)
    second = label(first, OTHER)
    assert lead_size(second) == size  # the padding took the growth
    assert raws(second) == [OTHER.to_json()]
    assert label(second, LABEL) == first
    buffer = io.BytesIO(first)
    assert mp3.update_in_place(buffer, OTHER)
    assert buffer.getvalue() == second
    tight = tag(3, frame(3, b"TIT2", b"\x00x"))  # no padding: the tag must grow
    untouched = io.BytesIO(tight + bare_audio())
    assert not mp3.update_in_place(untouched, LABEL)
    assert untouched.getvalue() == tight + bare_audio()


def test_duplicates_and_case_variants_collapse_to_one() -> None:
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TXXX(encoding=3, desc="AIGC", text=[OTHER.to_json()]))
    tags.add(mutagen.id3.TXXX(encoding=1, desc="aigc", text=["second"]))
    tags.add(mutagen.id3.TXXX(encoding=3, desc="OTHER", text=["keep"]))
    buffer = io.BytesIO(bare_audio())
    tags.save(buffer, v2_version=3)
    source = buffer.getvalue()
    sites = mp3.read(io.BytesIO(source))
    assert judge("dup.mp3", mp3.NAME, sites).verdict == "noncompliant"
    assert sorted(s.raw for s in sites) == sorted([OTHER.to_json(), "second"])
    assert [f.code for s in sites for f in s.findings] == ["description-case"]
    new = label(source)
    assert judge("one.mp3", mp3.NAME, mp3.read(io.BytesIO(new))).verdict == "compliant"
    final = mutagen.id3.ID3(io.BytesIO(new))
    assert final.getall("TXXX:aigc") == [] and final.getall("TXXX:OTHER")[0].text == ["keep"]


@pytest.mark.parametrize("encoding", [0, 1, 2, 3])
def test_every_text_encoding_is_read(encoding: int) -> None:
    body = frame(4, b"TXXX", txxx_data("AIGC", LABEL.to_json() + "\x00", encoding))
    assert raws(tag(4, body) + bare_audio()) == [LABEL.to_json()]


def test_v22_tag_keeps_its_version() -> None:
    body = frame(2, b"TT2", b"\x00Old") + frame(2, b"TXX", txxx_data("AIGC", OTHER.to_json()))
    source = tag(2, body, padding=64) + bare_audio()
    assert raws(source) == [OTHER.to_json()]
    new = label(source)
    assert new[3] == 2 and raws(new) == [LABEL.to_json()]
    assert new[10:10 + 10] == frame(2, b"TT2", b"\x00Old")
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    assert tags["TIT2"].text == ["Old"]


def test_v23_unsynchronised_tag_with_extended_header() -> None:
    private = b"owner\x00" + b"\xff\xe0\xff\x00\xffbinary\xff"
    frames = frame(3, b"PRIV", private) + frame(3, b"TXXX", txxx_data("AIGC", OTHER.to_json()))
    extended = (6).to_bytes(4, "big") + b"\x00\x00" + bytes(4)  # no CRC, padding size 0
    source = tag(3, unsync(extended + frames), flags=0x80 | 0x40) + bare_audio()
    assert raws(source) == [OTHER.to_json()]
    new = label(source)
    assert new[5] == 0  # stored decoded now: no unsync, no stale extended header
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.getall("PRIV")[0].data == private[6:]
    assert tags.getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    assert new[lead_size(new):] == bare_audio()


def test_v24_extended_header_footer_and_compressed_frame() -> None:
    value = txxx_data("AIGC", OTHER.to_json(), 3)
    packed = zlib.compress(value)
    compressed = frame(4, b"TXXX", syncsafe(len(value)) + packed, flags=0x0008 | 0x0001)
    extended = syncsafe(6) + b"\x01\x00"
    source = tag(4, extended + frame(4, b"TIT2", b"\x03Hi") + compressed,
                 flags=0x40 | 0x10) + bare_audio()
    assert raws(source) == [OTHER.to_json()]
    new = label(source)
    size = lead_size(new)
    assert new[5] == 0x10 and new[size - 10:size - 7] == b"3DI"
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    assert tags["TIT2"].text == ["Hi"]
    assert new[size:] == bare_audio()


def test_itunes_v24_tag_with_plain_frame_sizes() -> None:
    comment = b"\x00eng\x00" + b"c" * 300  # over 127 bytes: plain and sync-safe differ
    body = frame(4, b"COMM", comment, plain=True) + frame(
        4, b"TXXX", txxx_data("AIGC", OTHER.to_json()), plain=True)
    source = tag(4, body, padding=32) + bare_audio()
    assert raws(source) == [OTHER.to_json()]
    new = label(source)
    tags = mutagen.id3.ID3(io.BytesIO(new))
    assert tags.getall("TXXX:AIGC")[0].text == [LABEL.to_json()]
    assert tags.getall("COMM")[0].text == ["c" * 300]


def test_appended_id3_and_ape_labels_are_read_and_removed(tmp_path: Path) -> None:
    appended = tag(4, frame(4, b"TXXX", txxx_data("AIGC", OTHER.to_json())), flags=0x10)
    kept = tag(4, frame(4, b"TIT2", b"\x03Tail") + frame(
        4, b"TXXX", txxx_data("AIGC", "x")), flags=0x10)
    id3v1 = b"TAG" + b"Title".ljust(30, b"\x00") + bytes(95)
    ape_only = tmp_path / "ape.tag"
    ape_only.write_bytes(b"")
    ape = mutagen.apev2.APEv2()
    ape["AIGC"] = OTHER.to_json()
    ape["Artist"] = "Kept"
    ape.save(ape_only)  # mutagen writes the tag alone: header, items, footer
    path = tmp_path / "trailing.mp3"
    source = bare_audio() + kept + appended + ape_only.read_bytes() + id3v1
    path.write_bytes(source)
    sites = mp3.read(io.BytesIO(source))
    assert sorted(s.carrier for s in sites) == ["ape:AIGC", "id3:TXXX", "id3:TXXX"]
    new = label(source)
    assert raws(new) == [LABEL.to_json()]
    assert new[-128:] == id3v1
    out = tmp_path / "out.mp3"
    out.write_bytes(new)
    assert dict(mutagen.apev2.APEv2(out)) == {"Artist": mutagen.apev2.APEv2(path)["Artist"]}
    assert b"Tail" in new and new.count(b"3DI") == 1  # one appended tag left
    assert new[lead_size(new):lead_size(new) + len(bare_audio())] == bare_audio()


def test_xmp_in_priv_frame_is_read_and_loses_only_its_label() -> None:
    packet = XMP_WITH_LABEL.replace(b"{}", OTHER.to_json().replace('"', "&quot;").encode())
    source = tag(3, frame(3, b"PRIV", b"XMP\x00" + packet, flags=0x4000)) + bare_audio()
    (site,) = mp3.read(io.BytesIO(source))
    assert site.carrier == "xmp" and site.raw == OTHER.to_json()
    new = label(source)
    assert [(s.carrier, s.raw) for s in mp3.read(io.BytesIO(new))] == [
        ("id3:TXXX", LABEL.to_json())]
    (private,) = mutagen.id3.ID3(io.BytesIO(new)).getall("PRIV")
    assert private.owner == "XMP" and b"dc:format>audio/mpeg<" in private.data
    assert find_aigc(private.data) == []
    assert new[10:14] == b"PRIV" and new[18] == 0x40  # the frame's status flags kept


def test_v22_compressed_tag_is_opaque() -> None:
    source = tag(2, b"\x00" * 20, flags=0x40) + bare_audio()
    assert raws(source) == []
    with pytest.raises(UnsupportedFormat, match="compressed"):
        label(source)


# --- bad input --------------------------------------------------------------------------


def test_truncated_inside_the_tag_is_malformed() -> None:
    data = label(encode_mp3({"id3v2_version": "3"}, title="x", seconds=0.1))
    for cut in range(3, lead_size(data)):
        with pytest.raises(MalformedFile):
            mp3.read(io.BytesIO(data[:cut]))
        with pytest.raises(MalformedFile):
            mp3.write(io.BytesIO(data[:cut]), io.BytesIO(), LABEL)


@pytest.mark.parametrize("source", [
    tag(4, b"")[:6] + b"\x7f\x7f\x7f\x7f" + bytes(100),  # 256 MiB declared
    b"ID3\x05\x00\x00" + syncsafe(10) + bytes(10),  # unknown version
    b"ID3\x03\x00\x00\x00\x00\x00\x80" + bytes(200),  # size not sync-safe
    tag(3, frame(3, b"TXXX", b"\x00AIGC\x00x")[:4] + (10**6).to_bytes(4, "big") + bytes(20)),
    tag(3, (10**6).to_bytes(4, "big") + bytes(20), flags=0x40),  # extended header lies
    tag(4, frame(4, b"TXXX", b"\x00\x00\x00\x09" + b"not zlib!", flags=0x0009)),
    tag(3, frame(3, b"TIT2", b"") * 70000),  # more frames than any tag needs
])
def test_lying_sizes_are_malformed(source: bytes) -> None:
    with pytest.raises(MalformedFile):
        mp3.read(io.BytesIO(source + bare_audio()[:400]))


def test_huge_ape_counts_and_sizes_are_malformed() -> None:
    audio = bare_audio()
    footer = b"APETAGEX" + (2000).to_bytes(4, "little")
    for size, count in ((0xFFFFFFFF, 1), (64, 0xFFFFFFFF), (10, 0)):
        source = audio + bytes(32) + footer + size.to_bytes(4, "little") + count.to_bytes(
            4, "little") + bytes(12)
        with pytest.raises(MalformedFile):
            mp3.read(io.BytesIO(source))


def test_garbage_reads_as_unlabeled_or_malformed() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 5, 200, 5000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        try:
            assert mp3.read(io.BytesIO(data)) == []
        except MalformedFile:
            pass
    with pytest.raises(MalformedFile):
        mp3.read(io.BytesIO(b"ID3\x04\x00"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_never_escape_as_other_errors(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(_SEEDS))
    pos = data.draw(st.integers(0, len(seed) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=6))
    mutated = seed[:pos] + patch + seed[pos + len(patch):]
    try:
        mp3.read(io.BytesIO(mutated))
        mp3.write(io.BytesIO(mutated), io.BytesIO(), LABEL)
    except SynthGuardError:
        pass


def _seeds() -> list[bytes]:
    audio = encode_mp3({"id3v2_version": "0"}, seconds=0.05)
    plain = tag(4, frame(4, b"COMM", b"\x00eng\x00" + b"c" * 200, plain=True)) + audio
    trailer = audio + tag(4, frame(4, b"TXXX", txxx_data("AIGC", "x")), flags=0x10)
    item = (2).to_bytes(4, "little") + bytes(4) + b"AIGC\x00{}"
    ape = (audio + item + b"APETAGEX" + (2000).to_bytes(4, "little")
           + (len(item) + 32).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(12))
    return [label(audio), plain, trailer, ape]


_SEEDS = _seeds()


def test_library_api_labels_in_place_and_inspects(tmp_path: Path) -> None:
    path = tmp_path / "in.mp3"
    path.write_bytes(bare_audio())
    assert synthguard.inspect(path).verdict == "not_found"
    synthguard.label(path, producer=PRODUCER, produce_id="api-1")
    size = lead_size(path.read_bytes())
    synthguard.label(path, producer=PRODUCER, produce_id="api-2")  # fits the padding
    assert lead_size(path.read_bytes()) == size
    report = synthguard.inspect(path)
    assert report.format == "mp3" and report.verdict == "compliant"
    assert report.label is not None and report.label.produce_id == "api-2"
    assert path.read_bytes()[size:] == bare_audio()
