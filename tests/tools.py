"""Independent oracles (exiftool, ffprobe ...) for interop tests.

A missing tool skips the test locally with a clear reason; under CI (CI=true) it fails,
because an interop test that did not run proves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package needed; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def exiftool_json(path: Path, *tags: str) -> dict[str, Any]:
    """exiftool's view of a file: `-j -G1 -struct` output for the given tags (all if none)."""
    exe = require_tool("exiftool")
    args = [exe, "-j", "-G1", "-a", "-u", "-n", *[f"-{t}" for t in tags], str(path)]
    out = subprocess.run(args, capture_output=True, check=True, timeout=60)
    data: list[dict[str, Any]] = json.loads(out.stdout)
    return data[0]


def exiftool_xmp_aigc(path: Path) -> str | None:
    """The value exiftool reads for XMP TC260:AIGC (it knows no TC260 table, so it
    reports the property under the namespace's prefix as an unknown tag)."""
    info = exiftool_json(path, "XMP:all")
    for key, value in info.items():
        if key.lower() == "xmp-tc260:aigc":
            return value if isinstance(value, str) else json.dumps(value)
    return None
