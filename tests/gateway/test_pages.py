"""The console and public pages as the gateway serves them (`create_app` mounts them):
the same console routes the role table covers, the filing that `GET /v1/models` shows
in every page's footer, "check a file" with the configuration's watermark keys, and a
user who accepts a policy on the account page and may then generate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

import synthguard
from synthguard.labels.protect import Protection
from synthguard.store import Database
from synthguard.watermark import KeyRing, WatermarkKey
from tests.console.test_roles import OPEN, ROUTE_ROLES
from tests.gateway.conftest import MODEL, PRODUCER, Gateway, make_config, run_gateway
from tests.watermark.corpus import photo

USER = [{"role": "user", "content": "你好"}]
RING = KeyRing([WatermarkKey(9, bytes(range(64, 96)))])
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def protected_gateway(sqlite_database: Database) -> Iterator[Gateway]:
    yield from run_gateway(sqlite_database, make_config(
        protection=Protection(watermark_keys=RING)))


def token(http: httpx.Client, path: str) -> str:
    found = CSRF.search(http.get(path).text)
    assert found, path
    return found.group(1)


def test_the_gateway_serves_the_role_checked_console(sqlite_gateway: Gateway) -> None:
    assert sqlite_gateway.app is not None
    served = set()
    for context in iter_route_contexts(sqlite_gateway.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and str(context.path).startswith("/console"):
            served |= {(method, str(context.path)) for method in route.methods - {"HEAD"}}
    assert served == set(ROUTE_ROLES) | OPEN  # test_roles.py checks each of them


def test_pages_show_the_filing_of_the_models(sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    assert sqlite_gateway.app is not None
    sqlite_gateway.app.state.governance.registry.register_algorithm(
        "演示生成算法", "generative", [MODEL], actor="ops",
        filing_number="Beijing-SynthGuard-202501010001",
        public_info_url="https://beian.example.cn/algorithms/1")
    listed = sqlite_gateway.client(key).models.list().data[0].model_extra or {}
    number = listed["filing"]["filing_number"]
    with httpx.Client(base_url=sqlite_gateway.url) as http:
        for path in ("/", "/report", "/check", "/process", "/account/login"):
            page = http.get(path)
            assert page.status_code == 200 and number in page.text, path
        # A mistyped address: a browser gets the public error page with the footer, an
        # API client the JSON error.
        missing = http.get("/no-such-page", headers={"Accept": "text/html"})
        assert missing.status_code == 404 and number in missing.text
        assert missing.headers["content-type"].startswith("text/html")
        api = http.get("/no-such-page")
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        assert http.get("/v1/nothing", headers={"Accept": "text/html"}).json()["error"]


def test_check_a_file_uses_the_configured_watermark_keys(protected_gateway: Gateway,
                                                         tmp_path: Path) -> None:
    plain = tmp_path / "photo.png"
    photo(np.random.default_rng(11), (512, 384)).save(plain)
    marked = tmp_path / "marked.png"
    synthguard.label(plain, marked, producer=PRODUCER, produce_id="img-0009",
                     protection=Protection(watermark_keys=RING))
    with httpx.Client(base_url=protected_gateway.url) as http:
        page = http.post("/check", data={"csrf_token": token(http, "/check")},
                         files={"file": ("marked.png", marked.read_bytes(), "image/png")})
        assert page.status_code == 200
        assert 'data-watermark="present"' in page.text and 'data-verdict="compliant"' in \
            page.text
        assert "matches the label's ProduceID" in page.text


def test_a_policy_accepted_on_the_account_page_unblocks_generation(
        sqlite_gateway: Gateway) -> None:
    _, key = sqlite_gateway.key()
    assert sqlite_gateway.app is not None
    sqlite_gateway.app.state.governance.policies.publish(
        "platform_conventions", "平台公约", "# 平台公约\n\n遵守法律法规。", actor="ops")
    client = sqlite_gateway.client(key)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    with httpx.Client(base_url=sqlite_gateway.url) as http:
        signed_in = http.post("/account/login", data={
            "csrf_token": token(http, "/account/login"), "api_key": key})
        assert signed_in.status_code == 303
        accepted = http.post("/account/policies/platform_conventions/accept",
                             data={"csrf_token": token(http, "/account"), "version": "1"})
        assert accepted.status_code == 303, accepted.text
    answer = client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
