"""Evidence attached to complaints: type- and size-limited, stored by content, and
scanned by the label inspector (`synthguard.inspect`), whose result is kept with it:
the label sites and verdict and, with the configured content protection, whether the
file carries our watermark (and so which ProduceID it was generated under), a signed
label and a C2PA manifest.

The type is what the file's own bytes say (the label carriers' sniffers), never the
name or the declared content type: a "missing AI label" report about a picture must
carry a picture the inspector can read. Files are stored once per SHA-256 under the
evidence folder, written to a temporary file and renamed, so a failed upload leaves
nothing behind.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthguard._atomic import atomic_output, commit
from synthguard.governance.errors import GovernanceError, invalid
from synthguard.labels.api import inspect
from synthguard.labels.carriers import SNIFF_BYTES, by_name, detect

if TYPE_CHECKING:
    from synthguard.labels.protect import Protection

MAX_FILENAME = 200


@dataclass(frozen=True)
class ScannedEvidence:
    filename: str
    format: str
    size: int
    sha256: str
    verdict: str  # compliant | noncompliant | not_found | inconclusive
    scan: dict[str, Any]  # the inspector's report, without the stored path


class EvidenceStore:
    """Evidence files in a folder, named by their SHA-256 and the extension of their
    format (`ab/abcdef....png`: the inspector tells text formats apart by extension)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, fmt: str) -> Path:
        carrier = by_name(fmt)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256) or carrier is None:
            raise invalid("not a SHA-256 digest and a known format", "invalid_digest")
        return self.root / sha256[:2] / (sha256 + carrier.EXTENSIONS[0])

    def put(self, data: bytes, fmt: str) -> tuple[str, Path]:
        digest = hashlib.sha256(data).hexdigest()
        dest = self.path(digest, fmt)
        if dest.exists() and dest.stat().st_size == len(data):
            return digest, dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest) as (out, tmp):
            out.write(data)
        commit(tmp, dest)
        return digest, dest


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 200 characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return (base or "evidence")[:MAX_FILENAME]


def sniff_format(data: bytes, filename: str, allowed: tuple[str, ...]) -> str:
    carrier = detect(data[:SNIFF_BYTES], Path(filename))
    if carrier is None:
        raise GovernanceError("the evidence is not a file type the label inspector reads",
                              "unsupported_media_type", 415)
    if carrier.NAME not in allowed:
        raise GovernanceError(f"{carrier.NAME} files are not accepted as evidence "
                              f"(accepted: {', '.join(allowed)})", "unsupported_media_type",
                              415)
    return carrier.NAME


def scan_evidence(store: EvidenceStore, filename: str, data: bytes, *, max_bytes: int,
                  allowed: tuple[str, ...], protection: Protection | None = None
                  ) -> ScannedEvidence:
    """Check, store and inspect one evidence file (with the keys of `protection`)."""
    if not data:
        raise invalid("the evidence file is empty", "empty_evidence")
    if len(data) > max_bytes:
        raise GovernanceError(f"the evidence file exceeds {max_bytes} bytes",
                              "evidence_too_large", 413)
    name = clean_filename(filename)
    fmt = sniff_format(data, name, allowed)
    digest, stored = store.put(data, fmt)
    report = inspect(stored, watermark_keys=protection.watermark_keys if protection else None,
                     trusted_keys=protection.pinned if protection else (),
                     c2pa_trust_anchors=protection.c2pa_trust_anchors if protection
                     else None).to_dict()
    report.pop("path", None)
    return ScannedEvidence(name, fmt, len(data), digest, str(report["verdict"]), report)
