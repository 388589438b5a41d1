"""What the identity and consent routers share: reading a bounded JSON body into a flat
pydantic model, API-key authentication, and errors in the API's one shape
(`synthguard.http_errors`: `{"error": {"message", "type", "code", "param"}}`, plus
`reason` for a rejected number: the rule it broke).

The routers handle their own errors (a router cannot install exception handlers on the
app that mounts it), so every endpoint is wrapped by `endpoint`: an `IdentityError`
becomes its status and code, any other `SynthGuardError` a 422, anything else a 500
whose log line names only the exception type. Validation messages never echo input:
a rejected body may hold an ID number.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, ParamSpec, TypeVar

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from synthguard import http_errors
from synthguard.accounts import KeyContext
from synthguard.errors import SynthGuardError
from synthguard.identity.errors import IdentityError
from synthguard.identity.services import IdentityServices

MAX_BODY_BYTES = 16 * 1024
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("synthguard.identity.http")


def error_response(exc: IdentityError) -> JSONResponse:
    extra = {"reason": exc.reason} if exc.reason else {}
    return http_errors.error_response(exc.status, exc.code, str(exc), exc.param,
                                      retry_after_s=exc.retry_after_s, **extra)


def endpoint(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except IdentityError as exc:
            return error_response(exc)
        except SynthGuardError as exc:
            return http_errors.error_response(422, exc.code, str(exc))
        except Exception as exc:
            log.error("identity request failed", extra={"event": "internal_error",
                                                        "error": type(exc).__name__})
            return http_errors.error_response(500, "internal_error", "internal error")
    return run


def services(request: Request) -> IdentityServices:
    found = getattr(request.app.state, "identity", None)
    if not isinstance(found, IdentityServices):
        raise RuntimeError("app.state.identity is not set to an IdentityServices")
    return found


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call (database, vendor HTTP) off the event loop."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


async def read_body(request: Request, model: type[M]) -> M:
    declared = request.headers.get("content-length", "")
    too_large = IdentityError(f"the request body exceeds {MAX_BODY_BYTES} bytes",
                              "request_too_large", 413)
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise IdentityError("the request body is not valid JSON", "invalid_json", 400) \
            from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise IdentityError(f"{where}: {first['msg']}", "invalid_request", 422,
                            param=".".join(str(p) for p in first["loc"]) or None) from None


async def authenticate(request: Request) -> KeyContext:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = None
    if scheme.lower() == "bearer":
        key = await in_thread(services(request).accounts.authenticate, token.strip())
    if key is None:
        raise IdentityError("missing or invalid API key (Authorization: Bearer sg-...)",
                            "invalid_api_key", 401)
    return key


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body, inlined: the routers' models are flat, so they need no
    entries in the mounting app's components."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


ChallengeId = Annotated[str, Field(min_length=1, max_length=40)]
OneTimeCode = Annotated[str, Field(min_length=1, max_length=12)]
NumberText = Annotated[str, Field(min_length=1, max_length=32)]
Handler = Callable[..., Awaitable[Response]]


class StrictBody(BaseModel):
    """A request body: flat (see `body_doc`), unknown fields refused."""

    model_config = ConfigDict(extra="forbid")


class CodeBody(StrictBody):
    challenge_id: ChallengeId
    code: OneTimeCode


def error_docs(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    body = {"application/json": {"schema": http_errors.inline_schema()}}
    return {status: {"description": what, "content": body} for status, what in pairs}


def post(router: APIRouter, path: str, model: type[BaseModel] | None, summary: str,
         responses: dict[int | str, dict[str, Any]]) -> Callable[[Handler], Handler]:
    """`router.post` with the body documented inline and the error statuses listed."""
    return router.post(path, openapi_extra=body_doc(model) if model else None,
                       responses=responses, summary=summary)


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def json_response(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(to_json(value), status)
