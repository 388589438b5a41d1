"""HTTP API of real-name verification: `router`, mounted by the lead into the gateway app.

Needs `app.state.identity` = `IdentityServices.build(config, database)`. Authenticated
endpoints take the gateway's API key (`Authorization: Bearer sg-...`); sign-up and the
number check need none. Sign-up gives an unverified account with a key: it can verify
here but the gateway's identity gate refuses it generation until a flow succeeds.

| method | path | body |
| --- | --- | --- |
| POST | /v1/identity/signup | name, organisation? |
| POST | /v1/identity/check-number | kind (id_number, mobile, uscc), value |
| GET | /v1/identity/me | |
| POST | /v1/identity/mobile/start | mobile |
| POST | /v1/identity/mobile/confirm | challenge_id, code |
| POST | /v1/identity/id-number | name, id_number, mobile? |
| POST | /v1/identity/organisation | uscc, name, legal_representative? |
| POST | /v1/identity/network-identity | ticket |

Answers show personal data masked only (`138****5678`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from synthguard.identity.numbers import Rejection, check_id_number, check_mobile
from synthguard.identity.numbers import check_organisation_code as check_uscc_strict
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

router = APIRouter(prefix="/v1/identity", tags=["identity"])

Short = Annotated[str, Field(min_length=1, max_length=200)]
_ERRORS = error_docs(
    (400, "Body is not JSON"), (401, "Missing or invalid API key"),
    (403, "Account closed, or the provider did not confirm the identity"),
    (404, "Unknown account or code request"), (409, "Number already in use, code used"),
    (410, "Code expired"), (413, "Body too large"),
    (422, "Invalid field or number (error.reason names the rule)"),
    (429, "Too many codes, attempts or checks (Retry-After)"),
    (503, "Provider not configured or unavailable"))


def _post(path: str, model: type[BaseModel] | None,
          summary: str) -> Callable[[Handler], Handler]:
    return post(router, path, model, summary, _ERRORS)


class SignUpBody(StrictBody):
    name: Short
    organisation: Short | None = None


class NumberBody(StrictBody):
    kind: Literal["id_number", "mobile", "uscc"]
    value: NumberText


class MobileBody(StrictBody):
    mobile: NumberText


class IdNumberBody(StrictBody):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    id_number: NumberText
    mobile: NumberText | None = None


class OrganisationBody(StrictBody):
    uscc: NumberText
    name: Short
    legal_representative: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class TicketBody(StrictBody):
    ticket: Annotated[str, Field(min_length=1, max_length=4096)]


@_post("/signup", SignUpBody, "Create an unverified account and its API key")
@endpoint
async def signup(request: Request) -> Response:
    # The app that mounts this router may close registrations (the governance switch a
    # regulator's order flips, Provisions Art. 21): an async callable raising IdentityError.
    registrations_open = getattr(request.app.state, "registrations_open", None)
    if registrations_open is not None:
        await registrations_open()
    body = await read_body(request, SignUpBody)
    created = await in_thread(services(request).verification.sign_up, body.name,
                              body.organisation)
    return json_response({**vars(created), "verified": False}, 201)


@_post("/check-number", NumberBody, "Check the format of an ID number, mobile or USCC")
@endpoint
async def check_number(request: Request) -> Response:
    body = await read_body(request, NumberBody)
    details: dict[str, Any] = {}
    rejection: Rejection | None
    if body.kind == "id_number":
        id_check = check_id_number(body.value)
        rejection, details = id_check.rejection, {"id_kind": id_check.kind}
    elif body.kind == "mobile":
        mobile = check_mobile(body.value)
        rejection, details = mobile.rejection, {"virtual_operator": mobile.virtual_operator}
    else:
        rejection = check_uscc_strict(body.value).rejection
    return json_response({"kind": body.kind, "ok": rejection is None,
                          "reason": rejection.code if rejection else None,
                          "message": rejection.message if rejection else None,
                          **(details if rejection is None else {})})


@router.get("/me", responses=_ERRORS, summary="The account's verification status")
@endpoint
async def me(request: Request) -> Response:
    key = await authenticate(request)
    return json_response(await in_thread(services(request).verification.status, key.user_id))


@_post("/mobile/start", MobileBody, "Send a one-time code to a mobile number")
@endpoint
async def mobile_start(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, MobileBody)
    challenge = await in_thread(services(request).verification.start_mobile, key.user_id,
                                body.mobile)
    return json_response(challenge, 202)


@_post("/mobile/confirm", CodeBody, "Verify the account with the code received")
@endpoint
async def mobile_confirm(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, CodeBody)
    return json_response(await in_thread(services(request).verification.confirm_mobile,
                                         key.user_id, body.challenge_id, body.code))


@_post("/id-number", IdNumberBody, "Verify by ID number and name (third-party check)")
@endpoint
async def id_number(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, IdNumberBody)
    return json_response(await in_thread(services(request).verification.verify_id_number,
                                         key.user_id, body.name, body.id_number, body.mobile))


@_post("/organisation", OrganisationBody, "Verify by unified social credit code")
@endpoint
async def organisation(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, OrganisationBody)
    return json_response(await in_thread(services(request).verification.verify_organisation,
                                         key.user_id, body.uscc, body.name,
                                         body.legal_representative))


@_post("/network-identity", TicketBody, "Verify with a national network identity ticket")
@endpoint
async def network_identity(request: Request) -> Response:
    key = await authenticate(request)
    body = await read_body(request, TicketBody)
    return json_response(await in_thread(
        services(request).verification.verify_network_identity, key.user_id, body.ticket))
