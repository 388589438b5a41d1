"""WebP carrier: the `XMP ` chunk, VP8X conversion of simple files, EXIF UserComment."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.carriers import webp
from tests.tools import exiftool_json, exiftool_xmp_aigc

PRODUCER = "001191110102MACQD9K64010000"
FIRST = AIGCLabel.create(producer=PRODUCER, produce_id="first-0001")
SECOND = AIGCLabel.create(producer=PRODUCER, produce_id="second-0002", label="3")
DC_XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
          b'<dc:format>image/webp</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>')


def _image(mode: str, seed: int = 0, size: tuple[int, int] = (45, 29)) -> Image.Image:
    base = Image.linear_gradient("L").resize(size).point(lambda v: (v * 5 + seed * 40) % 256)
    if mode == "RGBA":
        return Image.merge("RGBA", (base, base.rotate(90, expand=False), base, base))
    return base.convert(mode)


def _exif(comment: bytes | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SynthGuardCam"
    if comment is not None:
        exif.get_ifd(0x8769)[0x9286] = comment
    return exif.tobytes()


def _save(images: list[Image.Image], **kw: object) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, "WEBP", save_all=len(images) > 1, append_images=images[1:], **kw)
    return buf.getvalue()


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


CASES = {
    "lossy": lambda: _save([_image("RGB")], quality=80),
    "lossless": lambda: _save([_image("RGB")], lossless=True),
    "lossless-alpha": lambda: _save([_image("RGBA")], lossless=True),
    "lossy-alpha": lambda: _save([_image("RGBA")], quality=70),
    "animated": lambda: _save([_image("RGBA", s) for s in range(3)], duration=80, loop=0,
                              lossless=True),
    "icc-exif-xmp": lambda: _save([_image("RGB")], icc_profile=_icc(), exif=_exif(),
                                  xmp=DC_XMP),
}


def _label(data: bytes, label: AIGCLabel) -> bytes:
    out = io.BytesIO()
    webp.write(io.BytesIO(data), out, label)
    return out.getvalue()


def _frames(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    im = Image.open(io.BytesIO(data))
    frames = []
    for n in range(getattr(im, "n_frames", 1)):
        im.seek(n)
        frames.append((im.mode, im.size, im.tobytes()))
    return frames


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, _ = webp._chunks(data)
    return [(c.fourcc, c.payload) for c in chunks]


@pytest.mark.parametrize("case", sorted(CASES))
def test_label_twice_keeps_pixels_and_leaves_one_site(case: str, tmp_path: Path) -> None:
    original = CASES[case]()
    assert webp.sniff(original[:64])
    once = _label(original, FIRST)
    twice = _label(once, SECOND)
    assert [(s.carrier, s.raw) for s in webp.read(io.BytesIO(twice))] == \
        [("xmp", SECOND.to_json())]
    assert _frames(twice) == _frames(original)
    chunks = _chunks(twice)
    assert chunks[0][0] == b"VP8X" and chunks[0][1][0] & webp.XMP_FLAG
    assert chunks[-1][0] == b"XMP "
    assert struct.unpack_from("<I", twice, 4)[0] == len(twice) - 8
    # Every chunk but VP8X and XMP is copied byte for byte, in order.
    kept = [c for c in _chunks(original) if c[0] not in (b"VP8X", b"XMP ")]
    assert [c for c in chunks if c[0] not in (b"VP8X", b"XMP ")] == kept
    path = tmp_path / "labeled.webp"
    path.write_bytes(twice)
    assert exiftool_xmp_aigc(path) == SECOND.to_json()


@pytest.mark.parametrize(("case", "alpha"), [("lossy", False), ("lossless", False),
                                             ("lossless-alpha", True)])
def test_simple_file_gets_vp8x_with_bitstream_canvas(case: str, alpha: bool) -> None:
    original = CASES[case]()
    assert _chunks(original)[0][0] in (b"VP8 ", b"VP8L")
    vp8x = _chunks(_label(original, FIRST))[0][1]
    assert bool(vp8x[0] & webp.ALPHA_FLAG) == alpha
    width = int.from_bytes(vp8x[4:7], "little") + 1
    height = int.from_bytes(vp8x[7:10], "little") + 1
    assert (width, height) == (45, 29)


def test_odd_canvas_and_odd_chunk_sizes_are_padded() -> None:
    original = _save([_image("RGB", 2, (17, 3))], lossless=True)
    labeled = _label(original, FIRST)
    assert Image.open(io.BytesIO(labeled)).size == (17, 3)
    assert len(labeled) % 2 == 0


def test_other_metadata_is_kept(tmp_path: Path) -> None:
    before, after = tmp_path / "before.webp", tmp_path / "after.webp"
    before.write_bytes(CASES["icc-exif-xmp"]())
    after.write_bytes(_label(before.read_bytes(), FIRST))
    tags = ("IFD0:Make", "ICC-header:ProfileClass", "ICC_Profile:ProfileDescription",
            "XMP-dc:Format")
    old, new = exiftool_json(before, *tags), exiftool_json(after, *tags)
    assert {k: v for k, v in old.items() if k != "SourceFile"} == \
        {k: v for k, v in new.items() if k != "SourceFile"}
    assert new["XMP-dc:Format"] == "image/webp" and new["IFD0:Make"] == "SynthGuardCam"


@pytest.mark.parametrize("prefix", [b"", webp.EXIF_PREFIX])
def test_user_comment_label_is_read_and_neutralized(prefix: bytes, tmp_path: Path) -> None:
    exif = prefix + _exif(b"ASCII\x00\x00\x00" + FIRST.to_json(wrapped=True).encode())
    original = _save([_image("RGB")], exif=exif)
    assert [(s.carrier, s.raw) for s in webp.read(io.BytesIO(original))] == \
        [("exif:UserComment", FIRST.to_json(wrapped=True))]
    labeled = _label(original, SECOND)
    assert [(s.carrier, s.raw) for s in webp.read(io.BytesIO(labeled))] == \
        [("xmp", SECOND.to_json())]
    path = tmp_path / "x.webp"
    path.write_bytes(labeled)
    info = exiftool_json(path, "ExifIFD:UserComment", "IFD0:Make")
    assert info.get("ExifIFD:UserComment", "") == "" and info["IFD0:Make"] == "SynthGuardCam"


def test_second_xmp_chunk_with_label_loses_only_the_label() -> None:
    original = _save([_image("RGB")], xmp=DC_XMP)
    labeled = _label(original, FIRST)
    xmp_chunk = next(p for f, p in _chunks(labeled) if f == b"XMP ")
    # A second copy of the labeled chunk: outside the spec, but a second label site.
    doubled = labeled + b"XMP " + struct.pack("<I", len(xmp_chunk)) + xmp_chunk \
        + b"\0" * (len(xmp_chunk) & 1)
    doubled = doubled[:4] + struct.pack("<I", len(doubled) - 8) + doubled[8:]
    assert len(webp.read(io.BytesIO(doubled))) == 2
    relabeled = _label(doubled, SECOND)
    assert [s.raw for s in webp.read(io.BytesIO(relabeled))] == [SECOND.to_json()]
    xmps = [p for f, p in _chunks(relabeled) if f == b"XMP "]
    assert len(xmps) == 2 and all(b"image/webp" in p for p in xmps)


def _riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WEBP" + b"".join(f + struct.pack("<I", len(p)) + p + b"\0" * (len(p) & 1)
                              for f, p in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


BAD = {
    "empty": b"",
    "garbage": b"RIFF\x00\x00\x00\x00WEBX" + b"?" * 40,
    "riff-longer-than-file": b"RIFF\xff\x00\x00\x00WEBPVP8L\x05\x00\x00\x00",
    "chunk-longer-than-riff": _riff((b"VP8L", b"\x2f" * 8))[:16] + b"\xff\xff\x00\x00"
                              + b"\x2f" * 8,
    "vp8-without-keyframe": _riff((b"VP8 ", b"\x01\x02\x03" + b"\0" * 10)),
    "vp8l-without-signature": _riff((b"VP8L", b"\x00" * 8)),
    "vp8x-too-short": _riff((b"VP8X", b"\x00" * 4)),
    "zero-canvas": _riff((b"VP8 ", b"\x00\x00\x00\x9d\x01\x2a\x00\x00\x00\x00")),
    "exif-not-tiff": _riff((b"VP8X", b"\x08" + b"\0" * 9), (b"EXIF", b"not a tiff block")),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_malformed(name: str) -> None:
    if name not in ("vp8-without-keyframe", "vp8l-without-signature", "vp8x-too-short",
                    "zero-canvas"):
        with pytest.raises(MalformedFile):
            webp.read(io.BytesIO(BAD[name]))
    with pytest.raises(MalformedFile):
        webp.write(io.BytesIO(BAD[name]), io.BytesIO(), FIRST)


def test_unknown_first_chunk_is_refused_for_writing() -> None:
    data = _riff((b"ABCD", b"1234"))
    assert webp.read(io.BytesIO(data)) == []
    with pytest.raises(UnsupportedFormat, match="unsupported for writing"):
        webp.write(io.BytesIO(data), io.BytesIO(), FIRST)


@pytest.fixture(scope="module")
def labeled_animation() -> bytes:
    exif = _exif(b"ASCII\x00\x00\x00" + FIRST.to_json(wrapped=True).encode())
    frames = [_image("RGBA", s, (9, 7)) for s in range(2)]
    return _label(_save(frames, duration=50, exif=exif, icc_profile=_icc()), SECOND)


@pytest.mark.parametrize("fraction", [i / 29 for i in range(29)])
def test_truncation_is_malformed(labeled_animation: bytes, fraction: float) -> None:
    cut = labeled_animation[:int(len(labeled_animation) * fraction)]
    with pytest.raises(MalformedFile):
        webp.read(io.BytesIO(cut))
    with pytest.raises(MalformedFile):
        webp.write(io.BytesIO(cut), io.BytesIO(), FIRST)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_raise_only_synthguard_errors(labeled_animation: bytes,
                                                data: st.DataObject) -> None:
    mutated = bytearray(labeled_animation)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    try:
        webp.read(io.BytesIO(bytes(mutated)))
        webp.write(io.BytesIO(bytes(mutated)), io.BytesIO(), FIRST)
    except SynthGuardError:
        pass
