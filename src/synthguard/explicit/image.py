"""Visible notices on images (GB 45438 §5.2): text at an edge or corner, at least 5 % of the
shortest side tall, legible on any background, every animation frame marked.

The glyph height is measured from the font's real ink box for the notice text, not from
the nominal point size, so the 5 % rule holds for the pixels people actually see.
Rendering re-encodes the image, so the implicit metadata label is written afterwards.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont, ImageSequence, JpegImagePlugin, UnidentifiedImageError

from synthguard._atomic import atomic_output
from synthguard.errors import MalformedFile, UnsupportedFormat
from synthguard.explicit.wording import DEFAULT_ZH, NoticeError, check_notice
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.api import Report, publish
from synthguard.labels.protect import Protection

Position = Literal["top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom"]
POSITIONS: tuple[Position, ...] = ("top-left", "top-right", "bottom-left", "bottom-right",
                                   "top", "bottom")
MIN_HEIGHT_RATIO = 0.05  # GB 45438 §5.2: text height ≥ 5 % of the shortest side
FONT_PATH = Path(__file__).parent / "fonts" / "SynthGuardNoticeSansSC-Bold.otf"
LEGIBLE_PX = 10  # below this CJK glyphs blur into blobs
MAX_PIXELS = 200_000_000
SUPPORTED = {"JPEG", "PNG", "WEBP", "GIF", "TIFF"}


@dataclass(frozen=True)
class Layout:
    """Where the notice goes on an image of a given size."""

    lines: tuple[str, ...]
    font_size: int
    ink_height: int  # the measured glyph height of one line, in pixels
    plate: tuple[int, int, int, int]  # x0, y0, x1, y1 of the background plate
    origins: tuple[tuple[int, int], ...]  # where each line is drawn


@dataclass(frozen=True)
class MarkResult:
    path: str
    format: str
    frames: int
    layout: Layout
    labeled: bool
    report: Report | None = None  # the labeled output, read back (watermark, signature ...)


@cache
def _cmap(font_path: str) -> frozenset[int]:
    with TTFont(font_path, lazy=True, fontNumber=0) as tt:
        return frozenset(tt.getBestCmap() or {})


@lru_cache(maxsize=256)
def _font(font_path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path), size)


def check_glyphs(notice: str, font_path: Path = FONT_PATH) -> None:
    missing = sorted({c for c in notice if not c.isspace() and ord(c) not in _cmap(str(font_path))})
    if missing:
        raise NoticeError(f"the font {font_path.name} has no glyph for {''.join(missing)!r}; "
                          "pass a font that covers the notice")


def _ink_height(font: ImageFont.FreeTypeFont, text: str) -> int:
    """Height of the rows where the rendered glyphs cover at least half a pixel: what a
    viewer sees as the text, not counting faint anti-aliased fringes."""
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    canvas = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, font=font, fill=255)
    box = canvas.point(lambda v: 255 if v >= 128 else 0).getbbox()
    return 0 if box is None else box[3] - box[1]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap by character (CJK has no spaces; Latin words are kept where possible)."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        candidate = current + token
        if current and font.getlength(candidate.strip()) > width:
            lines.append(current.strip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip():
        lines.append(current.strip())
    return lines


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for ch in text:
        if out and ch.isascii() and ch.isalnum() and out[-1][-1:].isascii() and \
                out[-1][-1:].isalnum():
            out[-1] += ch
        else:
            out.append(ch)
    return out


@lru_cache(maxsize=1024)  # batches of same-sized images share one layout
def layout(size: tuple[int, int], notice: str, position: Position = "bottom-right",
           font_path: Path = FONT_PATH) -> Layout:
    """Fit the notice onto an image of `size`: glyphs ≥ 5 % of the shortest side, and at
    least LEGIBLE_PX tall when the image has room for that."""
    # One pixel of headroom: anti-aliasing at a different sub-pixel phase, or a lossy
    # re-encode (video), can shave a row off what was measured here.
    minimum = max(1, math.ceil(MIN_HEIGHT_RATIO * min(size))) + 1
    if minimum < LEGIBLE_PX:
        try:
            return _layout(size, notice, position, font_path, LEGIBLE_PX)
        except NoticeError:
            pass
    return _layout(size, notice, position, font_path, minimum)


def _layout(size: tuple[int, int], notice: str, position: Position, font_path: Path,
            target: int) -> Layout:
    w, h = size
    short = min(w, h)
    pad = max(1, round(target * 0.3))
    margin = max(0, round(short * 0.02))
    # Grow the point size until the ink of every wrapped line reaches the target height
    # (a line of Latin letters has less ink height than one of CJK glyphs).
    # Start near the answer: ink scales with the point size, so one measurement at the
    # target size predicts it (then step up, since anti-aliasing is not quite linear).
    probe = _ink_height(_font(font_path, target), notice) or target
    font_size = max(1, (target * target) // probe - 1)
    for _ in range(400):
        font = _font(font_path, font_size)
        lines = _wrap(notice, font, w - 2 * (pad + margin))
        if min(_ink_height(font, line) for line in lines) >= target:
            break
        font_size += 1
    ink = max(_ink_height(font, line) for line in lines)
    line_gap = max(1, round(target * 0.25))
    widths = [math.ceil(font.getlength(line)) for line in lines]
    box_w = max(widths) + 2 * pad
    box_h = len(lines) * ink + (len(lines) - 1) * line_gap + 2 * pad
    if box_w + 2 * margin > w or box_h + 2 * margin > h:
        raise NoticeError(f"image {w}x{h} is too small for a notice with glyphs {target}px "
                          "tall (at least 5% of the shortest side)")
    if position.endswith("left"):
        x0 = margin
    elif position.endswith("right"):
        x0 = w - margin - box_w
    else:
        x0 = (w - box_w) // 2
    y0 = margin if position.startswith("top") else h - margin - box_h
    origins = []
    y = y0 + pad
    for line in lines:
        bx0, by0, _, _ = font.getbbox(line)
        origins.append((x0 + pad - int(bx0), y - int(by0)))
        y += ink + line_gap
    return Layout(tuple(lines), font_size, ink, (x0, y0, x0 + box_w, y0 + box_h),
                  tuple(origins))


def _colours(region: Image.Image
             ) -> tuple[tuple[int, int, int], tuple[int, int, int, int]]:
    """Text and plate colours chosen from the luminance under the plate."""
    hist = region.convert("L").histogram()
    mean = sum(i * n for i, n in enumerate(hist)) / max(1, sum(hist))
    if mean >= 128:
        return (0, 0, 0), (255, 255, 255, 200)
    return (255, 255, 255), (0, 0, 0, 170)


def _render_plate(region: Image.Image, lay: Layout, font_path: Path) -> Image.Image:
    """The plate region (RGBA) with the plate and text composited, in plate coordinates."""
    x0, y0 = lay.plate[0], lay.plate[1]
    text_rgb, plate_rgba = _colours(region)
    rgba = region.convert("RGBA")
    overlay = Image.new("RGBA", rgba.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    radius = max(0, (lay.plate[3] - lay.plate[1]) // 6)
    draw.rounded_rectangle((0, 0, rgba.width - 1, rgba.height - 1), radius=radius,
                           fill=plate_rgba)
    font = _font(font_path, lay.font_size)
    for line, (ox, oy) in zip(lay.lines, lay.origins, strict=True):
        draw.text((ox - x0, oy - y0), line, font=font, fill=(*text_rgb, 255))
    return Image.alpha_composite(rgba, overlay)


def draw_notice(frame: Image.Image, lay: Layout, font_path: Path = FONT_PATH) -> Image.Image:
    """Return `frame` with the notice drawn, in the frame's own mode.

    Only the plate's rectangle is converted and composited; every pixel outside it is
    the frame's own, untouched (and for CMYK no round trip through RGB elsewhere)."""
    mode = frame.mode
    box = (lay.plate[0], lay.plate[1], lay.plate[2] + 1, lay.plate[3] + 1)
    box = (max(0, box[0]), max(0, box[1]), min(frame.width, box[2]), min(frame.height, box[3]))
    lay = Layout(lay.lines, lay.font_size, lay.ink_height, box, lay.origins)
    marked = _render_plate(frame.crop(box), lay, font_path)
    if mode in ("P", "PA"):
        # Back to a palette: the notice's colours join the image's own in a new one.
        out = frame.convert("RGBA")
        out.paste(marked, box[:2])
        transparent = "transparency" in frame.info or mode == "PA"
        base = out if transparent else out.convert("RGB")
        return base.quantize(256, method=Image.Quantize.FASTOCTREE)
    target = mode if mode in ("RGB", "RGBA", "L", "LA", "CMYK", "1") else "RGB"
    out = frame.copy() if target == mode else frame.convert(target)
    out.paste(marked.convert(target), box[:2])
    return out


def _save_options(img: Image.Image, fmt: str, src: Path) -> dict[str, Any]:
    info = img.info
    opts: dict[str, Any] = {}
    for key in ("icc_profile", "exif", "dpi"):
        if info.get(key):
            opts[key] = info[key]
    if fmt == "JPEG":
        opts["qtables"] = img.quantization  # type: ignore[attr-defined]
        opts["subsampling"] = JpegImagePlugin.get_sampling(img)
        opts["progressive"] = bool(info.get("progressive") or info.get("progression"))
    elif fmt == "WEBP":
        lossless = b"VP8L" in src.read_bytes()[:4096]
        opts["lossless"] = lossless
        opts.update({"quality": 100 if lossless else 90, "method": 4})
    elif fmt == "TIFF":
        if info.get("compression") and info["compression"] != "raw":
            opts["compression"] = info["compression"]
    elif fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = getattr(img, "text", {}) or {}
        if text:
            png = PngInfo()
            for k, v in text.items():
                if k != "XML:com.adobe.xmp" and k.upper() != "AIGC":
                    png.add_text(k, v)
            opts["pnginfo"] = png
    return opts


def mark_image(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    *,
    notice: str = DEFAULT_ZH,
    position: Position = "bottom-right",
    font_path: Path = FONT_PATH,
    label: AIGCLabel | None = None,
    protection: Protection | None = None,
) -> MarkResult:
    """Draw the notice on `src` (every frame) and write to `dst` (in place if None), in the
    same format, size and mode; then write the implicit `label` if one is given, with
    what `protection` adds to it (watermark, signature, C2PA; `labels.protect`)."""
    notice = check_notice(notice)
    if position not in POSITIONS:
        raise NoticeError(f"position {position!r} is not one of {', '.join(POSITIONS)}")
    check_glyphs(notice, font_path)
    s = Path(src)
    d = s if dst is None else Path(dst)
    try:
        img = Image.open(s)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MalformedFile(f"{s}: not a readable image: {exc}") from None
    except Image.DecompressionBombError as exc:
        raise MalformedFile(f"{s}: {exc}") from None
    fmt = img.format or ""
    if fmt not in SUPPORTED:
        raise UnsupportedFormat(f"{s}: {fmt or 'unknown'} images are unsupported for marking")
    if img.width * img.height > MAX_PIXELS:
        raise UnsupportedFormat(f"{s}: {img.width}x{img.height} exceeds the pixel limit")
    lay = layout(img.size, notice, position, font_path)
    frames = [draw_notice(f.copy(), lay, font_path) for f in ImageSequence.Iterator(img)]
    opts = _save_options(img, fmt, s)
    if len(frames) > 1:
        durations = []
        for f in ImageSequence.Iterator(img):
            durations.append(f.info.get("duration", img.info.get("duration", 100)))
        opts.update(save_all=True, append_images=frames[1:], duration=durations,
                    loop=img.info.get("loop", 0))
        if fmt == "GIF":
            opts["disposal"] = 2
    with atomic_output(d, mode_from=s if s.exists() else None) as (out, tmp):
        frames[0].save(out, format=fmt, **opts)
    report = publish(tmp, d, label, protection=protection, source=s)
    return MarkResult(str(d), fmt, len(frames), lay, label is not None, report)
