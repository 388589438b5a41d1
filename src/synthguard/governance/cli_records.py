"""`synthguard governance rumors|registry|policies|switches ...` (wired in by cli.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from synthguard.config import Config
from synthguard.governance.cli_base import (
    ActorOpt,
    actor,
    emit,
    open_governance,
    parse_date,
    settings,
    when,
)
from synthguard.governance.policies import labeling_section
from synthguard.identity.cli import fail

rumor_app = typer.Typer(no_args_is_help=True, help="Refuted claims (Art. 11).")
registry_app = typer.Typer(no_args_is_help=True, help="Algorithm filings and datasets.")
policy_app = typer.Typer(no_args_is_help=True, help="Policy documents and acceptances.")
switch_app = typer.Typer(no_args_is_help=True, help="Service switches (Art. 21).")
MAX_RECORD_CHARS = 1_000_000


@rumor_app.command("add")
def rumor_add(ctx: typer.Context, claim: Annotated[str, typer.Option("--claim")],
              refutation: Annotated[str, typer.Option("--refutation")],
              source: Annotated[list[str], typer.Option("--source", help="Repeatable.")],
              refuted_on: Annotated[str, typer.Option("--refuted-on")],
              block: Annotated[bool, typer.Option(
                  "--block/--notice", help="Withhold matching outputs (default: the "
                  "configured policy).", show_default=False)] = False,
              who: ActorOpt = None) -> None:
    """Add a refuted claim to the library."""
    day = parse_date(ctx, refuted_on, "--refuted-on")
    with open_governance(ctx) as gov:
        added = gov.rumors.add(claim, refutation, sources=source, refuted_on=day,
                               action="block" if block else None, actor=actor(who))
    emit(ctx, added, [f"{added.id}: added"])


@rumor_app.command("list")
def rumor_list(ctx: typer.Context, retired: Annotated[bool, typer.Option(
        "--retired", help="Include retired claims.")] = False) -> None:
    with open_governance(ctx) as gov:
        claims = gov.rumors.claims(include_retired=retired)
    emit(ctx, {"claims": claims}, [f"{c.id}  {c.refuted_on}  {c.action or 'default'}  "
                                   f"{c.claim[:60]}" for c in claims] or ["no claims"])


@rumor_app.command("retire")
def rumor_retire(ctx: typer.Context, claim_id: Annotated[str, typer.Argument()],
                 who: ActorOpt = None) -> None:
    with open_governance(ctx) as gov:
        claim = gov.rumors.retire(claim_id, actor=actor(who))
    emit(ctx, claim, [f"{claim.id}: retired {when(claim.retired_at)}"])


@rumor_app.command("check")
def rumor_check(ctx: typer.Context, text: Annotated[str, typer.Argument()]) -> None:
    """Preview what a text would match (nothing is recorded)."""
    with open_governance(ctx) as gov:
        verdict = gov.rumors.check(text, record=False)
    emit(ctx, {"action": verdict.action, "hits": verdict.hits, "notice": verdict.notice},
         [verdict.action] + [f"  {h.claim_id}  score {h.score}  {h.action}"
                             for h in verdict.hits])


@registry_app.command("add-algorithm")
def algorithm_add(ctx: typer.Context, name: Annotated[str, typer.Option("--name")],
                  algorithm_type: Annotated[str, typer.Option("--type")] = "generation",
                  model: Annotated[list[str] | None, typer.Option(
                      "--model", help="Gateway route it serves; repeatable.")] = None,
                  filing_number: Annotated[str | None, typer.Option("--filing-number")] = None,
                  url: Annotated[str | None, typer.Option("--public-info-url")] = None,
                  filed_on: Annotated[str | None, typer.Option("--filed-on")] = None,
                  interval: Annotated[int, typer.Option("--review-interval-days")] = 365,
                  first_review: Annotated[str | None, typer.Option(
                      "--first-review-on", help="Default: one interval from today.")] = None,
                  who: ActorOpt = None) -> None:
    """Register an algorithm (with its filing, when it has one)."""
    day = parse_date(ctx, filed_on, "--filed-on") if filed_on else None
    review = parse_date(ctx, first_review, "--first-review-on") if first_review else None
    with open_governance(ctx) as gov:
        added = gov.registry.register_algorithm(
            name, algorithm_type, model or [], actor=actor(who), filing_number=filing_number,
            public_info_url=url, filed_on=day, review_interval_days=interval,
            first_review_on=review)
    emit(ctx, added, [f"{added.id}: {added.status}, next review {added.next_review_on}"])


@registry_app.command("assess")
def assess(ctx: typer.Context, algorithm_id: Annotated[str, typer.Argument()],
           kind: Annotated[str, typer.Option("--kind")],
           assessed_on: Annotated[str, typer.Option("--on")],
           assessor: Annotated[str, typer.Option("--assessor")],
           outcome: Annotated[str, typer.Option("--outcome")],
           report_ref: Annotated[str | None, typer.Option("--report")] = None,
           who: ActorOpt = None) -> None:
    """Record a security assessment or periodic review."""
    day = parse_date(ctx, assessed_on, "--on")
    with open_governance(ctx) as gov:
        found = gov.registry.record_assessment(
            algorithm_id, kind, assessed_on=day, assessor=assessor,  # type: ignore[arg-type]
            outcome=outcome, actor=actor(who), report_ref=report_ref)  # type: ignore[arg-type]
    emit(ctx, found, [f"{found.id}: next review {found.next_review_on}"])


@registry_app.command("algorithms")
def algorithms(ctx: typer.Context) -> None:
    with open_governance(ctx) as gov:
        found = gov.registry.algorithms()
    emit(ctx, {"algorithms": found},
         [f"{a.id}  {a.status:<8} {a.filing_number or '-'}  review {a.next_review_on}  "
          f"{a.name}  [{', '.join(a.models)}]" for a in found] or ["none"])


@registry_app.command("due")
def due(ctx: typer.Context, within_days: Annotated[int, typer.Option("--within")] = 30) -> None:
    """Reviews overdue or due within N days; exit code 1 when any is overdue (for cron)."""
    with open_governance(ctx) as gov:
        items = gov.registry.reviews_due(within_days=within_days)
    emit(ctx, {"due": items}, [f"{d.next_review_on}  {d.days_left:+d} days  {d.algorithm_id}"
                               f"  {d.name}" for d in items] or ["nothing due"])
    if any(d.days_left < 0 for d in items):
        raise typer.Exit(1)


@registry_app.command("add-dataset")
def dataset_add(ctx: typer.Context, name: Annotated[str, typer.Option("--name")],
                source: Annotated[str, typer.Option("--source")],
                licence: Annotated[str, typer.Option("--licence")],
                collected_on: Annotated[str, typer.Option("--collected-on")],
                algorithm_id: Annotated[str | None, typer.Option("--algorithm")] = None,
                who: ActorOpt = None) -> None:
    day = parse_date(ctx, collected_on, "--collected-on")
    with open_governance(ctx) as gov:
        added = gov.registry.add_dataset(name, source=source, licence=licence,
                                         collected_on=day, actor=actor(who),
                                         algorithm_id=algorithm_id)
    emit(ctx, added, [f"{added.id}: added"])


def _records(ctx: typer.Context, path: Path) -> Iterator[str]:
    """Text records: each line of a text file, or each JSON line's string values."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line[:MAX_RECORD_CHARS]
                if path.suffix.lower() != ".jsonl":
                    yield line
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    yield line
                    continue
                yield " ".join(v for v in (value.values() if isinstance(value, dict)
                                           else [value]) if isinstance(v, str))
    except OSError as exc:
        raise fail(ctx, f"{path}: {exc.strerror or exc}") from None


@registry_app.command("scan-dataset")
def scan(ctx: typer.Context, dataset_id: Annotated[str, typer.Argument()],
         path: Annotated[Path, typer.Argument(help="Text (a record a line) or JSONL.")],
         who: ActorOpt = None) -> None:
    """Scan a dataset's records for personal information; keep counts and masked examples."""
    with open_governance(ctx) as gov:
        result = gov.registry.scan_dataset(dataset_id, _records(ctx, path), actor=actor(who))
    emit(ctx, result, [f"{result.records_scanned} records, {result.records_with_pii} with "
                       "personal information"] + [f"  {k}: {n}  e.g. "
                                                  f"{', '.join(result.examples.get(k, []))}"
                                                  for k, n in result.counts.items()])


@policy_app.command("publish")
def publish(ctx: typer.Context, kind: Annotated[str, typer.Argument()],
            title: Annotated[str, typer.Option("--title")],
            body: Annotated[Path, typer.Option("--file", help="Markdown body.")],
            optional: Annotated[bool, typer.Option(
                "--no-acceptance", help="Users need not accept this version.")] = False,
            who: ActorOpt = None) -> None:
    """Publish a new version of a policy document."""
    try:
        text = body.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(ctx, f"{body}: {exc}") from None
    with open_governance(ctx) as gov:
        version = gov.policies.publish(kind, title, text, actor=actor(who),
                                       requires_acceptance=not optional)
    emit(ctx, version, [f"{version.kind} version {version.version} published"])


@policy_app.command("labeling-section")
def labeling(ctx: typer.Context) -> None:
    """Print the service agreement's labeling section, from the configuration."""
    opts = settings(ctx)
    try:
        config = Config.load(opts.config_path, require_producer=False)
    except Exception as exc:
        raise fail(ctx, str(exc)) from None
    typer.echo(labeling_section(config))


@policy_app.command("pending")
def pending(ctx: typer.Context, user_id: Annotated[str, typer.Argument()]) -> None:
    """What a user must accept before generating again."""
    with open_governance(ctx) as gov:
        refs = gov.policies.must_accept(user_id)
    emit(ctx, {"must_accept": refs},
         [f"{r.kind} version {r.version}: {r.title}" for r in refs] or ["nothing pending"])


@switch_app.command("list")
def switch_list(ctx: typer.Context) -> None:
    with open_governance(ctx) as gov:
        engaged = gov.switches.active()
    emit(ctx, {"engaged": engaged}, [f"{s.switch}  since {when(s.since)}  order {s.order_ref}"
                                     f"  {s.reason}" for s in engaged] or ["all switches off"])


def _flip(ctx: typer.Context, on: bool, switch: str, model: str | None, reason: str,
          order: str, who: str | None) -> None:
    with open_governance(ctx) as gov:
        if on:
            gov.switches.engage(switch, model=model, reason=reason, order_ref=order,
                                actor=actor(who))
        else:
            gov.switches.release(switch, model=model, reason=reason, order_ref=order,
                                 actor=actor(who))
        engaged = gov.switches.active()
    emit(ctx, {"engaged": engaged}, [f"engaged: {', '.join(s.switch for s in engaged) or '-'}"])


SwitchArg = Annotated[str, typer.Argument(help="registrations, generation or model")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="The route (model switch).")]
ReasonOpt = Annotated[str, typer.Option("--reason")]
OrderOpt = Annotated[str, typer.Option("--order", help="The order's reference number.")]


@switch_app.command("on")
def switch_on(ctx: typer.Context, switch: SwitchArg, reason: ReasonOpt, order: OrderOpt,
              model: ModelOpt = None, who: ActorOpt = None) -> None:
    """Engage a suspension."""
    _flip(ctx, True, switch, model, reason, order, who)


@switch_app.command("off")
def switch_off(ctx: typer.Context, switch: SwitchArg, reason: ReasonOpt, order: OrderOpt,
               model: ModelOpt = None, who: ActorOpt = None) -> None:
    """Lift a suspension."""
    _flip(ctx, False, switch, model, reason, order, who)
