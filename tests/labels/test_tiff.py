"""TIFF carrier: XMP tag 700 in IFD0, EXIF UserComment, byte-preserving write."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import tiff
from tests.tools import exiftool_json, exiftool_xmp_aigc

PRODUCER = "001191110102MACQD9K64010000"
FIRST = AIGCLabel.create(producer=PRODUCER, produce_id="first-0001")
SECOND = AIGCLabel.create(producer=PRODUCER, produce_id="second-0002", label="2")
DC_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
          b'<dc:format>image/tiff</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>')


def _label_xmp(value: str) -> bytes:
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"><TC260:AIGC>'
            + value.replace('"', "&quot;").encode() + b"</TC260:AIGC></rdf:Description>"
            b"</rdf:RDF></x:xmpmeta>")


def _image(mode: str, seed: int = 0) -> Image.Image:
    gradient = Image.linear_gradient("L").resize((37, 23)).point(lambda v: (v * 7 + seed) % 256)
    if mode in ("I;16", "I;16B"):
        return gradient.convert("I").point(lambda v: v * 251).convert(mode)
    return gradient.convert(mode)


def _save(images: list[Image.Image], **kw: object) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, "TIFF", save_all=True, append_images=images[1:], **kw)
    return buf.getvalue()


def _label(data: bytes, label: AIGCLabel) -> bytes:
    out = io.BytesIO()
    tiff.write(io.BytesIO(data), out, label)
    return out.getvalue()


def _pages(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    im = Image.open(io.BytesIO(data))
    pages = []
    for n in range(getattr(im, "n_frames", 1)):
        im.seek(n)
        pages.append((im.mode, im.size, im.tobytes()))
    return pages


CASES = {
    "rgb": lambda: _save([_image("RGB")]),
    "rgba": lambda: _save([_image("RGBA")]),
    "gray": lambda: _save([_image("L")]),
    "gray16-le": lambda: _save([_image("I;16")]),
    "gray16-be": lambda: _save([_image("I;16B")]),  # Pillow writes I;16B as "MM"
    "cmyk": lambda: _save([_image("CMYK")]),
    "multipage": lambda: _save([_image("RGB", s) for s in range(3)]),
    "lzw": lambda: _save([_image("RGB")], compression="tiff_lzw"),
    "deflate": lambda: _save([_image("RGBA")], compression="tiff_deflate"),
    "bigtiff": lambda: _save([_image("RGB", 1), _image("RGB", 2)], big_tiff=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_label_twice_keeps_pixels_and_leaves_one_site(case: str, tmp_path: Path) -> None:
    original = CASES[case]()
    assert tiff.sniff(original[:64])
    assert tiff.read(io.BytesIO(original)) == []
    once = _label(original, FIRST)
    twice = _label(once, SECOND)
    sites = tiff.read(io.BytesIO(twice))
    assert [(s.carrier, s.raw) for s in sites] == [("xmp", SECOND.to_json())]
    assert _pages(twice) == _pages(original)
    path = tmp_path / "labeled.tif"
    path.write_bytes(twice)
    assert exiftool_xmp_aigc(path) == SECOND.to_json()


def test_byte_orders_are_both_written() -> None:
    assert CASES["gray16-be"]()[:2] == b"MM"
    assert CASES["rgb"]()[:2] == b"II"


def test_relabel_with_same_size_value_is_in_place() -> None:
    once = _label(CASES["rgb"](), FIRST)
    again = _label(once, AIGCLabel.create(producer=PRODUCER, produce_id="first-0002"))
    assert len(again) == len(once)
    assert sum(a != b for a, b in zip(once, again, strict=True)) <= 2 * len("0002")


def test_other_metadata_is_kept(tmp_path: Path) -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[305] = "SynthGuard test suite"
    info[700] = DC_XMP
    info[0x8769] = {0x9003: "2025:09:01 10:00:00"}
    original = _save([_image("RGB")], tiffinfo=info, dpi=(300, 300))
    before, after = tmp_path / "before.tif", tmp_path / "after.tif"
    before.write_bytes(original)
    after.write_bytes(_label(original, FIRST))
    tags = ("IFD0:Software", "ExifIFD:DateTimeOriginal", "XMP-dc:Format", "IFD0:XResolution")
    old, new = exiftool_json(before, *tags), exiftool_json(after, *tags)
    assert {k: v for k, v in old.items() if k != "SourceFile"} == \
        {k: v for k, v in new.items() if k != "SourceFile"}
    assert new["XMP-dc:Format"] == "image/tiff"
    assert exiftool_xmp_aigc(after) == FIRST.to_json()


def test_user_comment_label_is_read_and_neutralized(tmp_path: Path) -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x8769] = {0x9286: b"ASCII\x00\x00\x00" + FIRST.to_json(wrapped=True).encode()}
    original = _save([_image("L")], tiffinfo=info)
    sites = tiff.read(io.BytesIO(original))
    assert [(s.carrier, s.raw) for s in sites] == [("exif:UserComment",
                                                    FIRST.to_json(wrapped=True))]
    labeled = _label(original, SECOND)
    assert len(labeled) > len(original)
    assert [(s.carrier, s.raw) for s in tiff.read(io.BytesIO(labeled))] == \
        [("xmp", SECOND.to_json())]
    path = tmp_path / "x.tif"
    path.write_bytes(labeled)
    assert exiftool_json(path, "ExifIFD:UserComment").get("ExifIFD:UserComment", "") == ""


def test_free_text_user_comment_is_not_a_site() -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x8769] = {0x9286: b"ASCII\x00\x00\x00made with a brush, not with AIGC"}
    assert tiff.read(io.BytesIO(_save([_image("L")], tiffinfo=info))) == []


def test_xmp_label_in_other_page_is_reported_and_removed() -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = _label_xmp(FIRST.to_json())
    original = _save([_image("RGB", 1), _image("RGB", 2)], tiffinfo=info)  # on every page
    sites = tiff.read(io.BytesIO(original))
    assert len(sites) == 2
    assert [f.code for f in sites[1].findings] == ["xmp-outside-ifd0"]
    labeled = _label(original, SECOND)
    assert [s.raw for s in tiff.read(io.BytesIO(labeled))] == [SECOND.to_json()]
    assert _pages(labeled) == _pages(original)


def _handmade(order: str, big: bool, entries: list[tuple[int, int, int, bytes]],
              values: bytes = b"") -> bytes:
    """A minimal TIFF: header, `values` blob, then IFD0 with `entries` (tag, type,
    count, inline field or offset into the values blob encoded by the caller)."""
    mark = b"II" if order == "<" else b"MM"
    head_len = 16 if big else 8
    ifd_at = head_len + len(values)
    head = mark + (struct.pack(order + "HHHQ", 43, 8, 0, ifd_at) if big
                   else struct.pack(order + "HI", 42, ifd_at))
    off, cnt = ("Q", "Q") if big else ("I", "H")
    rows = [struct.pack(order + "HH" + off, tag, kind, count) + field
            for tag, kind, count, field in entries]
    return (head + values + struct.pack(order + cnt, len(entries)) + b"".join(rows)
            + struct.pack(order + off, 0))


@pytest.mark.parametrize("order", ["<", ">"])
def test_handmade_bigtiff_with_xmp_is_read(order: str) -> None:
    packet = _label_xmp(FIRST.to_json())
    field = struct.pack(order + "Q", 16)
    data = _handmade(order, True, [(256, 3, 1, struct.pack(order + "H", 1) + b"\0" * 6),
                                   (700, 7, len(packet), field)], packet)
    assert [s.raw for s in tiff.read(io.BytesIO(data))] == [FIRST.to_json()]
    labeled = _label(data, SECOND)
    assert [s.raw for s in tiff.read(io.BytesIO(labeled))] == [SECOND.to_json()]


@pytest.mark.parametrize("order", ["<", ">"])
def test_handmade_classic_without_xmp_gets_sorted_entry(order: str) -> None:
    data = _handmade(order, False, [(256, 3, 1, struct.pack(order + "HH", 5, 0)),
                                    (33432, 2, 4, b"(c)\0")])
    labeled = _label(data, FIRST)
    view = tiff.TiffView(labeled)
    ifd0 = next(view.chain())
    assert [e.tag for e in ifd0.entries] == [256, 700, 33432]
    assert view.value(ifd0.entries[2]) == b"(c)\0"
    assert ifd0.find(700) is not None and ifd0.find(700).type == tiff.XMP_TYPE  # type: ignore[union-attr]


def _loop(order: str = "<") -> bytes:
    data = bytearray(_handmade(order, False, [(256, 3, 1, struct.pack(order + "HH", 1, 0))]))
    data[-4:] = struct.pack(order + "I", 8)  # IFD0's next link points back at IFD0
    return bytes(data)


BAD = {
    "empty": b"",
    "garbage": b"this is not a TIFF file at all, just text" * 3,
    "bad-version": b"II\x2b\x00\x10\x00\x00\x00" + b"\0" * 16,
    "ifd-loop": _loop(),
    "ifd-past-end": b"II*\x00\xff\xff\x00\x00" + b"\0" * 8,
    "lying-entry-count": b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\0" * 12,
    "lying-xmp-offset": _handmade("<", False, [(700, 1, 5000, struct.pack("<I", 8))]),
    "lying-exif-ifd": _handmade(">", False, [(0x8769, 4, 1, struct.pack(">I", 1 << 30))]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_malformed(name: str) -> None:
    with pytest.raises(MalformedFile):
        tiff.read(io.BytesIO(BAD[name]))
    with pytest.raises(MalformedFile):
        tiff.write(io.BytesIO(BAD[name]), io.BytesIO(), FIRST)


@pytest.fixture(scope="module")
def labeled_multipage() -> bytes:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x8769] = {0x9286: b"ASCII\x00\x00\x00" + FIRST.to_json(wrapped=True).encode()}
    return _label(_save([_image("RGB", 3), _image("L", 4)], tiffinfo=info), SECOND)


@pytest.mark.parametrize("fraction", [i / 23 for i in range(23)])
def test_truncation_is_malformed_or_readable(labeled_multipage: bytes, fraction: float) -> None:
    cut = labeled_multipage[:int(len(labeled_multipage) * fraction)]
    try:
        tiff.read(io.BytesIO(cut))
    except MalformedFile:
        return
    # Only a cut inside the trailing XMP padding or dead bytes can still parse.
    tiff.write(io.BytesIO(cut), io.BytesIO(), FIRST)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_raise_only_synthguard_errors(labeled_multipage: bytes,
                                                data: st.DataObject) -> None:
    mutated = bytearray(labeled_multipage)
    end = len(mutated) - 1
    # Bias toward the header, Pillow's IFDs after it, and the appended IFD0 copy.
    where = st.one_of(st.integers(0, 400), st.integers(end - 400, end), st.integers(0, end))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(where)
        mutated[at] = data.draw(st.integers(0, 255))
    try:
        tiff.read(io.BytesIO(bytes(mutated)))
        tiff.write(io.BytesIO(bytes(mutated)), io.BytesIO(), FIRST)
    except SynthGuardError:
        pass


def test_full_classic_ifd0_is_refused_for_writing() -> None:
    entries = [(254, 4, 1, b"\0\0\0\0")] * 0xFFFF
    data = _handmade("<", False, entries)
    assert tiff.read(io.BytesIO(data)) == []
    with pytest.raises(UnsupportedFormat, match="TIFF unsupported for writing"):
        tiff.write(io.BytesIO(data), io.BytesIO(), FIRST)


LONG = AIGCLabel.create(producer=PRODUCER, produce_id="long-0003", reserved_code1="r" * 3000)


def test_relabel_that_does_not_fit_moves_and_blanks_the_old_packet() -> None:
    once = _label(CASES["gray"](), FIRST)
    moved = _label(once, LONG)
    assert len(moved) > len(once)
    assert [s.raw for s in tiff.read(io.BytesIO(moved))] == [LONG.to_json()]
    assert b"first-0001" not in moved
    assert _pages(moved) == _pages(once)


def test_page_sharing_ifd0s_packet_keeps_the_new_label() -> None:
    packet = _label_xmp(FIRST.to_json())
    field = struct.pack("<I", 8)
    one = _handmade("<", False, [(700, 1, len(packet), field)], packet)
    ifd1_at = len(one)
    data = bytearray(one + struct.pack("<H", 1) + struct.pack("<HHI", 700, 1, len(packet))
                     + field + struct.pack("<I", 0))
    data[ifd1_at - 4:ifd1_at] = struct.pack("<I", ifd1_at)  # IFD0's next link -> IFD1
    assert len(tiff.read(io.BytesIO(bytes(data)))) == 2
    for label in (FIRST, SECOND):  # same-size value, then one that must move
        labeled = _label(bytes(data), label)
        assert [s.raw for s in tiff.read(io.BytesIO(labeled))] == [label.to_json()]
        pages = list(tiff.TiffView(labeled).chain())
        assert pages[1].find(700) is not None  # the page keeps its (label-free) packet
