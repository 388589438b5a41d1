"""Console pages for the daily work: the review queue, complaints, users and
enforcement, consent records.

| path | view | act |
| --- | --- | --- |
| /review, /review/{id}/claim, /decide, /escalate | reviewer, auditor | reviewer |
| /complaints, /complaints/{id}, .../evidence/{evidence_id} | complaint_handler, auditor | |
| /complaints/{id}/transition, /answer, /contact | | complaint_handler |
| /users, /users/{id} | every role | |
| /users/{id}/state | | admin |
| /consents, /consents/{id} | admin, complaint_handler, auditor | |
| /consents/{id}/revoke | | admin |

A reviewer's "block" decision warns the item's user through `Accounts.set_state`
(an active user becomes warned; a stronger state stays) and, for inputs, counts toward
the automatic suspension rule through the moderation store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import FileResponse, Response

from synthguard.accounts import AccountState, UnknownAccount, UserInfo
from synthguard.console import queries
from synthguard.console.services import ConsoleServices, console_services
from synthguard.console.web import ConsoleRoute, SignedIn, render, require, see_other
from synthguard.governance.auth import Role
from synthguard.governance.complaint_views import Complaint, EnforcementOrder
from synthguard.governance.errors import invalid, not_found

router = APIRouter(route_class=ConsoleRoute)
Reviewer = Annotated[SignedIn, Depends(require(Role.REVIEWER))]
ReviewReader = Annotated[SignedIn, Depends(require(Role.REVIEWER, Role.AUDITOR))]
Handler = Annotated[SignedIn, Depends(require(Role.COMPLAINT_HANDLER))]
HandlerReader = Annotated[SignedIn, Depends(require(Role.COMPLAINT_HANDLER, Role.AUDITOR))]
Anyone = Annotated[SignedIn, Depends(require(*Role))]
Admin = Annotated[SignedIn, Depends(require(Role.ADMIN))]
ConsentReader = Annotated[SignedIn, Depends(require(Role.COMPLAINT_HANDLER, Role.AUDITOR))]
Note = Annotated[str, Form(max_length=2000)]
Reason = Annotated[str, Form(min_length=1, max_length=400)]
DONE = {"claimed": "Item claimed.", "decided": "Decision recorded.",
        "escalated": "Item escalated.", "moved": "Complaint updated.",
        "answered": "Answer sent; the reporter sees it with their receipt code.",
        "state": "Account state changed.", "revoked": "Consent revoked."}
Done = Annotated[str | None, Query(alias="ok", max_length=20)]


def _notice(done: str | None) -> str | None:
    return DONE.get(done or "")


# -- review queue ------------------------------------------------------------------------

@router.get("/review")
def review_queue(request: Request, who: ReviewReader, ok: Done = None) -> Response:
    services = console_services(request)
    items = [i for i in services.moderation.items() if i.state != "decided"]
    times = queries.queue_times(services.database, [i.id for i in items])
    return render(request, "console/review.html", {
        "items": items, "queued_at": times, "now": datetime.now(UTC), "notice": _notice(ok)})


@router.post("/review/{item_id}/claim")
def claim(request: Request, item_id: int, who: Reviewer) -> Response:
    console_services(request).moderation.claim(item_id, actor=who.name)
    return see_other("/console/review?ok=claimed")


@router.post("/review/{item_id}/decide")
def decide(request: Request, item_id: int, who: Reviewer,
           decision: Annotated[Literal["allow", "block"], Form()], note: Note = "") -> Response:
    services = console_services(request)
    item = services.moderation.decide(item_id, decision, actor=who.name, note=note)
    if decision == "block" and item.user_id:
        services.warn_user(item.user_id, f"review item {item_id} blocked by a reviewer"
                           + (f": {note}" if note else ""), who.name)
    return see_other("/console/review?ok=decided")


@router.post("/review/{item_id}/escalate")
def escalate(request: Request, item_id: int, who: Reviewer,
             note: Annotated[str, Form(min_length=1, max_length=2000)]) -> Response:
    console_services(request).moderation.escalate(item_id, actor=who.name, note=note)
    return see_other("/console/review?ok=escalated")


# -- complaints --------------------------------------------------------------------------

@router.get("/complaints")
def complaints(request: Request, who: HandlerReader) -> Response:
    desk = console_services(request).governance.complaints
    return render(request, "console/complaints.html", {
        "queue": desk.queue(), "recent": desk.find(states=("answered", "closed"), limit=50)})


@router.get("/complaints/{complaint_id}")
def complaint(request: Request, complaint_id: str, who: HandlerReader, ok: Done = None
              ) -> Response:
    services = console_services(request)
    found = services.governance.complaints.get(complaint_id)
    return render(request, "console/complaint.html", {
        "c": found, "notice": _notice(ok), "states": [s.value for s in AccountState],
        "appellant": _appellant(services, found)})


def _appellant(services: ConsoleServices, found: Complaint) -> UserInfo | None:
    """The account an appeal comes from, with the actions it appeals against."""
    if found.kind != "appeal" or not found.reporter_user_id:
        return None
    try:
        return services.accounts.describe_user(found.reporter_user_id)
    except UnknownAccount:
        return None


@router.get("/complaints/{complaint_id}/evidence/{evidence_id}")
def evidence_file(request: Request, complaint_id: str, evidence_id: str,
                  who: HandlerReader) -> Response:
    desk = console_services(request).governance.complaints
    evidence, path = desk.evidence_path(evidence_id)
    if evidence.id not in {e.id for e in desk.get(complaint_id).evidence}:
        raise not_found(f"no evidence {evidence_id!r} on this complaint")
    # An attachment of an opaque type: a browser never renders what a reporter sent.
    return FileResponse(path, media_type="application/octet-stream",
                        filename=evidence.filename,
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox"})


@router.post("/complaints/{complaint_id}/transition")
def transition(request: Request, complaint_id: str, who: Handler,
               to: Annotated[Literal["acknowledged", "in_review", "escalated", "closed"],
                             Form()],
               note: Note = "") -> Response:
    console_services(request).governance.complaints.transition(
        complaint_id, to, actor=who.name, note=note,
        assignee=who.name if to in ("acknowledged", "in_review") else None)
    return see_other(f"/console/complaints/{complaint_id}?ok=moved")


@router.post("/complaints/{complaint_id}/answer")
def answer(request: Request, complaint_id: str, who: Handler,
           decision: Annotated[Literal["upheld", "partly_upheld", "rejected", "referred"],
                               Form()],
           answer: Annotated[str, Form(min_length=1, max_length=5000)],
           enforce_user: Annotated[str, Form(max_length=32)] = "",
           enforce_state: Annotated[AccountState | Literal[""], Form()] = "",
           enforce_reason: Annotated[str, Form(max_length=400)] = "",
           restore: Annotated[bool, Form()] = False) -> Response:
    desk = console_services(request).governance.complaints
    orders = []
    if restore:  # an upheld appeal lifts the action: the appealing account is active again
        appealed = desk.get(complaint_id)
        if appealed.kind != "appeal" or not appealed.reporter_user_id:
            raise invalid("only an appeal restores the account it comes from")
        orders.append(EnforcementOrder(appealed.reporter_user_id, AccountState.ACTIVE,
                                       "appeal upheld: the action is lifted"))
    if enforce_user.strip():
        if not enforce_state or not enforce_reason.strip():
            raise invalid("enforcement needs the account state and a reason")
        orders.append(EnforcementOrder(enforce_user.strip(), AccountState(enforce_state),
                                       enforce_reason.strip()))
    desk.answer(complaint_id, decision, answer, actor=who.name, enforcement=orders)
    return see_other(f"/console/complaints/{complaint_id}?ok=answered")


@router.post("/complaints/{complaint_id}/contact")
def contact(request: Request, complaint_id: str, who: Handler) -> Response:
    desk = console_services(request).governance.complaints
    revealed = desk.reveal_contact(complaint_id, actor=who.name)
    return render(request, "console/complaint.html", {
        "c": desk.get(complaint_id), "revealed": revealed or "(none given)",
        "states": [s.value for s in AccountState]}, fragment="contact")


# -- users and enforcement -----------------------------------------------------------------

@router.get("/users")
def users(request: Request, who: Anyone,
          q: Annotated[str, Query(max_length=100)] = "") -> Response:
    found = queries.users(console_services(request).database, q.strip())
    return render(request, "console/users.html", {"users": found, "q": q})


@router.get("/users/{user_id}")
def user(request: Request, user_id: str, who: Anyone, ok: Done = None) -> Response:
    services = console_services(request)
    return render(request, "console/user.html", {
        "u": services.accounts.describe_user(user_id),
        "violations": services.moderation.violations(user_id),
        "states": [s.value for s in AccountState], "notice": _notice(ok)})


@router.post("/users/{user_id}/state")
def set_state(request: Request, user_id: str, who: Admin,
              state: Annotated[AccountState, Form()], reason: Reason) -> Response:
    console_services(request).accounts.set_state(user_id, state, reason, who.name)
    return see_other(f"/console/users/{user_id}?ok=state")


# -- consent records ---------------------------------------------------------------------

@router.get("/consents")
def consents(request: Request, who: ConsentReader,
             user_id: Annotated[str, Query(max_length=32)] = "") -> Response:
    found = queries.consents(console_services(request).database, user_id.strip())
    return render(request, "console/consents.html", {"consents": found, "user_id": user_id})


@router.get("/consents/{consent_id}")
def consent(request: Request, consent_id: str, who: ConsentReader, ok: Done = None) -> Response:
    identity = console_services(request).identity
    if identity is None:
        raise not_found("the identity services are not configured on this server")
    return render(request, "console/consent.html", {
        "consent": identity.consent.get(consent_id),
        "checks": identity.consent.checks(consent_id), "notice": _notice(ok)})


@router.post("/consents/{consent_id}/revoke")
def revoke_consent(request: Request, consent_id: str, who: Admin, reason: Reason) -> Response:
    identity = console_services(request).identity
    if identity is None:
        raise not_found("the identity services are not configured on this server")
    identity.consent.revoke(consent_id, actor=who.name, reason=reason)
    return see_other(f"/console/consents/{consent_id}?ok=revoked")
