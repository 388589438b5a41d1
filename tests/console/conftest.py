"""The console app over the governance test database (SQLite and PostgreSQL): services
with the real clock (pages show ages against now), an audit log with a fixed key,
operators hashed at a low scrypt cost so that signing in stays fast."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from synthguard.accounts import Accounts
from synthguard.audit.note import NoteSigner
from synthguard.audit.service import Audit, AuditSettings
from synthguard.config import Config
from synthguard.console.app import create_console_app
from synthguard.console.operators import Operators
from synthguard.governance.service import Governance
from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings
from synthguard.store import Database
from tests.accounts.conftest import make_config
from tests.governance.conftest import _migrated_sqlite, database, governance_settings

__all__ = ["_migrated_sqlite", "database"]
PASSWORD = "correct horse battery staple"
AUDIT_ORIGIN = "console.test/audit"
AUDIT_SEED = bytes(range(40, 72))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    app: FastAPI
    db: Database
    config: Config
    gov: Governance
    audit: Audit
    identity: IdentityServices
    operators: Operators

    @property
    def accounts(self) -> Accounts:
        return self.gov.accounts

    def operator(self, name: str, *roles: str) -> str:
        self.operators.create(name, PASSWORD, roles, actor="test")
        return name


@pytest.fixture
def console(database: Database, tmp_path: Path) -> Iterator[Console]:
    config = make_config()
    gov = Governance(database, config, governance_settings(tmp_path))
    audit = Audit(database, config, AuditSettings(AUDIT_ORIGIN,
                                                  NoteSigner(AUDIT_ORIGIN, AUDIT_SEED)))
    identity = IdentityServices.build(config, database, IdentitySettings.from_env({}))
    app = create_console_app(config, database, governance=gov, identity=identity, audit=audit)
    yield Console(app, database, config, gov, audit, identity, Operators(database, log2_n=10))
    identity.close()


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console.app, base_url="http://testserver") as client:
        yield client


def csrf_token(client: TestClient | httpx.Client, path: str = "/report") -> str:
    """The token of the form on `path` (the GET also sets the CSRF cookie)."""
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient | httpx.Client, name: str,
            password: str = PASSWORD) -> httpx.Response:
    token = csrf_token(client, "/console/login")
    return client.post("/console/login", data={"csrf_token": token, "name": name,
                                               "password": password},
                       follow_redirects=False)


def signed_in(client: TestClient | httpx.Client, console: Console, *roles: str,
              name: str | None = None) -> str:
    """Create an operator with `roles`, sign in, and return a CSRF token for its forms."""
    name = name or "op-" + "-".join(roles or ("none",))
    console.operator(name, *roles)
    answer = sign_in(client, name)
    assert answer.status_code == 303, answer.text
    return csrf_token(client, "/console/")
