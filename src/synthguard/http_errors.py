"""The one error body of SynthGuard's whole HTTP API, the OpenAI API's shape:

    {"error": {"message": "...", "type": "...", "code": "...", "param": null}}

`message` is one line for people and never echoes what was sent; `code` is the stable,
machine-readable reason (the catalogue of each API is in its module); `param` names the
field or parameter at fault, or is null; `type` follows the status the way the OpenAI
API does, so its official clients raise the usual exception classes (401
AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError, 409 ConflictError,
422 UnprocessableEntityError, 429 RateLimitError, 5xx InternalServerError). An API may
add fields of its own beside these four (the identity API's `reason`: the number rule a
rejected number broke). A 429 carries `Retry-After`.

The generation routes build theirs through `gateway.errors.GatewayError`; the identity,
consent, governance and audit routers and the app's own handlers through
`error_response`. `ErrorBody` is the schema the OpenAPI document names for them;
`inline_schema()` the same without references, for routers that keep their OpenAPI
paths free of `$ref` (identity, consent).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def inline_schema() -> dict[str, Any]:
    return {"type": "object", "title": "ErrorBody", "required": ["error"],
            "properties": {"error": ErrorDetail.model_json_schema()}}


def error_type(status: int) -> str:
    """The OpenAI error type for an HTTP status."""
    if status == 403:
        return "permission_error"
    if status == 429:
        return "requests"
    if status in (502, 504):
        return "api_error"  # the model server (upstream) failed or timed out
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(status: int, code: str, message: str, param: str | None = None, *,
               type: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type or error_type(status), "code": code,
                      "param": param, **extra}}


def error_response(status: int, code: str, message: str, param: str | None = None, *,
                   retry_after_s: int | None = None, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(max(1, retry_after_s))} if retry_after_s else None
    return JSONResponse(error_body(status, code, message, param, **extra), status, headers)
