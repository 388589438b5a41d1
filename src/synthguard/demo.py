"""`synthguard demo` (the first half of `make demo`): label sample files and show what a
platform sees: the label sites, the robust watermark and the signed label (with a demo
watermark key and SM2 key made for this run), and what the checks catch."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo
from rich.console import Console
from rich.table import Table

from synthguard.errors import SynthGuardError
from synthguard.labels import Protection, Report, inspect, label, provider_code, write_label
from synthguard.labels.xmp import set_aigc

# A syntactically valid unified social credit code for the demo organisation
# (check character computed per GB 32100-2015); not a real company.
DEMO_USCC = "91110108MA01A0A003"


def _sample(size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(0, w, max(1, w // 8)):
        draw.ellipse((i, h // 4, i + w // 6, h // 4 + h // 3), outline=(255, 120, 0), width=3)
    return img


def make_samples(folder: Path) -> list[Path]:
    """One generated image per image format the library labels."""
    folder.mkdir(parents=True, exist_ok=True)
    img = _sample((640, 400))
    files: dict[str, Callable[[Path], None]] = {
        "photo.jpg": lambda p: img.save(p, quality=90, progressive=True),
        "graphic.png": lambda p: img.convert("RGBA").save(p),
        "sticker.webp": lambda p: img.save(p, lossless=True),
        "scan.tiff": lambda p: img.save(p, compression="tiff_lzw"),
        "loop.gif": lambda p: img.convert("P").save(
            p, save_all=True, append_images=[img.rotate(10).convert("P")], loop=0, duration=200),
    }
    paths = []
    for name, save in files.items():
        path = folder / name
        save(path)
        paths.append(path)
    return paths


def _demo_protection() -> Protection:
    from synthguard.labels.security import SigningKey
    from synthguard.watermark import KeyRing, WatermarkKey

    return Protection(watermark_keys=KeyRing([WatermarkKey(1, secrets.token_bytes(32))]),
                      signing_key=SigningKey.generate())


def _inspect(path: Path, protection: Protection) -> Report:
    return inspect(path, watermark_keys=protection.watermark_keys,
                   trusted_keys=protection.pinned)


def run_demo(workdir: Path) -> None:
    console = Console()
    shutil.rmtree(workdir, ignore_errors=True)
    originals = make_samples(workdir / "generated")
    labeled = workdir / "labeled"
    labeled.mkdir(parents=True)
    producer = provider_code(DEMO_USCC, service="1", model_code="0001")
    console.print(f"[bold]SynthGuard demo[/]: provider code {producer} "
                  f"(from USCC {DEMO_USCC}, generation service, model 0001)\n")

    protection = _demo_protection()
    table = Table("file", "format", "site", "verdict", "ProduceID", "watermark", "signature")
    for i, src in enumerate(originals, start=1):
        dst = labeled / src.name
        label(src, dst, producer=producer, produce_id=f"demo-{i:04d}", protection=protection)
        report = _inspect(dst, protection)
        site = report.sites[0]
        mark = report.watermark
        table.add_row(dst.name, report.format or "?", site.carrier, report.verdict,
                      (site.fields or {}).get("ProduceID", ""),
                      f"key {mark.key_id}, {mark.content_id:014x}"
                      if mark is not None and mark.present and mark.content_id is not None
                      else "—", report.signature.status if report.signature else "—")
    console.print(table)
    console.print(f"Labeled files are in [cyan]{labeled}[/]; originals in {workdir / 'generated'}."
                  " The watermark carries the ProduceID's content id (a GIF takes none); the "
                  "label is signed with a demo SM2 key, bound to the pixels and the watermark.")

    console.print("\n[bold]What the checks catch[/]")
    try:
        label(originals[0], workdir / "bad.jpg", producer="某某科技有限公司", produce_id="x")
    except SynthGuardError as exc:
        console.print(f"  refused before writing: {exc}")
    unlabeled = inspect(originals[0])
    console.print(f"  {originals[0].name} before labeling: {unlabeled.verdict}")
    # A file carrying two labels that disagree, as careless pipelines produce.
    twice = workdir / "twice.png"
    xmp = set_aigc(None, '{"Label":"1","ContentProducer":"A","ProduceID":"1"}')
    pnginfo = PngInfo()
    pnginfo.add_text("AIGC", '{"AIGC":{"Label":"2","ContentProducer":"B","ProduceID":"9"}}')
    pnginfo.add_itxt("XML:com.adobe.xmp", xmp.decode())
    _sample((64, 64)).save(twice, pnginfo=pnginfo)
    report = inspect(twice)
    console.print(f"  {twice.name}: {report.verdict}: "
                  + "; ".join(f.message for f in report.findings))
    # An edit after signing: the signed label put back on the retouched picture.
    signed = _inspect(labeled / "graphic.png", protection).label
    if signed is not None:
        retouched = Image.open(labeled / "graphic.png")
        ImageDraw.Draw(retouched).rectangle((20, 20, 120, 80), fill=(255, 255, 255))
        edited, forged = workdir / "edited.png", workdir / "forged.png"
        retouched.save(edited)
        write_label(edited, forged, signed)
        report = _inspect(forged, protection)
        console.print(f"  {forged.name} (graphic.png retouched, its signed label kept): "
                      f"{report.verdict}, but " + "; ".join(report.problems()))
    console.print("\nTry: [cyan].venv/bin/synthguard inspect " + str(labeled) + "[/]")
