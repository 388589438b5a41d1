"""Who may call the operator endpoints: roles, the operator, and `require_role`.

Roles are those of the console: `admin` (passes every check), `reviewer` (review queue,
rumor library), `complaint_handler`, and `auditor` (read-only, exports and verification).
`require_role(...)` is a FastAPI dependency that asks an `OperatorAuthenticator` who is
calling; the console implements the protocol with its own sign-in and sessions and
installs it as `app.state.governance_auth`. Until then `ApiKeyOperators` is used: the
gateway's API keys, whose scopes `governance:<role>` grant the roles (issue one with
`synthguard admin key create --user USER --scope governance:complaint_handler`), on an
account that is active or warned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import anyio
from starlette.requests import Request

from synthguard.accounts import Accounts, AccountState
from synthguard.governance.errors import GovernanceError

SCOPE_PREFIX = "governance:"


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    COMPLAINT_HANDLER = "complaint_handler"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Operator:
    name: str  # recorded as the actor of what they do
    roles: frozenset[Role]

    def may(self, roles: frozenset[Role]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles & roles)


class OperatorAuthenticator(Protocol):
    async def operator(self, request: Request) -> Operator | None:
        """The operator making this request, or None when not signed in."""


class ApiKeyOperators:
    """Operators are API-key holders with `governance:<role>` scopes."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def operator(self, request: Request) -> Operator | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = await anyio.to_thread.run_sync(self._accounts.authenticate, token.strip())
        if key is None or key.user_state not in (AccountState.ACTIVE, AccountState.WARNED):
            return None
        roles = frozenset(Role(s.removeprefix(SCOPE_PREFIX)) for s in key.scopes
                          if s.startswith(SCOPE_PREFIX)
                          and s.removeprefix(SCOPE_PREFIX) in Role.__members__.values())
        return Operator(key.user_id, roles)


def authenticator(request: Request) -> OperatorAuthenticator:
    found = getattr(request.app.state, "governance_auth", None)
    if found is None:
        governance = getattr(request.app.state, "governance", None)
        found = getattr(governance, "operators", None)
    if found is None:
        raise RuntimeError("set app.state.governance (or app.state.governance_auth)")
    return found  # type: ignore[no-any-return]


def require_role(*roles: Role) -> Callable[[Request], Awaitable[Operator]]:
    """A dependency giving the calling operator; 401 when nobody is signed in, 403 when
    the operator has none of `roles` (admins pass every check)."""
    wanted = frozenset(roles)

    async def dependency(request: Request) -> Operator:
        operator = await authenticator(request).operator(request)
        if operator is None:
            raise GovernanceError("operator sign-in required (Authorization: Bearer ...)",
                                  "unauthenticated", 401)
        if not operator.may(wanted):
            raise GovernanceError("this needs the role " + " or ".join(sorted(wanted)),
                                  "forbidden", 403)
        return operator

    return dependency
