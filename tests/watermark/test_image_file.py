"""Watermarking image files: same format, metadata kept, upright pixels, read-back, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin

from synthguard.errors import MalformedFile, UnsupportedFormat, VerificationFailed
from synthguard.watermark.image_file import detect_file, watermark_file
from synthguard.watermark.keys import KeyRing, WatermarkKey
from tests.tools import exiftool_json
from tests.watermark.corpus import make

KEY = WatermarkKey(5, b"\x11" * 32)
RING = KeyRing([KEY])
CONTENT = 0x0123456789ABCD
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/></rdf:RDF>'
    b'</x:xmpmeta><?xpacket end="w"?>'
)


def test_jpeg_keeps_metadata_and_is_written_upright(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    picture = make("photo", 3, (480, 320))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise
    exif[0x010F] = "SynthGuard test camera"
    stored = picture.transpose(Image.Transpose.ROTATE_90)  # what a camera would store
    icc = b"\0" * 128  # opaque bytes are enough to check they are carried
    stored.save(src, "JPEG", quality=92, exif=exif, icc_profile=icc, xmp=XMP, subsampling=0)
    detection = watermark_file(src, dst, CONTENT, KEY)
    assert detection.content_id == CONTENT and detection.key_id == KEY.key_id
    out = Image.open(dst)
    assert out.format == "JPEG" and out.size == picture.size
    assert out.getexif()[0x0112] == 1 and out.info["icc_profile"] == icc
    tags = exiftool_json(dst, "Orientation", "Make", "XMP-dc:Format", "YCbCrSubSampling")
    assert tags["IFD0:Orientation"] == 1 and tags["IFD0:Make"] == "SynthGuard test camera"
    assert tags["XMP-dc:Format"] == "image/jpeg"
    assert tags["File:YCbCrSubSampling"] == "1 1"  # 4:4:4 kept
    upright = np.asarray(ImageOps.exif_transpose(Image.open(src)), dtype=np.float64)
    assert np.mean(np.abs(np.asarray(out, dtype=np.float64) - upright)) < 4
    assert detect_file(dst, RING).content_id == CONTENT


def test_png_is_lossless_and_keeps_text_chunks(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "synthguard-test")
    info.add_itxt("Description", "中文说明")
    original = make("graphic", 4, (300, 300)).convert("RGBA")
    original.save(src, pnginfo=info)
    watermark_file(src, dst, CONTENT, KEY)
    out = Image.open(dst)
    assert out.format == "PNG" and out.mode == "RGBA"
    assert out.text["Software"] == "synthguard-test" and out.text["Description"] == "中文说明"
    again = tmp_path / "again.png"
    out.save(again)  # a lossless copy of the written pixels still carries the mark
    assert detect_file(again, RING).content_id == CONTENT


def test_webp_lossless_stays_lossless(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.webp", tmp_path / "out.webp"
    make("face", 6, (320, 320)).save(src, "WEBP", lossless=True)
    watermark_file(src, dst, CONTENT, KEY)
    assert b"VP8L" in dst.read_bytes()[:64]
    assert detect_file(dst, RING).content_id == CONTENT


def test_unsupported_and_malformed_inputs(tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    make("graphic", 7, (300, 300)).save(gif)
    with pytest.raises(UnsupportedFormat, match="unsupported for watermarking"):
        watermark_file(gif, tmp_path / "b.gif", CONTENT, KEY)
    small = tmp_path / "small.png"
    make("photo", 8, (200, 120)).save(small)
    with pytest.raises(UnsupportedFormat, match="256"):
        watermark_file(small, tmp_path / "small-out.png", CONTENT, KEY)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    with pytest.raises(MalformedFile):
        watermark_file(garbage, tmp_path / "out.jpg", CONTENT, KEY)


def test_failed_read_back_leaves_no_output(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    make("graphic", 9, (256, 256)).save(src, quality=95)
    with pytest.raises(VerificationFailed, match="did not read back"):
        watermark_file(src, dst, CONTENT, KEY, strength=0.02)
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg"]
