"""`synthguard governance ...`: complaints, the published flow, regulator reports, and (from
cli_records.py) rumors, registries, policies and switches.

    synthguard governance flow
    synthguard governance complaints queue
    synthguard governance complaints answer cmp_... --decision upheld --answer "..." \\
        --enforce usr_...:warned:"unlabelled AI video"
    synthguard governance report export --since 2026-01-01 --until 2026-04-01 --out q1.tar.gz
    synthguard governance report verify q1.tar.gz --key BASE64KEY

Also runnable as `python -m synthguard.governance.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synthguard.accounts import parse_state
from synthguard.governance.archive import parse_public_key, verify_archive
from synthguard.governance.cli_base import (
    PROG,
    ActorOpt,
    GovernanceCli,
    actor,
    emit,
    open_governance,
    parse_moment,
    when,
)
from synthguard.governance.cli_records import policy_app, registry_app, rumor_app, switch_app
from synthguard.governance.complaint_views import Complaint, EnforcementOrder
from synthguard.identity.cli import ConfigOpt, DatabaseOpt, DebugOpt, JsonOpt, fail

governance_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             help="Complaints, rumors, registries, policies, switches, reports.")
complaint_app = typer.Typer(no_args_is_help=True, help="Complaints, reports and appeals.")
report_app = typer.Typer(no_args_is_help=True, help="Signed archives for the regulator.")
governance_app.add_typer(complaint_app, name="complaints")
governance_app.add_typer(rumor_app, name="rumors")
governance_app.add_typer(registry_app, name="registry")
governance_app.add_typer(policy_app, name="policies")
governance_app.add_typer(switch_app, name="switches")
governance_app.add_typer(report_app, name="report")


@governance_app.callback()
def _governance(ctx: typer.Context, database_url: DatabaseOpt = None,
                config_path: ConfigOpt = None,
                governance_config: Annotated[Path | None, typer.Option(
                    "--governance-config", help="Governance settings (TOML); default "
                    "$SYNTHGUARD_GOVERNANCE_CONFIG.", show_default=False)] = None,
                as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    ctx.obj = GovernanceCli(PROG, config_path, database_url, as_json, debug, governance_config)


@governance_app.command("flow")
def flow(ctx: typer.Context) -> None:
    """The published processing flow and deadlines (Markdown), from the configuration."""
    with open_governance(ctx) as gov:
        document = gov.flow()
    emit(ctx, document.to_dict(), [document.to_markdown()])


@governance_app.command("deadline")
def deadline(ctx: typer.Context,
             received: Annotated[str, typer.Argument(help="When received (ISO; China time).")],
             days: Annotated[int, typer.Option("--days", help="Working days.")] = 5) -> None:
    """When a deadline of N working days passes, for something received at a time."""
    moment = parse_moment(ctx, received, "received")
    with open_governance(ctx) as gov:
        due = gov.settings.calendar.deadline(moment, days)
    emit(ctx, {"received_at": moment, "working_days": days, "due_at": due},
         [f"due before {when(due)} (China time): {days} working days after {when(moment)}"])


def _complaint_lines(c: Complaint) -> list[str]:
    lines = [f"{c.id}  {c.kind}/{c.category}  {c.state} (level {c.level})",
             f"  target      {c.target_kind}: {c.target}",
             f"  received    {when(c.received_at)}   contact {c.contact_masked or '-'}",
             f"  acknowledge by {when(c.acknowledge_due_at)}  done {when(c.acknowledged_at)}",
             f"  answer by   {when(c.answer_due_at)}  done {when(c.answered_at)}",
             f"  decision    {c.decision or '-'}",
             "  " + c.description.replace("\n", " ")[:200]]
    lines += [f"  evidence    {e.filename} ({e.format}, label {e.label_verdict})"
              for e in c.evidence]
    lines += [f"  {when(e.at)}  {e.actor}  {e.action}  {e.from_state or ''}->"
              f"{e.to_state or ''}  {e.note}" for e in c.events]
    return lines


@complaint_app.command("queue")
def queue(ctx: typer.Context) -> None:
    """Open items, the most urgent deadline first."""
    with open_governance(ctx) as gov:
        entries = gov.complaints.queue()
    emit(ctx, {"queue": entries},
         [f"{e.urgency:<8} {e.deadline:<11} by {when(e.due_at)} ({e.working_days_left:+d} wd)"
          f"  {e.id}  {e.kind}/{e.category}  {e.state}" for e in entries] or ["queue empty"])


@complaint_app.command("show")
def show(ctx: typer.Context, complaint_id: Annotated[str, typer.Argument()]) -> None:
    """One complaint with its evidence and every event."""
    with open_governance(ctx) as gov:
        found = gov.complaints.get(complaint_id)
    emit(ctx, found, _complaint_lines(found))


@complaint_app.command("move")
def move(ctx: typer.Context, complaint_id: Annotated[str, typer.Argument()],
         to: Annotated[str, typer.Argument(help="acknowledged, in_review, escalated, closed")],
         note: Annotated[str, typer.Option("--note")] = "",
         assignee: Annotated[str | None, typer.Option("--assignee")] = None,
         who: ActorOpt = None) -> None:
    """Move a complaint along the flow."""
    with open_governance(ctx) as gov:
        found = gov.complaints.transition(complaint_id, to, actor=actor(who), note=note,
                                          assignee=assignee)
    emit(ctx, found, [f"{found.id}: {found.state}"])


@complaint_app.command("answer")
def answer(ctx: typer.Context, complaint_id: Annotated[str, typer.Argument()],
           decision: Annotated[str, typer.Option("--decision", help="upheld, partly_upheld, "
                                                 "rejected or referred")],
           text: Annotated[str, typer.Option("--answer", help="The answer to the reporter.")],
           enforce: Annotated[list[str] | None, typer.Option(
               "--enforce", help="USER:STATE:REASON, repeatable.")] = None,
           who: ActorOpt = None) -> None:
    """Answer a complaint, applying the enforcement it orders."""
    orders = []
    for item in enforce or []:
        user_id, _, rest = item.partition(":")
        state, _, reason = rest.partition(":")
        if not (user_id and state and reason):
            raise fail(ctx, f"--enforce {item!r}: expected USER:STATE:REASON")
        orders.append(EnforcementOrder(user_id, parse_state(state), reason))
    with open_governance(ctx) as gov:
        found = gov.complaints.answer(complaint_id, decision,  # type: ignore[arg-type]
                                      text, actor=actor(who), enforcement=orders)
    emit(ctx, found, [f"{found.id}: answered ({found.decision})"]
         + [f"  {e['user_id']}: {e['from_state']} -> {e['to_state']}" for e in found.enforcement])


@complaint_app.command("sweep")
def sweep(ctx: typer.Context) -> None:
    """Send reminders for near deadlines and escalate passed ones (run it from cron)."""
    with open_governance(ctx) as gov:
        alerts = gov.complaints.sweep()
    emit(ctx, {"alerts": alerts},
         [f"{a.urgency:<8} {a.deadline:<11} {a.complaint_id} due {when(a.due_at)}"
          + ("  escalated" if a.escalated else "") for a in alerts] or ["nothing due"])


@report_app.command("export")
def export(ctx: typer.Context,
           since: Annotated[str, typer.Option("--since", help="Start (ISO; China time).")],
           until: Annotated[str, typer.Option("--until", help="End, exclusive.")],
           out: Annotated[Path | None, typer.Option(
               "--out", help="Archive to write (default: in the reports folder).",
               show_default=False)] = None,
           audit: Annotated[bool, typer.Option(help="Include audit-log proofs.")] = True,
           who: ActorOpt = None) -> None:
    """Write the signed regulator archive for a period."""
    start, end = parse_moment(ctx, since, "--since"), parse_moment(ctx, until, "--until")
    with open_governance(ctx, with_audit=audit) as gov:
        dest = out or gov.settings.reports_dir / f"report-{start:%Y%m%d}-{end:%Y%m%d}.tar.gz"
        result = gov.reports.export(start, end, dest, actor=actor(who))
        key = gov.reports.public_key
    emit(ctx, {"path": str(result.path), "sha256": result.archive_sha256, "public_key": key,
               "manifest": result.manifest},
         [f"{result.path}: {len(result.manifest['files'])} files, sha256 "
          f"{result.archive_sha256}", f"verify with: {PROG} report verify {result.path} "
          f"--key {key}"])


@report_app.command("verify")
def verify(ctx: typer.Context, archive: Annotated[Path, typer.Argument()],
           key: Annotated[str | None, typer.Option(
               "--key", help="The provider's public key (base64).")] = None) -> None:
    """Check an archive's signature and every file digest; exit code 1 when it fails."""
    try:
        trusted = parse_public_key(key) if key else None
    except ValueError as exc:
        raise fail(ctx, f"--key: {exc}") from None
    check = verify_archive(archive, trusted)
    emit(ctx, {"ok": check.ok, "problems": check.problems, "warnings": check.warnings,
               "files": check.files, "key_fingerprint": check.key_fingerprint},
         [f"{archive}: {'ok' if check.ok else 'FAILED'} ({check.files} files, key "
          f"{check.key_fingerprint or '-'})"] + [f"  problem: {p}" for p in check.problems]
         + [f"  warning: {w}" for w in check.warnings])
    if not check.ok:
        raise typer.Exit(1)


@report_app.command("key")
def key(ctx: typer.Context) -> None:
    """The public key archives are signed with, to publish and to give the regulator."""
    with open_governance(ctx) as gov:
        public, fingerprint = gov.reports.public_key, gov.reports.key_fingerprint
    emit(ctx, {"public_key": public, "fingerprint": fingerprint},
         [f"public key   {public}", f"fingerprint  {fingerprint}"])


def main() -> None:
    governance_app(prog_name=PROG)


if __name__ == "__main__":
    main()
