"""The HTTP API's one error shape (synthguard.http_errors), checked the same way by every
API's tests: `{"error": {"message", "type", "code", "param"}}` and nothing else at the
top level; extra fields only where an API documents them (identity's `reason`)."""

from __future__ import annotations

from typing import Any

import httpx

from synthguard.http_errors import error_type

SHAPE = {"message", "type", "code", "param"}
EXTRA = {"reason"}


def check_error_body(body: Any, status: int) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert SHAPE <= set(error) <= SHAPE | EXTRA, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["code"], str) and error["code"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["type"] == error_type(status), (status, error)
    return error


def api_error(response: httpx.Response, status: int, code: str | None = None
              ) -> dict[str, Any]:
    """The error of `response`, which must have `status` (and `code`, when given)."""
    assert response.status_code == status, response.text
    error = check_error_body(response.json(), status)
    if code is not None:
        assert error["code"] == code, error
    return error
