"""The image attacks of issue 9 and the watermark reference (§3, §6), as Pillow operations.

Shared by the watermark tests and `bench/watermark_image.py`. Crops keep the stated
share of the *area* (10 % crop = 90 % of the area kept, both sides × 0.949); rotations
keep the canvas size and fill the corners black, as a phone editor does.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

Attack = Callable[[Image.Image], Image.Image]


def jpeg(quality: int) -> Attack:
    def attack(img: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        img.convert("RGB").save(buffer, "JPEG", quality=quality)  # Pillow default 4:2:0
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return attack


def resize(factor: float) -> Attack:
    def attack(img: Image.Image) -> Image.Image:
        size = (round(img.width * factor), round(img.height * factor))
        return img.resize(size, Image.Resampling.BICUBIC)

    return attack


def crop(removed_area: float, where: str) -> Attack:
    def attack(img: Image.Image) -> Image.Image:
        side = (1 - removed_area) ** 0.5
        w, h = round(img.width * side), round(img.height * side)
        x, y = (0, 0) if where == "corner" else ((img.width - w) // 2, (img.height - h) // 2)
        return img.crop((x, y, x + w, y + h))

    return attack


def rotate(degrees: float) -> Attack:
    return lambda img: img.convert("RGB").rotate(degrees, resample=Image.Resampling.BICUBIC)


def brightness(factor: float) -> Attack:
    return lambda img: ImageEnhance.Brightness(img.convert("RGB")).enhance(factor)


def contrast(factor: float) -> Attack:
    return lambda img: ImageEnhance.Contrast(img.convert("RGB")).enhance(factor)


def noise(sigma: float, seed: int = 0) -> Attack:
    def attack(img: Image.Image) -> Image.Image:
        pixels = np.asarray(img.convert("RGB"), dtype=np.float64)
        noisy = pixels + np.random.default_rng(seed).normal(0, sigma, pixels.shape)
        return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")

    return attack


def blur(sigma: float) -> Attack:
    return lambda img: img.convert("RGB").filter(ImageFilter.GaussianBlur(sigma))


def screenshot(img: Image.Image) -> Image.Image:
    """The reference's screenshot chain: 0.8× resize, then JPEG 85."""
    return jpeg(85)(resize(0.8)(img))


ATTACKS: dict[str, Attack] = {
    "none": lambda img: img,
    "JPEG 90": jpeg(90),
    "JPEG 75": jpeg(75),
    "JPEG 50": jpeg(50),
    "resize 0.5": resize(0.5),
    "resize 0.75": resize(0.75),
    "crop 10% corner": crop(0.1, "corner"),
    "crop 10% centre": crop(0.1, "centre"),
    "crop 20% corner": crop(0.2, "corner"),
    "crop 20% centre": crop(0.2, "centre"),
    "rotate +2°": rotate(2),
    "rotate -2°": rotate(-2),
    "rotate +5°": rotate(5),
    "rotate -5°": rotate(-5),
    "brightness ×1.3": brightness(1.3),
    "contrast ×1.3": contrast(1.3),
    "noise σ=5": noise(5),
    "blur σ=1": blur(1),
    "screenshot (0.8× + JPEG 85)": screenshot,
}


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR in dB over R, G and B (both images as 8-bit RGB)."""
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))
