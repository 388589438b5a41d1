"""`synthguard audit ...`: the tamper-evident audit log from the command line.

`verify` is standalone: it needs only the log's public key and an exported archive (or
the log's URL), never the database or the server secret, and imports no database code.
The other commands open the database from the config (migrating it first, a no-op when
current). Errors are one line on stderr; exit code 1 for a failed verification or
command, 2 for bad usage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthguard.audit.merkle import ProofError
from synthguard.audit.note import NoteError, NoteVerifier
from synthguard.audit.remote import verify_remote
from synthguard.audit.verify import VerifyReport, verify_archive
from synthguard.errors import SynthGuardError

if TYPE_CHECKING:
    from synthguard.accounts.records import Records
    from synthguard.audit.service import Audit

PROG = "synthguard audit"
_SHOWN_RANGES = 10  # purged runs named after an export

audit_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Tamper-evident audit log: checkpoints, proofs, export, verify.")


@dataclasses.dataclass
class _Settings:
    config_path: Path | None
    database_url: str | None
    debug: bool


@audit_app.callback()
def _audit(
    ctx: typer.Context,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Database URL (default: from the config file / environment).",
        show_default=False)] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="Config file (TOML); default $SYNTHGUARD_CONFIG.",
        show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    ctx.obj = _Settings(config_path, database_url, debug)


def _fail(ctx: typer.Context, exc: BaseException, code: int = 1) -> typer.Exit:
    settings = ctx.find_object(_Settings)
    if settings is not None and settings.debug:
        raise exc
    text = str(exc).strip().splitlines() or [type(exc).__name__]
    typer.echo(f"{PROG}: error: {text[0]}", err=True)
    return typer.Exit(code)


@contextmanager
def _service(ctx: typer.Context) -> Iterator[Audit]:
    # Imported here: `verify` must not pull in the database layer.
    from sqlalchemy.exc import SQLAlchemyError

    from synthguard.audit.service import Audit
    from synthguard.config import Config
    from synthguard.store.db import Database

    settings = ctx.find_object(_Settings)
    assert settings is not None, "the audit callback sets the settings"
    db: Database | None = None
    try:
        config = Config.load(settings.config_path, require_producer=False)
        if settings.database_url:
            config = dataclasses.replace(config, database_url=settings.database_url)
        db = Database(config.database_url)
        db.migrate()
        yield Audit(db, config)
    except (SynthGuardError, SQLAlchemyError, OSError) as exc:
        raise _fail(ctx, exc) from None
    finally:
        if db is not None:
            db.dispose()


def _records(audit: Audit) -> Records:
    from synthguard.accounts.records import Records

    return Records(audit.log.db)


def _moment(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; without a zone it is taken as UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        typer.echo(f"{PROG}: error: {option}: not an ISO 8601 date/time: {text!r}", err=True)
        raise typer.Exit(2) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _emit(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@audit_app.command("key")
def key_cmd(ctx: typer.Context) -> None:
    """Print the log's public key, which verifiers need (give it to the regulator)."""
    with _service(ctx) as audit:
        typer.echo(audit.verifier_key)


@audit_app.command("checkpoint")
def checkpoint_cmd(
    ctx: typer.Context,
    publish: Annotated[bool, typer.Option(
        "--publish", help="First log any request records not yet logged, then sign a new "
                          "checkpoint (refused, with an alarm, if the stored tree disagrees "
                          "with the last one).")] = False,
) -> None:
    """Print the latest signed checkpoint."""
    with _service(ctx) as audit:
        if publish:
            audit.catch_up(_records(audit))
        latest = audit.checkpoints.latest()
    if latest is None:
        raise _fail(ctx, SynthGuardError("no checkpoint yet; run with --publish"))
    typer.echo(latest.note, nl=False)


@audit_app.command("proof")
def proof_cmd(
    ctx: typer.Context,
    record_id: Annotated[str | None, typer.Option("--record-id", help="Inclusion proof for "
                                                  "this gateway record.")] = None,
    produce_id: Annotated[str | None, typer.Option("--produce-id", help="Inclusion proof for "
                                                   "the record behind this ProduceID.")] = None,
    first: Annotated[int | None, typer.Option("--first", help="Consistency proof from this "
                                              "tree size ...")] = None,
    second: Annotated[int | None, typer.Option("--second", help="... to this one (default: "
                                               "the latest checkpoint's).")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Tree size for an inclusion proof "
                                             "(default: the latest checkpoint's).")] = None,
) -> None:
    """Print an inclusion proof (by record id or ProduceID) or a consistency proof, as
    JSON, with the checkpoint it checks against."""
    wanted = record_id or produce_id
    if (wanted is None) == (first is None) or (record_id and produce_id):
        typer.echo(f"{PROG}: error: give --record-id, --produce-id or --first", err=True)
        raise typer.Exit(2)
    with _service(ctx) as audit:
        latest = audit.checkpoints.latest()
        tree_size = latest.size if latest else 0
        try:
            if wanted is not None:
                index = audit.log.leaf_index(wanted.strip().lower())
                tree_size = size or tree_size
                if index >= tree_size:
                    raise ProofError(f"leaf {index} is not covered by a checkpoint yet; run "
                                     "'synthguard audit checkpoint --publish'")
                path = audit.log.inclusion_proof(index, tree_size)
                data: dict[str, Any] = {"record_id": wanted, "index": index,
                                        "tree_size": tree_size}
            else:
                assert first is not None
                tree_size = second or tree_size
                path = audit.log.consistency_proof(first, tree_size)
                data = {"first": first, "second": tree_size}
        except (SynthGuardError, ProofError) as exc:
            raise _fail(ctx, exc) from None
    data["path"] = [h.hex() for h in path]
    data["checkpoint"] = latest.note if latest and latest.size == tree_size else None
    _emit(data)


@audit_app.command("export")
def export_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")],
    since: Annotated[str | None, typer.Option("--since", help="Entries logged at or after "
                                              "(ISO 8601; UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Entries logged before.")] = None,
    publish: Annotated[bool, typer.Option(
        "--publish/--no-publish", help="Log pending records and sign a checkpoint first, so "
                                       "the export covers everything logged.")] = True,
) -> None:
    """Export the log, or a time range of it with inclusion proofs, for a regulator;
    check it with 'synthguard audit verify ARCHIVE --key KEY'."""
    from synthguard.audit.export import export_archive

    start, end = _moment(since, "--since"), _moment(until, "--until")
    with _service(ctx) as audit:
        if publish:
            audit.catch_up(_records(audit))
        manifest = export_archive(audit.checkpoints, output, since=start, until=end)
        purged = audit.log.purged_ranges(manifest["first_index"], manifest["end_index"])
    typer.echo(f"{output}: {manifest['kind']} export of entries #{manifest['first_index']} to "
               f"#{manifest['end_index'] - 1}, signed tree size {manifest['tree_size']}")
    if purged:
        shown = ", ".join(f"#{a}" if b - a == 1 else f"#{a} to #{b - 1}"
                          for a, b in purged[:_SHOWN_RANGES])
        more = f" and {len(purged) - _SHOWN_RANGES} more runs" \
            if len(purged) > _SHOWN_RANGES else ""
        typer.echo(f"purged past retention ({sum(b - a for a, b in purged)} entries: "
                   f"\"entry\": null, leaf hash only, still proven): {shown}{more}")
    typer.echo(f"verify with: synthguard audit verify {output} --key {manifest['verifier_key']}")


@audit_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    archive: Annotated[Path | None, typer.Argument(help="Exported archive.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Verify a live log through its "
                                            "HTTP endpoints (e.g. https://host/audit).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="The log's public key "
                                            "(name+keyid+base64).")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding the public "
                                                  "key.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Recompute the tree, check every checkpoint and proof, name the first bad entry.
    Needs only the public key. Exit code 0: intact; 1: tampering found."""
    if (archive is None) == (url is None) or (key is None) == (key_file is None):
        typer.echo(f"{PROG}: error: give an ARCHIVE or --url, and --key or --key-file", err=True)
        raise typer.Exit(2)
    try:
        verifier = NoteVerifier.parse(key if key is not None else
                                      Path(key_file or "").read_text(encoding="utf-8"))
        report = verify_archive(archive, verifier) if archive else verify_remote(url or "",
                                                                                 verifier)
    except (NoteError, SynthGuardError, OSError) as exc:
        raise _fail(ctx, exc, 2) from None
    except Exception as exc:  # httpx errors: connection refused, HTTP 4xx/5xx
        raise _fail(ctx, exc, 2) from None
    _print_report(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        first = report.first_bad
        _emit({"ok": report.ok, "kind": report.kind, "entries": report.entries,
               "purged": report.purged, "checkpoints": report.checkpoints,
               "proofs": report.proofs, "tree_size": report.tree_size,
               "first_bad_index": first.index if first else None,
               "findings": [dataclasses.asdict(f) for f in report.findings]})
        return
    typer.echo(report.summary())
    for finding in report.findings:
        typer.echo(f"  {finding.code}: {finding.message}")


@audit_app.command("ingest")
def ingest_cmd(ctx: typer.Context) -> None:
    """Log every gateway request record not yet in the log."""
    with _service(ctx) as audit:
        count = audit.log.ingest_records(_records(audit))
        size = audit.log.size()
    typer.echo(f"logged {count} records; the log has {size} entries")


@audit_app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    days: Annotated[int | None, typer.Option("--days", min=1, help="Keep this many days "
                                             "(default: the configured retention).")]
    = None,
    publish: Annotated[bool, typer.Option(
        "--publish/--no-publish", help="Log pending records and sign a checkpoint first, so "
                                       "records past retention can go now.")] = True,
) -> None:
    """Apply retention: drop the payload of entries logged before the retention period
    (their hashes stay, so the tree, checkpoints and every proof still verify) and
    delete the gateway's request records created before it, once the log holds them."""
    with _service(ctx) as audit:
        if publish:
            audit.catch_up(_records(audit))
        report = audit.log.purge(retention=timedelta(days=days) if days else None)
    cutoff = report.cutoff.isoformat(timespec="seconds")
    typer.echo(f"purged the payload of {report.payloads} entries and deleted "
               f"{report.records} request records from before {cutoff}")
    if report.unlogged:
        typer.echo(f"kept {report.unlogged} request records from before {cutoff} that the "
                   "log does not hold yet; they go once logged ('synthguard audit ingest')")


def main() -> None:
    audit_app(prog_name=PROG)


if __name__ == "__main__":
    main()
