"""Sign-in sessions and CSRF tokens, both HMAC-signed with keys derived from the
server secret (`config.secret`), so no session table is needed.

Session cookie `sg_console` = `<operator id>.<session epoch>.<issued unix time>.<mac>`:
HttpOnly, SameSite=Lax, Secure when the request came over https, valid for
`SESSION_MAX_AGE_S`. The operator row is read on every request, so disabling an
operator, changing roles, or bumping the epoch (sign-out, password change) applies to
the next request.

Account cookie `sg_account` = `<user id>.<key id>.<issued unix time>.<mac>`: a user of
the service signed in on the public pages with one of their API keys (to appeal
against our action on their account). Same flags, valid for `ACCOUNT_MAX_AGE_S`; the
key is looked up on every request, so revoking it ends the session.

CSRF: every visitor gets a random `sg_csrf` cookie (HttpOnly, SameSite=Lax); forms
carry `csrf_token` = HMAC(csrf key, cookie value) and every POST, public or console,
must present it (form field, or the `X-CSRF-Token` header for scripts). A new value is
set at sign-in, so a token learnt before signing in is worthless after.

`ConsoleOperators` implements the governance `OperatorAuthenticator` protocol: an API
key (Authorization: Bearer) is checked as before, a console session is accepted too,
but for a state-changing method only with the CSRF header: install it as
`app.state.governance_auth` and the JSON operator API accepts console sessions safely.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.requests import Request
from starlette.responses import Response

from synthguard.console.operators import OperatorInfo, Operators
from synthguard.governance.auth import Operator, OperatorAuthenticator

SESSION_COOKIE = "sg_console"
ACCOUNT_COOKIE = "sg_account"
CSRF_COOKIE = "sg_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_MAX_AGE_S = 12 * 3600
ACCOUNT_MAX_AGE_S = 2 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_COOKIE = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, purpose.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True)
class SessionClaim:
    operator_id: str
    epoch: int
    issued_at: int


@dataclass(frozen=True)
class AccountClaim:
    user_id: str
    key_id: str
    issued_at: int


class _Signed:
    """`<part>.<part>.<issued unix time>.<mac>` values under a key of their own."""

    def __init__(self, secret: bytes, purpose: str, clock: Callable[[], float],
                 max_age_s: int) -> None:
        self._key = _derive(secret, purpose)
        self._clock = clock
        self.max_age_s = max_age_s

    def issue(self, first: str, second: str) -> str:
        payload = f"{first}.{second}.{int(self._clock())}"
        return f"{payload}.{self.mac(payload)}"

    def read(self, value: str | None) -> tuple[str, str, int] | None:
        """The parts of a well-formed, genuine, unexpired value, else None."""
        if not value or len(value) > MAX_COOKIE:
            return None
        payload, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self.mac(payload)):
            return None
        parts = payload.split(".")
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        age = self._clock() - int(parts[2])
        if not -60 <= age <= self.max_age_s:  # a minute of clock skew between workers
            return None
        return parts[0], parts[1], int(parts[2])

    def mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii", "replace"),
                             hashlib.sha256).digest())


class SessionCodec:
    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time,
                 max_age_s: int = SESSION_MAX_AGE_S,
                 account_max_age_s: int = ACCOUNT_MAX_AGE_S) -> None:
        self._sessions = _Signed(secret, "synthguard console session v1", clock, max_age_s)
        self._accounts = _Signed(secret, "synthguard account session v1", clock,
                                 account_max_age_s)
        self._csrf_key = _derive(secret, "synthguard console csrf v1")
        self.max_age_s = max_age_s
        self.account_max_age_s = account_max_age_s

    def issue(self, operator: OperatorInfo) -> str:
        return self._sessions.issue(operator.id, str(operator.session_epoch))

    def read(self, value: str | None) -> SessionClaim | None:
        """The claim of a well-formed, genuine, unexpired cookie value, else None."""
        parts = self._sessions.read(value)
        if parts is None or not parts[1].isdigit():
            return None
        return SessionClaim(parts[0], int(parts[1]), parts[2])

    def issue_account(self, user_id: str, key_id: str) -> str:
        return self._accounts.issue(user_id, key_id)

    def read_account(self, value: str | None) -> AccountClaim | None:
        parts = self._accounts.read(value)
        return None if parts is None else AccountClaim(*parts)

    def csrf_token(self, cookie_value: str) -> str:
        return _b64(hmac.new(self._csrf_key, cookie_value.encode("ascii", "replace"),
                             hashlib.sha256).digest())

    def csrf_valid(self, cookie_value: str | None, token: str | None) -> bool:
        if not cookie_value or not token or len(cookie_value) > MAX_COOKIE:
            return False
        return hmac.compare_digest(token.encode("ascii", "replace"),
                                   self.csrf_token(cookie_value).encode("ascii"))


def new_csrf_value() -> str:
    return secrets.token_urlsafe(24)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age_s: int | None = None) -> None:
    """One of our cookies: HttpOnly, SameSite=Lax, whole site, Secure over https (a
    session cookie, ending with the browser, when `max_age_s` is None)."""
    response.set_cookie(name, value, max_age=max_age_s, httponly=True,
                        secure=secure(request), samesite="lax", path="/")


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, secure=secure(request),
                           samesite="lax")


def set_session(response: Response, request: Request, value: str, max_age_s: int) -> None:
    set_cookie(response, request, SESSION_COOKIE, value, max_age_s)


def clear_session(response: Response, request: Request) -> None:
    clear_cookie(response, request, SESSION_COOKIE)


def set_account(response: Response, request: Request, value: str, max_age_s: int) -> None:
    set_cookie(response, request, ACCOUNT_COOKIE, value, max_age_s)


def clear_account(response: Response, request: Request) -> None:
    clear_cookie(response, request, ACCOUNT_COOKIE)


def set_csrf(response: Response, request: Request, value: str) -> None:
    set_cookie(response, request, CSRF_COOKIE, value)


class ConsoleOperators:
    """Who is calling: an API-key operator (`fallback`) or a console session."""

    def __init__(self, operators: Operators, codec: SessionCodec,
                 fallback: OperatorAuthenticator | None = None) -> None:
        self.operators = operators
        self.codec = codec
        self._fallback = fallback

    async def signed_in(self, request: Request) -> OperatorInfo | None:
        """The active operator of the request's session cookie, else None."""
        claim = self.codec.read(request.cookies.get(SESSION_COOKIE))
        if claim is None:
            return None
        info = await anyio.to_thread.run_sync(self.operators.get, claim.operator_id)
        if info is None or not info.active or info.session_epoch != claim.epoch:
            return None
        return info

    async def operator(self, request: Request) -> Operator | None:
        if request.headers.get("authorization"):
            return await self._fallback.operator(request) if self._fallback else None
        info = await self.signed_in(request)
        if info is None:
            return None
        if request.method not in SAFE_METHODS and not self.codec.csrf_valid(
                request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
            return None
        return Operator(info.name, info.roles)
