"""Every console route refuses the roles it does not list (the routes are enumerated
from the app, so a new route without an entry here fails), refuses a visitor who is not
signed in, and refuses a POST without the CSRF token even from the right role."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from synthguard.governance.auth import Role
from tests.console.conftest import Console, csrf_token, sign_in

H, A, R = Role.COMPLAINT_HANDLER, Role.AUDITOR, Role.REVIEWER
EVERYONE = set(Role)
# Who may call each console route besides admins (admins pass every check).
ROUTE_ROLES: dict[tuple[str, str], set[Role]] = {
    ("POST", "/console/logout"): EVERYONE,
    ("GET", "/console/"): EVERYONE,
    ("GET", "/console/review"): {R, A},
    ("POST", "/console/review/{item_id}/claim"): {R},
    ("POST", "/console/review/{item_id}/decide"): {R},
    ("POST", "/console/review/{item_id}/escalate"): {R},
    ("GET", "/console/complaints"): {H, A},
    ("GET", "/console/complaints/{complaint_id}"): {H, A},
    ("GET", "/console/complaints/{complaint_id}/evidence/{evidence_id}"): {H, A},
    ("POST", "/console/complaints/{complaint_id}/transition"): {H},
    ("POST", "/console/complaints/{complaint_id}/answer"): {H},
    ("POST", "/console/complaints/{complaint_id}/contact"): {H},
    ("GET", "/console/users"): EVERYONE,
    ("GET", "/console/users/{user_id}"): EVERYONE,
    ("POST", "/console/users/{user_id}/state"): set(),
    ("GET", "/console/consents"): {H, A},
    ("GET", "/console/consents/{consent_id}"): {H, A},
    ("POST", "/console/consents/{consent_id}/revoke"): set(),
    ("GET", "/console/library"): {R, A},
    ("POST", "/console/library/{entry_id}/move"): {R},
    ("POST", "/console/library/releases"): set(),
    ("GET", "/console/registries"): {A},
    ("POST", "/console/registries/algorithms"): set(),
    ("POST", "/console/registries/algorithms/{algorithm_id}/filing"): set(),
    ("POST", "/console/registries/algorithms/{algorithm_id}/assessments"): set(),
    ("POST", "/console/registries/datasets"): set(),
    ("POST", "/console/registries/datasets/{dataset_id}/sample-checks"): set(),
    ("POST", "/console/registries/datasets/{dataset_id}/pii-scan"): set(),
    ("GET", "/console/rumors"): {R, A},
    ("POST", "/console/rumors"): {R},
    ("POST", "/console/rumors/{claim_id}/retire"): {R},
    ("POST", "/console/rumors/check"): {R},
    ("GET", "/console/policies"): {A},
    ("POST", "/console/policies/{kind}"): set(),
    ("GET", "/console/exports"): {A},
    ("POST", "/console/exports"): {A},
    ("GET", "/console/audit"): {A},
    ("POST", "/console/audit/verify"): {A},
    ("GET", "/console/switches"): set(),
    ("POST", "/console/switches/engage"): set(),
    ("POST", "/console/switches/release"): set(),
    ("GET", "/console/operators"): set(),
    ("POST", "/console/operators"): set(),
    ("POST", "/console/operators/{name}/disable"): set(),
}
OPEN = {("GET", "/console/login"), ("POST", "/console/login")}  # the sign-in itself


def console_routes(console: Console) -> set[tuple[str, str]]:
    """Every console route the app serves, included routers flattened."""
    found = set()
    for context in iter_route_contexts(console.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and (context.path or "").startswith("/console"):
            found |= {(method, str(context.path)) for method in route.methods - {"HEAD"}}
    return found


def concrete(path: str) -> str:
    """A path with made-up ids (a refusal must come before any lookup)."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "item_id" else
                  "service_agreement" if m.group(1) == "kind" else "x-" + m.group(1), path)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_console_route_is_listed(console: Console) -> None:
    assert console_routes(console) == set(ROUTE_ROLES) | OPEN


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_route_refuses_the_wrong_roles_and_strangers(console: Console) -> None:
    clients = {}
    for role in Role:
        client = TestClient(console.app)
        console.operator(f"op-{role.value}", role.value)
        assert sign_in(client, f"op-{role.value}").status_code == 303
        clients[role] = (client, csrf_token(client, "/console/"))
    stranger = TestClient(console.app)
    stranger_token = csrf_token(stranger, "/report")
    refused = 0
    # Sign-out (which every role may do) ends the session: it goes last.
    for (method, path), allowed in sorted(ROUTE_ROLES.items(),
                                          key=lambda item: item[0][1] == "/console/logout"):
        url = concrete(path)
        for role, (client, token) in clients.items():
            answer = client.request(method, url, data={"csrf_token": token}
                                    if method == "POST" else None, follow_redirects=False)
            error = answer.headers.get("x-synthguard-error")
            if role is Role.ADMIN or role in allowed:
                assert error != "forbidden", (method, path, role)
            else:
                assert answer.status_code == 403 and error == "forbidden", (method, path, role)
                refused += 1
        answer = stranger.request(method, url, data={"csrf_token": stranger_token}
                                  if method == "POST" else None, follow_redirects=False)
        if method == "GET":
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/console/login?next=/console")
        else:
            assert answer.status_code == 401, (method, path)
    assert refused > 50  # the table above refuses 77 role/route pairs


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    client = TestClient(console.app)
    console.operator("boss", "admin")
    sign_in(client, "boss")
    token = csrf_token(client, "/console/switches")
    form = {"switch": "registrations", "reason": "order", "order_ref": "2026-1"}
    for data in (form, {**form, "csrf_token": "forged"}):
        answer = client.post("/console/switches/engage", data=data, follow_redirects=False)
        assert answer.status_code == 403 and answer.headers["x-synthguard-error"] == "csrf"
    assert not console.gov.switches.is_active("registrations")
    other = TestClient(console.app)  # a token is bound to its visitor's CSRF cookie
    other_token = csrf_token(other, "/report")
    answer = client.post("/console/switches/engage", data={**form, "csrf_token": other_token},
                         follow_redirects=False)
    assert answer.status_code == 403
    answer = client.post("/console/switches/engage", data={**form, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303 and console.gov.switches.is_active("registrations")
