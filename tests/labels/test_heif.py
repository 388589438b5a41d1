"""HEIF/HEIC/AVIF carrier: the XMP item, iloc offset shifting, refusal of sequences."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import heif
from synthguard.labels.xmp import add_padding as pad_packet
from tests.tools import exiftool_json, exiftool_xmp_aigc

pillow_heif.register_heif_opener()

PRODUCER = "001191110102MACQD9K64010000"
FIRST = AIGCLabel.create(producer=PRODUCER, produce_id="first-0001")
SECOND = AIGCLabel.create(producer=PRODUCER, produce_id="second-0002-longer", label="2")
DC_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
          b'<dc:format>image/heif</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>')


def _image(mode: str = "RGB", seed: int = 0) -> Image.Image:
    base = Image.linear_gradient("L").resize((48, 32)).point(lambda v: (v * 3 + seed * 50) % 256)
    if mode == "RGBA":
        return Image.merge("RGBA", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                    base, base.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    return Image.merge("RGB", (base, base.transpose(Image.Transpose.ROTATE_180), base))


def _save(fmt: str, images: list[Image.Image], **kw: object) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=len(images) > 1, append_images=images[1:], **kw)
    return buf.getvalue()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SynthGuardCam"
    return exif.tobytes()


CASES = {
    "heic": lambda: _save("HEIF", [_image()]),
    "heic-xmp-exif": lambda: _save("HEIF", [_image()], xmp=DC_XMP, exif=_exif()),
    "heic-two-images": lambda: _save("HEIF", [_image(seed=1), _image(seed=2)]),
    "heic-alpha": lambda: _save("HEIF", [_image("RGBA")]),
    "avif": lambda: _save("AVIF", [_image()]),
    "avif-xmp-alpha": lambda: _save("AVIF", [_image("RGBA")], xmp=DC_XMP),
}


def _label(data: bytes, label: AIGCLabel) -> bytes:
    out = io.BytesIO()
    heif.write(io.BytesIO(data), out, label)
    return out.getvalue()


def _decoded(data: bytes) -> list[bytes]:
    """Pixels of every top-level image (libheif for HEIC, libavif for AVIF)."""
    if data[8:12] == b"avif":
        return [Image.open(io.BytesIO(data)).tobytes()]
    return [img.to_pillow().tobytes() for img in pillow_heif.open_heif(io.BytesIO(data))]


@pytest.mark.parametrize("case", sorted(CASES))
def test_label_twice_keeps_pixels_and_leaves_one_site(case: str, tmp_path: Path) -> None:
    original = CASES[case]()
    assert heif.sniff(original[:64])
    assert heif.read(io.BytesIO(original)) == []
    once = _label(original, FIRST)
    twice = _label(once, SECOND)
    assert [(s.carrier, s.raw) for s in heif.read(io.BytesIO(twice))] == \
        [("xmp", SECOND.to_json())]
    assert _decoded(twice) == _decoded(original)
    path = tmp_path / ("labeled.avif" if "avif" in case else "labeled.heic")
    path.write_bytes(twice)
    assert exiftool_xmp_aigc(path) == SECOND.to_json()
    assert exiftool_json(path, "Validate")["ExifTool:Validate"] == "0 0 0"  # errors warnings minor


def test_libheif_sees_the_packet_as_the_primary_images_xmp() -> None:
    labeled = _label(CASES["heic-xmp-exif"](), FIRST)
    info = Image.open(io.BytesIO(labeled)).info
    assert b"TC260:AIGC" in info["xmp"] and b"image/heif" in info["xmp"]
    assert b"SynthGuardCam" in info["exif"]


def test_relabel_that_fits_is_in_place() -> None:
    once = _label(CASES["heic"](), FIRST)
    again = _label(once, SECOND)  # longer value, but within the packet's padding
    assert len(again) == len(once)
    assert heif.read(io.BytesIO(again))[0].raw == SECOND.to_json()


def test_other_metadata_is_kept(tmp_path: Path) -> None:
    before, after = tmp_path / "before.heic", tmp_path / "after.heic"
    before.write_bytes(CASES["heic-xmp-exif"]())
    after.write_bytes(_label(before.read_bytes(), FIRST))
    tags = ("IFD0:Make", "XMP-dc:Format", "QuickTime:ImageSize", "ICC_Profile:all")
    old, new = exiftool_json(before, *tags), exiftool_json(after, *tags)
    assert {k: v for k, v in old.items() if k != "SourceFile"} == \
        {k: v for k, v in new.items() if k != "SourceFile"}
    assert new["IFD0:Make"] == "SynthGuardCam"


def test_image_sequence_is_read_but_refused_for_writing() -> None:
    frames = [_image(seed=s) for s in range(3)]
    data = _save("AVIF", frames, duration=100, xmp=DC_XMP)
    assert b"moov" in data  # an image sequence: AVIF "avis" with a track
    assert heif.read(io.BytesIO(data)) == []
    with pytest.raises(UnsupportedFormat, match=r"HEIF unsupported for writing: .*moov"):
        heif.write(io.BytesIO(data), io.BytesIO(), FIRST)


# --- a hand-made file: XMP in idat (construction method 1), coded data in mdat -------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def _handmade(packet: bytes, coded: bytes = b"\xde\xad\xbe\xef",
              coded_at: int | None = None, twin: bool = False) -> bytes:
    """ftyp, meta (coded item 1 in mdat; XMP item 2 in idat; with `twin`, XMP item 3
    pointing at the same idat bytes), mdat."""
    ftyp = _box(b"ftyp", b"mif1\0\0\0\0mif1heic")
    hdlr = _full(b"hdlr", 0, 0, b"\0" * 4 + b"pict" + b"\0" * 13)
    pitm = _full(b"pitm", 0, 0, b"\0\x01")
    xmp_ids = [2, 3] if twin else [2]
    iinf = _full(b"iinf", 0, 0, bytes([0, 1 + len(xmp_ids)])
                 + _full(b"infe", 2, 0, b"\0\x01\0\0hvc1\0")
                 + b"".join(_full(b"infe", 2, 1, bytes([0, i]) + b"\0\0mime\0"
                                  b"application/rdf+xml\0") for i in xmp_ids))

    def iloc(coded_at: int) -> bytes:
        items = b"\0\x01\0\0\0\0\0\x01" + struct.pack(">II", coded_at, len(coded))
        items += b"".join(bytes([0, i]) + b"\0\x01\0\0\0\x01" + struct.pack(">II", 0, len(packet))
                          for i in xmp_ids)
        return _full(b"iloc", 1, 0, b"\x44\x00" + bytes([0, 1 + len(xmp_ids)]) + items)

    def meta(coded_at: int) -> bytes:
        return _full(b"meta", 0, 0, hdlr + pitm + iloc(coded_at) + iinf
                     + _box(b"idat", packet))

    if coded_at is None:
        coded_at = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(coded_at) + _box(b"mdat", coded)


def _item_bytes(data: bytes, item_id: int) -> bytes:
    parsed = heif._Heif(data)
    return parsed.item_data(next(i for i in parsed.items if i.id == item_id))


def _label_packet(label: AIGCLabel) -> bytes:
    """An XMP packet with the label in attribute form, as some writers put it."""
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" TC260:AIGC="'
            + label.to_json().replace('"', "&quot;").encode() + b'"/></rdf:RDF></x:xmpmeta>')


def test_handmade_idat_packet_is_read_and_rewritten_in_place() -> None:
    data = _handmade(pad_packet(_label_packet(FIRST), 900))
    sites = heif.read(io.BytesIO(data))
    assert [(s.raw, [f.code for f in s.findings]) for s in sites] == \
        [(FIRST.to_json(), ["xmp-attribute-form"])]
    labeled = _label(data, SECOND)
    assert len(labeled) == len(data)  # fits the idat extent: no box moved
    assert [s.raw for s in heif.read(io.BytesIO(labeled))] == [SECOND.to_json()]
    assert _item_bytes(labeled, 1) == b"\xde\xad\xbe\xef"


def test_handmade_idat_packet_too_small_moves_and_coded_data_offsets_shift() -> None:
    data = _handmade(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    labeled = _label(data, SECOND)
    assert len(labeled) > len(data)
    assert [s.raw for s in heif.read(io.BytesIO(labeled))] == [SECOND.to_json()]
    assert _item_bytes(labeled, 1) == b"\xde\xad\xbe\xef"  # iloc offset moved with mdat
    assert labeled.rfind(b"mdat") > labeled.find(b"\xde\xad\xbe\xef")  # new mdat at the end


@pytest.mark.parametrize("coded", [b"", b"\xde\xad"])
def test_coded_data_extent_past_the_end_is_malformed_for_writing(coded: bytes) -> None:
    # Found by fuzzing: a length-0 ("to the end") extent starting past the end.
    data = _handmade(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", coded, coded_at=10**6)
    assert heif.read(io.BytesIO(data)) == []  # the XMP item itself is sound
    with pytest.raises(MalformedFile, match="outside the file"):
        heif.write(io.BytesIO(data), io.BytesIO(), FIRST)


LONG = AIGCLabel.create(producer=PRODUCER, produce_id="long-0003", reserved_code1="r" * 2000)


def test_relabel_that_does_not_fit_moves_and_blanks_the_old_packet() -> None:
    once = _label(CASES["heic"](), FIRST)
    moved = _label(once, LONG)
    assert len(moved) > len(once)
    assert [s.raw for s in heif.read(io.BytesIO(moved))] == [LONG.to_json()]
    assert b"first-0001" not in moved
    assert _decoded(moved) == _decoded(once)


@pytest.mark.parametrize("label", [FIRST, LONG])
def test_items_sharing_one_packet_leave_one_site(label: AIGCLabel) -> None:
    packet = pad_packet(_label_packet(SECOND), 1500)
    data = _handmade(packet, twin=True)
    assert len(heif.read(io.BytesIO(data))) == 2
    labeled = _label(data, label)
    assert [s.raw for s in heif.read(io.BytesIO(labeled))] == [label.to_json()]
    assert _item_bytes(labeled, 1) == b"\xde\xad\xbe\xef"


def test_new_item_gets_infe_and_cdsc_reference() -> None:
    labeled = _label(CASES["avif"](), FIRST)
    parsed = heif._Heif(labeled)
    (item,) = parsed.xmp_items()
    assert item.id == parsed.max_id()
    iref = parsed.children[b"iref"]
    assert b"cdsc" + item.id.to_bytes(2, "big") + b"\0\x01" \
        + (parsed.primary() or 0).to_bytes(2, "big") in labeled[iref.at:iref.end]


def _nested(depth: int) -> bytes:
    payload = b""
    for _ in range(depth):
        payload = _box(b"dinf", payload)
    return payload


BAD = {
    "empty": b"",
    "garbage": b"\x00\x00\x00\x18ftypheic" + b"\xff" * 40,
    "box-longer-than-file": _box(b"ftyp", b"heic\0\0\0\0mif1")[:-4] + b"\0\0\xff\xffmeta",
    "tiny-largesize": _box(b"ftyp", b"heic\0\0\0\0") + b"\0\0\0\x01meta" + struct.pack(">Q", 9),
    "no-ftyp": _box(b"meta", b"\0\0\0\0"),
    "two-metas": _box(b"ftyp", b"heic\0\0\0\0") + _full(b"meta", 0, 0, b"") * 2,
    "child-larger-than-meta": _box(b"ftyp", b"heic\0\0\0\0")
    + _full(b"meta", 0, 0, b"\0\0\x10\x00iloc"),
    "iloc-bad-widths": _box(b"ftyp", b"heic\0\0\0\0")
    + _full(b"meta", 0, 0, _full(b"iloc", 0, 0, b"\x33\x00\0\0")),
    "iloc-extent-bomb": _box(b"ftyp", b"heic\0\0\0\0") + _full(b"meta", 0, 0, _full(
        b"iloc", 0, 0, b"\x00\x00\xff\xff" + (b"\0\x01\0\0\xff\xff") * 40)),
    "xmp-extent-past-end": _handmade(b"<x/>")[:-12]
    + _box(b"mdat", b"\xde\xad\xbe\xef")[:-4] + b"\0\0",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_malformed(name: str) -> None:
    with pytest.raises(MalformedFile):
        heif.read(io.BytesIO(BAD[name]))
    with pytest.raises(MalformedFile):
        heif.write(io.BytesIO(BAD[name]), io.BytesIO(), FIRST)


def test_deep_nesting_is_not_followed() -> None:
    data = _box(b"ftyp", b"heic\0\0\0\0") + _full(b"meta", 0, 0, _nested(5000))
    assert heif.read(io.BytesIO(data)) == []
    with pytest.raises(UnsupportedFormat):
        heif.write(io.BytesIO(data), io.BytesIO(), FIRST)


@pytest.fixture(scope="module")
def labeled_heic() -> bytes:
    return _label(_save("HEIF", [_image("RGB", 3)], xmp=DC_XMP, exif=_exif()), SECOND)


@pytest.mark.parametrize("fraction", [i / 31 for i in range(31)])
def test_truncation_is_malformed(labeled_heic: bytes, fraction: float) -> None:
    cut = labeled_heic[:int(len(labeled_heic) * fraction)]
    with pytest.raises(MalformedFile):
        heif.read(io.BytesIO(cut))
    with pytest.raises(MalformedFile):
        heif.write(io.BytesIO(cut), io.BytesIO(), FIRST)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_raise_only_synthguard_errors(labeled_heic: bytes,
                                                data: st.DataObject) -> None:
    mutated = bytearray(labeled_heic)
    meta_end = labeled_heic.find(b"mdat")  # bias toward ftyp/meta, where the parser works
    where = st.one_of(st.integers(0, meta_end), st.integers(0, len(mutated) - 1))
    for _ in range(data.draw(st.integers(1, 6))):
        mutated[data.draw(where)] = data.draw(st.integers(0, 255))
    try:
        heif.read(io.BytesIO(bytes(mutated)))
        heif.write(io.BytesIO(bytes(mutated)), io.BytesIO(), FIRST)
    except SynthGuardError:
        pass
