"""CSRF on every state-changing form: each POST route of the pages (public, account and
console, enumerated from the app, so a new one is covered) refuses a request without
the token, or with another visitor's, even from a signed-in admin and user; and every
POST form the pages render carries a token the server accepts."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from synthguard.accounts import AccountState
from synthguard.console.sessions import CSRF_COOKIE
from tests.console import seed
from tests.console.conftest import Console, csrf_token, signed_in
from tests.console.test_account import account_sign_in, user_with_key
from tests.console.test_roles import concrete

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def page_posts(console: Console) -> set[str]:
    """Every POST route of the pages: all but the JSON APIs under /v1 (API keys, or a
    console session with the X-CSRF-Token header: test_operators.py)."""
    found = set()
    for context in iter_route_contexts(console.app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIRoute) and "POST" in route.methods \
                and not path.startswith("/v1/"):
            found.add(path)
    return found


def test_every_page_post_refuses_a_missing_or_foreign_token(console: Console) -> None:
    _, key = user_with_key(console)
    client = TestClient(console.app)
    signed_in(client, console, "admin", name="boss")
    account_sign_in(client, key)
    stranger = TestClient(console.app)
    foreign = csrf_token(stranger, "/report")
    posts = page_posts(console)
    assert {"/report", "/check", "/account/appeal", "/console/login",
            "/console/switches/engage"} <= posts and len(posts) > 30
    for path in sorted(posts, key=lambda p: p.endswith("/logout")):  # sign-outs last
        url = concrete(path)
        for data in ({}, {"csrf_token": foreign}):
            answer = client.post(url, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, answer.status_code)
            assert answer.headers["x-synthguard-error"] == "csrf", path
    assert not console.gov.switches.active() and console.gov.complaints.find() == []


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []  # per POST form: its action and token
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._open = {"action": a.get("action", "")}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and a.get("name") == "csrf_token":
            self._open["token"] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def test_every_rendered_post_form_carries_a_valid_token(console: Console) -> None:
    user_id, key = user_with_key(console, AccountState.WARNED)
    seed.queued(console, user_id)
    console.gov.complaints.submit(seed.REPORT)
    [complaint] = console.gov.complaints.queue()
    console.gov.rumors.add("某地自来水有毒", "不实。", sources=["x"], refuted_on=date.today(),
                           actor="t")
    client = TestClient(console.app)
    signed_in(client, console, "admin", name="boss")
    account_sign_in(client, key)
    codec = console.app.state.console.codec
    cookie = client.cookies[CSRF_COOKIE]
    pages = ("/", "/report", "/report/status", "/check", "/account", "/account/appeal",
             "/console/login", "/console/", "/console/review", f"/console/complaints/"
             f"{complaint.id}", f"/console/users/{user_id}", "/console/library",
             "/console/registries", "/console/rumors", "/console/policies",
             "/console/exports", "/console/audit", "/console/switches",
             "/console/operators")
    seen = 0
    for path in pages:
        parser = _Forms()
        parser.feed(client.get(path).text)
        for form in parser.forms:
            assert codec.csrf_valid(cookie, form.get("token")), (path, form["action"])
            assert re.fullmatch(r"/[\w/{}.-]*", form["action"]), (path, form["action"])
            seen += 1
    assert seen > 25
