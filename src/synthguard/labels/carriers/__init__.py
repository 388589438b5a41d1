"""The carrier registry: one module per container family, all behind `base.Carrier`.

Adding a format means writing one module and adding its name here. Order matters only
when two sniffers could both claim a file: the more specific one comes first.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import cast

from synthguard.labels.carriers.base import SNIFF_BYTES, Carrier, Site

__all__ = ["CARRIERS", "SNIFF_BYTES", "Carrier", "Site", "all_carriers", "by_name", "detect"]

CARRIERS = (
    # images
    "jpeg",
    "png",
    "webp",
    "gif",
    "tiff",
    "heif",
    # audio and video
    "mp4",
    "matroska",
    "wav",
    "avi",
    "flv",
    "flac",
    "ogg",
    "mp3",  # late: its sniffer accepts a bare MPEG frame sync
    # documents
    "pdf",
    "ooxml",
    "markdown",
    "text",  # last: any UTF-8 text; it only reports that no metadata carrier exists
)


@cache
def all_carriers() -> tuple[Carrier, ...]:
    return tuple(
        cast(Carrier, importlib.import_module(f"{__name__}.{name}")) for name in CARRIERS
    )


def by_name(name: str) -> Carrier | None:
    return next((c for c in all_carriers() if name == c.NAME), None)


def detect(head: bytes, path: Path | None = None) -> Carrier | None:
    """The carrier whose sniffer accepts these leading bytes; the file name's extension
    only breaks ties for formats without a signature (text)."""
    ext = path.suffix.lower() if path is not None else None
    # Text formats have no signature: a carrier that says EXTENSION_REQUIRED claims a
    # file only under its own extensions (front matter must not land in a .json file).
    matches = [c for c in all_carriers() if c.sniff(head[:SNIFF_BYTES])
               and (not getattr(c, "EXTENSION_REQUIRED", False) or ext in c.EXTENSIONS)]
    if len(matches) > 1 and ext is not None:
        preferred = [c for c in matches if ext in c.EXTENSIONS]
        if preferred:
            return preferred[0]
    return matches[0] if matches else None
