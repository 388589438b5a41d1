"""Operators: scrypt hashes, sign-in, disabling, sessions and their cookies, the CSRF
token, and the authenticator the governance JSON API accepts console sessions through."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from synthguard.console.operators import (
    OperatorError,
    OperatorInfo,
    Operators,
    hash_password,
    verify_password,
)
from synthguard.console.sessions import SESSION_COOKIE, SessionCodec
from synthguard.store import Database
from tests.console.conftest import PASSWORD, Console, csrf_token, sign_in
from tests.governance.test_http import operator as api_key_operator

SECRET = bytes(range(32))


def test_password_hashes() -> None:
    stored = hash_password(PASSWORD, log2_n=10)
    scheme, log2_n, r, p, salt, digest = stored.split("$")
    assert (scheme, log2_n, r, p) == ("scrypt", "10", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "!", stored)
    assert hash_password(PASSWORD, log2_n=10) != stored  # a fresh salt each time
    for broken in ("", "scrypt$10$8$1$!!$!!", "bcrypt$10$8$1$AA==$AA==",
                   "scrypt$40$8$1$AAAA$AAAA", stored.rsplit("$", 1)[0]):
        assert not verify_password(PASSWORD, broken)
    for weak in ("short", "x" * 2000):
        with pytest.raises(OperatorError):
            hash_password(weak)


def test_operators_sign_in_and_are_disabled(database: Database) -> None:
    ops = Operators(database, log2_n=10)
    made = ops.create("li.lei", PASSWORD, ["reviewer", "auditor"], actor="test")
    assert {r.value for r in made.roles} == {"reviewer", "auditor"}
    assert ops.authenticate("li.lei", PASSWORD) == made
    assert ops.authenticate("li.lei", "wrong password!!") is None
    assert ops.authenticate("nobody", PASSWORD) is None
    for bad in (("li.lei", ["admin"]), ("has space", ["admin"]), ("a/b", ["admin"]),
                ("new", ["root"]), ("new", [])):
        with pytest.raises(OperatorError):
            ops.create(bad[0], PASSWORD, bad[1], actor="test")
    ops.set_password("li.lei", "another long password")
    assert ops.authenticate("li.lei", PASSWORD) is None
    changed = ops.authenticate("li.lei", "another long password")
    assert changed is not None and changed.session_epoch == made.session_epoch + 1
    disabled = ops.disable("li.lei")
    assert not disabled.active and ops.authenticate("li.lei", "another long password") is None
    assert ops.enable("li.lei").active
    with pytest.raises(OperatorError):
        ops.disable("nobody")


def test_session_cookies() -> None:
    now = [1_800_000_000.0]
    codec = SessionCodec(SECRET, clock=lambda: now[0], max_age_s=3600)
    other = SessionCodec(bytes(32))
    info = OperatorInfo("opr_0123", "li", frozenset(), 4, datetime.now(UTC), "t", None)
    value = codec.issue(info)
    claim = codec.read(value)
    assert claim is not None and (claim.operator_id, claim.epoch) == ("opr_0123", 4)
    assert other.read(value) is None  # another server secret
    payload, _, mac = value.rpartition(".")
    for forged in (payload.replace(".4.", ".5.") + "." + mac, value[:-1], "", "a.b.c.d",
                   "x" * 300, payload + ".", "opr.1.2.3." + mac):
        assert codec.read(forged) is None
    now[0] += 3601
    assert codec.read(value) is None  # expired
    token = codec.csrf_token("cookie-value")
    assert codec.csrf_valid("cookie-value", token)
    assert not codec.csrf_valid("other-value", token) and not codec.csrf_valid(None, token)
    assert not codec.csrf_valid("cookie-value", "") and not other.csrf_valid("cookie-value",
                                                                            token)


def test_sign_in_sign_out_and_limits(client: TestClient, console: Console) -> None:
    console.operator("handler", "complaint_handler")
    assert sign_in(client, "handler", "wrong password!").status_code == 401
    assert sign_in(client, "nobody").status_code == 401
    answer = sign_in(client, "handler")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = client.cookies[SESSION_COOKIE]
    set_cookie = answer.headers.get_list("set-cookie")
    assert any("HttpOnly" in c and "SameSite=lax" in c for c in set_cookie)
    assert client.get("/console/", follow_redirects=False).status_code == 200
    token = csrf_token(client, "/console/")
    assert client.post("/console/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    stolen = TestClient(console.app, cookies={SESSION_COOKIE: cookie})
    assert stolen.get("/console/", follow_redirects=False).status_code == 303  # ended
    for _ in range(5):
        sign_in(client, "handler", "wrong password!")
    limited = sign_in(client, "handler")
    assert limited.status_code == 429 and limited.headers["retry-after"]


def test_disabling_ends_sessions_and_next_stays_inside(client: TestClient,
                                                       console: Console) -> None:
    console.operator("auditor", "auditor")
    token = csrf_token(client, "/console/login?next=//evil.example/x")
    answer = client.post("/console/login", data={"csrf_token": token, "name": "auditor",
                                                 "password": PASSWORD,
                                                 "next": "https://evil.example/"},
                         follow_redirects=False)
    assert answer.headers["location"] == "/console/"
    assert client.get("/console/audit", follow_redirects=False).status_code == 200
    console.operators.disable("auditor")
    assert client.get("/console/audit", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_json_api_takes_sessions_only_with_the_csrf_header(client: TestClient,
                                                              console: Console) -> None:
    console.operator("boss", "admin")
    sign_in(client, "boss")
    body = {"switch": "registrations", "reason": "order", "order_ref": "2026-1"}
    refused = client.post("/v1/governance/ops/switches/engage", json=body)
    assert refused.status_code == 401
    token = csrf_token(client, "/console/")
    done = client.post("/v1/governance/ops/switches/engage", json=body,
                       headers={"X-CSRF-Token": token})
    assert done.status_code == 200, done.text
    assert client.get("/v1/governance/ops/switches").status_code == 200  # reading needs none
    keyed = api_key_operator(console.gov, "auditor")  # API keys work as before
    assert TestClient(console.app).get("/v1/governance/ops/switches",
                                       headers=keyed).status_code == 200
