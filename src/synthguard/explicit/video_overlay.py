"""Notices drawn into decoded video frames (GB 45438 §5.4).

The notice is laid out once for the displayed frame size and rendered once with the image
renderer onto a transparent canvas. That overlay is neutral grey (white or black text on a
black or white plate), so in YUV it is pure luma with chroma at the midpoint and in planar
RGB the same value on every plane: it is blended straight into the decoded planes, with no
colour-matrix conversion, and the pixels outside the notice stay exactly as decoded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from av.video.frame import PictureType, VideoFrame
from PIL import Image

from synthguard.explicit.image import (
    FONT_PATH,
    LEGIBLE_PX,
    MIN_HEIGHT_RATIO,
    Layout,
    Position,
    _layout,
    draw_notice,
)
from synthguard.explicit.wording import NoticeError

# Lossy re-encoding softens glyph edges and the drawn text can land half a pixel off the
# grid it was measured on; the extra rows keep the 5 % height true in the decoded video.
HEIGHT_MARGIN_PX = 2


class Patch(NamedTuple):
    """The notice pre-blended for one plane: new = old * keep + add over rows x cols; an
    alpha plane is instead raised to `add` (the notice is opaque wherever it is drawn)."""

    plane: int
    rows: slice
    cols: slice
    keep: np.ndarray
    add: np.ndarray
    is_alpha: bool


def _plain(name: str) -> bool:
    """One component per plane, no palette, byte-addressable: compositable in place."""
    fmt = av.VideoFormat(name)
    comps = fmt.components
    return (not fmt.has_palette and not fmt.is_bayer and not fmt.is_bit_stream
            and len({c.plane for c in comps}) == len(comps)
            and all(c.bits <= 16 for c in comps)
            and (not fmt.is_big_endian or all(c.bits <= 8 for c in comps)))


def _work_format(name: str) -> str:
    """The planar format a packed one is composited in (same colour model, no matrix)."""
    fmt = av.VideoFormat(name)
    alpha = any(c.is_alpha for c in fmt.components)
    if fmt.is_rgb or fmt.has_palette:
        return "gbrap" if alpha else "gbrp"
    return "yuva444p" if alpha else "yuv444p"


def patches(overlay: Image.Image, box: tuple[int, int, int, int], frame: VideoFrame
            ) -> list[Patch]:
    """Blend factors of the grey overlay inside `box` for each plane of `frame`'s format;
    only the luma range (limited or full) matters, no colour matrix."""
    fmt = frame.format
    w, h = frame.width, frame.height
    comps = av.VideoFormat(fmt.name, w, h).components
    steps = [(round(w / c.width), round(h / c.height)) for c in comps]
    sx, sy = max(x for x, _ in steps), max(y for _, y in steps)
    # Align the box to the chroma grid so each chroma sample averages whole luma blocks
    # (outside the frame the crop is transparent, so odd sizes need no special case).
    x0, y0 = box[0] // sx * sx, box[1] // sy * sy
    x1, y1 = -(-box[2] // sx) * sx, -(-box[3] // sy) * sy
    rgba = np.asarray(overlay.crop((x0, y0, x1, y1)), dtype=np.float32) / 255.0
    grey, alpha = rgba[..., 0], rgba[..., 3]
    # Full-range luma where the frame says so, or by the format's convention (RGB, the
    # "J" YUV formats, and grey, which swscale treats as full range).
    # (PyAV's `is_chroma` is the chroma shift, 0 for 4:4:4; what is neither luma, alpha nor
    # RGB is chroma.)
    chroma = [not fmt.is_rgb and not c.is_luma and not c.is_alpha for c in comps]
    full = frame.color_range == 2 or (frame.color_range != 1 and (
        fmt.is_rgb or fmt.name.startswith("yuvj") or not any(chroma)))
    out = []
    for c, (fx, fy), is_chroma in zip(comps, steps, chroma, strict=True):
        top = float((1 << c.bits) - 1)
        a = alpha.reshape(alpha.shape[0] // fy, fy, alpha.shape[1] // fx, fx).mean(axis=(1, 3))
        if c.is_alpha:
            add = a * top
        elif is_chroma:
            add = a * float(1 << (c.bits - 1))
        else:
            lo, hi = (0.0, top) if full else (16.0 * (top + 1) / 256, 235.0 * (top + 1) / 256)
            g = grey.reshape(a.shape[0], fy, a.shape[1], fx).mean(axis=(1, 3))
            add = a * (lo + g * (hi - lo))
        rows = slice(y0 // fy, min(c.height, y1 // fy))
        cols = slice(x0 // fx, min(c.width, x1 // fx))
        clip = (slice(0, rows.stop - rows.start), slice(0, cols.stop - cols.start))
        out.append(Patch(c.plane, rows, cols, (1.0 - a)[clip].astype(np.float32),
                         add[clip].astype(np.float32), c.is_alpha))
    return out


def planes(frame: VideoFrame) -> list[np.ndarray]:
    """Writable views of the frame's planes (the frame must be writable)."""
    comps = av.VideoFormat(frame.format.name, frame.width, frame.height).components
    out = []
    for c in sorted(comps, key=lambda c: c.plane):
        plane = frame.planes[c.plane]
        dtype = np.dtype(np.uint8 if c.bits <= 8 else "<u2")
        arr = np.frombuffer(memoryview(plane), dtype=dtype)
        arr = arr.reshape(-1, plane.line_size // dtype.itemsize)
        out.append(arr[:c.height, :c.width])
    return out


def composite(frame: VideoFrame, blend: list[Patch]) -> None:
    """Blend the notice into `frame` in place (copying its buffers first if shared: the
    decoder may still reference them for predicting later frames)."""
    frame.make_writable()
    views = planes(frame)
    for p in blend:
        region = views[p.plane][p.rows, p.cols]
        if p.is_alpha:
            region[...] = np.maximum(region, (p.add + 0.5).astype(region.dtype))
        else:
            region[...] = (region * p.keep + p.add + 0.5).astype(region.dtype)


def rotate(frame: VideoFrame, turns: int) -> VideoFrame:
    """The frame as it is displayed: rotated `turns` quarter turns counterclockwise."""
    w, h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    out = VideoFrame(w, h, frame.format.name)
    for src, dst in zip(planes(frame), planes(out), strict=True):
        dst[...] = np.rot90(src, turns)
    out.pts, out.time_base = frame.pts, frame.time_base
    out.color_range, out.colorspace = frame.color_range, frame.colorspace
    return out


def layout(size: tuple[int, int], notice: str, position: Position = "top-left",
           font_path: Path = FONT_PATH) -> Layout:
    """The image layout with glyphs HEIGHT_MARGIN_PX taller than 5 % of the shortest side
    (and LEGIBLE_PX tall where the frame has room)."""
    minimum = math.ceil(MIN_HEIGHT_RATIO * min(size)) + HEIGHT_MARGIN_PX
    if minimum < LEGIBLE_PX:
        try:
            return _layout(size, notice, position, font_path, LEGIBLE_PX)
        except NoticeError:
            pass
    return _layout(size, notice, position, font_path, minimum)


def overlay(size: tuple[int, int], lay: Layout, font_path: Path, light: bool) -> Image.Image:
    """The notice alone on a transparent canvas; the canvas colour picks the plate."""
    canvas = Image.new("RGBA", size, (255, 255, 255, 0) if light else (0, 0, 0, 0))
    return draw_notice(canvas, lay, font_path)


def _light_background(frame: VideoFrame, box: tuple[int, int, int, int]) -> bool:
    grey = planes(frame.reformat(format="gray"))[0]
    return bool(grey[box[1]:box[3], box[0]:box[2]].mean() >= 128)


class Marks(NamedTuple):
    """The notices for one video, each laid out once for the displayed frame size."""

    size: tuple[int, int]  # as displayed
    rotation: int  # quarter turns counterclockwise from stored to displayed
    opening: Layout
    opening_seconds: float
    persistent: Layout | None
    font_path: Path = FONT_PATH


class Compositor:
    """Turns decoded frames into displayed, marked frames in the encoder's pixel format."""

    def __init__(self, marks: Marks, in_format: str, out_format: str) -> None:
        self.marks, self.out_format = marks, out_format
        self.work_format = in_format if _plain(in_format) else _work_format(in_format)
        self.patches: dict[str, list[Patch]] = {}
        self.start: float | None = None
        self.last = 0.0  # timestamp of the latest frame, seconds
        self.frames = self.marked = 0

    def _apply(self, frame: VideoFrame, which: str, lay: Layout) -> None:
        if which not in self.patches:
            # The plate colour is chosen once, from the first frame, so it cannot flicker.
            light = _light_background(frame, lay.plate)
            drawn = overlay(self.marks.size, lay, self.marks.font_path, light)
            x0, y0, x1, y1 = lay.plate  # PIL draws the plate's far edges inclusive
            self.patches[which] = patches(drawn, (x0, y0, x1 + 1, y1 + 1), frame)
        composite(frame, self.patches[which])

    def __call__(self, frame: VideoFrame, rate: float) -> VideoFrame:
        marks = self.marks
        t = frame.time if frame.time is not None else self.frames / rate
        self.start = t if self.start is None else self.start
        self.last = max(self.last, t)
        opening = t - self.start < marks.opening_seconds
        if opening or marks.persistent is not None or marks.rotation:
            if frame.format.name != self.work_format:
                frame = frame.reformat(format=self.work_format)
            if marks.rotation:
                frame = rotate(frame, marks.rotation)
        if opening:
            self._apply(frame, "opening", marks.opening)
            self.marked += 1
        elif marks.persistent is not None:
            self._apply(frame, "persistent", marks.persistent)
        if frame.format.name != self.out_format:
            frame = frame.reformat(format=self.out_format)
        frame.pict_type = PictureType.NONE  # let the encoder place its own keyframes
        self.frames += 1
        return frame
