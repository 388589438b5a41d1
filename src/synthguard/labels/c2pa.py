"""Optional C2PA manifests (c2pa-python) beside the GB 45438 implicit label.

A C2PA manifest does not satisfy GB 45438 (reference §6), so it is only ever added on
top of the label: `sign_c2pa` takes a file that already carries the label and embeds
a manifest with the `c2pa.created` action (digitalSourceType trainedAlgorithmicMedia)
and the label itself as the custom assertion `cn.tc260.aigc`, which makes the label
tamper-evident to any C2PA validator. The order matters: C2PA's hard binding hashes
the file bytes outside the manifest, so metadata written after signing breaks it,
while the label's carriers leave a manifest written after them intact.

Reading never fetches anything (no remote manifests, no OCSP): trust comes only from
the anchors the caller passes, e.g. the operator's private CA.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import c2pa  # type: ignore[import-untyped]

from synthguard._atomic import atomic_output, commit
from synthguard.errors import (
    LabelValueError,
    SynthGuardError,
    UnsupportedFormat,
    VerificationFailed,
)
from synthguard.labels.aigc import FIELDS, AIGCLabel
from synthguard.labels.carriers import SNIFF_BYTES, detect

AIGC_ASSERTION = "cn.tc260.aigc"
CREATED = "c2pa.created"
TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
# Formats whose manifest placement leaves our label where it was, checked on every
# signature by reading both back (the GB 45438 carrier name -> the C2PA MIME type).
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
              "gif": "image/gif", "tiff": "image/tiff", "wav": "audio/wav",
              "mp3": "audio/mpeg", "mp4": "video/mp4", "pdf": "application/pdf"}
ALGORITHMS = {a.name.lower(): a for a in c2pa.C2paSigningAlg}

State = Literal["Valid", "Trusted", "Invalid"]
StrPath = str | os.PathLike[str]


@dataclass(frozen=True, repr=False)
class C2paCredentials:
    """The signer: certificate chain (leaf first, PEM) and its private key (PEM).
    `alg` is one of es256/es384/es512/ps256/ps384/ps512/ed25519; `tsa_url` a
    timestamp authority, None to sign offline."""

    chain_pem: bytes
    key_pem: bytes
    alg: str = "es256"
    tsa_url: str | None = None

    def __repr__(self) -> str:  # the key never reaches a log
        return f"C2paCredentials(alg={self.alg!r}, tsa_url={self.tsa_url!r})"


@dataclass
class C2paReport:
    """What the C2PA reader found. `state` is None when there is no manifest."""

    present: bool
    state: State | None = None
    assertions: list[str] = field(default_factory=list)  # of the active manifest
    aigc_label: AIGCLabel | None = None  # the cn.tc260.aigc assertion, when valid
    ai_generated: bool = False  # a created action with trainedAlgorithmicMedia
    signer: str | None = None
    failures: list[str] = field(default_factory=list)  # validation failure codes
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"present": self.present, "state": self.state, "assertions": self.assertions,
                "aigc_label": None if self.aigc_label is None else self.aigc_label.fields(),
                "ai_generated": self.ai_generated, "signer": self.signer,
                "failures": self.failures, "error": self.error}


def _context(trust_anchors: bytes | str | None) -> Any:
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
        "builder": {"thumbnail": {"enabled": False}},
    }
    if trust_anchors:
        anchors = trust_anchors.decode() if isinstance(trust_anchors, bytes) else trust_anchors
        settings["trust"] = {"trust_anchors": anchors}
    return c2pa.Context.from_dict(settings)


def _mime(path: Path) -> str:
    with path.open("rb") as f:
        carrier = detect(f.read(SNIFF_BYTES), path)
    mime = MIME_TYPES.get(carrier.NAME) if carrier is not None else None
    if mime is None:
        what = carrier.NAME if carrier is not None else "unrecognised format"
        raise UnsupportedFormat(f"{path}: C2PA signing is unsupported for {what}")
    return mime


def read_c2pa(path: StrPath, *, trust_anchors: bytes | str | None = None) -> C2paReport:
    """Read and validate the C2PA manifest store of `path` offline.

    `Trusted` needs the signer's chain to end in one of `trust_anchors` (PEM); a sound
    manifest from any other signer is `Valid`. Never raises for a bad file: a manifest
    that cannot be parsed is reported `Invalid` with the reader's error."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            reader = c2pa.Reader.try_create(None, f, context=_context(trust_anchors))
            if reader is None:
                return C2paReport(present=False)
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return C2paReport(present=True, state="Invalid", error=_short(exc))
    return _report(store)


def _report(store: dict[str, Any]) -> C2paReport:
    state = store.get("validation_state")
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    assertions = [a for a in manifest.get("assertions", []) if isinstance(a, dict)]
    report = C2paReport(
        present=True,
        state=state if state in ("Valid", "Trusted", "Invalid") else "Invalid",
        assertions=[str(a.get("label")) for a in assertions],
        signer=manifest.get("signature_info", {}).get("common_name"),
        failures=[str(f.get("code")) for f in store.get("validation_results", {})
                  .get("activeManifest", {}).get("failure", [])],
    )
    for assertion in assertions:
        data = assertion.get("data")
        if not isinstance(data, dict):
            continue
        if assertion.get("label") == AIGC_ASSERTION:
            try:
                report.aigc_label = AIGCLabel.from_fields(
                    {k: v for k, v in data.items() if k in FIELDS})
            except (LabelValueError, TypeError):
                report.failures.append("cn.tc260.aigc.invalidLabel")
        elif str(assertion.get("label", "")).startswith("c2pa.actions"):
            report.ai_generated = report.ai_generated or any(
                isinstance(a, dict) and a.get("action") == CREATED
                and a.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA
                for a in data.get("actions", []))
    return report


def _version() -> str:
    try:
        return metadata.version("synthguard")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0"


def _short(exc: BaseException) -> str:
    return str(exc).split("\n")[0][:200]


def sign_c2pa(src: StrPath, dst: StrPath | None, label: AIGCLabel,
              credentials: C2paCredentials, *, trust_anchors: bytes | str | None = None,
              ) -> C2paReport:
    """Embed a C2PA manifest in `src` (which already carries `label`), to `dst` or in
    place. The output is checked before it is moved into place: its GB 45438 label is
    still compliant and equal to `label`, and the manifest validates (Trusted when
    `trust_anchors` holds the signer's CA). Returns the read-back report."""
    # Imported here: api is the module that would show C2PA in `inspect`, so importing
    # it at module level would make the two modules import each other.
    from synthguard.labels.api import inspect

    s = Path(src)
    d = s if dst is None else Path(dst)
    before = inspect(s, integrity=False)
    if before.verdict != "compliant" or before.label != label:
        raise SynthGuardError(f"{s}: write the GB 45438 label first; C2PA signs the file as "
                              f"it is (label verdict {before.verdict})")
    mime = _mime(s)
    alg = ALGORITHMS.get(credentials.alg.lower())
    if alg is None:
        raise SynthGuardError(f"C2PA signing algorithm {credentials.alg!r} is not one of "
                              f"{sorted(ALGORITHMS)}")
    manifest = {
        "claim_generator_info": [{"name": "synthguard", "version": _version()}],
        "title": d.name,
        "assertions": [{"label": AIGC_ASSERTION, "data": label.fields()}],
    }
    context = _context(trust_anchors)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
            alg, credentials.chain_pem, credentials.key_pem,
            credentials.tsa_url.encode() if credentials.tsa_url else None))
        with c2pa.Builder(manifest, context=context) as builder, s.open("rb") as f, \
                atomic_output(d, mode_from=s) as (out, tmp):
            builder.set_intent(c2pa.C2paBuilderIntent.CREATE,
                               c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA)
            builder.sign(signer, mime, f, out)
    except c2pa.C2paError as exc:
        raise SynthGuardError(f"{s}: C2PA signing failed: {_short(exc)}") from None
    try:
        report = _check(tmp, label, trust_anchors)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, d)
    return report


def _check(path: Path, label: AIGCLabel, trust_anchors: bytes | str | None) -> C2paReport:
    from synthguard.labels.api import inspect  # see sign_c2pa

    after = inspect(path, integrity=False)
    if after.verdict != "compliant" or after.label != label:
        raise VerificationFailed(f"{path}: the GB 45438 label did not survive C2PA signing "
                                 f"(verdict {after.verdict})")
    report = read_c2pa(path, trust_anchors=trust_anchors)
    if report.state not in ("Valid", "Trusted") or report.aigc_label != label:
        raise VerificationFailed(f"{path}: the C2PA manifest does not validate after signing "
                                 f"({report.state}: {', '.join(report.failures)})")
    if trust_anchors and report.state != "Trusted":
        raise VerificationFailed(f"{path}: the signer's chain does not end in the given trust "
                                 "anchors")
    return report


__all__ = ["AIGC_ASSERTION", "C2paCredentials", "C2paReport", "read_c2pa", "sign_c2pa"]
