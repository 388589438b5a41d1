"""Appeals from the public pages, on SQLite and PostgreSQL: a user signs in with an API key
of their account, sees what we did to it, appeals with evidence, and follows the answer;
a complaint handler sees the appeal with the account's history and lifts the action.
Sign-in refusals, revoked keys, the cookie's flags, CSRF and the rate limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from synthguard.accounts import AccountState
from synthguard.console.sessions import ACCOUNT_COOKIE, SESSION_COOKIE
from tests.console import seed
from tests.console.conftest import Console, csrf_token, sign_in, signed_in
from tests.console.test_public import RECEIPT


def user_with_key(console: Console, state: AccountState | None = None) -> tuple[str, str]:
    user_id = seed.user(console)
    _, key = console.accounts.issue_key(user_id)
    if state is not None:
        console.accounts.set_state(user_id, state, "repeated blocked prompts", "admin")
    return user_id, key


def account_sign_in(client: TestClient, key: str, next_path: str = "/account") -> str:
    token = csrf_token(client, "/account/login")
    answer = client.post("/account/login", data={"csrf_token": token, "api_key": key,
                                                 "next": next_path},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_a_user_appeals_and_a_handler_lifts_the_action(console: Console,
                                                       tmp_path: Path) -> None:
    user_id, key = user_with_key(console, AccountState.SUSPENDED)
    with TestClient(console.app) as user:
        assert user.get("/account", follow_redirects=False).headers["location"] == \
            "/account/login?next=/account"
        assert account_sign_in(user, key) == "/account"
        page = user.get("/account")
        assert page.status_code == 200 and 'data-account-state="suspended"' in page.text
        assert "repeated blocked prompts" in page.text
        action = re.search(r'href="/account/appeal\?action=(\d+)"', page.text)
        assert action
        form = user.get(f"/account/appeal?action={action.group(1)}")
        assert f'value="{action.group(1)}" selected' in form.text
        token = csrf_token(user, "/account/appeal")
        evidence = seed.picture(tmp_path, labelled=True).read_bytes()
        filed = user.post("/account/appeal", data={
            "csrf_token": token, "action": action.group(1), "category": "other",
            "description": "这些提示词是正常的创作需求。", "declared_true": "true"},
            files=[("evidence", ("generated.png", evidence, "image/png"))])
        assert filed.status_code == 201, filed.text
        code = RECEIPT.search(filed.text)
        assert code and 'href="/account"' in filed.text

    [appeal] = console.gov.complaints.find()
    assert (appeal.kind, appeal.reporter_user_id, appeal.target) == ("appeal", user_id,
                                                                     user_id)
    assert "suspended" in appeal.description and "repeated blocked prompts" in \
        appeal.description
    assert [e.label_verdict for e in console.gov.complaints.get(appeal.id).evidence] == [
        "compliant"]

    with TestClient(console.app) as staff:
        token = signed_in(staff, console, "complaint_handler", name="handler")
        page = staff.get(f"/console/complaints/{appeal.id}")
        assert f'data-appellant="{user_id}"' in page.text and 'name="restore"' in page.text
        answered = staff.post(f"/console/complaints/{appeal.id}/answer", data={
            "csrf_token": token, "decision": "upheld", "answer": "经复核，恢复账号。",
            "restore": "true"})
        assert answered.status_code == 200 and 'data-state="answered"' in answered.text
    assert console.accounts.user_state(user_id) is AccountState.ACTIVE
    [change] = console.gov.complaints.get(appeal.id).enforcement
    assert change["from_state"] == "suspended" and change["to_state"] == "active"
    assert appeal.id in change["reason"]

    with TestClient(console.app) as user:
        account_sign_in(user, key)
        page = user.get("/account").text
        assert 'data-account-state="active"' in page and "经复核，恢复账号。" in page
        token = csrf_token(user, "/report/status")
        status = user.post("/report/status", data={"csrf_token": token,
                                                   "receipt_code": code.group(1).strip()})
        assert 'data-state="answered"' in status.text


def test_only_an_appeal_restores_an_account(client: TestClient, console: Console) -> None:
    console.gov.complaints.submit(seed.REPORT)
    [report] = console.gov.complaints.queue()
    token = signed_in(client, console, "complaint_handler", name="handler")
    assert 'name="restore"' not in client.get(f"/console/complaints/{report.id}").text
    refused = client.post(f"/console/complaints/{report.id}/answer", data={
        "csrf_token": token, "decision": "upheld", "answer": "x", "restore": "true"})
    assert refused.status_code == 422
    assert console.gov.complaints.get(report.id).state == "received"


def test_appeals_need_the_account(client: TestClient, console: Console) -> None:
    user_id, key = user_with_key(console, AccountState.WARNED)
    token = csrf_token(client, "/account/login")
    wrong = client.post("/account/login", data={"csrf_token": token,
                                                "api_key": "sg-" + "x" * 32})
    assert wrong.status_code == 401 and ACCOUNT_COOKIE not in client.cookies
    appeal = {"csrf_token": token, "action": "other", "description": "x",
              "declared_true": "true"}
    assert client.post("/account/appeal", data=appeal).status_code == 401
    assert account_sign_in(client, key, "https://evil.example/") == "/account"
    token = csrf_token(client, "/account")  # a new CSRF value came with the session
    assert client.post("/account/appeal", data={**appeal, "csrf_token": "forged"}
                       ).status_code == 403
    unknown = client.post("/account/appeal", data={**appeal, "csrf_token": token,
                                                   "action": "99"})
    assert unknown.status_code == 422
    assert unknown.headers["x-synthguard-error"] == "unknown_action"
    undeclared = client.post("/account/appeal", data={**appeal, "csrf_token": token,
                                                      "declared_true": ""})
    assert undeclared.status_code == 422
    assert console.gov.complaints.find() == []
    [key_info] = console.accounts.describe_user(user_id).keys
    console.accounts.revoke_key(key_info.key_id, "admin")  # revoking the key ends it
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_the_account_cookie(console: Console) -> None:
    _, key = user_with_key(console)
    with TestClient(console.app, base_url="https://console.example") as tls:
        token = csrf_token(tls, "/account/login")
        answer = tls.post("/account/login", data={"csrf_token": token, "api_key": key},
                          follow_redirects=False)
        [cookie] = [c for c in answer.headers.get_list("set-cookie")
                    if c.startswith(ACCOUNT_COOKIE)]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
        assert "Max-Age=7200" in cookie
        console.operator("boss", "admin")  # the operator session too, over https
        signed = sign_in(tls, "boss")
        [session] = [c for c in signed.headers.get_list("set-cookie")
                     if c.startswith(SESSION_COOKIE)]
        assert "HttpOnly" in session and "Secure" in session and "SameSite=lax" in session
        value = tls.cookies[ACCOUNT_COOKIE]
        token = csrf_token(tls, "/account")
        out = tls.post("/account/logout", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303 and ACCOUNT_COOKIE not in tls.cookies
    for forged in (value[:-2], value.replace(".", "x", 1), "usr.key.1.mac"):
        with TestClient(console.app, cookies={ACCOUNT_COOKIE: forged}) as other:
            assert other.get("/account", follow_redirects=False).status_code == 303
    with TestClient(console.app, cookies={SESSION_COOKIE: value}) as swapped:
        # An account value is no operator session, and the other way round.
        assert swapped.get("/console/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_account_sign_in_is_rate_limited(client: TestClient, console: Console) -> None:
    token = csrf_token(client, "/account/login")
    for _ in range(10):
        client.post("/account/login", data={"csrf_token": token, "api_key": "sg-nope"})
    _, key = user_with_key(console)
    limited = client.post("/account/login", data={"csrf_token": token, "api_key": key})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_policies_are_accepted_on_the_account_page(client: TestClient,
                                                   console: Console) -> None:
    user_id, key = user_with_key(console)
    console.gov.policies.publish("platform_conventions", "平台公约", "# 平台公约", actor="admin")
    account_sign_in(client, key)
    page = client.get("/account").text
    assert 'data-pending="platform_conventions"' in page
    token = csrf_token(client, "/account")
    stale = client.post("/account/policies/platform_conventions/accept",
                        data={"csrf_token": token, "version": "2"})
    assert stale.status_code == 409
    done = client.post("/account/policies/platform_conventions/accept",
                       data={"csrf_token": token, "version": "1"})
    assert done.status_code == 200 and "Your acceptance is recorded." in done.text
    assert 'data-pending=' not in done.text
    assert console.gov.policies.must_accept(user_id) == []
    [accepted] = console.gov.policies.acceptances(user_id)
    assert (accepted.kind, accepted.version, accepted.channel) == ("platform_conventions",
                                                                   1, "web")
