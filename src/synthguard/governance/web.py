"""What the governance routers share: the route class that turns every error into the
API's error body (`synthguard.http_errors`: `{"error": {"message", "type", "code",
"param"}}`), body limits, rate limits, the service from app state.

A router cannot install exception handlers on the app that mounts it, so
`GovernanceRoute` wraps the whole request (dependency resolution included, where
`require_role` refuses): a `GovernanceError` becomes its status, a validation error
422 naming the field in `param` (never echoing input), an unknown account 404, another refused
account change 409, anything else a 500 whose log line names only the exception type.
JSON bodies must declare their length, at most `MAX_JSON_BYTES`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import to_jsonable_python
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from synthguard.accounts import AccountError, RateLimiter, UnknownAccount
from synthguard.errors import SynthGuardError
from synthguard.governance.errors import GovernanceError
from synthguard.governance.service import Governance
from synthguard.http_errors import ErrorBody, error_response

MAX_JSON_BYTES = 256 * 1024
ERRORS: dict[int | str, dict[str, Any]] = {  # the error answers, for the OpenAPI document
    status: {"model": ErrorBody, "description": what} for status, what in (
        (401, "Sign-in or API key needed"), (403, "Role or account not allowed"),
        (404, "Unknown item or receipt code"), (409, "Not allowed in the current state"),
        (411, "Content-Length required"), (413, "Body or upload too large"),
        (415, "Evidence type not accepted"), (422, "Invalid field (error.code names it)"),
        (429, "Too many requests from this address (Retry-After)"))}
log = logging.getLogger("synthguard.governance.http")


def json_response(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(to_jsonable_python(value), status)


class GovernanceRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_json = self.body_field is not None

        async def run(request: Request) -> Response:
            if takes_json:
                declared = request.headers.get("content-length", "")
                if not declared.isdigit():
                    return error_response(411, "length_required",
                                          "a JSON body needs a Content-Length")
                if int(declared) > MAX_JSON_BYTES:
                    return error_response(413, "request_too_large",
                                          f"the request body exceeds {MAX_JSON_BYTES} bytes")
            try:
                return await handler(request)
            except GovernanceError as exc:
                return error_response(exc.status, exc.code, str(exc),
                                      retry_after_s=exc.retry_after_s)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                where = ".".join(str(p) for p in first.get("loc", ())) or "body"
                param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
                return error_response(422, "invalid_request", f"{where}: {first.get('msg')}",
                                      param)
            except UnknownAccount as exc:
                return error_response(404, "unknown_account", str(exc))
            except AccountError as exc:
                return error_response(409, "account_refused", str(exc))
            except SynthGuardError as exc:
                return error_response(422, exc.code, str(exc))
            except HTTPException as exc:
                # FastAPI's own refusals (an unparseable JSON body is a 400) stay 4xx.
                code = "invalid_json" if exc.status_code == 400 else "http_error"
                return error_response(exc.status_code, code, str(exc.detail))
            except Exception as exc:
                log.error("governance request failed", extra={"event": "internal_error",
                                                              "error": type(exc).__name__})
                return error_response(500, "internal_error", "internal error")

        return run


def governance(request: Request) -> Governance:
    found = getattr(request.app.state, "governance", None)
    if not isinstance(found, Governance):
        raise RuntimeError("app.state.governance is not set to a Governance")
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit(request: Request, bucket: str, per_minute: int) -> None:
    """Count a request of this client address in one of governance's public buckets."""
    check_rate(governance(request).limiter, f"{bucket}:{client_address(request)}", per_minute)


def check_rate(limiter: RateLimiter, bucket: str, per_minute: int,
               message: str = "too many requests from this address; try again later") -> None:
    """Count one request in `bucket`; over `per_minute`, a 429 with Retry-After."""
    decision = limiter.check(bucket, per_minute)
    if not decision.allowed:
        raise GovernanceError(message, "too_many_requests", 429,
                              retry_after_s=max(1, int(decision.retry_after_s + 0.999)))


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` bytes."""
    too_large = GovernanceError(f"the upload exceeds {limit} bytes", "request_too_large", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking service call (database, file scan) off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)
