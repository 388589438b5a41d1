""""Check a file": what the public page tells about an uploaded file — everything the
label inspector (`synthguard.inspect`) reports: the metadata label sites and verdict,
and beside them our invisible watermark (images and audio, with the operator's
watermark keys), the state of a signed label (against the pinned SM2 keys) and a C2PA
manifest (validated offline against the configured trust anchors).

The upload is written to a private temporary folder under its cleaned name (the
inspector tells text formats apart by extension), inspected, and removed; nothing is
kept. The inspector never raises for a bad file: its verdict and each check say what
could not be read. The page renders the report's known parts and, generically, any
part it does not know yet, so what the inspector learns to report shows up here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthguard.governance.evidence import clean_filename
from synthguard.labels.api import inspect

if TYPE_CHECKING:
    from synthguard.labels.protect import Protection
    from synthguard.watermark import KeyRing

# The report's parts the page renders in sections of their own; any other part of
# `Report.to_dict()` is rendered generically.
KNOWN_PARTS = frozenset({"path", "format", "verdict", "sites", "findings", "watermark",
                         "signature", "c2pa", "problems"})


@dataclass(frozen=True)
class FileCheck:
    filename: str
    size: int
    report: dict[str, Any]  # Report.to_dict(), without the temporary path

    @property
    def other_parts(self) -> dict[str, Any]:
        return {k: v for k, v in self.report.items() if k not in KNOWN_PARTS}


def check_file(data: bytes, filename: str, keys: KeyRing | None,
               protection: Protection | None = None) -> FileCheck:
    name = clean_filename(filename or "upload")
    with tempfile.TemporaryDirectory(prefix="synthguard-check-") as work:
        path = Path(work) / name
        path.write_bytes(data)
        report = inspect(path, watermark_keys=keys,
                         trusted_keys=protection.pinned if protection else (),
                         c2pa_trust_anchors=protection.c2pa_trust_anchors if protection
                         else None).to_dict()
        report.pop("path", None)
    return FileCheck(name, len(data), report)
