"""HTTP API of consent records (Art. 14): `router`, mounted by the lead into the gateway.

Needs `app.state.identity` (`IdentityServices`). The requesting user authenticates with
their API key; the data subject, who has no account, withdraws a phone-confirmed consent
through the two `subject-revocation` endpoints with a code sent to that phone.

| method | path | body |
| --- | --- | --- |
| POST | /v1/consents | subject_name, scope, purpose, allowed_outputs, valid_until, valid_from?, statement_ref? and/or subject_mobile? |
| GET | /v1/consents | |
| GET | /v1/consents/{id} | |
| POST | /v1/consents/{id}/confirm | challenge_id, code (the code the subject received) |
| POST | /v1/consents/{id}/resend | |
| POST | /v1/consents/{id}/revoke | reason |
| POST | /v1/consents/{id}/check | kind, output? (recorded like the gateway's checks) |
| GET | /v1/consents/{id}/checks | |
| POST | /v1/consents/{id}/subject-revocation | subject_mobile (no API key) |
| POST | /v1/consents/{id}/subject-revocation/confirm | challenge_id, code (no API key) |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, Field
from starlette.responses import Response

from synthguard.consent.service import MAX_CONSENT_ID
from synthguard.identity import errors
from synthguard.identity.web import (
    CodeBody,
    Handler,
    NumberText,
    StrictBody,
    authenticate,
    endpoint,
    error_docs,
    in_thread,
    json_response,
    post,
    read_body,
    services,
)

router = APIRouter(prefix="/v1/consents", tags=["consent"])

_ERRORS = error_docs(
    (400, "Body is not JSON"), (401, "Missing or invalid API key"),
    (403, "Account not verified or closed"), (404, "No such consent or code request"),
    (409, "Consent not pending, code used"), (410, "Code expired"),
    (413, "Body too large"), (422, "Invalid field (error.code names it)"),
    (429, "Too many codes or attempts (Retry-After)"),
    (503, "SMS not configured or unavailable"))


def _post(path: str, model: type[BaseModel] | None,
          summary: str) -> Callable[[Handler], Handler]:
    return post(router, path, model, summary, _ERRORS)


class ConsentBody(StrictBody):
    subject_name: Annotated[str, Field(min_length=1, max_length=64)]
    scope: Literal["face", "voice", "both"]
    purpose: Annotated[str, Field(min_length=1, max_length=500)]
    allowed_outputs: Annotated[list[Literal["image", "video", "audio"]],
                               Field(min_length=1, max_length=3)]
    valid_until: AwareDatetime
    valid_from: AwareDatetime | None = None
    statement_ref: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    subject_mobile: NumberText | None = None


class RevokeBody(StrictBody):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class CheckBody(StrictBody):
    kind: Literal["face", "voice"]
    output: Literal["image", "video", "audio"] | None = None


class SubjectBody(StrictBody):
    subject_mobile: NumberText


def _id(consent_id: str) -> str:
    if not 0 < len(consent_id) <= MAX_CONSENT_ID:
        raise errors.not_found("consent_unknown", "no such consent for this account")
    return consent_id


@_post("", ConsentBody, "Record a consent (pending until the subject's code if by phone)")
@endpoint
async def create(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, ConsentBody)
    consent, challenge = await in_thread(
        services(request).consent.create, key.user_id, subject_name=body.subject_name,
        scope=body.scope, purpose=body.purpose, allowed_outputs=body.allowed_outputs,
        valid_until=body.valid_until, valid_from=body.valid_from,
        statement_ref=body.statement_ref, subject_mobile=body.subject_mobile)
    return json_response({"consent": consent, "challenge": challenge}, 201)


@router.get("", responses=_ERRORS, summary="The account's consents")
@endpoint
async def list_consents(request: Request) -> Response:
    key = await authenticate(request)
    return json_response({"data": await in_thread(services(request).consent.list_for,
                                                  key.user_id)})


@router.get("/{consent_id}", responses=_ERRORS, summary="One consent")
@endpoint
async def get(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    return json_response(await in_thread(services(request).consent.get, _id(consent_id),
                                         key.user_id))


@_post("/{consent_id}/confirm", CodeBody, "Confirm with the code the subject received")
@endpoint
async def confirm(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    body = await read_body(request, CodeBody)
    return json_response(await in_thread(services(request).consent.confirm, _id(consent_id),
                                         key.user_id, body.challenge_id, body.code))


@_post("/{consent_id}/resend", None, "Send the subject a new confirmation code")
@endpoint
async def resend(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    return json_response(await in_thread(services(request).consent.resend_confirmation,
                                         _id(consent_id), key.user_id), 202)


@_post("/{consent_id}/revoke", RevokeBody, "Revoke a consent, effective immediately")
@endpoint
async def revoke(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    body = await read_body(request, RevokeBody)
    return json_response(await in_thread(
        services(request).consent.revoke, _id(consent_id), actor=f"user:{key.user_id}",
        reason=body.reason, user_id=key.user_id))


@_post("/{consent_id}/check", CheckBody, "Would an edit be allowed? (recorded)")
@endpoint
async def check(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    body = await read_body(request, CheckBody)
    return json_response(await in_thread(services(request).consent.check, _id(consent_id),
                                         key.user_id, body.kind, output=body.output))


@router.get("/{consent_id}/checks", responses=_ERRORS, summary="The checks of a consent")
@endpoint
async def checks(request: Request, consent_id: str) -> Response:
    key = await authenticate(request)
    consent = services(request).consent
    await in_thread(consent.get, _id(consent_id), key.user_id)  # the owner's only
    return json_response({"data": await in_thread(consent.checks, consent_id)})


@_post("/{consent_id}/subject-revocation", SubjectBody,
       "The data subject asks to withdraw: a code goes to their phone")
@endpoint
async def subject_revocation(request: Request, consent_id: str) -> Response:
    body = await read_body(request, SubjectBody)
    return json_response(await in_thread(services(request).consent.start_subject_revocation,
                                         _id(consent_id), body.subject_mobile), 202)


@_post("/{consent_id}/subject-revocation/confirm", CodeBody,
       "The data subject withdraws with the code")
@endpoint
async def subject_revocation_confirm(request: Request, consent_id: str) -> Response:
    body = await read_body(request, CodeBody)
    consent = await in_thread(services(request).consent.confirm_subject_revocation,
                              _id(consent_id), body.challenge_id, body.code)
    return json_response({"consent_id": consent.consent_id, "status": consent.status})
