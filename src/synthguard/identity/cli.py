"""`synthguard identity ...`: number checks, verification status, the vault's jobs.

Like `synthguard admin`, every command that touches the database migrates it first;
errors are one line with exit code 1 (`--debug` shows the traceback); `--json` prints
one JSON object. Numbers are read from standard input when not given, so they need not
appear in shell history or the process list, and are only ever printed masked.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from synthguard.config import Config
from synthguard.errors import SynthGuardError
from synthguard.identity.numbers import (
    Rejection,
    check_id_number,
    check_mobile,
    check_organisation_code,
)
from synthguard.identity.services import IdentityServices
from synthguard.identity.vault import DataKind, mask
from synthguard.identity.web import to_json
from synthguard.store.db import Database

PROG = "synthguard identity"

identity_app = typer.Typer(add_completion=False, no_args_is_help=True,
                           help="Real-name verification: number checks, status, vault jobs.")


@dataclasses.dataclass
class Settings:
    prog: str
    config_path: Path | None
    database_url: str | None
    as_json: bool
    debug: bool


def options(ctx: typer.Context, prog: str, database_url: str | None, config_path: Path | None,
            as_json: bool, debug: bool) -> None:
    ctx.obj = Settings(prog, config_path, database_url, as_json, debug)


DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="Database URL (default: from the config file / environment).",
    show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="Config file (TOML); default $SYNTHGUARD_CONFIG.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


@identity_app.callback()
def _identity(ctx: typer.Context, database_url: DatabaseOpt = None,
              config_path: ConfigOpt = None, as_json: JsonOpt = False,
              debug: DebugOpt = False) -> None:
    options(ctx, PROG, database_url, config_path, as_json, debug)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_object(Settings)
    assert settings is not None, "the group callback sets the settings"
    return settings


def fail(ctx: typer.Context, message: str) -> typer.Exit:
    typer.echo(f"{_settings(ctx).prog}: error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def open_services(ctx: typer.Context) -> Iterator[IdentityServices]:
    settings = _settings(ctx)
    db: Database | None = None
    try:
        config = Config.load(settings.config_path, require_producer=False)
        if settings.database_url:
            config = dataclasses.replace(config, database_url=settings.database_url)
        db = Database(config.database_url)
        db.migrate()
        yield IdentityServices.build(config, db)
    except (SynthGuardError, SQLAlchemyError, OSError) as exc:
        if settings.debug:
            raise
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise fail(ctx, lines[0]) from None
    finally:
        if db is not None:
            db.dispose()


def emit(ctx: typer.Context, data: Any, lines: list[str]) -> None:
    if _settings(ctx).as_json:
        typer.echo(json.dumps(to_json(data), ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


@identity_app.command("check-number")
def check_number(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="id_number, mobile or uscc.")],
    value: Annotated[str | None, typer.Argument(
        help="The number; read from standard input when omitted.", show_default=False)] = None,
) -> None:
    """Check a number's format; exit code 1 when it is rejected."""
    text = value if value is not None else sys.stdin.readline().strip()
    rejection: Rejection | None
    if kind == "id_number":
        rejection, shown = check_id_number(text).rejection, mask(DataKind.ID_NUMBER, text)
    elif kind == "mobile":
        mobile = check_mobile(text)
        rejection, shown = mobile.rejection, mask(DataKind.MOBILE, mobile.value)
        if rejection is None and mobile.virtual_operator:
            shown += " (virtual operator)"
    elif kind == "uscc":
        rejection, shown = check_organisation_code(text).rejection, text.strip().upper()
    else:
        raise fail(ctx, f"kind {kind!r} is not id_number, mobile or uscc")
    emit(ctx, {"kind": kind, "ok": rejection is None, "masked": shown,
               "reason": rejection.code if rejection else None,
               "message": rejection.message if rejection else None},
         [f"{shown}: " + (f"rejected ({rejection.code}): {rejection.message}" if rejection
                          else "ok")])
    if rejection is not None:
        raise typer.Exit(1)


@identity_app.command("status")
def status(ctx: typer.Context,
           user_id: Annotated[str, typer.Argument(help="User id.")]) -> None:
    """A user's verification status, masked identity data and verification evidence."""
    with open_services(ctx) as services:
        state = services.verification.status(user_id)
        evidence = services.verification.evidence(user_id)
    lines = [f"user      {state.user_id}",
             f"verified  {'yes (' + (state.method or '') + ')' if state.verified else 'no'}"]
    lines += [f"{kind:<9} {shown}" for kind, shown in sorted(state.masked.items())]
    lines += [f"  {e['at']:%Y-%m-%d %H:%M:%S}  {e['evidence_id']}  {e['method']}  "
              f"{e['outcome']}" for e in evidence]
    emit(ctx, {"status": state, "evidence": evidence}, lines)


@identity_app.command("rotate-keys")
def rotate_keys(ctx: typer.Context) -> None:
    """Re-seal every vault entry under the active key (SYNTHGUARD_VAULT_ACTIVE_KEY)."""
    with open_services(ctx) as services:
        count = services.rotate_keys()
        active = services.vault.keyring.active
    emit(ctx, {"resealed": count, "key_id": active},
         [f"{count} entries re-sealed under key {active}"])


@identity_app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Delete personal data of accounts closed longer than the retention period."""
    with open_services(ctx) as services:
        report = services.purge()
        days = services.settings.retention_days
    emit(ctx, report, [f"closed accounts released: {report.accounts} (retention {days} days)",
                       f"stale codes deleted: {report.challenges}",
                       f"vault entries deleted: {report.entries}"])


def main() -> None:
    identity_app(prog_name=PROG)


if __name__ == "__main__":
    main()
