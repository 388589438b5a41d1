"""What `inspect` reports beside the metadata label sites: the robust watermark in the
content, the state of the signed label (TC260-PG-202511A SecurityData) and the C2PA
manifest.

The three answer different questions. The watermark says which ProduceID the content
was generated under, even after the metadata is gone (it needs the operator's watermark
keys). The signature says whether the label fields are the ones the producer signed, for
this very content (the record binds a hash of the media data and the watermark payload),
and whether the signer's key is one the reader pins. The C2PA manifest is the
international provenance record, validated offline against the trust anchors given.

None of these checks raises for a bad file: each says "not checked" and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from synthguard.errors import SynthGuardError
from synthguard.labels.aigc import AIGCLabel

if TYPE_CHECKING:
    from synthguard.labels.c2pa import C2paReport
    from synthguard.labels.security import SignatureResult
    from synthguard.watermark.keys import KeyRing

StrPath = str | os.PathLike[str]
MediaKind = Literal["image", "audio"]
WatermarkStatus = Literal["present", "absent", "not_checked"]
SignatureStatus = Literal["valid", "invalid", "unsigned", "untrusted"]
C2paStatus = Literal["absent", "valid", "trusted", "invalid", "not_checked"]

# Label carriers whose files the image / audio watermark is embedded in (the image mark
# re-encodes with Pillow, the audio mark with explicit.audio_io).
WATERMARK_IMAGES = frozenset({"jpeg", "png", "webp", "tiff"})
WATERMARK_AUDIO = frozenset({"wav", "flac", "mp3", "ogg", "mp4"})
NO_KEYS = "no watermark keys configured"


def payload_bytes(key_id: int, content_id: int) -> bytes:
    """The watermark payload as the signed label binds it: key id, then the 56-bit
    content id, big-endian (8 bytes)."""
    return bytes([key_id]) + content_id.to_bytes(7, "big")


def watermark_kind(path: Path, carrier: str | None) -> tuple[MediaKind | None, str]:
    """Whether the watermark applies to this file: ('image' | 'audio', '') or (None, why).
    MP4 takes the audio mark only when it holds no video (an M4A)."""
    if carrier in WATERMARK_IMAGES:
        return "image", ""
    if carrier in WATERMARK_AUDIO:
        if carrier == "mp4" and _has_video(path):
            return None, "video is not watermarked (only images and audio are)"
        return "audio", ""
    if carrier in ("gif", "heif"):
        return None, f"{carrier.upper()} images are not watermarked (JPEG, PNG, WebP and " \
                     "TIFF are)"
    return None, "only images and audio are watermarked"


def _has_video(path: Path) -> bool:
    import av
    from av.stream import Disposition

    try:
        with av.open(str(path)) as container:
            return any(s.type == "video" and not s.disposition & Disposition.attached_pic
                       for s in container.streams)
    except av.FFmpegError:
        return False  # the audio reader reports the broken file with its own message


# --- the watermark ----------------------------------------------------------------------


@dataclass
class WatermarkReport:
    """What the watermark detector found. `content_id` is the 56-bit id the mark carries
    (`watermark.content_id_from(ProduceID)`); `matches_label` compares it with the
    label's ProduceID (None when either is missing)."""

    status: WatermarkStatus
    reason: str = ""
    key_id: int | None = None
    content_id: int | None = None
    false_positive_probability: float | None = None
    matches_label: bool | None = None

    @property
    def present(self) -> bool:
        return self.status == "present"

    @property
    def payload(self) -> bytes | None:
        """The payload bytes a signed label binds, when the mark decoded."""
        if self.key_id is None or self.content_id is None:
            return None
        return payload_bytes(self.key_id, self.content_id)

    def to_dict(self) -> dict[str, Any]:
        # The content id as 14 hex digits: 56 bits do not fit a JavaScript number.
        return {"status": self.status, "present": self.present, "key_id": self.key_id,
                "content_id": None if self.content_id is None else f"{self.content_id:014x}",
                "false_positive_probability": self.false_positive_probability,
                "matches_label": self.matches_label, "reason": self.reason}


def check_watermark(path: Path, carrier: str | None, keys: KeyRing | None,
                    label: AIGCLabel | None) -> WatermarkReport:
    kind, why = watermark_kind(path, carrier)
    if kind is None:
        return WatermarkReport("not_checked", why)
    if keys is None:
        return WatermarkReport("not_checked", NO_KEYS)
    try:
        if kind == "image":
            from synthguard.watermark.image_file import detect_file

            found = detect_file(path, keys)
        else:
            from synthguard.watermark.audio_file import detect_audio_file

            found = detect_audio_file(path, keys)
    except (SynthGuardError, ValueError, OSError) as exc:
        return WatermarkReport("not_checked", f"cannot decode the {kind}: {_short(exc, path)}")
    if not found.present:
        return WatermarkReport("absent", f"no mark of the configured keys "
                               f"(false-positive bound {found.false_positive_probability:.2g})",
                               false_positive_probability=found.false_positive_probability)
    matches = None
    if found.content_id is not None and label is not None:
        from synthguard.watermark.payload import content_id_from

        matches = found.content_id == content_id_from(label.produce_id)
    reason = ("the mark is present but its payload did not decode"
              if found.content_id is None else
              "the mark carries another ProduceID than the label" if matches is False else "")
    return WatermarkReport("present", reason, found.key_id, found.content_id,
                           found.false_positive_probability, matches)


# --- the signed label -------------------------------------------------------------------


@dataclass
class SignatureReport:
    """The signed label's state, worst record first: `invalid` if any record fails,
    else `untrusted` if a signer's key is not pinned, else `valid` if a record verifies,
    else `unsigned`. `records` holds each role's result (producer, propagator)."""

    status: SignatureStatus
    reason: str
    records: dict[str, SignatureResult] = field(default_factory=dict)
    watermark_checked: bool = False  # a signed watermark binding was compared

    @property
    def key_id(self) -> str | None:
        return next((r.key_id for r in self.records.values() if r.key_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "key_id": self.key_id,
                "watermark_checked": self.watermark_checked,
                "records": {role: r.to_dict() for role, r in self.records.items()}}


_RANK: dict[str, int] = {"invalid": 3, "untrusted": 2, "valid": 1, "unsigned": 0}


def check_signature(path: Path, label: AIGCLabel | None, trusted_keys: Iterable[str | bytes],
                    watermark: WatermarkReport | None) -> SignatureReport:
    if label is None:
        return SignatureReport("unsigned", "no single compliant label to check")
    from synthguard.labels.security import verify_file

    payload = watermark.payload if watermark is not None else None
    results = verify_file(path, label, list(trusted_keys), watermark=payload)
    role, worst = max(results.items(), key=lambda item: _RANK[item[1].status])
    reason = worst.reason if role == "producer" else f"{role}: {worst.reason}"
    checked = payload is not None and any(
        _binds_watermark(label, r) for r, result in results.items() if result.status != "unsigned")
    if worst.status in ("valid", "untrusted") and not checked and any(
            _binds_watermark(label, r) for r in results):
        reason += ("; the signed watermark binding was not compared: "
                   + (watermark.reason if watermark is not None and watermark.reason else NO_KEYS))
    return SignatureReport(worst.status, reason, {str(r): v for r, v in results.items()},
                           checked)


def _binds_watermark(label: AIGCLabel, role: str) -> bool:
    field_name = "ReservedCode1" if role == "producer" else "ReservedCode2"
    try:
        bindings = json.loads(label.fields()[field_name])["SecurityData"]["Bindings"]
    except (ValueError, RecursionError, KeyError, TypeError):
        return False
    return isinstance(bindings, list) and any(
        isinstance(b, dict) and b.get("Type") == "Watermark" for b in bindings)


# --- C2PA -------------------------------------------------------------------------------


@dataclass
class C2paCheck:
    """The C2PA manifest's state: absent, valid (sound, signer not among the trust
    anchors given), trusted (chain ends in a trust anchor), invalid (with the reason),
    or not_checked (a format the C2PA reader is not asked about)."""

    status: C2paStatus
    reason: str = ""
    manifest: C2paReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason,
                "manifest": None if self.manifest is None else self.manifest.to_dict()}


def check_c2pa(path: Path, carrier: str | None, trust_anchors: bytes | str | None,
               label: AIGCLabel | None) -> C2paCheck:
    from synthguard.labels.c2pa import MIME_TYPES, read_c2pa

    if carrier not in MIME_TYPES:
        return C2paCheck("not_checked", f"C2PA manifests are not read in "
                                        f"{carrier or 'unrecognised'} files")
    try:
        found = read_c2pa(path, trust_anchors=trust_anchors)
    except Exception as exc:  # the native reader: whatever it raises, the file is suspect
        return C2paCheck("invalid", f"the C2PA reader failed: {_short(exc, path)}")
    if not found.present:
        return C2paCheck("absent", "no C2PA manifest", found)
    if found.state == "Invalid":
        why = found.error or ", ".join(found.failures) or "the manifest does not validate"
        return C2paCheck("invalid", why, found)
    if found.aigc_label is not None and label is not None and found.aigc_label != label:
        return C2paCheck("invalid", "the manifest's cn.tc260.aigc assertion differs from the "
                                    "metadata label", found)
    notes = []
    if found.aigc_label is None:
        notes.append("the manifest carries no cn.tc260.aigc label assertion")
    if found.state == "Trusted":
        return C2paCheck("trusted", "; ".join(["signer chain ends in a trust anchor", *notes]),
                         found)
    notes.insert(0, "the manifest validates; its signer is not in the trust anchors given"
                 if trust_anchors else "the manifest validates; no trust anchors were given")
    return C2paCheck("valid", "; ".join(notes), found)


def _short(exc: BaseException, path: Path) -> str:
    text = str(exc).split("\n")[0][:200]
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


__all__ = ["C2paCheck", "SignatureReport", "WatermarkReport", "check_c2pa", "check_signature",
           "check_watermark", "payload_bytes", "watermark_kind"]
