"""schemathesis over the identity and consent routers on a live uvicorn server: no input
gets a 5xx, every error has the API's one shape (`{"error": {"message", "type", "code",
"param"}}`). Bounded: a few examples per operation, no coverage phase."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from synthguard.identity.services import IdentityServices
from synthguard.identity.settings import IdentitySettings
from synthguard.store import Database
from tests.accounts.conftest import make_config
from tests.api_errors import check_error_body
from tests.gateway.conftest import LiveServer
from tests.identity.fake_vendor import FakeVendorServer
from tests.identity.helpers import make_app, settings_for, verify_by_mobile


def _schema_app() -> FastAPI:
    # Building the document needs no database or vendor; the routes are what matter.
    services = IdentityServices.build(make_config(), Database("sqlite://"), IdentitySettings())
    return make_app(services)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('identity-api') / 'id.db'}")
    db.migrate()
    with FakeVendorServer() as vendor:
        services = IdentityServices.build(make_config(), db, settings_for(vendor))
        created = services.verification.sign_up("Fuzz")
        verify_by_mobile(services, vendor, created.user_id)
        with LiveServer(make_app(services)) as server:
            yield server.url, created.api_key
    db.dispose()


schema = schemathesis.openapi.from_dict(
    _schema_app().openapi(),
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}))


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live: tuple[str, str]) -> None:
    url, key = live
    response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    if response.status_code >= 400:
        check_error_body(response.json(), response.status_code)
