"""Synthetic test images made by code: photo-like textures, flat graphics, screenshots, faces.

Shared by the watermark tests and `bench/watermark_image.py`, so both measure the same
kinds of content. Every image is a deterministic function of (kind, seed, size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Size = tuple[int, int]
KINDS = ("photo", "graphic", "screenshot", "face")


def _fractal_noise(rng: np.random.Generator, size: Size, beta: float) -> npt.NDArray[np.float64]:
    """Noise with a 1/f^beta power spectrum, like natural-image texture; scaled to [0, 1]."""
    width, height = size
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    spectrum = rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)
    field = np.fft.irfft2(spectrum / radius ** (beta / 2), s=(height, width))
    field -= field.min()
    return np.asarray(field / max(float(field.max()), 1e-9), dtype=np.float64)


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(low, high, 3))
    return r, g, b


def photo(rng: np.random.Generator, size: Size) -> Image.Image:
    """Landscape-like: sky gradient, textured ground, blurred objects, fine grain."""
    width, height = size
    palette = rng.uniform(0, 255, (3, 3))
    base = _fractal_noise(rng, size, rng.uniform(2.0, 3.2))
    detail = _fractal_noise(rng, size, 1.2)
    rows = np.linspace(0, 1, height)[:, None, None]
    horizon = rng.uniform(0.3, 0.7)
    sky = palette[0] * (1 - rows) + palette[1] * rows
    ground = palette[2] * (0.4 + 0.9 * base[..., None]) + 40 * (detail[..., None] - 0.5)
    image = np.where(rows < horizon, sky + 25 * (base[..., None] - 0.5), ground)
    canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 9))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.03, 0.2) * min(size)
        draw.ellipse((x - r, y - r * 0.7, x + r, y + r * 0.7), fill=_colour(rng))
    canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.6, 2.0))))
    grain = rng.normal(0, rng.uniform(1, 6), (height, width, 1))
    out = np.asarray(canvas, dtype=np.float64) + grain
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def graphic(rng: np.random.Generator, size: Size) -> Image.Image:
    """Flat-colour vector-style art: large uniform regions, hard edges, no noise."""
    width, height = size
    canvas = Image.new("RGB", size, _colour(rng, 150))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(4, 12))):
        x0, x1 = sorted(rng.uniform(-0.1, 1.1, 2) * width)
        y0, y1 = sorted(rng.uniform(-0.1, 1.1, 2) * height)
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
        elif shape == 1:
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
        else:
            points = [(float(rng.uniform(0, width)), float(rng.uniform(0, height))) for _ in "abc"]
            draw.polygon(points, fill=_colour(rng))
    return canvas


def screenshot(rng: np.random.Generator, size: Size) -> Image.Image:
    """A window with a title bar, a sidebar and lines of rendered text."""
    width, height = size
    canvas = Image.new("RGB", size, _colour(rng, 235))
    draw = ImageDraw.Draw(canvas)
    bar = max(16, height // 16)
    draw.rectangle((0, 0, width, bar), fill=_colour(rng, 40, 120))
    sidebar = int(width * rng.uniform(0.15, 0.3))
    draw.rectangle((0, bar, sidebar, height), fill=_colour(rng, 200, 240))
    font_size = int(max(10, min(size) // 28))
    font = ImageFont.load_default(size=font_size)
    words = ["label", "watermark", "content", "produce", "id", "2026", "report", "AIGC", "ok"]
    y = bar + font_size
    while y < height - font_size:
        line = " ".join(str(rng.choice(words)) for _ in range(int(rng.integers(2, 9))))
        draw.text((sidebar + 10, y), line, fill=_colour(rng, 0, 90), font=font)
        draw.text((6, y), str(rng.choice(words)), fill=(60, 60, 60), font=font)
        y += int(font_size * rng.uniform(1.3, 2.2))
    button = (width - 120, height - 50, width - 20, height - 20)
    draw.rounded_rectangle(button, radius=6, fill=_colour(rng, 0, 200))
    return canvas


def face(rng: np.random.Generator, size: Size) -> Image.Image:
    """A portrait-like render: shaded skin ellipse, hair texture, eyes, mouth, background."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.45, 0.55)
    rx, ry = min(size) * rng.uniform(0.22, 0.3), min(size) * rng.uniform(0.3, 0.38)
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    background = np.asarray(_colour(rng), dtype=np.float64) * (0.6 + 0.4 * yy[..., None] / height)
    skin = np.asarray([rng.uniform(150, 240), rng.uniform(110, 190), rng.uniform(90, 160)])
    shade = np.clip(1.15 - 0.35 * d - 0.15 * (xx - cx) / rx, 0.5, 1.2)[..., None]
    hair_texture = _fractal_noise(rng, size, 1.0)[..., None]
    hair = np.asarray(_colour(rng, 10, 90), dtype=np.float64) * (0.6 + 0.8 * hair_texture)
    hair_mask = ((d < 1.35) & (yy < cy - 0.35 * ry))[..., None]
    image = np.where(d[..., None] < 1.0, skin * shade, background)
    image = np.where(hair_mask & (d[..., None] >= 0.75), hair, image)
    canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    eye_w, eye_h = rx * 0.22, ry * 0.08
    for side in (-1, 1):
        ex, ey = cx + side * rx * 0.4, cy - ry * 0.12
        draw.ellipse((ex - eye_w, ey - eye_h, ex + eye_w, ey + eye_h), fill=(245, 245, 240))
        draw.ellipse((ex - eye_h, ey - eye_h, ex + eye_h, ey + eye_h), fill=_colour(rng, 20, 110))
    draw.arc((cx - rx * 0.35, cy + ry * 0.2, cx + rx * 0.35, cy + ry * 0.55), 20, 160,
             fill=(150, 60, 60), width=max(2, width // 150))
    return canvas.filter(ImageFilter.GaussianBlur(0.8))


MAKERS: dict[str, Callable[[np.random.Generator, Size], Image.Image]] = {
    "photo": photo,
    "graphic": graphic,
    "screenshot": screenshot,
    "face": face,
}


def make(kind: str, seed: int, size: Size) -> Image.Image:
    return MAKERS[kind](np.random.default_rng([seed, KINDS.index(kind)]), size)


def corpus(n: int, sizes: tuple[Size, ...], seed: int = 0) -> Iterator[tuple[str, Image.Image]]:
    """`n` images cycling through the kinds and sizes; names say kind, seed and size."""
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        size = sizes[(i // len(KINDS)) % len(sizes)]
        yield f"{kind}-{seed + i}-{size[0]}x{size[1]}", make(kind, seed + i, size)
