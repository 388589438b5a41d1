"""What the console and public routers take from `request.app.state`, built once per app.

| name | type | needed |
| --- | --- | --- |
| `app.state.database` | `store.Database` (migrated) | yes |
| `app.state.config` | `config.Config` | yes (the secret signs sessions and CSRF tokens) |
| `app.state.governance` | `governance.service.Governance` | yes (complaints, registries, switches, ...) |
| `app.state.identity` | `identity.services.IdentityServices` | for the consent records page |
| `app.state.audit` | `audit.service.Audit` | for checkpoint status and audit verification |
| `app.state.moderation` | `moderation.store.ModerationStore` | optional; built on the database if absent |
| `app.state.watermark_keys` | `watermark.KeyRing` | optional; else the configuration's (`config.protection`): "check a file" looks for watermarks with them |

The routers cache the assembled `ConsoleServices` as `app.state.console` (set it
yourself to replace a part, e.g. a test's clock). `ConsoleServices.auth` is the
authenticator to install as `app.state.governance_auth`.
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from synthguard.accounts import Accounts, AccountState, RateLimiter, Records
from synthguard.config import Config
from synthguard.console.operators import Operators
from synthguard.console.sessions import ConsoleOperators, SessionCodec
from synthguard.governance.service import Governance
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database

if TYPE_CHECKING:
    from synthguard.audit.service import Audit
    from synthguard.identity.services import IdentityServices
    from synthguard.labels.protect import Protection
    from synthguard.watermark import KeyRing


@dataclass
class ConsoleServices:
    database: Database
    config: Config
    governance: Governance
    operators: Operators
    codec: SessionCodec
    auth: ConsoleOperators
    moderation: ModerationStore
    records: Records
    limiter: RateLimiter  # sign-in and "check a file" (the report forms use governance's)
    identity: IdentityServices | None = None
    audit: Audit | None = None
    watermark_keys: KeyRing | None = None
    # Pinned signing keys and C2PA trust anchors for "check a file" (config.protection).
    protection: Protection | None = None

    @property
    def accounts(self) -> Accounts:
        return self.governance.accounts

    @classmethod
    def build(cls, state: Any) -> ConsoleServices:
        database, config = _needed(state, "database", Database), _needed(state, "config", Config)
        governance = _needed(state, "governance", Governance)
        operators = Operators(database)
        codec = SessionCodec(config.secret)
        moderation = getattr(state, "moderation", None) or ModerationStore(
            database, enforce=lambda user_id: governance.accounts.note_input_decision(
                user_id, True))
        return cls(database=database, config=config, governance=governance,
                   operators=operators, codec=codec,
                   auth=ConsoleOperators(operators, codec, governance.operators),
                   moderation=moderation, records=Records(database), limiter=RateLimiter(),
                   identity=getattr(state, "identity", None),
                   audit=getattr(state, "audit", None),
                   watermark_keys=(getattr(state, "watermark_keys", None)
                                   or config.protection.watermark_keys),
                   protection=config.protection)

    def warn_user(self, user_id: str, reason: str, actor: str) -> AccountState:
        """Warn an active user (a reviewer's block decision); a user already warned,
        limited, suspended or closed keeps the stronger state. The state after."""
        state = self.accounts.user_state(user_id)
        if state is AccountState.ACTIVE:
            self.accounts.set_state(user_id, AccountState.WARNED, reason[:500], actor)
            return AccountState.WARNED
        return state


def _needed(state: Any, name: str, kind: type) -> Any:
    found = getattr(state, name, None)
    if not isinstance(found, kind):
        raise RuntimeError(f"app.state.{name} must be a {kind.__name__} for the console")
    return found


def console_services(request: Request) -> ConsoleServices:
    state = request.app.state
    found = getattr(state, "console", None)
    if not isinstance(found, ConsoleServices):
        found = ConsoleServices.build(state)
        state.console = found
    return found
