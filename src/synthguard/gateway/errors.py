"""OpenAI-style error bodies: `{"error": {"message", "type", "code", "param"}}`, the one
shape of the whole HTTP API (`synthguard.http_errors`).

Clients built for the OpenAI API map the HTTP status to an exception class (401 →
AuthenticationError, 403 → PermissionDeniedError, 429 → RateLimitError ...) and show
`message`; `code` is the stable machine-readable reason. Every refusal the gateway
makes is one of the constructors below, so the catalogue of codes lives in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from synthguard.http_errors import error_body


@dataclass
class GatewayError(Exception):
    """A request the gateway answers with an error instead of generated content."""

    status: int
    message: str
    type: str
    code: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message, self.param, type=self.type)

    def sse_event(self) -> bytes:
        """The error as an SSE data event: what the OpenAI API sends when a stream fails
        after it started (the official clients raise APIError on it)."""
        return b"data: " + json.dumps(self.body(), ensure_ascii=False).encode() + b"\n\n"

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(self.body(), ensure_ascii=False), status_code=self.status,
                        media_type="application/json", headers={**self.headers, **(headers or {})})


def invalid_api_key(message: str = "Incorrect or missing API key. Send it as "
                    "'Authorization: Bearer sg-...'.") -> GatewayError:
    return GatewayError(401, message, "invalid_request_error", "invalid_api_key")


def insufficient_scope(scope: str) -> GatewayError:
    return GatewayError(403, f"This API key is not allowed to use {scope} generation.",
                        "permission_error", "insufficient_scope")


def account_refused(state: str) -> GatewayError:
    return GatewayError(403, f"This account is {state}; it may not generate content. "
                        "Contact the service operator to appeal.", "permission_error",
                        f"account_{state}")


def function_limited(scope: str) -> GatewayError:
    return GatewayError(403, f"This account is limited: {scope} generation is withdrawn. "
                        "Contact the service operator to appeal.", "permission_error",
                        "account_limited")


def identity_unverified() -> GatewayError:
    return GatewayError(403, "This account has not completed real-name verification; only "
                        "verified accounts may generate content.", "permission_error",
                        "identity_unverified")


def consent_required(kind: str, reason: str) -> GatewayError:
    return GatewayError(403, f"Editing a person's {kind} needs that person's separate consent: "
                        f"{reason}", "permission_error", "consent_required",
                        "synthguard.consent_id")


def rate_limited(limit_per_min: int, retry_after_s: int) -> GatewayError:
    return GatewayError(429, f"Rate limit reached: {limit_per_min} requests per minute for this "
                        f"API key. Try again in {retry_after_s} s.", "requests",
                        "rate_limit_exceeded", headers={"Retry-After": str(retry_after_s)})


def invalid_request(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", "invalid_request", param)


def unsupported(message: str, param: str | None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", "unsupported_parameter", param)


def model_not_found(model: str, endpoint: str) -> GatewayError:
    return GatewayError(404, f"The model {model!r} does not exist or does not serve {endpoint}.",
                        "invalid_request_error", "model_not_found", "model")


def content_blocked(param: str, category: str) -> GatewayError:
    return GatewayError(400, f"The request was blocked by content review ({category}).",
                        "invalid_request_error", "content_blocked", param)


def output_blocked(category: str) -> GatewayError:
    return GatewayError(400, f"The generated output was blocked by content review ({category}); "
                        "nothing more of it is released.", "invalid_request_error",
                        "output_blocked")


def review_unavailable() -> GatewayError:
    # Fail closed: when the reviewer cannot answer, unreviewed output is never released.
    return GatewayError(503, "Content review is unavailable; the output was withheld.",
                        "server_error", "review_unavailable")


def upstream_error(message: str, status: int = 502) -> GatewayError:
    return GatewayError(status, message, "api_error", "upstream_error")


def upstream_timeout() -> GatewayError:
    return GatewayError(504, "The model server did not answer in time.", "api_error",
                        "upstream_timeout")


def labeling_failed() -> GatewayError:
    # Unlabeled output must not leave the gateway (GB 45438 §4), so a failure is an error.
    return GatewayError(500, "The output could not be labeled and was withheld.",
                        "server_error", "labeling_failed")


def internal_error() -> GatewayError:
    return GatewayError(500, "The gateway failed to process the request.", "server_error",
                        "internal_error")


def store_unavailable() -> GatewayError:
    return GatewayError(503, "The record store is unavailable; requests are refused until "
                        "every request can be recorded.", "server_error", "store_unavailable")
