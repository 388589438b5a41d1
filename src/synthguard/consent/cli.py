"""`synthguard consent ...`: list, show and revoke consent records; see their checks.

Same conventions as `synthguard identity` (whose helpers it uses): the database is
migrated first, errors are one line with exit code 1, `--json` prints JSON.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from synthguard.consent.service import ConsentInfo
from synthguard.identity.cli import (
    ConfigOpt,
    DatabaseOpt,
    DebugOpt,
    JsonOpt,
    emit,
    open_services,
    options,
)

PROG = "synthguard consent"

consent_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Consent records for face and voice editing (Art. 14).")


@consent_app.callback()
def _consent(ctx: typer.Context, database_url: DatabaseOpt = None,
             config_path: ConfigOpt = None, as_json: JsonOpt = False,
             debug: DebugOpt = False) -> None:
    options(ctx, PROG, database_url, config_path, as_json, debug)


def _line(c: ConsentInfo) -> str:
    return (f"{c.consent_id}  {c.status:<13} {c.scope:<5} {c.subject}  "
            f"{','.join(c.allowed_outputs)}  until {c.valid_until:%Y-%m-%d}  {c.purpose}")


@consent_app.command("list")
def list_consents(ctx: typer.Context, user: Annotated[str, typer.Option(
        "--user", help="User id.", show_default=False)]) -> None:
    """A user's consents, oldest first."""
    with open_services(ctx) as services:
        consents = services.consent.list_for(user)
    emit(ctx, {"data": consents}, [_line(c) for c in consents])


@consent_app.command("show")
def show(ctx: typer.Context, consent_id: Annotated[str, typer.Argument(help="Consent id.")]
         ) -> None:
    """One consent and every check made against it."""
    with open_services(ctx) as services:
        consent = services.consent.get(consent_id)
        checks = services.consent.checks(consent_id)
    lines = [_line(consent), f"evidence  {consent.evidence} {consent.evidence_ref or ''}"]
    if consent.revoked_at:
        lines.append(f"revoked   {consent.revoked_at:%Y-%m-%d %H:%M:%S} by {consent.revoked_by}:"
                     f" {consent.revocation_reason}")
    lines += [f"  {c.at:%Y-%m-%d %H:%M:%S}  {c.kind:<5} {c.output or '-':<5} "
              f"{'granted' if c.granted else 'refused'}  {c.code}" for c in checks]
    emit(ctx, {"consent": consent, "checks": checks}, lines)


@consent_app.command("revoke")
def revoke(
    ctx: typer.Context,
    consent_id: Annotated[str, typer.Argument(help="Consent id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).",
                                        show_default=False)],
    actor: Annotated[str | None, typer.Option(
        "--actor", help="Who is acting (default admin:<login name>).",
        show_default=False)] = None,
) -> None:
    """Revoke a consent at once, e.g. on the data subject's written request."""
    if actor is None:
        try:
            actor = f"admin:{getpass.getuser()}"
        except (OSError, KeyError):  # no login name in some containers
            actor = "admin"
    with open_services(ctx) as services:
        consent = services.consent.revoke(consent_id, actor=actor, reason=reason)
    emit(ctx, consent, [f"{consent.consent_id}: revoked"])


def main() -> None:
    consent_app(prog_name=PROG)


if __name__ == "__main__":
    main()
