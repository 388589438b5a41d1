"""What the `synthguard governance` commands share: options, opening the services, output.

Like `synthguard admin`, every command that touches the database migrates it first;
errors are one line with exit code 1 (`--debug` shows the traceback); `--json` prints
one JSON object.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python
from sqlalchemy.exc import SQLAlchemyError

from synthguard.audit.service import Audit
from synthguard.config import Config
from synthguard.errors import SynthGuardError
from synthguard.governance.service import Governance
from synthguard.governance.settings import GovernanceSettings
from synthguard.identity.cli import Settings, fail
from synthguard.identity.numbers import CHINA_TZ
from synthguard.store.db import Database

PROG = "synthguard governance"

ActorOpt = Annotated[str | None, typer.Option(
    "--actor", help="Who is acting (default admin:<login name>).", show_default=False)]


@dataclasses.dataclass
class GovernanceCli(Settings):
    governance_config: Path | None = None


def settings(ctx: typer.Context) -> GovernanceCli:
    found = ctx.find_object(GovernanceCli)
    assert found is not None, "the group callback sets the settings"
    return found


def actor(value: str | None) -> str:
    if value:
        return value
    try:
        return f"admin:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "admin"


@contextmanager
def open_governance(ctx: typer.Context, *, with_audit: bool = False) -> Iterator[Governance]:
    """The services on the configured database; `with_audit` attaches the audit log so
    that regulator exports carry its proofs."""
    opts = settings(ctx)
    db: Database | None = None
    try:
        config = Config.load(opts.config_path, require_producer=False)
        if opts.database_url:
            config = dataclasses.replace(config, database_url=opts.database_url)
        db = Database(config.database_url)
        db.migrate()
        audit = Audit(db, config) if with_audit else None
        yield Governance(db, config, GovernanceSettings.load(path=opts.governance_config),
                         audit=audit)
    except (SynthGuardError, SQLAlchemyError, OSError) as exc:
        if opts.debug:
            raise
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise fail(ctx, lines[0]) from None
    finally:
        if db is not None:
            db.dispose()


def emit(ctx: typer.Context, data: Any, lines: list[str]) -> None:
    if settings(ctx).as_json:
        typer.echo(json.dumps(to_jsonable_python(data), ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def when(value: datetime | date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def parse_date(ctx: typer.Context, text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(ctx, f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_moment(ctx: typer.Context, text: str, what: str) -> datetime:
    """An ISO date (midnight China time) or date-time (China time unless it has a zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(ctx, f"{what}: {text!r} is not an ISO date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
