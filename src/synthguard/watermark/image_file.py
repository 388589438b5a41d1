"""Watermarking image files: decode, embed, re-encode in the same format, verify, rename.

This is the step the labeling pipeline runs *before* it writes the metadata label (the
label carriers copy pixels byte for byte; the watermark has to re-encode them). The
mark is laid on the picture as it is shown: an EXIF orientation is applied to the
pixels and reset to 1, so a screenshot of the displayed picture carries an upright mark.
Everything else a viewer or the label reader cares about is kept: EXIF, ICC profile,
XMP, PNG text chunks, resolution. JPEG is written at quality 95 with the source's chroma
subsampling, PNG/TIFF/BMP losslessly, WebP lossless when the source was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin

from synthguard._atomic import atomic_output, commit
from synthguard.errors import MalformedFile, UnsupportedFormat, VerificationFailed
from synthguard.watermark.image import Detection, detect_image, embed_image
from synthguard.watermark.keys import KeyRing, WatermarkKey
from synthguard.watermark.payload import Payload

JPEG_QUALITY = 95
FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "BMP")
_MODES = ("RGB", "RGBA", "L", "LA")
_ORIENTATION = 0x0112


def _open(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MalformedFile(f"{path}: cannot decode the image ({error})") from None
    return img


def _webp_is_lossless(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    lossless, lossy = head.find(b"VP8L"), head.find(b"VP8 ")
    return lossless >= 0 and (lossy < 0 or lossless < lossy)


def _save_options(img: Image.Image, path: Path, fmt: str) -> dict[str, Any]:
    info = img.info
    options: dict[str, Any] = {}
    exif = img.getexif()
    if exif:
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1  # the pixels are written upright
        options["exif"] = exif
    for name in ("icc_profile", "dpi"):
        if info.get(name):
            options[name] = info[name]
    if fmt == "JPEG":
        sampling = JpegImagePlugin.get_sampling(img)
        options.update(quality=JPEG_QUALITY, optimize=True)
        if sampling >= 0:
            options["subsampling"] = sampling
        for name in ("xmp", "comment", "progressive"):
            if info.get(name):
                options[name] = info[name]
    elif fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        for key, value in getattr(img, "text", {}).items():
            text.add_itxt(key, str(value))
        options["pnginfo"] = text
    elif fmt == "WEBP":
        options.update(lossless=_webp_is_lossless(path), quality=JPEG_QUALITY)
        if info.get("xmp"):
            options["xmp"] = info["xmp"]
    elif fmt == "TIFF" and info.get("compression"):
        options["compression"] = info["compression"]
    return options


def watermark_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    content_id: int,
    key: WatermarkKey,
    *,
    strength: float = 1.0,
    verify: bool = True,
) -> Detection:
    """Write `src` to `dst` (same format) with `content_id` watermarked under `key`.

    Returns the detection run on the written file. With `verify`, a file whose mark does
    not read back with the right payload raises VerificationFailed and `dst` is untouched.
    """
    src_path, dst_path = Path(src), Path(dst)
    img = _open(src_path)
    fmt = img.format or ""
    if fmt not in FORMATS:
        what = f"{fmt} images" if fmt else "this file"
        raise UnsupportedFormat(f"{src_path}: {what} unsupported for watermarking")
    if getattr(img, "n_frames", 1) > 1:
        raise UnsupportedFormat(
            f"{src_path}: unsupported for watermarking: animated or multi-page image"
        )
    picture = ImageOps.exif_transpose(img)  # before _save_options resets the orientation
    options = _save_options(img, src_path, fmt)
    if picture.mode == "P":
        picture = picture.convert("RGBA" if "transparency" in img.info else "RGB")
    if picture.mode not in _MODES:
        raise UnsupportedFormat(
            f"{src_path}: unsupported for watermarking: {picture.mode} pixels"
        )
    try:
        marked = embed_image(picture, Payload(key.key_id, content_id), key, strength=strength)
    except ValueError as error:
        raise UnsupportedFormat(f"{src_path}: {error}") from None
    if fmt == "JPEG" and marked.mode != "RGB" and marked.mode != "L":
        marked = marked.convert("RGB")
    with atomic_output(dst_path) as (out, tmp):
        marked.save(out, format=fmt, **options)
    try:
        detection = detect_file(tmp, KeyRing([key]))
        if verify and detection.content_id != content_id:
            raise VerificationFailed(
                f"{dst_path}: the watermark did not read back from the written file "
                f"(z={detection.z_score:.1f}); the picture may be too small or too flat"
            )
        commit(tmp, dst_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return detection


def detect_file(path: str | os.PathLike[str], keyring: KeyRing) -> Detection:
    """Detect a watermark in an image file, as the picture is shown (EXIF orientation)."""
    img = _open(Path(path))
    return detect_image(ImageOps.exif_transpose(img), keyring)
