"""The served OpenAPI schema, and schemathesis against it, governance routes included:
no input makes the gateway answer 5xx, and every error body has the API's one
(OpenAI-style) shape. Bounded: a few examples per route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from synthguard.gateway import create_app
from synthguard.governance.service import Governance
from synthguard.governance.settings import ComplaintSettings, GovernanceSettings
from synthguard.store import Database
from tests.api_errors import check_error_body
from tests.gateway.conftest import Gateway, make_config, run_gateway


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    """One gateway for all generated cases (module scope: starting one per example would
    only measure uvicorn start-up)."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'gateway.db'}")
    db.migrate()
    for gateway in run_gateway(db):
        _, key = gateway.key(rate_limit_per_min=100_000)
        yield gateway, key
    db.dispose()


@pytest.fixture(scope="module")
def live_governance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    """A gateway of its own for the governance routes, called with an admin operator's
    key: generated cases flip switches (which would suspend the other routes) and reach
    every operator handler. Public rate limits are raised so cases get past them."""
    folder = tmp_path_factory.mktemp("openapi-governance")
    db = Database(f"sqlite:///{folder / 'gateway.db'}")
    db.migrate()
    config = make_config()
    settings = GovernanceSettings(
        complaints=ComplaintSettings(evidence_dir=folder / "evidence",
                                     submissions_per_minute=100_000,
                                     status_lookups_per_minute=100_000),
        reports_dir=folder / "reports")
    governance = Governance(db, config, settings)
    for gateway in run_gateway(db, config, governance=governance):
        user, _ = gateway.key()
        _, key = gateway.accounts.issue_key(user, ["chat", "governance:admin"], 100_000)
        yield gateway, key
    db.dispose()


def _served_schema() -> dict[str, Any]:
    """The document the app serves at /openapi.json (building it opens no database)."""
    app = create_app(make_config(), database=Database("sqlite://"))
    return app.openapi()


def test_openapi_describes_the_endpoints(live: tuple[Gateway, str]) -> None:
    doc = httpx.get(f"{live[0].url}/openapi.json").json()
    assert doc == _served_schema()
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/chat/completions", "/v1/images/generations", "/v1/audio/speech",
                 "/v1/models", "/healthz", "/readyz"):
        assert path in doc["paths"]
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    ref = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ChatCompletionRequest"
    body = doc["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(body["required"])
    assert "synthguard" in body["properties"]
    assert "SynthGuardExtension" in doc["components"]["schemas"]
    assert {"401", "403", "429"} <= set(chat["responses"])


# The coverage phase alone would send ~150 boundary cases per route; the examples and a
# bounded fuzzing phase keep this file to seconds. The identity and consent routes the app
# also serves are fuzzed with their vendor stand-in in tests/identity/test_openapi.py.
# The regulator archive verifier takes a raw .tar.gz body: generated as raw bytes.
schemathesis.serializer.alias("application/gzip", "application/octet-stream")
schema = schemathesis.openapi.from_dict(_served_schema(), config=SchemathesisConfig.from_dict(
    {"phases": {"coverage": {"enabled": False}}})).exclude(tag=["identity", "consent"])


def test_the_governance_routes_are_fuzzed() -> None:
    fuzzed = {result.ok().path for result in schema.get_all_operations()}
    assert "/v1/governance/complaints" in fuzzed
    assert "/v1/governance/ops/switches/engage" in fuzzed


@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live: tuple[Gateway, str],
                          live_governance: tuple[Gateway, str]) -> None:
    gateway, key = live_governance if case.path.startswith("/v1/governance") else live
    # Keep generated images small: the point is the request handling, not Pillow.
    if case.path.startswith("/v1/images") and isinstance(case.body, dict):
        case.body["size"] = "256x256"
    response = case.call(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"},
                         timeout=60)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        check_error_body(response.json(), response.status_code)
