"""JPEG carrier: XMP TC260:AIGC in APP1, EXIF UserComment and Extended XMP sites.

Fixtures are made by Pillow; exiftool is the independent reader. The segment walker
below is deliberately separate from the carrier's, so a bug there cannot hide itself.
"""

from __future__ import annotations

import io
import json
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

import synthguard
from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels import xmp
from synthguard.labels.aigc import AIGCLabel, decode
from synthguard.labels.carriers import jpeg
from synthguard.labels.carriers.base import Site
from synthguard.labels.carriers.tiff import ASCII_PREFIX, UNICODE_PREFIX
from tests.tools import exiftool_json, exiftool_xmp_aigc

FIRST = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0001")
SECOND = AIGCLabel.create(producer="001191110102MACQD9K64010000", produce_id="img-0002",
                          propagator="PLATFORM42", propagate_id="p-77", reserved_code2="sig")
OTHER_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PaintBox 3">'
    b'<dc:format>image/jpeg</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>'
)


def _image(mode: str) -> Image.Image:
    # Noise, not a flat colour, so the entropy-coded data is substantial.
    size = (48, 32)
    rng = random.Random(45438)
    bands = len(mode) if mode != "L" else 1
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))


def _exif(comment: bytes | None = None, endian: str = "<") -> Image.Exif:
    exif = Image.Exif()
    exif.endian = endian
    exif[0x010F] = "SynthCam"  # Make
    sub: dict[int, object] = {0x9003: "2025:09:01 12:00:00"}  # DateTimeOriginal
    if comment is not None:
        sub[0x9286] = comment
    exif[0x8769] = sub
    return exif


def _icc() -> bytes:
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


KINDS: dict[str, Callable[[io.BytesIO], None]] = {
    "baseline": lambda out: _image("RGB").save(out, "JPEG", quality=90),
    "progressive": lambda out: _image("RGB").save(out, "JPEG", progressive=True),
    "grayscale": lambda out: _image("L").save(out, "JPEG"),
    "cmyk": lambda out: _image("CMYK").save(out, "JPEG"),
    "exif": lambda out: _image("RGB").save(out, "JPEG", exif=_exif()),
    "icc": lambda out: _image("RGB").save(out, "JPEG", icc_profile=_icc()),
    "xmp": lambda out: _image("RGB").save(out, "JPEG", xmp=OTHER_XMP),
    "comment": lambda out: _image("RGB").save(out, "JPEG", comment=b"shot at dawn"),
    "everything": lambda out: _image("RGB").save(out, "JPEG", exif=_exif(), icc_profile=_icc(),
                                                 xmp=OTHER_XMP, comment=b"shot at dawn"),
}


def make(kind: str) -> bytes:
    out = io.BytesIO()
    KINDS[kind](out)
    return out.getvalue()


def walk(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """(marker, payload) of each header segment, and the offset of the first SOS."""
    segments: list[tuple[int, bytes]] = []
    at = 2
    while True:
        marker = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker == 0xDA:
            return segments, at
        segments.append((marker, data[at + 4:at + 2 + length]))
        at += 2 + length


def label_bytes(data: bytes, label: AIGCLabel) -> bytes:
    out = io.BytesIO()
    jpeg.write(io.BytesIO(data), out, label)
    return out.getvalue()


def sites(data: bytes) -> list[Site]:
    return jpeg.read(io.BytesIO(data))


def not_xmp(segments: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return [s for s in segments if not (s[0] == 0xE1 and s[1].startswith(jpeg.XMP_SIG))]


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def after_soi(data: bytes, *inserted: bytes) -> bytes:
    return data[:2] + b"".join(inserted) + data[2:]


# --- labeling real files ---------------------------------------------------------------


def test_sniff() -> None:
    assert jpeg.sniff(make("baseline")[:64])
    assert not jpeg.sniff(b"\x89PNG\r\n\x1a\n")
    assert not jpeg.sniff(b"")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_label_twice_keeps_everything_else(kind: str) -> None:
    original = make(kind)
    assert sites(original) == []
    once = label_bytes(original, FIRST)
    twice = label_bytes(once, SECOND)

    found = sites(twice)
    assert [(s.carrier, s.raw) for s in found] == [("xmp", SECOND.to_json())]
    assert decode(found[0].raw).label() == SECOND
    assert found[0].findings == []

    # Pixels decode identically and the scans are the same bytes, EOI and all.
    assert Image.open(io.BytesIO(twice)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    before, scan = walk(original)
    after, new_scan = walk(twice)
    assert twice[new_scan:] == original[scan:]
    assert original.endswith(b"\xff\xd9")
    # Every other header segment is kept, byte for byte and in order.
    assert not_xmp(after) == not_xmp(before)
    assert len(after) == len(not_xmp(before)) + 1
    # Labeling is stable: a third write with the same label changes nothing.
    assert label_bytes(twice, SECOND) == twice


@pytest.mark.interop
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_exiftool_reads_label_and_other_metadata(kind: str, tmp_path: Path) -> None:
    original, labeled = tmp_path / "in.jpg", tmp_path / "out.jpg"
    original.write_bytes(make(kind))
    labeled.write_bytes(label_bytes(label_bytes(original.read_bytes(), FIRST), SECOND))

    value = exiftool_xmp_aigc(labeled)
    assert value is not None
    assert json.loads(value) == SECOND.fields()

    tags = ("IFD0:Make", "ExifIFD:DateTimeOriginal", "ICC_Profile:ProfileDescription",
            "XMP-dc:Format", "XMP-xmp:CreatorTool", "File:Comment", "File:ImageWidth",
            "File:EncodingProcess", "File:ColorComponents")
    before, after = exiftool_json(original), exiftool_json(labeled)
    assert {t: before.get(t) for t in tags} == {t: after.get(t) for t in tags}
    if kind in ("exif", "everything"):
        assert after["IFD0:Make"] == "SynthCam"
    if kind in ("icc", "everything"):
        assert after["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    if kind in ("xmp", "everything"):
        assert after["XMP-xmp:CreatorTool"] == "PaintBox 3"
        assert after["XMP-dc:Format"] == "image/jpeg"
    assert not any("warning" in k.lower() or "error" in k.lower() for k in after)


def test_new_packet_goes_after_jfif_and_exif() -> None:
    original = make("everything")
    # Rebuild it without XMP, keeping APP0, APP1 EXIF, APP2 ICC and COM.
    segments, scan = walk(original)
    stripped = b"\xff\xd8" + b"".join(
        bytes((0xFF, m)) + struct.pack(">H", len(p) + 2) + p for m, p in not_xmp(segments)
    ) + original[scan:]
    labeled_segments = walk(label_bytes(stripped, FIRST))[0]
    assert [m for m, _ in labeled_segments][:4] == [0xE0, 0xE1, 0xE1, 0xE2]
    assert labeled_segments[1][1].startswith(b"Exif\x00")
    assert labeled_segments[2][1].startswith(jpeg.XMP_SIG)


def test_existing_packet_is_replaced_in_place() -> None:
    original = make("everything")
    before = [m for m, _ in walk(original)[0]]
    after = walk(label_bytes(original, FIRST))[0]
    assert [m for m, _ in after] == before
    xmp_at = next(i for i, (m, p) in enumerate(after) if p.startswith(jpeg.XMP_SIG))
    assert xmp_at == next(i for i, (m, p) in enumerate(walk(original)[0])
                          if p.startswith(jpeg.XMP_SIG))


def test_trailing_bytes_and_fill_bytes_survive() -> None:
    original = make("baseline")
    scan = walk(original)[1]
    # 0xFF fill bytes before the DQT marker, a TEM marker, and data after EOI.
    dqt = original.index(b"\xff\xdb")
    odd = original[:dqt] + b"\xff\xff\xff" + b"\xff\x01" + original[dqt:] + b"TRAILER"
    labeled = label_bytes(odd, FIRST)
    assert labeled.endswith(original[scan:] + b"TRAILER")
    assert b"\xff\xff\xff\xff\x01\xff\xdb" in labeled
    assert [s.raw for s in sites(labeled)] == [FIRST.to_json()]


# --- EXIF UserComment ------------------------------------------------------------------


@pytest.mark.parametrize(("endian", "prefix", "encoding"), [
    ("<", ASCII_PREFIX, "ascii"),
    (">", ASCII_PREFIX, "ascii"),
    ("<", UNICODE_PREFIX, "utf-16-le"),
    (">", UNICODE_PREFIX, "utf-16-be"),
    ("<", b"\x00" * 8, "utf-8"),
])
def test_user_comment_label_is_read_then_neutralized(endian: str, prefix: bytes,
                                                     encoding: str, tmp_path: Path) -> None:
    wrapped = FIRST.to_json(wrapped=True)
    out = io.BytesIO()
    _image("RGB").save(out, "JPEG", exif=_exif(prefix + wrapped.encode(encoding), endian))
    original = out.getvalue()

    found = sites(original)
    assert [(s.carrier, s.raw) for s in found] == [("exif:UserComment", wrapped)]
    assert decode(found[0].raw).form == "wrapped"

    labeled = label_bytes(original, SECOND)
    assert [(s.carrier, s.raw) for s in sites(labeled)] == [("xmp", SECOND.to_json())]
    # The EXIF block keeps its length and every byte outside the comment value.
    exif_before = next(p for m, p in walk(original)[0] if p.startswith(b"Exif"))
    exif_after = next(p for m, p in walk(labeled)[0] if p.startswith(b"Exif"))
    assert len(exif_after) == len(exif_before)
    start = exif_before.index(prefix + wrapped.encode(encoding))
    end = start + 8 + len(wrapped.encode(encoding))
    assert exif_after[:start] == exif_before[:start]
    assert exif_after[end:] == exif_before[end:]
    assert exif_after[start:end] == ASCII_PREFIX + b" " * (end - start - 8)

    path = tmp_path / "out.jpg"
    path.write_bytes(labeled)
    info = exiftool_json(path, "IFD0:Make", "ExifIFD:UserComment", "ExifIFD:DateTimeOriginal")
    assert info["IFD0:Make"] == "SynthCam"
    assert info["ExifIFD:DateTimeOriginal"] == "2025:09:01 12:00:00"
    assert "AIGC" not in str(info.get("ExifIFD:UserComment", ""))


def test_ordinary_user_comment_is_not_a_site_and_is_kept() -> None:
    out = io.BytesIO()
    _image("RGB").save(out, "JPEG", exif=_exif(ASCII_PREFIX + b"holiday, AIGC-free"))
    original = out.getvalue()
    assert sites(original) == []
    labeled = label_bytes(original, FIRST)
    assert b"holiday, AIGC-free" in labeled


def test_user_comment_without_charset_prefix_is_read_with_warning() -> None:
    out = io.BytesIO()
    _image("RGB").save(out, "JPEG", exif=_exif(FIRST.to_json(wrapped=True).encode()))
    (site,) = sites(out.getvalue())
    assert site.raw == FIRST.to_json(wrapped=True)
    assert [f.code for f in site.findings] == ["exif-charset"]


@pytest.mark.parametrize("tiff", [
    b"XX*\x00\x08\x00\x00\x00",  # no byte-order mark
    b"II+\x00\x08\x00\x00\x00",  # wrong magic
    b"II*\x00\xff\x00\x00\x00",  # IFD0 past the block
    b"II*\x00\x08\x00\x00\x00\x09\x00",  # IFD0 declares 9 entries it does not have
    # Exif IFD pointer to a valid IFD whose UserComment value points past the block.
    b"II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x1a\x00\x00\x00"
    b"\x00\x00\x00\x00\x01\x00\x86\x92\x07\x00\x00\x01\x00\x00\x00\x10\x00\x00",
])
def test_malformed_exif_is_malformed_file(tiff: bytes) -> None:
    data = after_soi(make("baseline"), app1(b"Exif\x00\x00" + tiff))
    with pytest.raises(MalformedFile):
        sites(data)
    with pytest.raises(MalformedFile):
        label_bytes(data, FIRST)


# --- XMP variants ----------------------------------------------------------------------


def _packet(body: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'{body}</rdf:RDF></x:xmpmeta>'
    ).encode()


def _tc260(value: str, ns: str = xmp.TC260_NS, attribute: bool = False) -> bytes:
    quoted = value.replace('"', "&quot;")
    if attribute:
        return _packet(f'<rdf:Description rdf:about="" xmlns:T="{ns}" T:AIGC="{quoted}"/>')
    return _packet(f'<rdf:Description rdf:about="" xmlns:T="{ns}">'
                   f'<T:AIGC>{quoted}</T:AIGC></rdf:Description>')


def test_xmp_findings_for_attribute_form_and_foreign_namespace() -> None:
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + _tc260(FIRST.to_json(),
                                                                  attribute=True)))
    (site,) = sites(data)
    assert [f.code for f in site.findings] == ["xmp-attribute-form"]
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + _tc260(FIRST.to_json(),
                                                                  ns="http://example.com/")))
    (site,) = sites(data)
    assert [(f.code, f.severity) for f in site.findings] == [("xmp-namespace", "error")]
    assert [(s.carrier, s.raw) for s in sites(label_bytes(data, SECOND))] == [
        ("xmp", SECOND.to_json())]


def test_two_standard_packets_warn_and_leave_one_label() -> None:
    keep = app1(jpeg.XMP_SIG + OTHER_XMP)
    second = _packet(f'<rdf:Description rdf:about="" xmlns:T="{xmp.TC260_NS}" '
                     'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                     f'<dc:source>second packet</dc:source>'
                     f'<T:AIGC>{FIRST.to_json().replace(chr(34), "&quot;")}</T:AIGC>'
                     '</rdf:Description>')
    third = app1(jpeg.XMP_SIG + _tc260(FIRST.to_json(), attribute=True))
    data = after_soi(make("baseline"), keep, app1(jpeg.XMP_SIG + second), third)
    found = sites(data)
    assert len(found) == 2
    assert all("duplicate-xmp-packet" in [f.code for f in s.findings] for s in found)
    labeled = label_bytes(data, SECOND)
    assert [(s.carrier, s.raw, [f.code for f in s.findings]) for s in sites(labeled)] == [
        ("xmp", SECOND.to_json(), ["duplicate-xmp-packet"])]
    # The first packet got the label; the others keep every other property.
    packets = [p for _, p in walk(labeled)[0] if p.startswith(jpeg.XMP_SIG)]
    assert len(packets) == 3
    assert b"PaintBox 3" in packets[0]
    assert b"second packet" in packets[1]
    assert [xmp.find_aigc(p[len(jpeg.XMP_SIG):]) for p in packets[1:]] == [[], []]


def _extended(guid: bytes, packet: bytes, chunk: int) -> list[bytes]:
    return [app1(jpeg.EXTENDED_SIG + guid + struct.pack(">II", len(packet), at)
                 + packet[at:at + chunk]) for at in range(0, len(packet), chunk)]


GUID = b"0123456789ABCDEF0123456789ABCDEF"


def test_extended_xmp_label_is_read_and_dropped_on_write() -> None:
    standard = _packet('<rdf:Description rdf:about="" '
                       'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
                       f'xmpNote:HasExtendedXMP="{GUID.decode()}"/>')
    extension = _tc260(FIRST.to_json())
    chunks = _extended(GUID, extension, 100)
    assert len(chunks) > 2
    # Chunks out of order: reassembly goes by offset, not by position in the file.
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + standard), *reversed(chunks))
    (site,) = sites(data)
    assert (site.carrier, site.raw) == ("xmp:extended", FIRST.to_json())
    assert [f.code for f in site.findings] == ["extended-xmp"]

    labeled = label_bytes(data, SECOND)
    assert [(s.carrier, s.raw) for s in sites(labeled)] == [("xmp", SECOND.to_json())]
    assert jpeg.EXTENDED_SIG not in labeled


def test_extended_xmp_without_label_is_kept() -> None:
    chunks = _extended(GUID, OTHER_XMP, 64)
    data = after_soi(make("baseline"), *chunks)
    assert sites(data) == []
    labeled = label_bytes(data, FIRST)
    assert all(chunk in labeled for chunk in chunks)


@pytest.mark.parametrize("chunks", [
    [app1(jpeg.EXTENDED_SIG + GUID[:10])],  # header cut short
    # Declares 4 GiB, holds 10 bytes: must not allocate the declared size.
    [app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 0xFFFFFFFF, 0) + b"x" * 10)],
    # A gap: the second chunk does not start where the first ended.
    [app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 20, 0) + b"x" * 10),
     app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 20, 12) + b"x" * 8)],
    # Chunks disagree on the full length.
    [app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 20, 0) + b"x" * 10),
     app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 21, 10) + b"x" * 10)],
    # The reassembled packet names AIGC but is not XML.
    [app1(jpeg.EXTENDED_SIG + GUID + struct.pack(">II", 10, 0) + b"<AIGC oops")],
])
def test_bad_extended_xmp_is_malformed(chunks: list[bytes]) -> None:
    data = after_soi(make("baseline"), *chunks)
    with pytest.raises(MalformedFile):
        sites(data)


def test_packet_over_segment_limit() -> None:
    def packet(size: int) -> bytes:
        return _packet('<rdf:Description rdf:about="" '
                       'xmlns:dc="http://purl.org/dc/elements/1.1/">'
                       f'<dc:source>{"s" * size}</dc:source></rdf:Description>')

    # What the label, the xpacket wrapper and the padding add to an existing packet.
    grown = len(xmp.set_aigc(packet(0), FIRST.to_json(), padding=0))
    room = jpeg.MAX_XMP_PACKET - grown
    # Fits only once the customary 2 KiB of padding is given up.
    near = after_soi(make("baseline"), app1(jpeg.XMP_SIG + packet(room - 500)))
    labeled = label_bytes(near, FIRST)
    assert [s.raw for s in sites(labeled)] == [FIRST.to_json()]
    assert max(len(p) for _, p in walk(labeled)[0]) <= jpeg.MAX_SEGMENT_PAYLOAD
    # The original segment fits, the labeled one cannot even without padding.
    too_big = after_soi(make("baseline"), app1(jpeg.XMP_SIG + packet(room + 1)))
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        label_bytes(too_big, FIRST)


def test_blank_packet_is_no_site_and_is_filled() -> None:
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + b" " * 500))
    assert sites(data) == []
    labeled = label_bytes(data, FIRST)
    assert [m for m, _ in walk(labeled)[0]] == [m for m, _ in walk(data)[0]]
    assert [s.raw for s in sites(labeled)] == [FIRST.to_json()]


def test_malformed_xmp_packet_is_malformed_file() -> None:
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + b"<x:xmpmeta><T:AIGC>{"))
    with pytest.raises(MalformedFile):
        sites(data)
    with pytest.raises(MalformedFile):
        label_bytes(data, FIRST)
    # Without the property's name it holds no site, but it cannot take the label either.
    data = after_soi(make("baseline"), app1(jpeg.XMP_SIG + b"<x:xmpmeta><unclosed"))
    assert sites(data) == []
    with pytest.raises(MalformedFile):
        label_bytes(data, FIRST)


# --- hostile structure -----------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"",
    b"\xff",
    b"garbage, not an image at all",
    b"\xff\xd8",  # SOI and nothing else
    b"\xff\xd8\xff",  # a marker cut short
    b"\xff\xd8\xff\xff\xff",  # fill bytes then EOF
    b"\xff\xd8\x00\x00",  # no marker where one must be
    b"\xff\xd8\xff\x00",  # a stuffed zero is not a marker
    b"\xff\xd8\xff\xd8",  # a second SOI
    b"\xff\xd8\xff\xe1\x00",  # length cut short
    b"\xff\xd8\xff\xe1\x00\x00",  # length 0
    b"\xff\xd8\xff\xe1\x00\x01",  # length 1
    b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 100,  # length past EOF
    b"\xff\xd8\xff\xfe\x00\x04ab",  # COM and then EOF before SOS
])
def test_bad_structure_is_malformed_file(data: bytes) -> None:
    with pytest.raises(MalformedFile):
        sites(data)
    with pytest.raises(MalformedFile):
        label_bytes(data, FIRST)


def test_scanless_file_is_read_and_written() -> None:
    # SOI, COM, EOI: an abbreviated stream; only header segments matter for the label.
    data = b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9"
    labeled = label_bytes(data, FIRST)
    assert [s.raw for s in sites(labeled)] == [FIRST.to_json()]
    assert labeled.endswith(b"\xff\xfe\x00\x04hi\xff\xd9")


def _sample() -> bytes:
    out = io.BytesIO()
    _image("RGB").resize((16, 16)).save(
        out, "JPEG", exif=_exif(ASCII_PREFIX + FIRST.to_json(wrapped=True).encode()),
        xmp=_tc260(FIRST.to_json()), comment=b"c")
    return out.getvalue()


SAMPLE = _sample()
SAMPLE_SCAN = walk(SAMPLE)[1]
SAMPLE_HEADER_END = SAMPLE_SCAN + 2 + struct.unpack(">H", SAMPLE[SAMPLE_SCAN + 2:
                                                                 SAMPLE_SCAN + 4])[0]


@pytest.mark.parametrize("cut", [*range(0, SAMPLE_HEADER_END, 5), SAMPLE_HEADER_END - 1,
                                 *range(SAMPLE_HEADER_END, len(SAMPLE), 97)])
def test_truncation(cut: int) -> None:
    data = SAMPLE[:cut]
    if cut < SAMPLE_HEADER_END:
        with pytest.raises(MalformedFile):
            sites(data)
        with pytest.raises(MalformedFile):
            label_bytes(data, SECOND)
    else:
        # Only the scan is cut: the header, and so every label site, is intact.
        assert [s.carrier for s in sites(data)] == ["xmp", "exif:UserComment"]
        assert label_bytes(data, SECOND).endswith(SAMPLE[SAMPLE_SCAN:cut])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255),
                          st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=8),
       st.integers(0, len(SAMPLE)))
def test_random_mutations_raise_only_malformed(
        edits: list[tuple[int, int, str]], cut: int) -> None:
    data = bytearray(SAMPLE)
    for at, value, how in edits:
        at = min(at, len(data) - 1)
        if how == "set":
            data[at] = value
        elif how == "insert":
            data.insert(at, value)
        else:
            del data[at]
    mutated = bytes(data[:max(cut, SAMPLE_HEADER_END // 2)])
    try:
        sites(mutated)
    except MalformedFile:
        return
    try:
        labeled = label_bytes(mutated, SECOND)
    except SynthGuardError:
        return
    assert [(s.carrier, s.raw) for s in sites(labeled)] == [("xmp", SECOND.to_json())]


# --- through the library API ---------------------------------------------------------------


def test_api_relabels_a_doubly_labeled_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpeg"
    src.write_bytes(SAMPLE)  # XMP and EXIF UserComment: two sites
    before = synthguard.inspect(src)
    assert (before.format, before.verdict) == ("jpeg", "noncompliant")
    assert [s.carrier for s in before.sites] == ["xmp", "exif:UserComment"]

    report = synthguard.label(src, dst, producer=SECOND.content_producer,
                              produce_id="img-9")
    assert report.verdict == "compliant"
    after = synthguard.inspect(dst)
    assert after.verdict == "compliant"
    assert after.label is not None and after.label.produce_id == "img-9"
    assert src.read_bytes() == SAMPLE


def test_api_reports_truncated_header_as_inconclusive(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(SAMPLE[:SAMPLE_SCAN // 2])
    assert synthguard.inspect(path).verdict == "inconclusive"
