"""Fuzz targets, one per container parser (`fuzz_<carrier>.py`), run by `make fuzz`.

Each target module defines `target(data: bytes) -> None`, which may raise only
`SynthGuardError`, and `seeds() -> list[bytes]`, small valid files to start from.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent


def target_names() -> list[str]:
    return sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))


def load(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz.fuzz_{name}")
