"""What the console and public routers share: the route class (body limit, errors as
HTML pages), template rendering with the CSRF token and the filing footer, the role
dependency, and the static files.

`ConsoleRoute` wraps the whole request, dependency resolution included (a router cannot
install exception handlers on the app that mounts it): a missing sign-in becomes a
redirect to the sign-in page (GET; the console's or the account's) or a 401 page, a
`GovernanceError` its status, a validation error a 422 naming the field (never echoing
input), a refused account or queue step 409, anything else a 500 whose log line names
only the exception type.
Error pages carry `X-SynthGuard-Error: <code>`. Request bodies are cut off at
`body_limit` bytes, declared or streamed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.types import Message, Receive

from synthguard.accounts import AccountError, UnknownAccount
from synthguard.console import filters
from synthguard.console.operators import OperatorError, OperatorInfo
from synthguard.console.services import ConsoleServices, console_services
from synthguard.console.sessions import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    new_csrf_value,
    set_csrf,
)
from synthguard.errors import SynthGuardError
from synthguard.governance.auth import Operator, Role
from synthguard.governance.errors import GovernanceError
from synthguard.identity.errors import IdentityError
from synthguard.moderation.library import LibraryError, WorkflowError
from synthguard.moderation.store import QueueError

HERE = Path(__file__).parent
STATIC = {  # name -> (file, media type): a fixed list, so no path ever reaches the disk
    "console.css": (HERE / "static" / "console.css", "text/css; charset=utf-8"),
    "htmx.min.js": (HERE / "static" / "htmx.min.js", "text/javascript; charset=utf-8"),
    "notice-font.otf": (HERE.parent / "explicit" / "fonts" / "SynthGuardNoticeSansSC-Bold.otf",
                        "font/otf"),
}
MAX_FORM_BYTES = 256 * 1024
SIGN_IN_LIMITED = "too many sign-in attempts; wait a minute"
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields of an upload form
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; font-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
log = logging.getLogger("synthguard.console")

templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True),
                        trim_blocks=True, lstrip_blocks=True)
filters.install(templates)
R = Role
templates.globals["console_nav"] = (  # (path, label, roles that see it)
    ("/console/", "概览 Dashboard", tuple(Role)),
    ("/console/review", "审核 Review", (R.REVIEWER, R.AUDITOR)),
    ("/console/complaints", "投诉 Complaints", (R.COMPLAINT_HANDLER, R.AUDITOR)),
    ("/console/users", "用户 Users", tuple(Role)),
    ("/console/consents", "同意 Consents", (R.COMPLAINT_HANDLER, R.AUDITOR)),
    ("/console/library", "特征库 Library", (R.REVIEWER, R.AUDITOR)),
    ("/console/registries", "备案 Registries", (R.ADMIN, R.AUDITOR)),
    ("/console/rumors", "辟谣 Rumors", (R.REVIEWER, R.AUDITOR)),
    ("/console/policies", "规则 Policies", (R.ADMIN, R.AUDITOR)),
    ("/console/exports", "报送 Exports", (R.AUDITOR,)),
    ("/console/audit", "审计 Audit", (R.AUDITOR,)),
    ("/console/switches", "开关 Switches", (R.ADMIN,)),
    ("/console/operators", "人员 Operators", (R.ADMIN,)),
)


class NotSignedIn(Exception):
    """No valid session: a GET is sent to `login` (the console's or the account's)."""

    def __init__(self, login: str = "/console/login") -> None:
        super().__init__("sign in first")
        self.login = login


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body exceeds {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class SignedIn:
    info: OperatorInfo

    @property
    def name(self) -> str:
        return self.info.name

    def may(self, *roles: Role) -> bool:
        return Operator(self.info.name, self.info.roles).may(frozenset(roles))


def body_limit(services: ConsoleServices, request: Request) -> int:
    """What a request may send: an upload form the evidence files a report may carry
    (each file's own limit is checked where it is read), any other form 256 KiB."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        limits = services.governance.settings.complaints
        return limits.max_evidence_bytes * max(1, limits.max_evidence_files) + UPLOAD_OVERHEAD
    return MAX_FORM_BYTES


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge(limit)
        return message

    return counted


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            services = console_services(request)
            limit = body_limit(services, request)
            declared = request.headers.get("content-length", "")
            try:
                if declared.isdigit() and int(declared) > limit:
                    raise BodyTooLarge(limit)
                return await handler(Request(request.scope, _limited(request.receive, limit)))
            except HTTPException as exc:  # FastAPI wraps body-parsing failures in a 400
                if isinstance(exc.__cause__, BodyTooLarge):
                    return await error_page(request, 413, "request_too_large",
                                            str(exc.__cause__))
                return await error_page(request, exc.status_code, "http_error", str(exc.detail))
            except Exception as exc:
                return await _failure(request, exc)

        return run


async def _failure(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NotSignedIn):
        if request.method in SAFE_METHODS:
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"{exc.login}?next={target}", 303)
        return await error_page(request, 401, "unauthenticated", "sign in first")
    if isinstance(exc, BodyTooLarge):
        return await error_page(request, 413, "request_too_large", str(exc))
    if isinstance(exc, GovernanceError | IdentityError):
        return await error_page(request, exc.status, exc.code, str(exc), exc.retry_after_s)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "form"
        return await error_page(request, 422, "invalid_request", f"{where}: {first.get('msg')}")
    if isinstance(exc, UnknownAccount):
        return await error_page(request, 404, "unknown_account", str(exc))
    if isinstance(exc, AccountError | QueueError | WorkflowError):
        return await error_page(request, 409, "refused", str(exc))
    if isinstance(exc, LibraryError | OperatorError | SynthGuardError):
        return await error_page(request, 422, getattr(exc, "code", "invalid"), str(exc))
    log.error("console request failed", extra={"event": "internal_error",
                                               "error": type(exc).__name__})
    return await error_page(request, 500, "internal_error", "internal error")


async def error_page(request: Request, status: int, code: str, message: str,
                     retry_after_s: int | None = None) -> Response:
    page = "console/error.html" if request.url.path.startswith("/console") else "error.html"
    response = await anyio.to_thread.run_sync(lambda: render(
        request, page, {"status": status, "code": code, "message": message},
        status=status, fragment="content"))
    response.headers["X-SynthGuard-Error"] = code
    if retry_after_s:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status: int = 200, fragment: str | None = None) -> HTMLResponse:
    """The page `name`; only its block `fragment` when htmx asked (HX-Request)."""
    services = console_services(request)
    csrf_value = getattr(request.state, "csrf_value", None) or request.cookies.get(CSRF_COOKIE)
    fresh = csrf_value is None
    if csrf_value is None:
        csrf_value = new_csrf_value()
    operator: OperatorInfo | None = getattr(request.state, "operator", None)
    values = {
        "request": request, "csrf_field": CSRF_FIELD,
        "csrf_token": services.codec.csrf_token(csrf_value),
        "operator": SignedIn(operator) if operator else None,
        "filings": services.governance.registry.public_filings(),
        **(context or {}),
    }
    template = templates.get_template(name)
    if fragment and request.headers.get("hx-request") == "true" and fragment in template.blocks:
        html = "".join(template.blocks[fragment](template.new_context(values)))
    else:
        html = template.render(values)
    response = HTMLResponse(html, status)
    response.headers.update(SECURITY_HEADERS)
    if fresh:
        set_csrf(response, request, csrf_value)
    return response


def see_other(path: str) -> RedirectResponse:
    """Post/redirect/get: answer a form with the page that shows its outcome."""
    return RedirectResponse(path, 303)


async def check_csrf(request: Request) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    services = console_services(request)
    if not services.codec.csrf_valid(request.cookies.get(CSRF_COOKIE), token):
        raise GovernanceError("this form has expired; reload the page and send it again",
                              "csrf", 403)


def require(*roles: Role) -> Callable[[Request], Awaitable[SignedIn]]:
    """A dependency giving the signed-in operator, who must hold one of `roles` (admins
    pass every check); POSTs must also carry the CSRF token."""
    wanted = frozenset(roles)

    async def dependency(request: Request) -> SignedIn:
        info = await console_services(request).auth.signed_in(request)
        if info is None:
            raise NotSignedIn
        request.state.operator = info
        if not Operator(info.name, info.roles).may(wanted):
            raise GovernanceError("this page needs the role " + " or ".join(sorted(wanted)),
                                  "forbidden", 403)
        if request.method not in SAFE_METHODS:
            await check_csrf(request)
        return SignedIn(info)

    return dependency


def static_file(name: str) -> Response:
    found = STATIC.get(name)
    if found is None:
        raise GovernanceError(f"no static file {name!r}", "not_found", 404)
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={
        "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
