""""Check a file": what the public page tells about an uploaded file — the label sites
and verdict of the label inspector and, when the operator configured watermark keys,
whether the picture carries our invisible watermark.

The upload is written to a private temporary folder under its cleaned name (the
inspector tells text formats apart by extension), inspected, and removed; nothing is
kept. The inspector never raises for a bad file (its verdict says "inconclusive"); the
watermark detector may, on pictures Pillow cannot decode, and then the answer says the
watermark could not be checked.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthguard.governance.evidence import clean_filename
from synthguard.labels.api import inspect

if TYPE_CHECKING:
    from synthguard.watermark import KeyRing

# Formats the image watermark is embedded in (watermark.image_file.FORMATS, by carrier name).
WATERMARKED_FORMATS = frozenset({"jpeg", "png", "webp", "tiff"})


@dataclass(frozen=True)
class WatermarkResult:
    checked: bool
    present: bool = False
    key_id: int | None = None
    content_id: int | None = None
    false_positive_probability: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class FileCheck:
    filename: str
    size: int
    report: dict[str, Any]  # the inspector's report, without the temporary path
    watermark: WatermarkResult | None  # None: no keys configured, or not a picture


def check_file(data: bytes, filename: str, keys: KeyRing | None) -> FileCheck:
    name = clean_filename(filename or "upload")
    with tempfile.TemporaryDirectory(prefix="synthguard-check-") as work:
        path = Path(work) / name
        path.write_bytes(data)
        report = inspect(path).to_dict()
        report.pop("path", None)
        watermark = None
        if keys is not None and report.get("format") in WATERMARKED_FORMATS:
            watermark = _watermark(path, keys)
    return FileCheck(name, len(data), report, watermark)


def _watermark(path: Path, keys: KeyRing) -> WatermarkResult:
    from synthguard.watermark import detect_file  # NumPy and SciPy only when needed

    try:
        found = detect_file(path, keys)
    except Exception as exc:  # Pillow's decoders raise many kinds; the page says so
        return WatermarkResult(False, problem=f"the picture could not be decoded "
                                              f"({type(exc).__name__})")
    return WatermarkResult(True, found.present, found.key_id, found.content_id,
                           found.false_positive_probability)
