"""The operator console under /console: sign-in and sign-out, the dashboard, and the
work pages of `pages_work` and `pages_records`. Every route but the sign-in form and its
POST has a `require(...)` dependency (admins pass every check); tests enumerate the
routes and check that each refuses the roles it does not list.

Sign-in is rate-limited per client address and per operator name, and answers a wrong
name and a wrong password alike. A new CSRF cookie is set with the session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from synthguard.console.pages_records import router as records_router
from synthguard.console.pages_work import router as work_router
from synthguard.console.queries import queue_age, volumes
from synthguard.console.services import console_services
from synthguard.console.sessions import (
    clear_session,
    new_csrf_value,
    set_csrf,
    set_session,
)
from synthguard.console.web import (
    SIGN_IN_LIMITED,
    ConsoleRoute,
    SignedIn,
    check_csrf,
    render,
    require,
    see_other,
)
from synthguard.governance.auth import Role
from synthguard.governance.web import check_rate, client_address

console_router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
SIGN_INS_PER_MINUTE_PER_ADDRESS = 10
SIGN_INS_PER_MINUTE_PER_NAME = 5
Anyone = Annotated[SignedIn, Depends(require(*Role))]


def _safe_next(target: str | None) -> str:
    """Only a console path: a sign-in link must not redirect anywhere else."""
    if target and target.startswith("/console") and "//" not in target and "\\" not in target:
        return target
    return "/console/"


@console_router.get("/login")
def login_form(request: Request,
               next_path: Annotated[str | None, Query(alias="next", max_length=300)] = None
               ) -> Response:
    return render(request, "console/login.html", {"next": _safe_next(next_path)})


@console_router.post("/login")
def login(request: Request, _: Annotated[None, Depends(check_csrf)],
          name: Annotated[str, Form(min_length=1, max_length=100)],
          password: Annotated[str, Form(min_length=1, max_length=1024)],
          next_path: Annotated[str, Form(alias="next", max_length=300)] = "/console/"
          ) -> Response:
    services = console_services(request)
    for bucket, per_minute in ((f"login:{client_address(request)}",
                                SIGN_INS_PER_MINUTE_PER_ADDRESS),
                               (f"login-name:{name.strip().lower()}",
                                SIGN_INS_PER_MINUTE_PER_NAME)):
        check_rate(services.limiter, bucket, per_minute, SIGN_IN_LIMITED)
    info = services.operators.authenticate(name, password)
    if info is None:
        return render(request, "console/login.html",
                      {"next": _safe_next(next_path), "failed": True, "name": name[:100]},
                      status=401)
    response = see_other(_safe_next(next_path))
    set_session(response, request, services.codec.issue(info), services.codec.max_age_s)
    set_csrf(response, request, new_csrf_value())
    return response


@console_router.post("/logout")
def logout(request: Request, who: Anyone) -> Response:
    console_services(request).operators.end_sessions(who.info.id)
    response = see_other("/console/login")
    clear_session(response, request)
    return response


@console_router.get("/")
def dashboard(request: Request, who: Anyone) -> Response:
    services = console_services(request)
    now = datetime.now(UTC)
    queue = services.governance.complaints.queue(now)
    by_urgency = {u: [e for e in queue if e.urgency == u] for u in ("overdue", "near", "ok")}
    audit = services.audit
    checkpoint = audit.checkpoints.latest() if audit else None
    return render(request, "console/dashboard.html", {
        "now": now, "volumes": volumes(services.database, now), "complaints": queue[:10],
        "by_urgency": by_urgency, "review": queue_age(services.database),
        "audit": audit, "checkpoint": checkpoint,
        "log_size": audit.log.size() if audit else None,
        "switches": services.governance.switches.active(),
        "reviews_due": services.governance.registry.reviews_due(within_days=30)})


console_router.include_router(work_router)
console_router.include_router(records_router)
