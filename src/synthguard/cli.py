"""The `synthguard` command: a thin layer over the library.

Errors are one line naming the file and the problem, with a non-zero exit code;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from synthguard import cli_protect
from synthguard._files import Job, check_template, expand, output_path, walk
from synthguard.cli_protect import (
    C2paCertOpt,
    C2paKeyOpt,
    C2paTrustOpt,
    ConfigOpt,
    SignKeyOpt,
    StrengthOpt,
    TrustOpt,
    WatermarkOpt,
)
from synthguard.errors import SynthGuardError
from synthguard.explicit.wording import DEFAULT_ZH
from synthguard.labels import AIGCLabel, Report, inspect, write_label
from synthguard.labels.carriers import all_carriers

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SynthGuard: GB 45438-2025 labels for AI-generated content.")
_state = {"debug": False}
T = TypeVar("T")


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
          ) -> None:
    _state["debug"] = debug


def _error(message: str) -> None:
    typer.echo(f"synthguard: error: {message}", err=True)


def _extensions(*, writable: bool = False) -> set[str]:
    return {e for c in all_carriers() if c.WRITABLE or not writable for e in c.EXTENSIONS}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SynthGuardError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def _run_all(jobs: list[Job], work: Callable[[Job], T], workers: int,
             on_result: Callable[[Job, T | None, BaseException | None], None]) -> None:
    """Run `work` over the jobs (in parallel with `workers`), reporting each in order,
    with a progress bar when there are many files and a person is watching."""
    def guarded(job: Job) -> tuple[T | None, BaseException | None]:
        try:
            return work(job), None
        except Exception as exc:  # each file fails alone; the summary counts it
            if _state["debug"]:
                raise
            return None, exc

    with _progress(len(jobs)) as advance, ThreadPoolExecutor(max(1, workers)) as pool:
        for job, (result, exc) in zip(jobs, pool.map(guarded, jobs), strict=True):
            on_result(job, result, exc)
            advance()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    if total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as progress:
        task = progress.add_task("files", total=total)
        yield lambda: progress.advance(task)


def _report_each(jobs: list[Job], work: Callable[[Job], T], workers: int, as_json: bool, *,
                 verb: str, describe: Callable[[T], dict[str, Any]],
                 line: Callable[[T], str],
                 warn: Callable[[T], list[str]] = lambda _: []) -> int:
    """Run `work` over the files, print one result or one-line error each (and `warn`'s
    lines on stderr), a summary for many files, and return the number that failed."""
    failed = 0
    many = len(jobs) > 1

    def show(job: Job, result: T | None, exc: BaseException | None) -> None:
        nonlocal failed
        if exc is not None or result is None:
            failed += 1
            message = _describe(exc) if exc else "failed"
            if not message.startswith(str(job.path)):
                message = f"{job.path}: {message}"
            if as_json:
                _emit({"path": str(job.path), "error": {
                    "code": getattr(exc, "code", "error"), "message": message}})
            else:
                _error(message)
            return
        if as_json:
            _emit({**describe(result), "path": str(job.path)})
            return
        for warning in warn(result):
            typer.echo(f"synthguard: warning: {warning}", err=True)
        if not many:
            typer.echo(line(result))

    _run_all(jobs, work, workers, show)
    if many and not as_json:
        typer.echo(f"{verb} {len(jobs) - failed} of {len(jobs)} files"
                   + (f", {failed} failed" if failed else ""), err=True)
    return failed


def _jobs(paths: list[Path], recursive: bool, extensions: set[str] | None = None) -> list[Job]:
    """The files to work on; folders give the files with one of `extensions` (default:
    every format we read)."""
    try:
        jobs = walk(paths, recursive=recursive,
                    extensions=_extensions() if extensions is None else extensions)
    except SynthGuardError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    if not jobs:
        _error("no files to work on")
        raise typer.Exit(2)
    return jobs


PathsArg = Annotated[list[Path], typer.Argument(help="Files or folders.", show_default=False)]
RecursiveOpt = Annotated[bool, typer.Option("-r", "--recursive", help="Walk folders recursively.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per file on stdout.")]


@app.command("label")
def label_cmd(
    paths: PathsArg,
    producer: Annotated[str, typer.Option(help="ContentProducer: provider code (27 chars).")],
    produce_id: Annotated[str, typer.Option(
        help="ProduceID; placeholders {uuid} {sha256} {stem} {name} {index}.")],
    label: Annotated[str, typer.Option(help="1 generated, 2 possibly, 3 suspected.")] = "1",
    propagator: Annotated[str | None, typer.Option(
        help="ContentPropagator (default: the producer, Annex E note 1).")] = None,
    propagate_id: Annotated[str | None, typer.Option(
        help="PropagateID (default: the ProduceID); placeholders as for --produce-id.")] = None,
    reserved_code1: Annotated[str, typer.Option(help="ReservedCode1.")] = "",
    reserved_code2: Annotated[str, typer.Option(help="ReservedCode2.")] = "",
    out: Annotated[Path | None, typer.Option("-o", "--output",
                                             help="Output file, or folder for many.")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Rewrite the inputs.")] = False,
    recursive: RecursiveOpt = False,
    jobs_n: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Parallel files.")] = 1,
    sync: Annotated[bool, typer.Option(
        "--sync/--no-sync", help="fsync each output (default); --no-sync is faster for "
        "bulk jobs you can rerun: writes stay atomic and verified.")] = True,
    as_json: JsonOpt = False,
    watermark: WatermarkOpt = None,
    strength: StrengthOpt = None,
    sign_key: SignKeyOpt = None,
    c2pa_cert: C2paCertOpt = None,
    c2pa_key: C2paKeyOpt = None,
    c2pa_trust: C2paTrustOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the GB 45438 implicit label into files (one label per file). With watermark
    keys configured, images and audio also get the robust watermark first (re-encoding
    them); --sign-key signs the label, --c2pa-cert/--c2pa-key add a C2PA manifest."""
    if (out is None) == (not in_place):
        _error("give exactly one of -o/--output and --in-place")
        raise typer.Exit(2)
    jobs = _jobs(paths, recursive, _extensions(writable=True))
    many = len(jobs) > 1
    try:
        check_template(produce_id, many=many, field="ProduceID")
        if propagate_id is not None:
            check_template(propagate_id, many=many, field="PropagateID")
        # Validate the fixed fields once, before any file is touched.
        AIGCLabel.create(producer=producer, produce_id="x", label=label, propagator=propagator,
                         propagate_id=None if propagate_id is None else "x",
                         reserved_code1=reserved_code1, reserved_code2=reserved_code2)
        protect = cli_protect.protection(config, watermark=watermark, strength=strength,
                                         sign_key=sign_key, c2pa_cert=c2pa_cert,
                                         c2pa_key=c2pa_key, c2pa_trust=c2pa_trust)
        if protect.signing_key is not None and reserved_code1:
            raise SynthGuardError("--reserved-code1 and a signing key exclude each other: the "
                                  "signed label writes its SecurityData record there")
    except SynthGuardError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    single = len(jobs) == 1 and not paths[0].is_dir()

    def work(job: Job) -> Report:
        pid = expand(produce_id, job)
        aigc = AIGCLabel.create(
            producer=producer, produce_id=pid, label=label, propagator=propagator,
            propagate_id=None if propagate_id is None else expand(propagate_id, job),
            reserved_code1=reserved_code1, reserved_code2=reserved_code2)
        dst = output_path(job, out, single=single)
        if dst is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
        if protect.active:
            from synthguard.labels.protect import seal

            return seal(job.path, job.path if dst is None else dst, aigc, protect, owned=False,
                        durable=sync)
        return write_label(job.path, dst, aigc, durable=sync)

    def line(report: Report) -> str:
        fields = report.sites[0].fields or {}
        extra = cli_protect.summary(report)
        return (f"{report.path}: labeled ({report.format}, {report.sites[0].carrier}) "
                f"ProduceID={fields.get('ProduceID')}" + (f"; {extra}" if extra else ""))

    failed = _report_each(jobs, work, jobs_n, as_json, verb="labeled",
                          describe=lambda r: {**r.to_dict(), "output": r.path}, line=line,
                          warn=cli_protect.warnings)
    raise typer.Exit(1 if failed else 0)


@app.command("mark")
def mark_cmd(
    paths: PathsArg,
    producer: Annotated[str | None, typer.Option(
        help="ContentProducer for the implicit label (needed unless --no-implicit).")] = None,
    produce_id: Annotated[str | None, typer.Option(
        help="ProduceID; placeholders {uuid} {sha256} {stem} {name} {index}.")] = None,
    label: Annotated[str, typer.Option(help="1 generated, 2 possibly, 3 suspected.")] = "1",
    text: Annotated[str, typer.Option("--text", help="The notice wording.")] = DEFAULT_ZH,
    position: Annotated[str, typer.Option(
        help="Images and video: top-left, top-right, bottom-left, bottom-right, top, bottom."
    )] = "bottom-right",
    at: Annotated[str, typer.Option(help="Text and audio: start, end or both.")] = "start",
    implicit: Annotated[bool, typer.Option(
        "--implicit/--no-implicit", help="Also write the implicit metadata label.")] = True,
    out: Annotated[Path | None, typer.Option("-o", "--output",
                                             help="Output file, or folder for many.")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Rewrite the inputs.")] = False,
    recursive: RecursiveOpt = False,
    jobs_n: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Parallel files.")] = 1,
    as_json: JsonOpt = False,
    watermark: WatermarkOpt = None,
    strength: StrengthOpt = None,
    sign_key: SignKeyOpt = None,
    c2pa_cert: C2paCertOpt = None,
    c2pa_key: C2paKeyOpt = None,
    c2pa_trust: C2paTrustOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add the visible/audible notice (GB 45438 §5) and, by default, the implicit label
    (with the watermark, signature and C2PA manifest as for `label`)."""
    from synthguard.explicit.files import Marked, mark_file
    from synthguard.explicit.wording import check_notice

    if (out is None) == (not in_place):
        _error("give exactly one of -o/--output and --in-place")
        raise typer.Exit(2)
    jobs = _jobs(paths, recursive, _extensions() | {".html", ".htm"})
    many = len(jobs) > 1
    try:
        check_notice(text)
        if implicit:
            if producer is None or produce_id is None:
                raise SynthGuardError("--producer and --produce-id are needed for the implicit "
                                      "label (or pass --no-implicit)")
            check_template(produce_id, many=many, field="ProduceID")
            AIGCLabel.create(producer=producer, produce_id="x", label=label)
        protect = cli_protect.protection(config, watermark=watermark, strength=strength,
                                         sign_key=sign_key, c2pa_cert=c2pa_cert,
                                         c2pa_key=c2pa_key, c2pa_trust=c2pa_trust)
    except SynthGuardError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    single = len(jobs) == 1 and not paths[0].is_dir()

    def work(job: Job) -> Marked:
        aigc = None
        if implicit and producer is not None and produce_id is not None:
            aigc = AIGCLabel.create(producer=producer, produce_id=expand(produce_id, job),
                                    label=label)
        dst = output_path(job, out, single=single)
        if dst is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
        return mark_file(job.path, dst, notice=text, position=position, at=at, label=aigc,
                         protection=protect)

    def describe(m: Marked) -> dict[str, Any]:
        found = m.report.to_dict() if m.report is not None else {}
        return {"output": m.path, "kind": m.kind, **m.details,
                **{k: found[k] for k in ("findings", "watermark", "signature", "c2pa")
                   if k in found}}

    def line(m: Marked) -> str:
        extra = cli_protect.summary(m.report) if m.report is not None else ""
        return f"{m.path}: marked ({m.kind})" + (f"; {extra}" if extra else "")

    failed = _report_each(jobs, work, jobs_n, as_json, verb="marked", describe=describe,
                          line=line, warn=lambda m: cli_protect.warnings(m.report)
                          if m.report is not None else [])
    raise typer.Exit(1 if failed else 0)


@app.command("inspect")
def inspect_cmd(paths: PathsArg, recursive: RecursiveOpt = False, as_json: JsonOpt = False,
                jobs_n: Annotated[int, typer.Option("-j", "--jobs", min=1)] = 1,
                watermark: Annotated[bool | None, typer.Option(
                    "--watermark/--no-watermark", help="Look for the watermark (default: "
                    "when watermark keys are configured).", show_default=False)] = None,
                trust: TrustOpt = None, c2pa_trust: C2paTrustOpt = None,
                config: ConfigOpt = None) -> None:
    """Find every label in files and judge it: compliant, noncompliant, not_found, inconclusive.

    Beside the label sites: the watermark (with the configured keys), the signed label
    (valid / invalid / unsigned / untrusted, against --trust and the configured keys)
    and the C2PA manifest (absent / valid / trusted / invalid). Exit status 0 only when
    every file is compliant and nothing is invalid."""
    try:
        protect = cli_protect.protection(config, watermark=watermark, c2pa_trust=c2pa_trust,
                                         trust=trust)
    except SynthGuardError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    keys = protect.watermark_keys if watermark is not False else None
    jobs = _jobs(paths, recursive)
    counts: dict[str, int] = {}
    failed = 0

    def show(job: Job, report: Report | None, exc: BaseException | None) -> None:
        if report is None:
            counts["error"] = counts.get("error", 0) + 1
            message = _describe(exc or Exception("failed"))
            if as_json:
                _emit({"path": str(job.path),
                       "error": {"code": getattr(exc, "code", "error"), "message": message}})
            else:
                _error(f"{job.path}: {message}")
            return
        nonlocal failed
        counts[report.verdict] = counts.get(report.verdict, 0) + 1
        failed += report.verdict != "compliant" or bool(report.problems())
        if as_json:
            _emit(report.to_dict())
        else:
            typer.echo(_render(report))

    _run_all(jobs, lambda job: inspect(job.path, watermark_keys=keys,
                                       trusted_keys=protect.pinned,
                                       c2pa_trust_anchors=protect.c2pa_trust_anchors),
             jobs_n, show)
    if len(jobs) > 1 and not as_json:
        typer.echo(", ".join(f"{n} {v}" for v, n in sorted(counts.items())), err=True)
    raise typer.Exit(1 if failed or counts.get("error") else 0)


def _render(report: Report) -> str:
    lines = [f"{report.path}: {report.verdict}" + (f" ({report.format})" if report.format else "")]
    for f in report.findings:
        lines.append(f"  {f.severity}: {f.message}")
    for site in report.sites:
        lines.append(f"  {site.carrier} at {site.location} [{site.form}]")
        if site.fields:
            lines.append("    " + " ".join(f"{k}={v}" for k, v in site.fields.items() if v))
        for f in site.findings:
            if f.severity != "info":
                lines.append(f"    {f.severity}: {f.message}")
    lines.extend(cli_protect.render(report))
    return "\n".join(lines)


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


@app.command("serve")
def serve_cmd(
    demo: Annotated[bool, typer.Option(
        "--demo", help="Embedded defaults: SQLite under --workdir, demo backends, a demo "
        "organisation, verified user and API key (printed).")] = False,
    config: Annotated[Path | None, typer.Option(
        help="Config file (TOML); default $SYNTHGUARD_CONFIG.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workdir: Annotated[Path, typer.Option(help="Where --demo keeps its data.")] = Path("var"),
) -> None:
    """Run the OpenAI-compatible compliance gateway."""
    from synthguard.config import Config
    from synthguard.gateway.demo_setup import run_demo_server
    from synthguard.gateway.server import serve

    if demo:
        run_demo_server(workdir, host=host, port=port)
    else:
        serve(Config.load(config), host, port)


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option(help="Where the demo writes files.")] = Path("var/demo"),
) -> None:
    """Label generated sample files, inspect them, and show what a platform sees."""
    from synthguard.demo import run_demo

    run_demo(workdir)


def _register_subcommands() -> None:
    from synthguard.accounts.cli import admin_app
    from synthguard.audit.cli import audit_app
    from synthguard.consent.cli import consent_app
    from synthguard.console.cli import console_app
    from synthguard.governance.cli import governance_app
    from synthguard.identity.cli import identity_app
    from synthguard.moderation.cli import app as moderation_app

    app.add_typer(admin_app, name="admin", help="Organisations, users, keys, account states.")
    app.add_typer(console_app, name="console", help="Console operators (the first admin).")
    app.add_typer(moderation_app, name="moderation",
                  help="Feature library, review and the TC260 evaluation.")
    app.add_typer(identity_app, name="identity",
                  help="Real-name verification (Art. 9) and the personal data vault.")
    app.add_typer(consent_app, name="consent",
                  help="Separate consents for face and voice editing (Art. 14).")
    app.add_typer(audit_app, name="audit",
                  help="The Merkle audit log of request records: checkpoints, proofs, exports.")
    app.add_typer(cli_protect.keys_app, name="keys",
                  help="Make watermark and SM2 signing keys; show a public key to pin.")
    app.add_typer(governance_app, name="governance",
                  help="Complaints, rumor refutation, registries, policies, service switches "
                  "and regulator reports.")


_register_subcommands()


def main() -> None:
    try:
        app()
    except SynthGuardError as exc:  # a rule violation outside any per-file loop
        if _state["debug"]:
            raise
        _error(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)
