"""Shared by the governance tests: evidence pictures made with Pillow (labelled with the
library itself) and an archive copier that alters members on the way."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

import synthguard

PRODUCER = "001191110102MACQD9K64010000"


def png(tmp_path: Path, *, labelled: bool) -> bytes:
    src = tmp_path / "plain.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(src)
    if not labelled:
        return src.read_bytes()
    out = tmp_path / "labelled.png"
    synthguard.label(src, out, producer=PRODUCER, produce_id="img-1")
    return out.read_bytes()


def rewrite_archive(src: Path, dest: Path, change: Callable[[str, bytes], bytes | None],
                    extra: dict[str, bytes] | None = None, link: str | None = None) -> Path:
    """Copy the archive member by member, letting `change` alter or drop (None) each."""
    with tarfile.open(src, "r:gz") as old, tarfile.open(dest, "w:gz") as new:
        for info in old.getmembers():
            f = old.extractfile(info)
            assert f is not None
            data = change(info.name, f.read())
            if data is None:
                continue
            copy = tarfile.TarInfo(info.name)
            copy.size = len(data)
            new.addfile(copy, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            new.addfile(info)
    return dest
