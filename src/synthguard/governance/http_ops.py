"""Operator endpoints of the governance services, under /v1/governance/ops, each behind
`require_role` (admins pass every check; auditors only read, export and verify).

| method | path | roles |
| --- | --- | --- |
| GET | /complaints?state=, /complaints/queue, /complaints/{id} | handler, auditor |
| POST | /complaints/{id}/transition, /answer, /contact; /complaints/sweep | handler |
| GET | /rumors, /rumors/matches | reviewer, auditor |
| POST | /rumors, /rumors/{id}/retire, /rumors/check | reviewer |
| GET | /algorithms, /reviews-due, /datasets | auditor |
| POST | /algorithms, /algorithms/{id}/filing, /algorithms/{id}/assessments | admin |
| POST | /datasets, /datasets/{id}/pii-scan, /datasets/{id}/sample-checks | admin |
| GET | /policies/{kind}/history | auditor |
| POST | /policies/{kind} | admin |
| GET | /switches, /switches/history | auditor |
| POST | /switches/engage, /switches/release | admin |
| GET | /reports | auditor |
| POST | /reports (the archive), /reports/verify (raw archive, ?key=) | auditor |
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from synthguard.accounts import AccountState
from synthguard.governance.archive import parse_public_key, verify_archive
from synthguard.governance.auth import Operator, Role, require_role
from synthguard.governance.complaint_views import EnforcementOrder
from synthguard.governance.errors import invalid
from synthguard.governance.web import (
    ERRORS,
    GovernanceRoute,
    governance,
    in_thread,
    json_response,
    read_limited,
)

router = APIRouter(prefix="/ops", route_class=GovernanceRoute, responses=ERRORS)
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
Short = Annotated[str, Field(min_length=1, max_length=200)]
Long = Annotated[str, Field(min_length=1, max_length=5000)]
Handler = Annotated[Operator, Depends(require_role(Role.COMPLAINT_HANDLER))]
HandlerOrAuditor = Annotated[Operator, Depends(require_role(Role.COMPLAINT_HANDLER,
                                                            Role.AUDITOR))]
Reviewer = Annotated[Operator, Depends(require_role(Role.REVIEWER))]
ReviewerOrAuditor = Annotated[Operator, Depends(require_role(Role.REVIEWER, Role.AUDITOR))]
Admin = Annotated[Operator, Depends(require_role(Role.ADMIN))]
Auditor = Annotated[Operator, Depends(require_role(Role.AUDITOR))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionBody(Body):
    to: Literal["acknowledged", "in_review", "escalated", "closed"]
    note: Annotated[str, Field(max_length=2000)] = ""
    assignee: Short | None = None


class EnforcementBody(Body):
    user_id: Short
    state: AccountState
    reason: Long


class AnswerBody(Body):
    decision: Literal["upheld", "partly_upheld", "rejected", "referred"]
    answer: Long
    enforcement: list[EnforcementBody] = []


class ClaimBody(Body):
    claim: Annotated[str, Field(min_length=1, max_length=2000)]
    refutation: Long
    sources: Annotated[list[Annotated[str, Field(max_length=500)]], Field(min_length=1)]
    refuted_on: date
    claim_seen_on: date | None = None
    action: Literal["notice", "block"] | None = None


class TextBody(Body):
    text: Annotated[str, Field(max_length=100_000)]


class AlgorithmBody(Body):
    name: Short
    algorithm_type: Annotated[str, Field(min_length=1, max_length=40)]
    models: list[Short] = []
    filing_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    public_info_url: Annotated[str, Field(max_length=500)] | None = None
    filed_on: date | None = None
    review_interval_days: Annotated[int, Field(ge=1, le=1098)] = 365


class FilingBody(Body):
    filing_number: Annotated[str, Field(min_length=1, max_length=64)]
    public_info_url: Annotated[str, Field(max_length=500)] | None = None
    filed_on: date


class AssessmentBody(Body):
    kind: Literal["security_assessment", "periodic_review", "biometric_editing",
                  "public_opinion"]
    assessed_on: date
    assessor: Short
    outcome: Literal["passed", "conditional", "failed"]
    report_ref: Annotated[str, Field(max_length=500)] | None = None
    notes: Annotated[str, Field(max_length=5000)] = ""


class DatasetBody(Body):
    name: Short
    source: Annotated[str, Field(min_length=1, max_length=500)]
    licence: Short
    collected_on: date
    description: Annotated[str, Field(max_length=5000)] = ""
    algorithm_id: Short | None = None


class RecordsBody(Body):
    records: Annotated[list[str], Field(min_length=1, max_length=10_000)]


class SampleCheckBody(Body):
    checked_on: date
    sample_size: Annotated[int, Field(ge=1)]
    problems_found: Annotated[int, Field(ge=0)]
    outcome: Literal["passed", "conditional", "failed"]
    notes: Annotated[str, Field(max_length=5000)] = ""


class PolicyBody(Body):
    title: Short
    body: Annotated[str, Field(min_length=1, max_length=200_000)]
    requires_acceptance: bool = True


class SwitchBody(Body):
    switch: Literal["registrations", "generation", "model"]
    model: Short | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    order_ref: Short


class RangeBody(Body):
    since: AwareDatetime
    until: AwareDatetime


# -- complaints ------------------------------------------------------------------------

@router.get("/complaints")
def complaints(request: Request, who: HandlerOrAuditor,
               state: Annotated[list[str] | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
    return json_response({"complaints": governance(request).complaints.find(
        states=state, limit=limit)})


@router.get("/complaints/queue")
def complaint_queue(request: Request, who: HandlerOrAuditor) -> Response:
    return json_response({"queue": governance(request).complaints.queue()})


@router.get("/complaints/{complaint_id}")
def complaint(request: Request, complaint_id: str, who: HandlerOrAuditor) -> Response:
    return json_response(governance(request).complaints.get(complaint_id))


@router.post("/complaints/sweep")
def sweep(request: Request, who: Handler) -> Response:
    return json_response({"alerts": governance(request).complaints.sweep()})


@router.post("/complaints/{complaint_id}/transition")
def transition(request: Request, complaint_id: str, body: TransitionBody,
               who: Handler) -> Response:
    return json_response(governance(request).complaints.transition(
        complaint_id, body.to, actor=who.name, note=body.note, assignee=body.assignee))


@router.post("/complaints/{complaint_id}/answer")
def answer(request: Request, complaint_id: str, body: AnswerBody, who: Handler) -> Response:
    orders = [EnforcementOrder(e.user_id, e.state, e.reason) for e in body.enforcement]
    return json_response(governance(request).complaints.answer(
        complaint_id, body.decision, body.answer, actor=who.name, enforcement=orders))


@router.post("/complaints/{complaint_id}/contact")
def contact(request: Request, complaint_id: str, who: Handler) -> Response:
    return json_response({"contact": governance(request).complaints.reveal_contact(
        complaint_id, actor=who.name)})


# -- rumors ----------------------------------------------------------------------------

@router.get("/rumors")
def rumors(request: Request, who: ReviewerOrAuditor,
           include_retired: bool = False) -> Response:
    return json_response({"claims": governance(request).rumors.claims(
        include_retired=include_retired)})


@router.get("/rumors/matches")
def rumor_matches(request: Request, who: ReviewerOrAuditor, claim_id: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
    return json_response({"matches": governance(request).rumors.matches(
        claim_id=claim_id, limit=limit)})


@router.post("/rumors", status_code=201)
def add_rumor(request: Request, body: ClaimBody, who: Reviewer) -> Response:
    return json_response(governance(request).rumors.add(
        body.claim, body.refutation, sources=body.sources, refuted_on=body.refuted_on,
        claim_seen_on=body.claim_seen_on, action=body.action, actor=who.name), 201)


@router.post("/rumors/{claim_id}/retire")
def retire_rumor(request: Request, claim_id: str, who: Reviewer) -> Response:
    return json_response(governance(request).rumors.retire(claim_id, actor=who.name))


@router.post("/rumors/check")
def check_rumor(request: Request, body: TextBody, who: Reviewer) -> Response:
    verdict = governance(request).rumors.check(body.text, record=False)
    return json_response({"action": verdict.action, "hits": verdict.hits,
                          "notice": verdict.notice})


# -- registries ------------------------------------------------------------------------

@router.get("/algorithms")
def algorithms(request: Request, who: Auditor) -> Response:
    return json_response({"algorithms": governance(request).registry.algorithms()})


@router.get("/reviews-due")
def reviews_due(request: Request, who: Auditor,
                within_days: Annotated[int, Query(ge=0, le=366)] = 30) -> Response:
    return json_response({"due": governance(request).registry.reviews_due(
        within_days=within_days)})


@router.post("/algorithms", status_code=201)
def add_algorithm(request: Request, body: AlgorithmBody, who: Admin) -> Response:
    return json_response(governance(request).registry.register_algorithm(
        body.name, body.algorithm_type, body.models, actor=who.name,
        filing_number=body.filing_number, public_info_url=body.public_info_url,
        filed_on=body.filed_on, review_interval_days=body.review_interval_days), 201)


@router.post("/algorithms/{algorithm_id}/filing")
def record_filing(request: Request, algorithm_id: str, body: FilingBody, who: Admin) -> Response:
    return json_response(governance(request).registry.record_filing(
        algorithm_id, body.filing_number, public_info_url=body.public_info_url,
        filed_on=body.filed_on))


@router.post("/algorithms/{algorithm_id}/assessments")
def assess(request: Request, algorithm_id: str, body: AssessmentBody, who: Admin) -> Response:
    return json_response(governance(request).registry.record_assessment(
        algorithm_id, body.kind, assessed_on=body.assessed_on, assessor=body.assessor,
        outcome=body.outcome, actor=who.name, report_ref=body.report_ref, notes=body.notes))


@router.get("/datasets")
def datasets(request: Request, who: Auditor) -> Response:
    return json_response({"datasets": governance(request).registry.datasets()})


@router.post("/datasets", status_code=201)
def add_dataset(request: Request, body: DatasetBody, who: Admin) -> Response:
    return json_response(governance(request).registry.add_dataset(
        body.name, source=body.source, licence=body.licence, collected_on=body.collected_on,
        description=body.description, algorithm_id=body.algorithm_id, actor=who.name), 201)


@router.post("/datasets/{dataset_id}/pii-scan")
def pii_scan(request: Request, dataset_id: str, body: RecordsBody, who: Admin) -> Response:
    return json_response(governance(request).registry.scan_dataset(
        dataset_id, body.records, actor=who.name))


@router.post("/datasets/{dataset_id}/sample-checks")
def sample_check(request: Request, dataset_id: str, body: SampleCheckBody,
                 who: Admin) -> Response:
    return json_response(governance(request).registry.record_sample_check(
        dataset_id, checked_on=body.checked_on, sample_size=body.sample_size,
        problems_found=body.problems_found, outcome=body.outcome, checker=who.name,
        notes=body.notes))


# -- policies, switches ----------------------------------------------------------------

@router.get("/policies/{kind}/history")
def policy_history(request: Request, kind: str, who: Auditor) -> Response:
    return json_response({"versions": governance(request).policies.history(kind)})


@router.post("/policies/{kind}", status_code=201)
def publish_policy(request: Request, kind: str, body: PolicyBody, who: Admin) -> Response:
    return json_response(governance(request).policies.publish(
        kind, body.title, body.body, actor=who.name,
        requires_acceptance=body.requires_acceptance), 201)


@router.get("/switches")
def switches(request: Request, who: Auditor) -> Response:
    return json_response({"engaged": governance(request).switches.active()})


@router.get("/switches/history")
def switch_history(request: Request, who: Auditor) -> Response:
    return json_response({"changes": governance(request).switches.history()})


@router.post("/switches/engage")
def engage(request: Request, body: SwitchBody, who: Admin) -> Response:
    return json_response(governance(request).switches.engage(
        body.switch, model=body.model, reason=body.reason, order_ref=body.order_ref,
        actor=who.name))


@router.post("/switches/release")
def release(request: Request, body: SwitchBody, who: Admin) -> Response:
    governance(request).switches.release(body.switch, model=body.model, reason=body.reason,
                                         order_ref=body.order_ref, actor=who.name)
    return json_response({"engaged": governance(request).switches.active()})


# -- regulator reports -----------------------------------------------------------------

@router.get("/reports")
def exports(request: Request, who: Auditor) -> Response:
    return json_response({"exports": governance(request).reports.exports()})


@router.post("/reports", responses={200: {"content": {"application/gzip": {}},
                                          "description": "The signed archive"}})
def export(request: Request, body: RangeBody, who: Auditor) -> Response:
    folder = Path(tempfile.mkdtemp(prefix="synthguard-report-"))
    name = f"report-{body.since:%Y%m%d}-{body.until:%Y%m%d}.tar.gz"
    try:
        result = governance(request).reports.export(body.since, body.until, folder / name,
                                                    actor=who.name)
    except BaseException:
        _remove(folder)
        raise
    return FileResponse(result.path, media_type="application/gzip", filename=name,
                        headers={"X-Archive-SHA256": result.archive_sha256},
                        background=BackgroundTask(_remove, folder))


@router.post("/reports/verify",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/gzip": {"schema": {"type": "string", "format": "binary"}}}}})
async def verify(request: Request, who: Auditor, key: str | None = None) -> Response:
    try:
        trusted = parse_public_key(key) if key else None
    except ValueError as exc:
        raise invalid(f"key: {exc}", "invalid_key") from None
    data = await read_limited(request, MAX_ARCHIVE_BYTES)
    return json_response(await in_thread(_verify, data, trusted))


def _verify(data: bytes, trusted: Ed25519PublicKey | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="synthguard-verify-") as work:
        path = Path(work) / "archive.tar.gz"
        path.write_bytes(data)
        check = verify_archive(path, trusted)
    return {"ok": check.ok, "problems": check.problems, "warnings": check.warnings,
            "files": check.files, "key_fingerprint": check.key_fingerprint,
            "period": (check.manifest or {}).get("period")}


def _remove(folder: Path) -> None:
    for item in folder.iterdir():
        item.unlink(missing_ok=True)
    folder.rmdir()
