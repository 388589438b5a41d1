"""GIF carrier: XMP TC260:AIGC in the `XMP DataXMP` application extension, and labels in
Comment extensions.

Fixtures are made by Pillow (and exiftool, for an XMP extension another writer made);
exiftool is the independent reader. The block walker here is deliberately separate from
the carrier's, and it walks the XMP extension as ordinary sub-blocks, as a GIF decoder
does, so it also proves the landing zone works.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import Site, gif
from tests.tools import exiftool_json, exiftool_xmp_aigc, require_tool

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0001")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0002",
                          propagator="PLATFORM42", propagate_id="p-77", reserved_code2="sig")
XMP_HEAD = b"\x21\xff\x0bXMP DataXMP"
ZONE = bytes([1, *range(255, -1, -1), 0])  # XMP Part 3: 258 bytes
OTHER_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PaintBox 3">'
    b'<dc:format>image/gif</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>'
    b'<?xpacket end="w"?>'
)


# --- an independent block walker -----------------------------------------------------------


def _table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def blocks(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(header with screen descriptor and palette, top-level blocks, trailer onwards)."""
    header_end = 13 + _table(data[10])
    out, pos = [], header_end
    while data[pos] != 0x3B:
        start = pos
        pos += 2 if data[pos] == 0x21 else 10 + _table(data[pos + 9]) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
        out.append(data[start:pos])
    return data[:header_end], out, data[pos:]


def sub_blocks(block: bytes, start: int) -> bytes:
    out, pos = b"", start
    while block[pos]:
        out += block[pos + 1:pos + 1 + block[pos]]
        pos += block[pos] + 1
    return out


def is_label_block(block: bytes) -> bool:
    if block.startswith(XMP_HEAD):
        return True
    return block[:2] == b"\x21\xfe" and sub_blocks(block, 2).startswith((b"{", b"AIGC"))


def xmp_extension(packet: bytes) -> bytes:
    return XMP_HEAD + packet + ZONE


def with_blocks(data: bytes, extra: list[bytes], at: int = 0) -> bytes:
    header, parts, tail = blocks(data)
    return header + b"".join(parts[:at] + extra + parts[at:]) + tail


# --- fixtures ------------------------------------------------------------------------------


def _noise(mode: str, seed: int = 45438, size: tuple[int, int] = (24, 16)) -> Image.Image:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return image.convert(mode) if mode != "RGB" else image


def _animated(out: io.BytesIO, **options: object) -> None:
    frames = [_noise("RGB", seed) for seed in range(3)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=90,
                   **options)


def _transparent(out: io.BytesIO) -> None:
    _noise("P").save(out, "GIF", transparency=5)


KINDS: dict[str, Callable[[io.BytesIO], object]] = {
    "static-87a": lambda out: _noise("L").save(out, "GIF"),
    "transparent": _transparent,
    "comment": lambda out: _noise("P").save(out, "GIF", comment=b"shot at dawn"),
    "animated": lambda out: _animated(out, loop=0, comment=b"shot at dawn"),
    "animated-once": lambda out: _animated(out),
    "interlaced": lambda out: _noise("P").save(out, "GIF", interlace=True),
}


def make(kind: str) -> bytes:
    out = io.BytesIO()
    KINDS[kind](out)
    return out.getvalue()


def relabel(data: bytes, label: AIGCLabel = FIRST) -> bytes:
    out = io.BytesIO()
    gif.write(io.BytesIO(data), out, label)
    return out.getvalue()


def sites(data: bytes) -> list[Site]:
    return gif.read(io.BytesIO(data))


def frames(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return [f.convert("RGBA").tobytes() for f in ImageSequence.Iterator(image)]


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_label_keeps_frames_and_every_other_block(kind: str) -> None:
    original = make(kind)
    twice = relabel(relabel(original, SECOND), FIRST)

    assert frames(twice) == frames(original)
    header, parts, tail = blocks(original)
    new_header, new_parts, new_tail = blocks(twice)
    assert new_header == b"GIF89a" + header[6:]
    assert new_tail == tail
    assert [b for b in new_parts if not is_label_block(b)] == [
        b for b in parts if not is_label_block(b)]

    found = sites(twice)
    assert [s.carrier for s in found] == ["xmp"]
    assert json.loads(found[0].raw) == FIRST.fields()
    assert found[0].findings == []
    # After the loop extension, before the first frame and its graphic control.
    xmp_at = next(i for i, b in enumerate(new_parts) if b.startswith(XMP_HEAD))
    assert not any(b[:1] == b"\x2c" or b[:2] == b"\x21\xf9" for b in new_parts[:xmp_at])
    assert all(not b.startswith(b"\x21\xff\x0bNETSCAPE") for b in new_parts[xmp_at:])
    assert new_parts[xmp_at].endswith(ZONE)
    assert relabel(twice, FIRST) == twice


def test_animation_settings_survive() -> None:
    labeled = relabel(make("animated"))
    with Image.open(io.BytesIO(labeled)) as image:
        assert image.info["loop"] == 0
        assert image.info["duration"] == 90
        assert image.info["comment"] == b"shot at dawn"
    assert len(frames(labeled)) == 3


@pytest.mark.interop
@pytest.mark.parametrize("kind", ["static-87a", "animated", "transparent"])
def test_exiftool_reads_our_label(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.gif"
    path.write_bytes(relabel(relabel(make(kind), SECOND)))
    value = exiftool_xmp_aigc(path)
    assert value is not None
    assert json.loads(value) == FIRST.fields()
    assert "Warning" not in exiftool_json(path, "Warning")


@pytest.mark.interop
def test_xmp_written_by_exiftool_is_merged_in_place(tmp_path: Path) -> None:
    exe = require_tool("exiftool")
    source = tmp_path / "source.gif"
    source.write_bytes(make("animated"))
    subprocess.run([exe, "-q", "-overwrite_original", "-XMP-xmp:CreatorTool=PaintBox 3",
                    "-XMP-dc:Format=image/gif", str(source)], check=True, timeout=60)
    labeled = tmp_path / "labeled.gif"
    labeled.write_bytes(relabel(source.read_bytes()))

    _, before, _ = blocks(source.read_bytes())
    _, after, _ = blocks(labeled.read_bytes())
    index = next(i for i, b in enumerate(before) if b.startswith(XMP_HEAD))
    assert after[index].startswith(XMP_HEAD)
    info = exiftool_json(labeled, "XMP-xmp:CreatorTool", "XMP-dc:Format", "Comment",
                         "Warning")
    del info["SourceFile"]
    assert info == {"XMP-xmp:CreatorTool": "PaintBox 3", "XMP-dc:Format": "image/gif",
                    "File:Comment": "shot at dawn"}  # exiftool files GIF comments as File
    value = exiftool_xmp_aigc(labeled)
    assert value is not None and json.loads(value) == FIRST.fields()


def test_existing_xmp_extension_is_merged_in_place() -> None:
    data = with_blocks(make("animated"), [xmp_extension(OTHER_XMP)], at=2)
    _, parts, _ = blocks(relabel(data))
    assert parts[2].startswith(XMP_HEAD)
    assert b"PaintBox 3" in parts[2] and b"image/gif" in parts[2]
    assert len([b for b in parts if b.startswith(XMP_HEAD)]) == 1


def test_comment_label_is_a_site_and_is_removed() -> None:
    comment = b"\x21\xfe" + bytes([len(SECOND.to_json(wrapped=True))]) \
        + SECOND.to_json(wrapped=True).encode() + b"\x00"
    data = with_blocks(make("comment"), [comment])
    found = sites(data)
    assert [(s.carrier, s.raw) for s in found] == [
        ("gif:comment", SECOND.to_json(wrapped=True))]
    labeled = relabel(data)
    assert [s.carrier for s in sites(labeled)] == ["xmp"]
    with Image.open(io.BytesIO(labeled)) as image:
        assert image.info["comment"] == b"shot at dawn"  # the prose comment stays


def test_long_comment_label_across_sub_blocks() -> None:
    text = ("AIGC" + FIRST.to_json()).encode() * 3
    body = b"".join(bytes([len(text[i:i + 255])]) + text[i:i + 255]
                    for i in range(0, len(text), 255))
    (site,) = sites(with_blocks(make("static-87a"), [b"\x21\xfe" + body + b"\x00"]))
    assert site.raw == text.decode()


def test_non_ascii_comment_label_is_read_as_latin1_with_a_finding() -> None:
    text = '{"AIGC":{"Label":"1","ProduceID":"\xe9"}}'.encode("latin-1")
    comment = b"\x21\xfe" + bytes([len(text)]) + text + b"\x00"
    (site,) = sites(with_blocks(make("static-87a"), [comment]))
    assert site.raw == text.decode("latin-1")
    assert [f.code for f in site.findings] == ["encoding"]


def test_prose_comment_mentioning_aigc_is_not_a_site() -> None:
    data = make("static-87a")
    prose = b"made without AIGC tools"
    data = with_blocks(data, [b"\x21\xfe" + bytes([len(prose)]) + prose + b"\x00"])
    assert sites(data) == []
    assert prose in relabel(data)


def test_every_site_is_reported_and_one_remains() -> None:
    def packet(label: AIGCLabel) -> bytes:
        return OTHER_XMP.replace(b"</rdf:Description>", (
            b'<TC260:AIGC xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">'
            + label.to_json().replace('"', "&quot;").encode() + b"</TC260:AIGC>"
            b"</rdf:Description>"))

    comment = FIRST.to_json(wrapped=True).encode()
    data = with_blocks(make("animated"), [
        xmp_extension(packet(FIRST)), xmp_extension(packet(SECOND)),
        b"\x21\xfe" + bytes([len(comment)]) + comment + b"\x00"], at=1)
    assert sorted(s.carrier for s in sites(data)) == ["gif:comment", "xmp", "xmp"]
    labeled = relabel(data, SECOND)
    assert [json.loads(s.raw) for s in sites(labeled)] == [SECOND.fields()]
    _, parts, _ = blocks(labeled)
    assert len([b for b in parts if is_label_block(b)]) == 1


def test_xmp_with_another_landing_zone_is_read_with_a_warning() -> None:
    packet = OTHER_XMP.replace(b"</rdf:Description>", (
        b'<TC260:AIGC xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">'
        b"{}</TC260:AIGC></rdf:Description>"))
    # Any zone that leads a sub-block walker to the terminator works for decoders; this
    # one starts 0x02 0xFF 0xFE 0xFD, so the xpacket end marker tells where the packet ends.
    zone = bytes([2, *range(255, -1, -1), 0])
    data = with_blocks(make("static-87a"), [XMP_HEAD + packet + zone])
    assert len(blocks(data)[1]) == 2  # a GIF decoder walks past it
    (site,) = sites(data)
    assert site.raw == "{}"
    assert [(f.code, f.severity) for f in site.findings] == [("xmp-landing-zone", "warning")]
    labeled = relabel(data)
    assert blocks(labeled)[1][0].endswith(ZONE)


def test_sniff() -> None:
    assert gif.sniff(make("static-87a")[:64])
    assert gif.sniff(make("animated")[:64])
    assert not gif.sniff(b"\x89PNG\r\n\x1a\n" + bytes(56))


def test_packet_with_nul_is_refused_for_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gif, "set_aigc", lambda packet, value: b"<x/>\x00")
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        relabel(make("static-87a"))


def test_api_labels_and_inspects_a_gif(tmp_path: Path) -> None:
    source = tmp_path / "in.gif"
    comment = SECOND.to_json(wrapped=True).encode()
    source.write_bytes(with_blocks(make("animated"),
                                   [b"\x21\xfe" + bytes([len(comment)]) + comment + b"\x00"]))
    assert synthguard.inspect(source).verdict == "compliant"
    out = tmp_path / "out.gif"
    report = synthguard.label(source, out, producer=FIRST.content_producer,
                              produce_id=FIRST.produce_id)
    assert (report.format, report.verdict) == ("gif", "compliant")
    assert synthguard.inspect(out).label == FIRST
    assert frames(out.read_bytes()) == frames(source.read_bytes())
    cut = tmp_path / "cut.gif"
    cut.write_bytes(out.read_bytes()[:-1])
    assert synthguard.inspect(cut).verdict == "inconclusive"


# --- hostile input -------------------------------------------------------------------------


def _refused(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        sites(data)
    with pytest.raises(MalformedFile):
        relabel(data)


@pytest.mark.parametrize("data", [b"", b"GIF8", b"garbage" * 20, b"GIF89a", b"GIF89a" + bytes(7)],
                         ids=["empty", "short-signature", "garbage", "signature-only",
                              "no-trailer"])
def test_not_a_gif_is_malformed(data: bytes) -> None:
    _refused(data)


@pytest.mark.parametrize("fraction", [i / 40 for i in range(40)])
def test_truncated_anywhere_is_malformed(fraction: float) -> None:
    data = relabel(make("animated"))
    _refused(data[:int(len(data) * fraction)])


def test_truncated_at_every_offset_is_malformed() -> None:
    data = relabel(make("comment"))
    for cut in range(len(data)):
        with pytest.raises(MalformedFile):
            sites(data[:cut])


def _lying(data: bytes) -> list[bytes]:
    header, parts, tail = blocks(data)
    image = next(b for b in parts if b[:1] == b"\x2c")
    at = header + b"".join(parts[:parts.index(image)])
    return [
        data[:10] + bytes([0x87]) + data[11:20],  # palette of 768 bytes past the end
        at + image[:9] + bytes([0x87]) + image[10:40],  # local palette past the end
        at + image[:11] + b"\xff" + image[12:20],  # sub-block length past the end
        at + b"\x99" + image[1:] + tail,  # unknown block introducer
        at + b"\x21",  # extension without label
        at + b"\x21\xff",  # application extension without identifier
        at + b"\x21\xff\x0bXMP Data",  # identifier cut short
        at + image[:5],  # image descriptor cut short
        header + b"".join(parts),  # no trailer
    ]


@pytest.mark.parametrize("index", range(9))
def test_lying_sizes_are_malformed(index: int) -> None:
    _refused(_lying(make("transparent"))[index])


def test_broken_xmp_packet_is_malformed() -> None:
    # A broken packet that could hold a label makes the file unreadable; one that cannot
    # (no AIGC in it) is no label site, but we refuse to merge a label into it.
    _refused(with_blocks(make("static-87a"), [xmp_extension(b"<x:xmpmeta>AIGC")]))
    broken = with_blocks(make("static-87a"), [xmp_extension(b"<x:xmpmeta>")])
    assert sites(broken) == []
    with pytest.raises(MalformedFile):
        gif.write(io.BytesIO(broken), io.BytesIO(), FIRST)


def test_block_count_is_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gif, "MAX_BLOCKS", 5)
    _refused(with_blocks(make("static-87a"), [b"\x21\xfe\x00"] * 5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_raise_only_synthguard_errors(data: st.DataObject) -> None:
    seed = bytearray(data.draw(st.sampled_from(_SEEDS)))
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(seed) - 1))
        action = data.draw(st.sampled_from(["set", "delete", "insert", "word"]))
        if action == "set":
            seed[pos] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del seed[pos:pos + data.draw(st.integers(1, 16))]
        elif action == "insert":
            seed[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            seed[pos:pos + 4] = data.draw(st.sampled_from(
                [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"!\xfe\x01{", b"\x2c\x00\x00\x00"]))
        if not seed:
            break
    try:
        gif.read(io.BytesIO(bytes(seed)))
        gif.write(io.BytesIO(bytes(seed)), io.BytesIO(), FIRST)
    except SynthGuardError:
        pass


_SEEDS = [relabel(make("animated")), make("comment"),
          with_blocks(make("static-87a"), [xmp_extension(OTHER_XMP)])]
