"""The pages of a signed-in user of the service (Provisions Art. 12: anyone may report,
but an appeal against our own action on an account is made from that account).

A user signs in with one of the account's API keys (the credential the service gives
its users) and gets the `sg_account` cookie of `sessions.py`; the key is checked again
on every request, so revoking it ends the session. The account page shows the state
of the account and every action we took on it (warnings, limits, suspensions, with
their reasons); the user appeals against one of them, with evidence, and follows the
answer there or by the receipt code. A complaint handler sees the appeal in the
console's queue with the account's history and may lift the action in the answer.

| path | what |
| --- | --- |
| GET, POST /account/login | sign in with an API key (rate-limited per address) |
| POST /account/logout | sign out (the cookie is removed) |
| GET /account | the account's state, our actions on it, what it filed and the answers, the policies it has yet to accept |
| GET, POST /account/appeal | appeal against an action (?action=n); shows the receipt code |
| POST /account/policies/{kind}/accept | accept the current version of a policy (recorded, channel "web") |
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import Response

from synthguard.accounts import StateChange, UnknownAccount, UserInfo
from synthguard.console.filters import china_time
from synthguard.console.services import console_services
from synthguard.console.sessions import (
    ACCOUNT_COOKIE,
    clear_account,
    new_csrf_value,
    set_account,
    set_csrf,
)
from synthguard.console.submissions import file_submission
from synthguard.console.web import (
    SIGN_IN_LIMITED,
    ConsoleRoute,
    NotSignedIn,
    check_csrf,
    render,
    see_other,
)
from synthguard.governance.complaint_views import Category, Submission
from synthguard.governance.errors import invalid
from synthguard.governance.flow import CATEGORY_LABELS
from synthguard.governance.policies import PolicyKind
from synthguard.governance.web import check_rate, client_address, in_thread

account_router = APIRouter(prefix="/account", route_class=ConsoleRoute,
                           include_in_schema=False)
SIGN_INS_PER_MINUTE = 10
MAX_APPEAL_TEXT = 4000  # leaves room for the line naming the action appealed against
Csrf = Annotated[None, Depends(check_csrf)]


@dataclass(frozen=True)
class SignedInUser:
    info: UserInfo
    key_id: str

    @property
    def user_id(self) -> str:
        return self.info.user_id

    def actions(self) -> list[tuple[int, StateChange]]:
        """Our actions on the account (every state change after its creation), newest
        first, each with its index in the history (what an appeal names)."""
        return [(i, c) for i, c in enumerate(self.info.history)
                if c.from_state is not None][::-1]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/account") and "//" not in target and "\\" not in target:
        return target
    return "/account"


async def signed_in_user(request: Request) -> SignedInUser | None:
    """The user of the request's account cookie while their key is valid, else None."""
    services = console_services(request)
    claim = services.codec.read_account(request.cookies.get(ACCOUNT_COOKIE))
    if claim is None:
        return None
    try:
        info = await anyio.to_thread.run_sync(services.accounts.describe_user, claim.user_id)
    except UnknownAccount:
        return None
    if not any(k.key_id == claim.key_id and k.revoked_at is None for k in info.keys):
        return None
    return SignedInUser(info, claim.key_id)


async def require_user(request: Request) -> SignedInUser:
    user = await signed_in_user(request)
    if user is None:
        raise NotSignedIn("/account/login")
    if request.method != "GET":
        await check_csrf(request)
    return user


User = Annotated[SignedInUser, Depends(require_user)]


@account_router.get("/login")
async def login_form(request: Request,
                     next_path: Annotated[str | None, Query(alias="next", max_length=300)]
                     = None) -> Response:
    if await signed_in_user(request) is not None:
        return see_other(_safe_next(next_path))
    return render(request, "account_login.html", {"next": _safe_next(next_path)})


@account_router.post("/login")
async def login(request: Request, _: Csrf,
                api_key: Annotated[str, Form(min_length=1, max_length=200)],
                next_path: Annotated[str, Form(alias="next", max_length=300)] = "/account"
                ) -> Response:
    services = console_services(request)
    check_rate(services.limiter, f"account-login:{client_address(request)}",
               SIGN_INS_PER_MINUTE, SIGN_IN_LIMITED)
    key = await in_thread(services.accounts.authenticate, api_key.strip())
    if key is None:
        return render(request, "account_login.html",
                      {"next": _safe_next(next_path), "failed": True}, status=401)
    response = see_other(_safe_next(next_path))
    set_account(response, request, services.codec.issue_account(key.user_id, key.key_id),
                services.codec.account_max_age_s)
    set_csrf(response, request, new_csrf_value())
    return response


@account_router.post("/logout")
def logout(request: Request, user: User) -> Response:
    response = see_other("/")
    clear_account(response, request)
    return response


@account_router.get("")
async def account(request: Request, user: User,
                  ok: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    gov = console_services(request).governance
    filed = await in_thread(gov.complaints.filed_by, user.user_id)
    pending = await in_thread(gov.policies.must_accept, user.user_id)
    return render(request, "account.html", {"account": user, "filed": filed,
                                            "pending": pending, "accepted": ok == "accepted"})


@account_router.post("/policies/{kind}/accept")
async def accept_policy(request: Request, user: User, kind: PolicyKind,
                        version: Annotated[int, Form(ge=1)]) -> Response:
    policies = console_services(request).governance.policies
    await in_thread(partial(policies.accept, user.user_id, kind, version, channel="web"))
    return see_other("/account?ok=accepted")


@account_router.get("/appeal")
def appeal_form(request: Request, user: User,
                action: Annotated[str | None, Query(max_length=8)] = None) -> Response:
    settings = console_services(request).governance.settings.complaints
    return render(request, "appeal.html", {
        "account": user, "chosen": action, "categories": CATEGORY_LABELS,
        "max_files": settings.max_evidence_files,
        "max_mb": settings.max_evidence_bytes / (1024 * 1024),
        "max_text": MAX_APPEAL_TEXT})


@account_router.post("/appeal")
async def appeal(request: Request, user: User,
                 action: Annotated[str, Form(min_length=1, max_length=8)],
                 description: Annotated[str, Form(min_length=1, max_length=MAX_APPEAL_TEXT)],
                 category: Annotated[Category, Form()] = "other",
                 declared_true: Annotated[bool, Form()] = False,
                 contact: Annotated[str, Form(max_length=200)] = "",
                 evidence: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    submission = Submission(
        kind="appeal", category=category, target_kind="account", target=user.user_id,
        description=f"申诉对象 Action appealed: {_action_text(user, action)}\n\n{description}",
        declared_true=declared_true, contact=contact.strip() or None,
        reporter_user_id=user.user_id)
    return await file_submission(request, submission, evidence)


def _action_text(user: SignedInUser, action: str) -> str:
    if action == "other":
        return "another action (see below)"
    actions = dict(user.actions())
    if not action.isdigit() or int(action) not in actions:
        raise invalid("choose one of the actions listed for your account", "unknown_action")
    change = actions[int(action)]
    state = change.from_state.value if change.from_state else "new"
    return (f"{china_time(change.at)} {state} → {change.to_state.value} "
            f"({change.reason})")
