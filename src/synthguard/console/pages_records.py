"""Console pages for the records: feature library, registries, rumors, policies,
regulator exports, audit verification, service switches, operators.

| path | view | act |
| --- | --- | --- |
| /library; /library/{id}/move | reviewer, auditor | reviewer |
| /library/releases | | admin |
| /registries | admin, auditor | |
| /registries/algorithms, .../{id}/filing, .../{id}/assessments, /registries/datasets, .../{id}/sample-checks, .../{id}/pii-scan | | admin |
| /rumors; /rumors (POST), /rumors/{id}/retire, /rumors/check | reviewer, auditor | reviewer |
| /policies; /policies/{kind} (POST) | admin, auditor | admin |
| /exports; /exports (POST: the signed archive) | auditor | auditor |
| /audit; /audit/verify (POST) | auditor | auditor |
| /switches; /switches/engage, /switches/release | admin | admin |
| /operators; /operators (POST), /operators/{name}/disable | admin | admin |
"""  # noqa: E501

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from synthguard.console.audit_check import verify_live_log
from synthguard.console.services import console_services
from synthguard.console.web import ConsoleRoute, SignedIn, render, require, see_other
from synthguard.governance.auth import Operator, Role
from synthguard.governance.errors import invalid
from synthguard.governance.http_ops import RangeBody
from synthguard.governance.http_ops import export as export_archive_route
from synthguard.governance.policies import PolicyKind, labeling_section
from synthguard.identity.numbers import CHINA_TZ
from synthguard.moderation.library import STATUSES, Status

router = APIRouter(route_class=ConsoleRoute)
Reviewer = Annotated[SignedIn, Depends(require(Role.REVIEWER))]
ReviewReader = Annotated[SignedIn, Depends(require(Role.REVIEWER, Role.AUDITOR))]
Admin = Annotated[SignedIn, Depends(require(Role.ADMIN))]
AdminReader = Annotated[SignedIn, Depends(require(Role.ADMIN, Role.AUDITOR))]
Auditor = Annotated[SignedIn, Depends(require(Role.AUDITOR))]
Short = Annotated[str, Form(min_length=1, max_length=200)]
Long = Annotated[str, Form(min_length=1, max_length=5000)]
Day = Annotated[date, Form()]
Outcome = Annotated[Literal["passed", "conditional", "failed"], Form()]
Done = Annotated[str | None, Query(alias="ok", max_length=20)]
DONE = {"moved": "Entry moved.", "released": "Release cut.", "saved": "Saved.",
        "published": "New version published.", "engaged": "Switch engaged.",
        "released_switch": "Switch released.", "created": "Operator created.",
        "disabled": "Operator disabled; their sessions have ended.", "retired": "Claim retired."}


def _notice(done: str | None) -> str | None:
    return DONE.get(done or "")


# -- feature library -----------------------------------------------------------------------

@router.get("/library")
def library(request: Request, who: ReviewReader, ok: Done = None,
            status: Annotated[Status | None, Query()] = None) -> Response:
    store = console_services(request).moderation
    entries = [e for e in store.entries() if status is None or e.status == status]
    return render(request, "console/library.html", {
        "entries": entries[:500], "total": len(entries), "status": status,
        "statuses": STATUSES, "history": store.history()[-20:][::-1], "notice": _notice(ok)})


@router.post("/library/{entry_id}/move")
def move_entry(request: Request, entry_id: str, who: Reviewer,
               to: Annotated[Status, Form()],
               note: Annotated[str, Form(max_length=500)] = "") -> Response:
    console_services(request).moderation.move(entry_id, to, actor=who.name, note=note)
    return see_other("/console/library?ok=moved")


@router.post("/library/releases")
def cut_release(request: Request, who: Admin,
                version: Annotated[str, Form(min_length=1, max_length=64,
                                             pattern=r"^[A-Za-z0-9._-]+$")]) -> Response:
    console_services(request).moderation.cut_release(version, actor=who.name)
    return see_other("/console/library?ok=released")


# -- registries ----------------------------------------------------------------------------

@router.get("/registries")
def registries(request: Request, who: AdminReader, ok: Done = None) -> Response:
    registry = console_services(request).governance.registry
    return render(request, "console/registries.html", {
        "algorithms": registry.algorithms(), "due": registry.reviews_due(within_days=60),
        "datasets": registry.datasets(), "notice": _notice(ok)})


@router.post("/registries/algorithms")
def add_algorithm(request: Request, who: Admin, name: Short,
                  algorithm_type: Annotated[str, Form(min_length=1, max_length=40)],
                  models: Annotated[str, Form(max_length=2000)] = "",
                  filing_number: Annotated[str, Form(max_length=64)] = "",
                  public_info_url: Annotated[str, Form(max_length=500)] = "",
                  filed_on: Annotated[date | None, Form()] = None) -> Response:
    routes = [m.strip() for m in models.replace(",", "\n").splitlines() if m.strip()]
    if bool(filing_number.strip()) != (filed_on is not None):
        raise invalid("a filing number needs its filing date, and the other way round")
    console_services(request).governance.registry.register_algorithm(
        name, algorithm_type, routes, actor=who.name,
        filing_number=filing_number.strip() or None,
        public_info_url=public_info_url.strip() or None, filed_on=filed_on)
    return see_other("/console/registries?ok=saved")


@router.post("/registries/algorithms/{algorithm_id}/filing")
def record_filing(request: Request, algorithm_id: str, who: Admin,
                  filing_number: Annotated[str, Form(min_length=1, max_length=64)],
                  filed_on: Day,
                  public_info_url: Annotated[str, Form(max_length=500)] = "") -> Response:
    console_services(request).governance.registry.record_filing(
        algorithm_id, filing_number, public_info_url=public_info_url.strip() or None,
        filed_on=filed_on)
    return see_other("/console/registries?ok=saved")


@router.post("/registries/algorithms/{algorithm_id}/assessments")
def assess(request: Request, algorithm_id: str, who: Admin,
           kind: Annotated[Literal["security_assessment", "periodic_review",
                                   "biometric_editing", "public_opinion"], Form()],
           assessed_on: Day, assessor: Short, outcome: Outcome,
           notes: Annotated[str, Form(max_length=5000)] = "") -> Response:
    console_services(request).governance.registry.record_assessment(
        algorithm_id, kind, assessed_on=assessed_on, assessor=assessor, outcome=outcome,
        actor=who.name, notes=notes)
    return see_other("/console/registries?ok=saved")


@router.post("/registries/datasets")
def add_dataset(request: Request, who: Admin, name: Short,
                source: Annotated[str, Form(min_length=1, max_length=500)], licence: Short,
                collected_on: Day,
                description: Annotated[str, Form(max_length=5000)] = "") -> Response:
    console_services(request).governance.registry.add_dataset(
        name, source=source, licence=licence, collected_on=collected_on,
        description=description, actor=who.name)
    return see_other("/console/registries?ok=saved")


@router.post("/registries/datasets/{dataset_id}/sample-checks")
def sample_check(request: Request, dataset_id: str, who: Admin, checked_on: Day,
                 sample_size: Annotated[int, Form(ge=1)],
                 problems_found: Annotated[int, Form(ge=0)], outcome: Outcome,
                 notes: Annotated[str, Form(max_length=5000)] = "") -> Response:
    console_services(request).governance.registry.record_sample_check(
        dataset_id, checked_on=checked_on, sample_size=sample_size,
        problems_found=problems_found, outcome=outcome, checker=who.name, notes=notes)
    return see_other("/console/registries?ok=saved")


@router.post("/registries/datasets/{dataset_id}/pii-scan")
def pii_scan(request: Request, dataset_id: str, who: Admin,
             records: Annotated[str, Form(min_length=1, max_length=200_000)]) -> Response:
    lines = [line for line in records.splitlines() if line.strip()]
    console_services(request).governance.registry.scan_dataset(dataset_id, lines,
                                                                actor=who.name)
    return see_other("/console/registries?ok=saved")


# -- rumors --------------------------------------------------------------------------------

@router.get("/rumors")
def rumors(request: Request, who: ReviewReader, ok: Done = None) -> Response:
    library = console_services(request).governance.rumors
    return render(request, "console/rumors.html", {
        "claims": library.claims(include_retired=True), "matches": library.matches(limit=50),
        "notice": _notice(ok)})


@router.post("/rumors")
def add_rumor(request: Request, who: Reviewer,
              claim: Annotated[str, Form(min_length=1, max_length=2000)], refutation: Long,
              sources: Annotated[str, Form(min_length=1, max_length=5000)], refuted_on: Day,
              action: Annotated[Literal["", "notice", "block"], Form()] = "") -> Response:
    listed = [s.strip() for s in sources.splitlines() if s.strip()]
    console_services(request).governance.rumors.add(
        claim, refutation, sources=listed, refuted_on=refuted_on, actor=who.name,
        action=action or None)
    return see_other("/console/rumors?ok=saved")


@router.post("/rumors/{claim_id}/retire")
def retire_rumor(request: Request, claim_id: str, who: Reviewer) -> Response:
    console_services(request).governance.rumors.retire(claim_id, actor=who.name)
    return see_other("/console/rumors?ok=retired")


@router.post("/rumors/check")
def check_rumor(request: Request, who: Reviewer,
                text: Annotated[str, Form(min_length=1, max_length=100_000)]) -> Response:
    library = console_services(request).governance.rumors
    verdict = library.check(text, record=False)
    return render(request, "console/rumors.html", {
        "claims": library.claims(include_retired=True), "matches": library.matches(limit=50),
        "verdict": verdict}, fragment="check")


# -- policies ------------------------------------------------------------------------------

@router.get("/policies")
def policies(request: Request, who: AdminReader, ok: Done = None) -> Response:
    services = console_services(request)
    docs = services.governance.policies
    kinds = ("management_rules", "platform_conventions", "service_agreement")
    return render(request, "console/policies.html", {
        "kinds": kinds, "current": {k: docs.current(k) for k in kinds},
        "labeling": labeling_section(services.config), "notice": _notice(ok)})


@router.post("/policies/{kind}")
def publish_policy(request: Request, kind: PolicyKind, who: Admin, title: Short,
                   body: Annotated[str, Form(min_length=1, max_length=200_000)],
                   requires_acceptance: Annotated[bool, Form()] = False) -> Response:
    console_services(request).governance.policies.publish(
        kind, title, body.replace("\r\n", "\n"), actor=who.name,
        requires_acceptance=requires_acceptance)
    return see_other("/console/policies?ok=published")


# -- regulator exports, audit verification -----------------------------------------------

@router.get("/exports")
def exports(request: Request, who: Auditor) -> Response:
    reports = console_services(request).governance.reports
    return render(request, "console/exports.html", {
        "exports": reports.exports()[::-1], "fingerprint": reports.key_fingerprint,
        "public_key": reports.public_key})


@router.post("/exports")
def export(request: Request, who: Auditor, since: Day, until: Day) -> Response:
    if until < since:
        raise invalid("the last day must not be before the first", "invalid_range")
    start = datetime.combine(since, time(), CHINA_TZ)
    end = datetime.combine(until + timedelta(days=1), time(), CHINA_TZ)
    # The same download the JSON API gives (temporary folder removed after sending).
    return export_archive_route(request, RangeBody(since=start, until=end),
                                Operator(who.name, who.info.roles))


@router.get("/audit")
def audit(request: Request, who: Auditor) -> Response:
    services = console_services(request)
    log = services.audit
    return render(request, "console/audit.html", {
        "audit": log, "checkpoint": log.checkpoints.latest() if log else None,
        "log_size": log.log.size() if log else None})


@router.post("/audit/verify")
def verify_audit(request: Request, who: Auditor) -> Response:
    services = console_services(request)
    log = services.audit
    report = verify_live_log(log) if log else None
    return render(request, "console/audit.html", {
        "audit": log, "checkpoint": log.checkpoints.latest() if log else None,
        "log_size": log.log.size() if log else None, "report": report}, fragment="result")


# -- switches, operators -----------------------------------------------------------------

@router.get("/switches")
def switches(request: Request, who: Admin, ok: Done = None) -> Response:
    flips = console_services(request).governance.switches
    return render(request, "console/switches.html", {
        "engaged": flips.active(), "history": flips.history()[-30:][::-1],
        "notice": _notice(ok)})


def _flip(request: Request, who: SignedIn, engage: bool, switch: str, model: str,
          reason: str, order_ref: str) -> Response:
    flips = console_services(request).governance.switches
    route = (model.strip() or None) if switch == "model" else None
    if engage:
        flips.engage(switch, model=route, reason=reason, order_ref=order_ref, actor=who.name)
        return see_other("/console/switches?ok=engaged")
    flips.release(switch, model=route, reason=reason, order_ref=order_ref, actor=who.name)
    return see_other("/console/switches?ok=released_switch")


Switch = Annotated[Literal["registrations", "generation", "model"], Form()]
Model = Annotated[str, Form(max_length=200)]
OrderRef = Annotated[str, Form(min_length=1, max_length=200)]
SwitchReason = Annotated[str, Form(min_length=1, max_length=500)]


@router.post("/switches/engage")
def engage(request: Request, who: Admin, switch: Switch, reason: SwitchReason,
           order_ref: OrderRef, model: Model = "") -> Response:
    return _flip(request, who, True, switch, model, reason, order_ref)


@router.post("/switches/release")
def release(request: Request, who: Admin, switch: Switch, reason: SwitchReason,
            order_ref: OrderRef, model: Model = "") -> Response:
    return _flip(request, who, False, switch, model, reason, order_ref)


@router.get("/operators")
def operators(request: Request, who: Admin, ok: Done = None) -> Response:
    return render(request, "console/operators.html", {
        "operators": console_services(request).operators.all(),
        "roles": [r.value for r in Role], "notice": _notice(ok)})


@router.post("/operators")
def add_operator(request: Request, who: Admin,
                 name: Annotated[str, Form(min_length=1, max_length=100)],
                 password: Annotated[str, Form(min_length=1, max_length=1024)],
                 roles: Annotated[list[str], Form(min_length=1)]) -> Response:
    console_services(request).operators.create(name, password, roles, actor=who.name)
    return see_other("/console/operators?ok=created")


@router.post("/operators/{name}/disable")
def disable_operator(request: Request, name: str, who: Admin) -> Response:
    console_services(request).operators.disable(name)
    return see_other("/console/operators?ok=disabled")
