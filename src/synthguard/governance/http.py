"""HTTP API of the governance services: `router`, mounted by the lead into the gateway.

Needs `app.state.governance` = `Governance(database, config)`; operator endpoints ask
`app.state.governance_auth` (an `auth.OperatorAuthenticator`, the console's) or else
the API-key operators of `auth.py`. Errors are the API's one shape, `{"error": {"message",
"type", "code", "param"}}` (synthguard.http_errors).

Public (no sign-in; the submission, status and evidence endpoints are rate-limited per
client address; appeals and policy acceptance take the user's API key):

| method | path | body |
| --- | --- | --- |
| GET | /v1/governance/flow | |
| POST | /v1/governance/complaints | kind, category, target_kind, target, description, declared_true, contact? |
| POST | /v1/governance/complaints/status | receipt_code |
| POST | /v1/governance/complaints/evidence | the file (headers X-Receipt-Code, X-Filename) |
| GET | /v1/governance/filings | |
| GET | /v1/governance/report-key | |
| GET | /v1/governance/policies | |
| GET | /v1/governance/policies/pending | (API key) |
| GET | /v1/governance/policies/{kind} | ?version= |
| POST | /v1/governance/policies/{kind}/accept | version (API key) |

Operator endpoints are under /v1/governance/ops (http_ops.py).
"""  # noqa: E501

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from synthguard.accounts import KeyContext
from synthguard.governance.complaint_views import Submission
from synthguard.governance.errors import GovernanceError
from synthguard.governance.http_ops import router as ops_router
from synthguard.governance.web import (
    ERRORS,
    GovernanceRoute,
    governance,
    in_thread,
    json_response,
    rate_limit,
    read_limited,
)

router = APIRouter(prefix="/v1/governance", tags=["governance"], route_class=GovernanceRoute)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionBody(Body):
    kind: Literal["report", "complaint", "appeal"]
    category: Literal["illegal_content", "missing_ai_label", "face_voice_without_consent",
                      "portrait_reputation_privacy", "rumor", "personal_information", "other"]
    target_kind: Literal["content_id", "produce_id", "url", "account"]
    target: Annotated[str, Field(min_length=1, max_length=2000)]
    description: Annotated[str, Field(min_length=1, max_length=5000)]
    declared_true: bool
    contact: Annotated[str, Field(max_length=200)] | None = None


class ReceiptBody(Body):
    receipt_code: Annotated[str, Field(min_length=1, max_length=64)]


class AcceptBody(Body):
    version: Annotated[int, Field(ge=1)]


async def _user(request: Request) -> KeyContext | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    key: KeyContext | None = await in_thread(governance(request).accounts.authenticate,
                                             token.strip())
    if key is None:
        raise GovernanceError("invalid API key", "invalid_api_key", 401)
    return key


async def _signed_in(request: Request) -> KeyContext:
    key = await _user(request)
    if key is None:
        raise GovernanceError("sign in with your API key (Authorization: Bearer sg-...)",
                              "unauthenticated", 401)
    return key


@router.get("/flow", responses=ERRORS, summary="The published processing flow and deadlines")
def flow(request: Request) -> Response:
    document = governance(request).flow()
    return json_response({**document.to_dict(), "markdown": document.to_markdown()})


@router.post("/complaints", responses=ERRORS, status_code=201,
             summary="File a report, complaint or appeal (appeals need the API key)")
async def submit(request: Request, body: SubmissionBody) -> Response:
    gov = governance(request)
    rate_limit(request, "submit", gov.settings.complaints.submissions_per_minute)
    key = await _user(request)
    submission = Submission(**body.model_dump(),
                            reporter_user_id=key.user_id if key else None)
    receipt = await in_thread(gov.complaints.submit, submission)
    return json_response(receipt, 201)


@router.post("/complaints/status", responses=ERRORS, summary="Follow a complaint by receipt code")
def status(request: Request, body: ReceiptBody) -> Response:
    gov = governance(request)
    rate_limit(request, "status", gov.settings.complaints.status_lookups_per_minute)
    return json_response(gov.complaints.status(body.receipt_code))


@router.post("/complaints/evidence", responses=ERRORS, status_code=201,
             summary="Attach an evidence file (raw body) to the complaint of a receipt code",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string",
                                                         "format": "binary"}}}}})
async def evidence(request: Request,
                   receipt_code: Annotated[str, Header(alias="X-Receipt-Code",
                                                       max_length=64)],
                   filename: Annotated[str, Header(alias="X-Filename", max_length=400)]
                   = "evidence") -> Response:
    gov = governance(request)
    limits = gov.settings.complaints
    rate_limit(request, "evidence",
               limits.submissions_per_minute * max(1, limits.max_evidence_files))
    data = await read_limited(request, gov.settings.complaints.max_evidence_bytes)
    added = await in_thread(gov.complaints.add_evidence, receipt_code, filename, data)
    return json_response({"filename": added.filename, "format": added.format,
                          "size": added.size, "label_verdict": added.label_verdict,
                          "scan": added.scan}, 201)


@router.get("/filings", responses=ERRORS, summary="Algorithm filing numbers and links")
def filings(request: Request) -> Response:
    return json_response({"filings": governance(request).registry.public_filings()})


@router.get("/report-key", responses=ERRORS,
            summary="The public key regulator archives are signed with")
def report_key(request: Request) -> Response:
    reports = governance(request).reports
    return json_response({"algorithm": "Ed25519", "public_key": reports.public_key,
                          "fingerprint": reports.key_fingerprint})


@router.get("/policies", responses=ERRORS, summary="The current policy documents")
def policies(request: Request) -> Response:
    return json_response({"policies": governance(request).policies.current_all()})


@router.get("/policies/pending", responses=ERRORS,
            summary="Current versions the signed-in user has yet to accept")
async def pending(request: Request) -> Response:
    key = await _signed_in(request)
    refs = await in_thread(governance(request).policies.must_accept, key.user_id)
    return json_response({"must_accept": refs})


@router.get("/policies/{kind}", responses=ERRORS, summary="A policy document")
def policy(request: Request, kind: str,
           version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    docs = governance(request).policies
    found = docs.version(kind, version) if version else docs.current(kind)
    if found is None:
        raise GovernanceError(f"no {kind} has been published", "unknown_policy", 404)
    return json_response(found)


@router.post("/policies/{kind}/accept", responses=ERRORS,
             summary="Accept the current version of a policy (API key)")
async def accept(request: Request, kind: str, body: AcceptBody) -> Response:
    key = await _signed_in(request)
    accepted = await in_thread(governance(request).policies.accept, key.user_id, kind,
                               body.version)
    return json_response(accepted)


router.include_router(ops_router)
