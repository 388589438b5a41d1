"""Images the moderation tests draw themselves (no committed binaries)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def poster(seed: int = 2024, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic picture of coloured shapes. Seed 2024 is the stand-in for a known
    copyrighted poster in the starter library (entry starter-img-001)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(14):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        dx, dy = int(rng.integers(w // 16, w // 3)), int(rng.integers(h // 16, h // 3))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse([x, y, x + dx, y + dy], fill=colour)
        else:
            draw.rectangle([x, y, x + dx, y + dy], fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()
