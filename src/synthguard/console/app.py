"""A FastAPI app with the console and public pages plus the governance, identity and
consent APIs: what the console's tests serve, and a model for mounting the routers into
the gateway (set the same `app.state` names, include the same routers).

    app = create_console_app(config, database)            # database already migrated
    uvicorn.run(app)
"""

from __future__ import annotations

from fastapi import FastAPI

from synthguard.audit.service import Audit
from synthguard.config import Config
from synthguard.console.pages import console_router
from synthguard.console.public import public_router
from synthguard.console.services import ConsoleServices
from synthguard.governance.service import Governance
from synthguard.identity.services import IdentityServices
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database
from synthguard.watermark import KeyRing


def create_console_app(config: Config, database: Database, *,
                       governance: Governance | None = None,
                       identity: IdentityServices | None = None, audit: Audit | None = None,
                       moderation: ModerationStore | None = None,
                       watermark_keys: KeyRing | None = None) -> FastAPI:
    """Services not given are built from `config` (`audit` only when given: building one
    creates its signing key file)."""
    from synthguard.consent import http as consent_http
    from synthguard.governance import http as governance_http
    from synthguard.identity import http as identity_http

    app = FastAPI(title="SynthGuard console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.database = database
    app.state.config = config
    app.state.governance = governance or Governance(database, config)
    app.state.identity = identity or IdentityServices.build(config, database)
    app.state.audit = audit
    if moderation is not None:
        app.state.moderation = moderation
    app.state.watermark_keys = watermark_keys
    services = ConsoleServices.build(app.state)
    app.state.console = services
    # The JSON operator API accepts console sessions too (with the CSRF header).
    app.state.governance_auth = services.auth
    app.include_router(public_router)
    app.include_router(console_router)
    app.include_router(governance_http.router)
    app.include_router(identity_http.router)
    app.include_router(consent_http.router)
    return app
