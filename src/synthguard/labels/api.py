"""`label()` and `inspect()`: sniff the format, dispatch to its carrier, verify by read-back.

`inspect` also reports the watermark, the signed label's state and the C2PA manifest
(`labels.integrity`); `label` and `publish` hand the watermark, signing and C2PA steps
to `labels.protect` when a `Protection` asks for them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from synthguard._atomic import atomic_output, commit
from synthguard.errors import MalformedFile, UnsupportedFormat, VerificationFailed
from synthguard.labels.aigc import AIGCLabel, Finding, decode
from synthguard.labels.carriers import SNIFF_BYTES, Carrier, Site, detect
from synthguard.labels.integrity import (
    C2paCheck,
    SignatureReport,
    WatermarkReport,
    check_c2pa,
    check_signature,
    check_watermark,
)
from synthguard.labels.protect import Protection

if TYPE_CHECKING:
    from synthguard.watermark.keys import KeyRing

Verdict = Literal["compliant", "noncompliant", "not_found", "inconclusive"]
StrPath = str | os.PathLike[str]


@dataclass
class SiteReport:
    """A label site with what the decoder made of it."""

    carrier: str
    location: str
    raw: str
    form: str
    fields: dict[str, str] | None
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "location": self.location,
            "raw": self.raw,
            "form": self.form,
            "fields": self.fields,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass
class Report:
    """Everything `inspect` found in one file, and the verdict that follows from it."""

    path: str
    format: str | None
    verdict: Verdict
    sites: list[SiteReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # file-level
    # Beside the metadata (None when the file could not be read as a known format):
    watermark: WatermarkReport | None = None
    signature: SignatureReport | None = None
    c2pa: C2paCheck | None = None

    @property
    def label(self) -> AIGCLabel | None:
        """The file's label when the verdict is compliant."""
        if self.verdict != "compliant":
            return None
        fields = self.sites[0].fields
        return AIGCLabel.from_fields(fields) if fields is not None else None

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for s in self.sites for f in s.findings)]

    def problems(self) -> list[str]:
        """Why this file fails a check beside the verdict: an invalid signature or C2PA
        manifest, or a watermark carrying another ProduceID than the label. Unsigned,
        untrusted and absent are states, not problems."""
        found = []
        if self.signature is not None and self.signature.status == "invalid":
            found.append(f"signature invalid: {self.signature.reason}")
        if self.c2pa is not None and self.c2pa.status == "invalid":
            found.append(f"C2PA manifest invalid: {self.c2pa.reason}")
        if self.watermark is not None and self.watermark.matches_label is False:
            found.append("the watermark carries another ProduceID than the label")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "verdict": self.verdict,
            "sites": [s.to_dict() for s in self.sites],
            "findings": [f.as_dict() for f in self.findings],
            "watermark": None if self.watermark is None else self.watermark.to_dict(),
            "signature": None if self.signature is None else self.signature.to_dict(),
            "c2pa": None if self.c2pa is None else self.c2pa.to_dict(),
            "problems": self.problems(),
        }


def _sniff(f: BinaryIO, path: Path) -> Carrier | None:
    head = f.read(SNIFF_BYTES)
    f.seek(0)
    return detect(head, path)


def _site_report(site: Site) -> SiteReport:
    decoded = decode(site.raw)
    return SiteReport(site.carrier, site.location, site.raw, decoded.form, decoded.fields,
                      [*site.findings, *decoded.findings])


def judge(path: str, fmt: str, sites: list[Site]) -> Report:
    """Turn the sites a carrier found into a report with a verdict."""
    reports = [_site_report(s) for s in sites]
    findings: list[Finding] = []
    if len(reports) > 1:
        findings.append(Finding(
            "duplicate-label", "error",
            f"{len(reports)} label sites; GB 45438 §6.1 c) allows one metadata label per file"))
        distinct = {tuple(sorted((r.fields or {}).items())) for r in reports}
        if len(distinct) > 1:
            findings.append(Finding("disagreeing-sites", "error",
                                    "label sites carry different values"))
    if not reports:
        verdict: Verdict = "not_found"
    elif findings or any(f.severity == "error" for r in reports for f in r.findings):
        verdict = "noncompliant"
    else:
        verdict = "compliant"
    return Report(path, fmt, verdict, reports, findings)


def inspect(path: StrPath, *, watermark_keys: KeyRing | None = None,
            trusted_keys: Iterable[str | bytes] = (),
            c2pa_trust_anchors: bytes | str | None = None,
            integrity: bool = True) -> Report:
    """Read every label site in a file and judge it against GB 45438 Annex E; beside
    that (unless `integrity` is False) look for the watermark of `watermark_keys`,
    check the signed label against the pinned SM2 public keys `trusted_keys`, and
    validate a C2PA manifest offline against `c2pa_trust_anchors` (PEM).

    Never raises for a bad file: an unknown format or a malformed container gives an
    `inconclusive` report naming the problem. OSError (missing, unreadable) propagates,
    and so does an unusable trusted key (a configuration error).
    """
    p = Path(path)
    with p.open("rb") as f:
        carrier = _sniff(f, p)
        if carrier is None:
            what = "empty file" if p.stat().st_size == 0 else "unrecognised file format"
            return Report(str(p), None, "inconclusive",
                          findings=[Finding("unsupported-format", "error", what)])
        try:
            sites = carrier.read(f)
        except (MalformedFile, UnsupportedFormat) as exc:
            return Report(str(p), carrier.NAME, "inconclusive",
                          findings=[Finding(exc.code, "error", str(exc))])
    report = judge(str(p), carrier.NAME, sites)
    note = getattr(carrier, "NO_CARRIER", None)
    if note and not sites:
        report.findings.append(Finding("no-metadata-carrier", "info", note))
    if integrity:
        aigc = report.label
        report.watermark = check_watermark(p, carrier.NAME, watermark_keys, aigc)
        report.signature = check_signature(p, aigc, trusted_keys, report.watermark)
        report.c2pa = check_c2pa(p, carrier.NAME, c2pa_trust_anchors, aigc)
    return report


def label(
    src: StrPath,
    dst: StrPath | None = None,
    *,
    producer: str,
    produce_id: str,
    label: str = "1",
    propagator: str | None = None,
    propagate_id: str | None = None,
    reserved_code1: str = "",
    reserved_code2: str = "",
    protection: Protection | None = None,
) -> Report:
    """Write the GB 45438 implicit label into `src`, to `dst` (or in place if `dst` is None).

    `protection` says what goes with the label (`labels.protect`): the robust watermark
    for images and audio, an SM2-signed SecurityData record in ReservedCode1, a C2PA
    manifest. None means what the configuration sets (`Protection.configured()`:
    `$SYNTHGUARD_CONFIG` and `SYNTHGUARD_*` variables; with nothing configured, the label
    alone); `Protection()` means the label alone.

    The label is validated before any file is touched; the output is written to a
    temporary file beside `dst`, read back and checked to hold exactly this label (and
    the watermark, signature and manifest asked for), and only then renamed into place.
    On any error the original is untouched and no output is left behind. Returns the
    report of the written file.
    """
    aigc = AIGCLabel.create(producer=producer, produce_id=produce_id, label=label,
                            propagator=propagator, propagate_id=propagate_id,
                            reserved_code1=reserved_code1, reserved_code2=reserved_code2)
    chosen = Protection.configured() if protection is None else protection
    if chosen.active:
        from synthguard.labels.protect import seal

        s = Path(src)
        return seal(s, s if dst is None else Path(dst), aigc, chosen, owned=False)
    return write_label(src, dst, aigc)


def write_label(src: StrPath, dst: StrPath | None, aigc: AIGCLabel, *,
                durable: bool = True) -> Report:
    """`label()` for a ready-made `AIGCLabel`. `durable=False` skips the fsyncs (see
    `_atomic.commit`); the write is still atomic and verified."""
    s = Path(src)
    d = s if dst is None else Path(dst)
    if d.is_dir():
        raise UnsupportedFormat(f"{d}: output path is a directory")
    in_place = d.exists() and os.path.samefile(s, d)
    carrier = _writable_carrier(s)
    update = getattr(carrier, "update_in_place", None)
    if in_place and update is not None:
        # Carriers of large media (MP4 with moov at the end) can relabel without copying
        # the media data; they return False when this file's layout does not allow it.
        with s.open("r+b") as rw:
            done = bool(update(rw, aigc))
            if done:
                rw.flush()
                if durable:
                    os.fsync(rw.fileno())
        if done:
            return _verify(carrier, s, aigc)
    with s.open("rb") as f, atomic_output(d, mode_from=s, durable=durable) as (out, tmp):
        carrier.write(f, out, aigc)
    try:
        report = _verify(carrier, tmp, aigc)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, d, durable=durable)
    report.path = str(d)
    return report


def publish(tmp: Path, dst: Path, aigc: AIGCLabel | None,
            check: Callable[[], object] | None = None, *,
            protection: Protection | None = None, source: Path | None = None,
            premarked: bool = False, notes: list[Finding] | None = None,
            ) -> Report | None:
    """Move a freshly rendered temp file into place: run `check` on it, then either write
    the implicit label on the way (`write_label(tmp, dst)`; with an active `protection`,
    the watermark, signature and C2PA steps of `labels.protect.seal` around it) or
    rename it as it is. `source` is the input the temp file was rendered from (named in
    messages, and the file mode to keep); `premarked` and `notes` go to `seal` (the
    renderer embedded the watermark itself). On any error the temp file is removed and
    `dst` is untouched. Returns the written file's report when it was labeled."""
    try:
        if check is not None:
            check()
        if aigc is not None and protection is not None and protection.active:
            from synthguard.labels.protect import seal

            return seal(tmp, dst, aigc, protection, owned=True, source=source,
                        premarked=premarked, notes=notes)
        if aigc is not None:
            report = write_label(tmp, dst, aigc)
            tmp.unlink(missing_ok=True)
            return report
        commit(tmp, dst)
        return None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _writable_carrier(path: Path) -> Carrier:
    with path.open("rb") as f:
        carrier = _sniff(f, path)
    if carrier is None:
        raise UnsupportedFormat(f"{path}: unrecognised file format")
    if not carrier.WRITABLE:
        reason = getattr(carrier, "NO_CARRIER", "unsupported for writing")
        raise UnsupportedFormat(f"{path}: {carrier.NAME}: {reason}")
    return carrier


def _verify(carrier: Carrier, path: Path, aigc: AIGCLabel) -> Report:
    with path.open("rb") as f:
        try:
            sites = carrier.read(f)
        except MalformedFile as exc:
            raise VerificationFailed(f"{path}: written file does not parse: {exc}") from None
    report = judge(str(path), carrier.NAME, sites)
    if len(report.sites) != 1 or report.sites[0].fields != aigc.fields():
        raise VerificationFailed(
            f"{path}: read-back found {len(report.sites)} label site(s) instead of the one "
            "written")
    return report
