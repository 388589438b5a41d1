"""Visible image notices, measured from the rendered pixels."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageSequence

from synthguard import inspect
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.image import POSITIONS, mark_image
from synthguard.explicit.wording import NoticeError
from synthguard.labels import AIGCLabel

PRODUCER = "001191110102MACQD9K64010000"


def ink_box(img: Image.Image, bright: bool) -> tuple[int, int, int, int]:
    """Bounding box of the text pixels: pure white on a dark plate, or pure black on a light."""
    a = np.asarray(img.convert("L"))
    mask = a >= 250 if bright else a <= 5
    ys, xs = np.nonzero(mask)
    assert len(xs), "no text pixels found"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def line_heights(img: Image.Image, bright: bool) -> list[int]:
    """Heights of the text lines: runs of rows holding text pixels, split by empty rows
    more than a few pixels tall (glyph strokes have small internal gaps)."""
    a = np.asarray(img.convert("L")).astype(int)
    x0, y0, x1, y1 = ink_box(img, bright)
    region = a[max(0, y0 - 2):y1 + 2, x0:x1]
    # Half coverage: an anti-aliased row counts when it is nearer the text than the plate.
    mid = (int(region.min()) + int(region.max())) / 2
    rows = np.nonzero(((a >= mid) if bright else (a <= mid))[:, x0:x1].any(axis=1))[0]
    runs, start, prev = [], rows[0], rows[0]
    for r in rows[1:]:
        if r - prev > 3:
            runs.append(prev - start + 1)
            start = r
        prev = r
    runs.append(prev - start + 1)
    return runs


@pytest.mark.parametrize("size", [(64, 64), (4000, 300), (300, 4000), (1024, 768), (333, 777)])
@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_height_and_corner_from_pixels(tmp_path: Path, size: tuple[int, int],
                                       position: str) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", size, (40, 60, 80)).save(src)  # dark: expect white text
    out = tmp_path / "out.png"
    mark_image(src, out, position=position)  # type: ignore[arg-type]
    img = Image.open(out)
    assert img.size == size
    x0, y0, x1, y1 = ink_box(img, bright=True)
    target = math.ceil(0.05 * min(size))
    assert min(line_heights(img, bright=True)) >= target
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = size
    assert (cx < w / 2) == position.endswith("left")
    assert (cy < h / 2) == position.startswith("top")
    # At the edge: the text sits in the outer fifth of the image along both axes
    # (or of the whole width when the notice needs most of it).
    assert (y0 < h * 0.2) if position.startswith("top") else (y1 > h * 0.8)


def test_centred_edge_positions(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (900, 600), (30, 30, 30)).save(src)
    for position in ("top", "bottom"):
        out = tmp_path / f"{position}.png"
        mark_image(src, out, position=position)  # type: ignore[arg-type]
        x0, y0, x1, y1 = ink_box(Image.open(out), bright=True)
        assert abs((x0 + x1) / 2 - 450) < 30
        assert (y1 < 100) if position == "top" else (y0 > 500)


@pytest.mark.parametrize("background,bright_text", [((250, 250, 250), False),
                                                    ((5, 5, 5), True),
                                                    ((128, 200, 90), False)])
def test_contrast_follows_local_luminance(tmp_path: Path, background: tuple[int, int, int],
                                          bright_text: bool) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (400, 300), background).save(src)
    mark_image(src, tmp_path / "out.png")
    img = Image.open(tmp_path / "out.png")
    x0, y0, _, y1 = ink_box(img, bright=bright_text)
    plate_pixel = np.asarray(img.convert("L"))[y0 - 1 if y0 else y1, x0]
    text_level = 255 if bright_text else 0
    assert abs(int(plate_pixel) - text_level) > 100


def test_long_notice_wraps_and_keeps_height(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (300, 4000), (20, 20, 20)).save(src)
    notice = "本内容由人工智能生成，请谨慎甄别 AI生成合成内容标识"
    mark_image(src, tmp_path / "out.png", notice=notice)
    heights = line_heights(Image.open(tmp_path / "out.png"), bright=True)
    assert len(heights) >= 2 and min(heights) >= math.ceil(0.05 * 300)


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("fmt,mode,ext,kwargs", [
    ("JPEG", "RGB", ".jpg", {"quality": 88}),
    ("JPEG", "L", ".jpg", {}),
    ("JPEG", "CMYK", ".jpg", {}),
    ("PNG", "RGBA", ".png", {}),
    ("PNG", "P", ".png", {}),
    ("PNG", "L", ".png", {}),
    ("WEBP", "RGB", ".webp", {"lossless": True}),
    ("WEBP", "RGBA", ".webp", {"quality": 80}),
    ("TIFF", "RGB", ".tif", {"compression": "tiff_lzw"}),
])
def test_keeps_format_size_mode_icc_and_gets_implicit_label(
        tmp_path: Path, fmt: str, mode: str, ext: str, kwargs: dict[str, object]) -> None:
    src = tmp_path / f"in{ext}"
    base = Image.linear_gradient("L").resize((320, 200)).convert("RGB")
    img = base.convert(mode) if mode != "P" else base.quantize(64)
    icc = _icc() if mode in ("RGB", "RGBA") else None
    img.save(src, format=fmt, **kwargs, **({"icc_profile": icc} if icc else {}))
    out = tmp_path / f"out{ext}"
    aigc = AIGCLabel.create(producer=PRODUCER, produce_id="mark-1")
    result = mark_image(src, out, label=aigc)
    marked = Image.open(out)
    assert marked.format == fmt and marked.size == (320, 200)
    assert marked.mode == Image.open(src).mode
    if icc:
        assert marked.info.get("icc_profile") == icc
    assert result.labeled
    report = inspect(out)
    assert report.verdict == "compliant"
    assert report.label == aigc


@pytest.mark.parametrize("fmt,ext", [("GIF", ".gif"), ("WEBP", ".webp")])
def test_every_animation_frame_marked(tmp_path: Path, fmt: str, ext: str) -> None:
    frames = [Image.new("RGB", (200, 120), (20 * i, 40, 90)) for i in range(4)]
    src = tmp_path / f"anim{ext}"
    frames[0].save(src, format=fmt, save_all=True, append_images=frames[1:], duration=120,
                   loop=0)
    out = tmp_path / f"out{ext}"
    result = mark_image(src, out, label=AIGCLabel.create(producer=PRODUCER, produce_id="a"))
    assert result.frames == 4
    marked = Image.open(out)
    assert getattr(marked, "n_frames", 1) == 4
    for frame in ImageSequence.Iterator(marked):
        x0, y0, x1, y1 = ink_box(frame, bright=True)
        assert (x0 + x1) / 2 > 100 and (y0 + y1) / 2 > 60  # bottom-right by default
    assert inspect(out).verdict == "compliant"


def test_bad_inputs_leave_nothing(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    with pytest.raises(NoticeError, match="too small"):
        mark_image(tiny, tmp_path / "o1.png")
    broken = tmp_path / "broken.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "JPEG")
    broken.write_bytes(buf.getvalue()[:50])
    with pytest.raises(MalformedFile):
        mark_image(broken, tmp_path / "o2.jpg")
    bmp = tmp_path / "x.bmp"
    Image.new("RGB", (64, 64)).save(bmp)
    with pytest.raises(UnsupportedFormat):
        mark_image(bmp, tmp_path / "o3.bmp")
    ok = tmp_path / "ok.png"
    Image.new("RGB", (64, 64)).save(ok)
    with pytest.raises(NoticeError, match="generation element"):
        mark_image(ok, tmp_path / "o4.png", notice="AI")
    with pytest.raises(NoticeError, match="glyph"):
        mark_image(ok, tmp_path / "o5.png", notice="AI生成 😀")
    with pytest.raises(NoticeError, match="position"):
        mark_image(ok, tmp_path / "o6.png", position="middle")  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jpg", "ok.png", "tiny.png",
                                                          "x.bmp"]


def test_positions_constant() -> None:
    assert set(POSITIONS) >= {"top-left", "top-right", "bottom-left", "bottom-right"}
