"""What goes with the metadata label: the robust watermark, the signed label and C2PA.

`seal` runs the steps in the one order that keeps each of them valid:

1. the explicit notice (the caller's, already in the file it hands over);
2. the robust watermark, images and audio only: it re-encodes the media, so it comes
   before anything that hashes or labels them; its payload is the key id and
   `content_id_from(ProduceID)`;
3. with a signing key, the content digest (media data without metadata) and the SM2
   SecurityData record in ReservedCode1, bound to that digest and the watermark payload;
4. the implicit label (metadata only: the media bytes stay as they are);
5. with C2PA credentials, the manifest: it hashes the file bytes around it, so it comes
   last, after the GB 45438 metadata;
6. one read-back of the final file (label, watermark payload, signature against the
   signing key, manifest), then the atomic rename onto the destination.

Each step writes a temporary file beside the destination; a failure removes them all and
leaves the destination (and the input) untouched.

A step that does not apply to a file is skipped with a note in the report's findings:
the watermark for video, text and documents, or in the default `auto` mode for a file
that cannot carry it (an image under 256 px on its short side, audio under a second,
an animated image); signing for formats without a content digest (text, documents);
C2PA for formats the C2PA library does not embed in. The metadata label is the legal
requirement and is written regardless; `watermark="require"` turns a file that cannot
be watermarked into an error instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from synthguard._atomic import TEMP_SUFFIX, commit
from synthguard.errors import SynthGuardError, UnsupportedFormat, VerificationFailed
from synthguard.labels.aigc import AIGCLabel, Finding

if TYPE_CHECKING:
    from synthguard.labels.api import Report
    from synthguard.labels.c2pa import C2paCredentials
    from synthguard.labels.security import SigningKey
    from synthguard.watermark.keys import KeyRing

WatermarkMode = Literal["auto", "require", "off"]
MAX_STRENGTH = 8.0
_RECORD_START = '{"SecurityData":'


@dataclass(frozen=True)
class Protection:
    """Keys and choices for the steps beside the metadata label.

    - `watermark_keys`: new content is marked with the ring's primary (first) key;
      inspection tries them all. None: no watermark.
    - `watermark`: `auto` marks images and audio when keys are configured and notes
      a file that cannot carry the mark; `require` makes that an error (and needs keys);
      `off` never marks.
    - `strength`: the watermark's strength (1.0 is the default PSNR / SNR target).
    - `signing_key`: SM2 key for the SecurityData record in ReservedCode1.
    - `c2pa`, `c2pa_trust_anchors`: C2PA signer and the anchors its chain must end in.
    - `trusted_keys`: SM2 public keys that inspection pins (the signing key's own
      public key is always pinned too).
    """

    watermark_keys: KeyRing | None = None
    watermark: WatermarkMode = "auto"
    strength: float = 1.0
    signing_key: SigningKey | None = None
    c2pa: C2paCredentials | None = None
    c2pa_trust_anchors: bytes | None = None
    trusted_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.watermark not in get_args(WatermarkMode):
            raise SynthGuardError(f"watermark mode {self.watermark!r} is not one of "
                                  f"{', '.join(get_args(WatermarkMode))}")
        if not 0 < self.strength <= MAX_STRENGTH:
            raise SynthGuardError(f"watermark strength must be in (0, {MAX_STRENGTH:g}]")
        if self.watermark == "require" and self.watermark_keys is None:
            raise SynthGuardError("the watermark is required but no watermark keys are "
                                  "configured (SYNTHGUARD_WATERMARK_KEYS or "
                                  "watermark_keys_file)")

    @classmethod
    def configured(cls) -> Protection:
        """What the configuration sets: `$SYNTHGUARD_CONFIG` and the `SYNTHGUARD_*`
        variables (see `synthguard.config.load_protection`)."""
        from synthguard.config import load_protection

        return load_protection()

    @property
    def marks(self) -> bool:
        return self.watermark != "off" and self.watermark_keys is not None

    @property
    def active(self) -> bool:
        """Whether there is anything to do beyond the plain label."""
        return self.marks or self.signing_key is not None or self.c2pa is not None

    @property
    def pinned(self) -> tuple[str, ...]:
        own = () if self.signing_key is None else (self.signing_key.public_key_hex,)
        return (*self.trusted_keys, *own)


def seal(src: Path, dst: Path, aigc: AIGCLabel, protection: Protection, *, owned: bool,
         source: Path | None = None, durable: bool = True, premarked: bool = False,
         notes: list[Finding] | None = None) -> Report:
    """Watermark, sign, label and C2PA-sign `src` into `dst` (see the module docstring).

    `owned`: `src` is the caller's temporary file, removed in every case. `source`: the
    user's input `src` was rendered from (named in messages; its file mode is kept).
    `premarked`: the caller embedded the watermark itself (before its own lossy encode,
    which a second encode would weaken), or noted in `notes` why it could not; it is
    looked for instead of embedded. `notes`: the caller's findings so far. Returns the
    read-back report of `dst`, with a finding for each step skipped."""
    from synthguard.labels.api import inspect, write_label

    if dst.is_dir():
        raise UnsupportedFormat(f"{dst}: output path is a directory")
    if (protection.signing_key is not None and aigc.reserved_code1
            and not aigc.reserved_code1.startswith(_RECORD_START)):
        # An earlier SecurityData record (a label carried over a re-encode) is replaced;
        # anything else in ReservedCode1 is the caller's and is not overwritten.
        raise SynthGuardError("ReservedCode1 is already set; the signed label writes its "
                              "SecurityData record there")
    shown = source if source is not None else src
    mode_from = source if source is not None and source.exists() else src
    notes = [] if notes is None else list(notes)
    staged: list[Path] = []
    try:
        current, payload = src, None
        if premarked:  # the renderer embedded the mark, or noted why it could not
            if protection.marks and not any(n.code == "watermark-skipped" for n in notes):
                payload = _find_mark(current, shown, aigc, protection, notes)
        elif protection.marks:
            marked = _watermark(current, dst, shown, aigc, protection, notes, staged)
            if marked is not None:
                current, payload = marked
        if protection.signing_key is not None:
            aigc = _sign(current, shown, aigc, protection.signing_key, payload, notes)
        labeled = _reserve(dst, staged)
        write_label(current, labeled, aigc, durable=False)
        current = labeled
        c2pa_signed = False
        if protection.c2pa is not None:
            signed = _c2pa(current, dst, shown, aigc, protection, notes, staged)
            if signed is not None:
                current, c2pa_signed = signed, True
        keys = protection.watermark_keys if protection.marks else None
        report = inspect(current, watermark_keys=keys, trusted_keys=protection.pinned,
                         c2pa_trust_anchors=protection.c2pa_trust_anchors)
        _confirm(report, shown, aigc, payload, protection, c2pa_signed)
        shutil.copymode(mode_from, current)
        if durable:
            _fsync(current)
        commit(current, dst, durable=durable)
    finally:
        for path in staged:
            path.unlink(missing_ok=True)
        if owned:
            src.unlink(missing_ok=True)
    report.path = str(dst)
    report.findings.extend(notes)
    return report


def _reserve(dst: Path, staged: list[Path]) -> Path:
    """A fresh temporary name beside `dst` (same extension: text formats go by it)."""
    fd, name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=TEMP_SUFFIX + dst.suffix,
                                dir=dst.parent)
    os.close(fd)
    path = Path(name)
    staged.append(path)
    return path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _message(exc: BaseException, *paths: Path) -> str:
    """The error's own words, without the temporary path it names."""
    text = str(exc)
    for path in paths:
        if text.startswith(f"{path}: "):
            return text[len(str(path)) + 2:]
    return text


def _watermark(src: Path, dst: Path, shown: Path, aigc: AIGCLabel, protection: Protection,
               notes: list[Finding], staged: list[Path]) -> tuple[Path, bytes] | None:
    from synthguard.labels.carriers import SNIFF_BYTES, detect
    from synthguard.labels.integrity import payload_bytes, watermark_kind

    with src.open("rb") as f:
        carrier = detect(f.read(SNIFF_BYTES), dst)
    kind, why = watermark_kind(src, carrier.NAME if carrier is not None else None)
    if kind is None:
        notes.append(Finding("watermark-not-applicable", "info", f"not watermarked: {why}"))
        return None
    keys = protection.watermark_keys
    assert keys is not None  # Protection refuses `require` without keys
    from synthguard.watermark.payload import content_id_from

    key, content_id = keys.primary, content_id_from(aigc.produce_id)
    out = _reserve(dst, staged)
    try:
        if kind == "image":
            from synthguard.watermark.image_file import watermark_file

            watermark_file(src, out, content_id, key, strength=protection.strength)
        else:
            from synthguard.watermark.audio_file import watermark_audio_file

            watermark_audio_file(src, out, content_id, key, strength=protection.strength)
    except (SynthGuardError, ValueError) as exc:
        reason = _message(exc, src, out)
        if protection.watermark == "require":
            cls = exc.__class__ if isinstance(exc, SynthGuardError) else UnsupportedFormat
            raise cls(f"{shown}: cannot be watermarked: {reason}") from None
        notes.append(Finding("watermark-skipped", "warning", f"not watermarked: {reason}"))
        return None
    return out, payload_bytes(key.key_id, content_id)


def _find_mark(src: Path, shown: Path, aigc: AIGCLabel, protection: Protection,
               notes: list[Finding]) -> bytes | None:
    """The payload of the mark the caller embedded, if it reads back from `src` as it
    will be published."""
    from synthguard.labels.carriers import SNIFF_BYTES, detect
    from synthguard.labels.integrity import check_watermark

    with src.open("rb") as f:
        carrier = detect(f.read(SNIFF_BYTES), src)
    found = check_watermark(src, carrier.NAME if carrier is not None else None,
                            protection.watermark_keys, aigc)
    if found.matches_label and found.payload is not None:
        return found.payload
    reason = f"the watermark did not survive encoding ({found.reason or found.status})"
    if protection.watermark == "require":
        raise VerificationFailed(f"{shown}: {reason}")
    notes.append(Finding("watermark-skipped", "warning", f"not watermarked: {reason}"))
    return None


def _sign(current: Path, shown: Path, aigc: AIGCLabel, key: SigningKey, payload: bytes | None,
          notes: list[Finding]) -> AIGCLabel:
    from synthguard.labels.security import content_digest, sign_label

    try:
        digest = content_digest(current)
    except UnsupportedFormat as exc:
        notes.append(Finding("signature-skipped", "warning",
                             f"not signed: no content digest for this format "
                             f"({_message(exc, current)})"))
        return aigc
    return sign_label(aigc, digest, key, watermark=payload)


def _c2pa(current: Path, dst: Path, shown: Path, aigc: AIGCLabel, protection: Protection,
          notes: list[Finding], staged: list[Path]) -> Path | None:
    from synthguard.labels.c2pa import sign_c2pa

    assert protection.c2pa is not None
    out = _reserve(dst, staged)
    try:
        sign_c2pa(current, out, aigc, protection.c2pa,
                  trust_anchors=protection.c2pa_trust_anchors)
    except UnsupportedFormat as exc:
        notes.append(Finding("c2pa-skipped", "warning",
                             f"no C2PA manifest: {_message(exc, current, out)}"))
        return None
    except SynthGuardError as exc:
        raise type(exc)(f"{shown}: {_message(exc, current, out)}") from None
    return out


def _confirm(report: Report, shown: Path, aigc: AIGCLabel, payload: bytes | None,
             protection: Protection, c2pa_signed: bool) -> None:
    """The final file, read back, holds everything that was written."""
    def fail(what: str) -> None:
        raise VerificationFailed(f"{shown}: read-back of the output failed: {what}")

    if report.verdict != "compliant" or report.label != aigc:
        fail(f"the label reads back {report.verdict}")
    if payload is not None and (report.watermark is None or report.watermark.payload != payload):
        fail("the watermark did not read back with its payload")
    signed = protection.signing_key is not None and bool(aigc.reserved_code1)
    if signed and (report.signature is None or report.signature.status != "valid"):
        fail(f"the signature is {report.signature.status if report.signature else 'missing'}"
             f": {report.signature.reason if report.signature else ''}")
    if c2pa_signed:
        wanted = ("trusted",) if protection.c2pa_trust_anchors else ("valid", "trusted")
        if report.c2pa is None or report.c2pa.status not in wanted:
            fail(f"the C2PA manifest is {report.c2pa.status if report.c2pa else 'missing'}")


__all__ = ["Protection", "WatermarkMode", "seal"]
