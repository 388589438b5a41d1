"""The `synthguard` command's side of content protection: the options that pick the
watermark, signing key and C2PA credentials for `label`, `mark` and `inspect`, how the
results are shown, and `synthguard keys` to make the keys.

Options override the configuration (`--config`, else `$SYNTHGUARD_CONFIG`, then the
`SYNTHGUARD_*` variables; see `synthguard.config`), which is read without the server
secret or a database.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthguard.errors import SynthGuardError

if TYPE_CHECKING:
    from synthguard.labels.api import Report
    from synthguard.labels.protect import Protection

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Config file (TOML) with the key settings; default $SYNTHGUARD_CONFIG.",
    show_default=False)]
WatermarkOpt = Annotated[bool | None, typer.Option(
    "--watermark/--no-watermark",
    help="Robust watermark in images and audio. Default: when watermark keys are configured, "
    "skipping (with a warning) a file that cannot carry it; --watermark requires it.",
    show_default=False)]
StrengthOpt = Annotated[float | None, typer.Option(
    help="Watermark strength (1.0: PSNR 38.5 dB / SNR 30.5 dB; 2.0 is 6 dB stronger).",
    show_default=False)]
SignKeyOpt = Annotated[Path | None, typer.Option(
    "--sign-key", help="SM2 private key file (hex, or OpenSSL PEM): sign the label "
    "(TC260-PG-202511A SecurityData in ReservedCode1).", show_default=False)]
C2paCertOpt = Annotated[Path | None, typer.Option(
    "--c2pa-cert", help="C2PA signer certificate chain (PEM, leaf first).", show_default=False)]
C2paKeyOpt = Annotated[Path | None, typer.Option(
    "--c2pa-key", help="C2PA signer private key (PEM).", show_default=False)]
C2paTrustOpt = Annotated[Path | None, typer.Option(
    "--c2pa-trust", help="C2PA trust anchors (PEM): the signer chain must end in one.",
    show_default=False)]
TrustOpt = Annotated[list[str] | None, typer.Option(
    "--trust", help="Pinned SM2 public key (hex, or a PEM/DER file); repeat for several.",
    show_default=False)]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SynthGuardError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def trusted_key(value: str) -> str:
    """A --trust value (hex, or a file holding the key) as SPKI hex."""
    from synthguard.labels.keyfile import load_public_key
    from synthguard.labels.security import spki_hex

    path = Path(value)
    data = _read(path, "public key") if path.is_file() else value.encode()
    return spki_hex(load_public_key(data))


def protection(config: Path | None, *, watermark: bool | None = None,
               strength: float | None = None, sign_key: Path | None = None,
               c2pa_cert: Path | None = None, c2pa_key: Path | None = None,
               c2pa_trust: Path | None = None, trust: list[str] | None = None) -> Protection:
    """The configured protection with the command line's choices on top. Raises
    SynthGuardError (a usage error) for a bad key or a missing file."""
    from synthguard.config import load_protection

    base = load_protection(config)
    changes: dict[str, Any] = {}
    if watermark is not None:
        changes["watermark"] = "require" if watermark else "off"
    if strength is not None:
        changes["strength"] = strength
    if sign_key is not None:
        from synthguard.labels.security import SigningKey

        changes["signing_key"] = SigningKey.from_bytes(_read(sign_key, "SM2 private key"))
    if (c2pa_cert is None) != (c2pa_key is None):
        raise SynthGuardError("--c2pa-cert and --c2pa-key go together")
    if c2pa_cert is not None and c2pa_key is not None:
        from synthguard.labels.c2pa import C2paCredentials

        alg = base.c2pa.alg if base.c2pa is not None else "es256"
        changes["c2pa"] = C2paCredentials(_read(c2pa_cert, "C2PA certificate chain"),
                                          _read(c2pa_key, "C2PA private key"), alg=alg)
    if c2pa_trust is not None:
        changes["c2pa_trust_anchors"] = _read(c2pa_trust, "C2PA trust anchors")
    if trust:
        changes["trusted_keys"] = (*base.trusted_keys, *(trusted_key(t) for t in trust))
    return dataclasses.replace(base, **changes) if changes else base


# --- showing the results ----------------------------------------------------------------


def summary(report: Report) -> str:
    """What went with the label, in a few words, for the one-line `label`/`mark` output."""
    parts = []
    mark = report.watermark
    if mark is not None and mark.present and mark.content_id is not None:
        parts.append(f"watermark key {mark.key_id} content {mark.content_id:014x}")
    if report.signature is not None and report.signature.status != "unsigned":
        parts.append(f"signature {report.signature.status} (key {report.signature.key_id})")
    if report.c2pa is not None and report.c2pa.status in ("valid", "trusted", "invalid"):
        parts.append(f"C2PA {report.c2pa.status}")
    return ", ".join(parts)


def warnings(report: Report) -> list[str]:
    """The steps skipped for this file (watermark, signature, C2PA), one line each."""
    return [f"{report.path}: {f.message}" for f in report.findings
            if f.severity == "warning" and f.code.endswith("-skipped")]


def render(report: Report) -> list[str]:
    """The lines `inspect` prints under the label sites."""
    lines = []
    mark = report.watermark
    if mark is not None:
        if mark.present:
            payload = (f"content id {mark.content_id:014x}" if mark.content_id is not None
                       else "payload unreadable")
            agree = {True: ", matches the label's ProduceID",
                     False: ", differs from the label's ProduceID", None: ""}[mark.matches_label]
            lines.append(f"  watermark: present, key {mark.key_id}, {payload}{agree}, "
                         f"false-positive probability {mark.false_positive_probability:.1e}")
        else:
            status = mark.status.replace("_", " ")
            lines.append(f"  watermark: {status}" + (f" ({mark.reason})" if mark.reason else ""))
    if report.signature is not None:
        lines.append(f"  signature: {report.signature.status} ({report.signature.reason})")
    if report.c2pa is not None:
        lines.append(f"  C2PA: {report.c2pa.status}"
                     + (f" ({report.c2pa.reason})" if report.c2pa.reason else ""))
    lines.extend(f"  error: {problem}" for problem in report.problems())
    return lines


# --- synthguard keys ---------------------------------------------------------------------

keys_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Make watermark and signing keys (files readable only by you).")


OutArg = Annotated[Path, typer.Argument(help="Key file to write (mode 0600).",
                                        show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing file.")]


@keys_app.command("watermark")
def watermark_key(out: OutArg, key_id: Annotated[int, typer.Option(
        "--id", min=0, max=255, help="Key id carried in every mark (0-255).")] = 1,
        force: ForceOpt = False) -> None:
    """A new 32-byte watermark key, as a key file (`watermark_keys_file`). To rotate, put
    the new key's line first and keep the old ones: they still detect old content."""
    from synthguard.labels.keyfile import watermark_key_text, write_private

    write_private(out, watermark_key_text(key_id), force=force)
    typer.echo(f"{out}: watermark key {key_id}")


@keys_app.command("signing")
def signing_key(out: OutArg, force: ForceOpt = False) -> None:
    """A new SM2 signing key (`signing_key_file`); prints the public key to pin."""
    from synthguard.labels.keyfile import write_private
    from synthguard.labels.security import SigningKey

    key = SigningKey.generate()
    write_private(out, f"{key.scalar:064x}\n", force=force)
    typer.echo(key.public_key_hex)


@keys_app.command("public")
def public_key(path: Annotated[Path, typer.Argument(help="SM2 private key file.",
                                                     show_default=False)]) -> None:
    """The public key (SPKI DER hex) of an SM2 private key file: what verifiers pin."""
    from synthguard.labels.security import SigningKey

    typer.echo(SigningKey.from_bytes(_read(path, "SM2 private key")).public_key_hex)
