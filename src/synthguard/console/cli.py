"""`synthguard console ...`: the console's operators from the command line (the first
admin can only be made here).

    synthguard console operator create NAME --role admin     # asks for the password
    synthguard console operator list
    synthguard console operator password NAME
    synthguard console operator roles NAME --role reviewer --role auditor
    synthguard console operator disable NAME / enable NAME

The password is read from the terminal (twice, hidden) or, for scripts, from the
environment variable SYNTHGUARD_OPERATOR_PASSWORD; never from the command line, where
other users could see it. Errors are one line on stderr with exit code 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from synthguard.config import Config
from synthguard.console.operators import Operators
from synthguard.errors import SynthGuardError
from synthguard.store import Database

PASSWORD_ENV = "SYNTHGUARD_OPERATOR_PASSWORD"
console_app = typer.Typer(help="The web console's operators.", no_args_is_help=True)
operator_app = typer.Typer(help="Create, list and disable console operators.",
                           no_args_is_help=True)
console_app.add_typer(operator_app, name="operator")
ConfigOption = Annotated[Path | None, typer.Option("--config", help="Config file.")]
RoleOption = Annotated[list[str], typer.Option("--role", help="admin, reviewer, "
                                               "complaint_handler or auditor (repeatable)")]


@contextmanager
def _operators(config_path: Path | None) -> Iterator[Operators]:
    db: Database | None = None
    try:
        config = Config.load(config_path, require_producer=False)
        db = Database(config.database_url)
        db.migrate()
        yield Operators(db)
    except SynthGuardError as exc:
        typer.echo(f"synthguard console: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if db is not None:
            db.dispose()


def _password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@operator_app.command("create")
def create(name: str, role: RoleOption, config: ConfigOption = None) -> None:
    """Create an operator with the given roles."""
    with _operators(config) as ops:
        info = ops.create(name, _password(), role, actor="cli")
    typer.echo(f"operator {info.name} created ({', '.join(sorted(info.roles))})")


@operator_app.command("list")
def list_operators(config: ConfigOption = None) -> None:
    """List operators, their roles and whether they are disabled."""
    with _operators(config) as ops:
        found = ops.all()
    for info in found:
        state = "disabled" if info.disabled_at else "active"
        typer.echo(f"{info.name}\t{' '.join(sorted(info.roles))}\t{state}")


@operator_app.command("password")
def password(name: str, config: ConfigOption = None) -> None:
    """Set a new password (ends the operator's sessions)."""
    with _operators(config) as ops:
        ops.set_password(name, _password())
    typer.echo(f"password of {name} changed")


@operator_app.command("roles")
def roles(name: str, role: RoleOption, config: ConfigOption = None) -> None:
    """Replace an operator's roles."""
    with _operators(config) as ops:
        info = ops.set_roles(name, role)
    typer.echo(f"operator {info.name}: {', '.join(sorted(info.roles))}")


@operator_app.command("disable")
def disable(name: str, config: ConfigOption = None) -> None:
    """Disable an operator at once (their sessions end)."""
    with _operators(config) as ops:
        ops.disable(name)
    typer.echo(f"operator {name} disabled")


@operator_app.command("enable")
def enable(name: str, config: ConfigOption = None) -> None:
    """Enable a disabled operator again."""
    with _operators(config) as ops:
        ops.enable(name)
    typer.echo(f"operator {name} enabled")

