"""`synthguard admin ...`: organisations, users, API keys and account states.

Every command migrates the database first (a no-op when it is current), so a fresh
install needs no separate set-up step. Errors are one line on stderr with exit code 1;
`--debug` shows the traceback instead. `--json` prints one JSON object per command.
Also runnable as `python -m synthguard.accounts.cli`.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from synthguard.accounts.keys import DEFAULT_SCOPES
from synthguard.accounts.service import Accounts, UserInfo, parse_state
from synthguard.config import Config
from synthguard.errors import SynthGuardError
from synthguard.store.db import Database

PROG = "synthguard admin"

admin_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Administer organisations, users, API keys and account states.")
org_app = typer.Typer(no_args_is_help=True, help="Organisations.")
user_app = typer.Typer(no_args_is_help=True, help="Users and their account states.")
key_app = typer.Typer(no_args_is_help=True, help="API keys.")
admin_app.add_typer(org_app, name="org")
admin_app.add_typer(user_app, name="user")
admin_app.add_typer(key_app, name="key")


@dataclasses.dataclass
class _Settings:
    config_path: Path | None
    database_url: str | None
    as_json: bool
    debug: bool


@admin_app.callback()
def _admin(
    ctx: typer.Context,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Database URL (default: from the config file / environment).",
        show_default=False)] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="Config file (TOML); default $SYNTHGUARD_CONFIG.",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    ctx.obj = _Settings(config_path, database_url, as_json, debug)


def _settings(ctx: typer.Context) -> _Settings:
    settings = ctx.find_object(_Settings)
    assert settings is not None, "the admin callback sets the settings"
    return settings


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = f"database error: {exc.orig}"
    elif isinstance(exc, SQLAlchemyError):
        text = f"database error: {exc}"
    elif isinstance(exc, OSError):
        text = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    else:
        text = str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def _accounts(ctx: typer.Context) -> Iterator[Accounts]:
    settings = _settings(ctx)
    db: Database | None = None
    try:
        # Admin work never writes labels, so it needs no producer code.
        config = Config.load(settings.config_path, require_producer=False)
        if settings.database_url:
            config = dataclasses.replace(config, database_url=settings.database_url)
        db = Database(config.database_url)
        db.migrate()
        yield Accounts(db, config)
    except (SynthGuardError, SQLAlchemyError, OSError) as exc:
        if settings.debug:
            raise
        typer.echo(f"{PROG}: error: {_describe(exc)}", err=True)
        raise typer.Exit(1) from None
    finally:
        if db is not None:
            db.dispose()


def _default_actor() -> str:
    try:
        return f"admin:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "admin"


def _emit(ctx: typer.Context, data: dict[str, Any], lines: list[str]) -> None:
    if _settings(ctx).as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, default=_json_default))
    else:
        for line in lines:
            typer.echo(line)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(type(value).__name__)


ActorOpt = Annotated[str | None, typer.Option(
    "--actor", help="Who is acting (default admin:<login name>).", show_default=False)]


@org_app.command("create")
def org_create(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Name.")]) -> None:
    """Create an organisation; prints its id."""
    with _accounts(ctx) as accounts:
        org_id = accounts.create_org(name)
    _emit(ctx, {"org_id": org_id}, [org_id])


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation id.", show_default=False)],
    verified: Annotated[bool, typer.Option(
        "--verified", help="Mark real-name verified by the admin (method 'admin').")] = False,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="Evidence note for --verified (a reference, not identity data).",
        show_default=False)] = None,
    actor: ActorOpt = None,
) -> None:
    """Create a user in an organisation; prints its id."""
    actor = actor or _default_actor()
    with _accounts(ctx) as accounts:
        user_id = accounts.create_user(org, name, actor=actor)
        if verified:
            accounts.mark_verified(user_id, "admin", evidence or f"admin CLI ({actor})")
    _emit(ctx, {"user_id": user_id, "verified": verified}, [user_id])


@user_app.command("state")
def user_state(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="User id.")],
    state: Annotated[str, typer.Argument(help="active, warned, limited, suspended or closed.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).", show_default=False)],
    reopen: Annotated[bool, typer.Option(
        "--reopen", help="Required to move a closed account to another state.")] = False,
    actor: ActorOpt = None,
) -> None:
    """Change a user's account state, recording reason and actor."""
    with _accounts(ctx) as accounts:
        new_state = parse_state(state)
        before = accounts.user_state(user_id)
        accounts.set_state(user_id, new_state, reason, actor or _default_actor(), reopen=reopen)
    _emit(ctx, {"user_id": user_id, "from_state": before.value, "to_state": new_state.value},
          [f"{user_id}: {before.value} -> {new_state.value}"])


@user_app.command("show")
def user_show(ctx: typer.Context,
              user_id: Annotated[str, typer.Argument(help="User id.")]) -> None:
    """Show a user, their keys and the history of their account state."""
    with _accounts(ctx) as accounts:
        info = accounts.describe_user(user_id)
    _emit(ctx, dataclasses.asdict(info), _user_lines(info))


def _user_lines(info: UserInfo) -> list[str]:
    verified = (f"yes ({info.verification_method}, {info.verified_at:%Y-%m-%d %H:%M:%S} UTC)"
                if info.verified and info.verified_at else "no")
    lines = [f"user      {info.user_id}", f"org       {info.org_id}", f"name      {info.name}",
             f"state     {info.state.value}", f"verified  {verified}", "keys"]
    for key in info.keys:
        status = (f"revoked {key.revoked_at:%Y-%m-%d %H:%M:%S} by {key.revoked_by}"
                  if key.revoked_at else "active")
        lines.append(f"  {key.key_id}  {' '.join(sorted(key.scopes))}  "
                     f"{key.rate_limit_per_min}/min  {status}")
    lines.append("history")
    for change in info.history:
        before = change.from_state.value if change.from_state else "-"
        lines.append(f"  {change.at:%Y-%m-%d %H:%M:%S}  {before} -> {change.to_state.value}"
                     f"  by {change.actor}: {change.reason}")
    return lines


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="User id.", show_default=False)],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help=f"Scope (repeatable; default {' '.join(DEFAULT_SCOPES)}).",
        show_default=False)] = None,
    rate_limit: Annotated[int, typer.Option("--rate-limit", help="Requests per minute.")] = 60,
) -> None:
    """Issue an API key. The key is printed once and cannot be shown again."""
    scopes = scope or list(DEFAULT_SCOPES)
    with _accounts(ctx) as accounts:
        key_id, plaintext = accounts.issue_key(user, scopes, rate_limit)
    _emit(ctx, {"key_id": key_id, "key": plaintext, "scopes": sorted(set(scopes)),
                "rate_limit_per_min": rate_limit},
          [f"key_id  {key_id}", f"key     {plaintext}"])
    typer.echo("Store the key now: only its hash is kept, it cannot be shown again.", err=True)


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id.")],
               actor: ActorOpt = None) -> None:
    """Revoke an API key; it is refused from the next request on."""
    with _accounts(ctx) as accounts:
        accounts.revoke_key(key_id, actor or _default_actor())
    _emit(ctx, {"key_id": key_id, "revoked": True}, [f"{key_id}: revoked"])


def main() -> None:
    admin_app(prog_name=PROG)


if __name__ == "__main__":
    main()
