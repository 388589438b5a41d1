"""A real gateway on a loopback port (uvicorn in a thread) over the `database` fixture
(SQLite and PostgreSQL), with accounts made through the Accounts service, and the
official `openai` client pointed at it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from synthguard.accounts import Accounts, AccountState, Records, RequestRecord
from synthguard.config import BackendRoute, Config, ReviewRuleSpec
from synthguard.demo import DEMO_USCC
from synthguard.gateway import create_app
from synthguard.labels import provider_code
from synthguard.store import Database

SECRET = bytes(range(32))
PRODUCER = provider_code(DEMO_USCC, service="1", model_code="0001")
MODEL = "synthguard-demo"
BLOCKED_WORD = "forbiddenword"
RULES = (ReviewRuleSpec(id="T-001", category="test-category", pattern=BLOCKED_WORD),)
AUDIT_SEED = bytes(range(100, 132))


@pytest.fixture(autouse=True)
def _service_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit log's checkpoint key and the governance archive key, as a deployment
    gives them: by environment (else each would be made under ./var on first use). A
    gateway run in its own process inherits them."""
    monkeypatch.setenv("SYNTHGUARD_AUDIT_KEY", AUDIT_SEED.hex())
    monkeypatch.setenv("SYNTHGUARD_GOVERNANCE_REPORT_KEY", bytes(range(200, 232)).hex())


def make_config(**overrides: Any) -> Config:
    values: dict[str, Any] = {
        "secret": SECRET, "producer_code": PRODUCER, "review_rules": RULES,
        "backends": {MODEL: BackendRoute(kind="demo")}}
    values.update(overrides)
    return Config(**values)


class LiveServer:
    """uvicorn serving `app` on a free loopback port, in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                                     access_log=False, lifespan="on"))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._sock.close()


@dataclass
class Gateway:
    """A running gateway and the services behind it."""

    url: str
    db: Database
    config: Config
    accounts: Accounts
    records: Records
    app: FastAPI | None = None
    _org: str = field(default="")

    def key(self, *, verified: bool = True, state: AccountState = AccountState.ACTIVE,
            scopes: tuple[str, ...] = ("chat", "images", "audio"),
            rate_limit_per_min: int = 1000) -> tuple[str, str]:
        """A new user with one key: (user_id, plaintext key)."""
        if not self._org:
            self._org = self.accounts.create_org("Test org")
        user = self.accounts.create_user(self._org, "Test user")
        if verified:
            self.accounts.mark_verified(user, "test", "evidence-1")
        _, plaintext = self.accounts.issue_key(user, scopes, rate_limit_per_min)
        if state != AccountState.ACTIVE:
            self.accounts.set_state(user, state, "test", "tester")
        return user, plaintext

    def client(self, api_key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0,
                             timeout=60)

    def record(self, record_id: str) -> RequestRecord:
        found = self.records.get(record_id)
        assert found is not None, f"no record {record_id}"
        return found

    def all_records(self) -> list[RequestRecord]:
        return [r for _, r in self.records.after(0, limit=100_000)]


def run_gateway(database: Database, config: Config | None = None,
                **app_options: Any) -> Iterator[Gateway]:
    config = config or make_config()
    app = create_app(config, database=database, key_cache_s=0, **app_options)
    with LiveServer(app) as server:
        yield Gateway(server.url, database, config, Accounts(database, config),
                      Records(database), app)


@pytest.fixture
def gateway(database: Database) -> Iterator[Gateway]:
    yield from run_gateway(database)


@pytest.fixture
def sqlite_database(tmp_path: Any) -> Iterator[Database]:
    """For tests whose subject is not the store: SQLite only."""
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def sqlite_gateway(sqlite_database: Database) -> Iterator[Gateway]:
    yield from run_gateway(sqlite_database)
