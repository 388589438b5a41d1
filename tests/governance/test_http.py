"""The governance router on a small FastAPI app: the reporter's and handler's journey over
a real uvicorn server, the rest through the test client. Every operator route refuses
the wrong role (the routes are enumerated), errors have the API's one shape
(`{"error": {"message", "type", "code", "param"}}`), public forms are rate-limited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from synthguard.accounts import AccountState
from synthguard.governance.auth import Role
from synthguard.governance.http import router
from synthguard.governance.service import Governance
from tests.api_errors import api_error
from tests.gateway.conftest import LiveServer
from tests.governance.helpers import png

REPORT = {"kind": "report", "category": "missing_ai_label", "target_kind": "produce_id",
          "target": "0190f3a2b4c5d6e7f8a9b0c1d2e3f4a5", "declared_true": True,
          "description": "这段视频是人工智能生成的，但是标识被去掉了。", "contact": "r@example.com"}
# Who may call each operator route: a test below fails when a route is added to the
# router without an entry here.
ROUTE_ROLES: dict[tuple[str, str], set[Role]] = {
    ("GET", "/ops/complaints"): {Role.COMPLAINT_HANDLER, Role.AUDITOR},
    ("GET", "/ops/complaints/queue"): {Role.COMPLAINT_HANDLER, Role.AUDITOR},
    ("GET", "/ops/complaints/{complaint_id}"): {Role.COMPLAINT_HANDLER, Role.AUDITOR},
    ("POST", "/ops/complaints/sweep"): {Role.COMPLAINT_HANDLER},
    ("POST", "/ops/complaints/{complaint_id}/transition"): {Role.COMPLAINT_HANDLER},
    ("POST", "/ops/complaints/{complaint_id}/answer"): {Role.COMPLAINT_HANDLER},
    ("POST", "/ops/complaints/{complaint_id}/contact"): {Role.COMPLAINT_HANDLER},
    ("GET", "/ops/rumors"): {Role.REVIEWER, Role.AUDITOR},
    ("GET", "/ops/rumors/matches"): {Role.REVIEWER, Role.AUDITOR},
    ("POST", "/ops/rumors"): {Role.REVIEWER},
    ("POST", "/ops/rumors/{claim_id}/retire"): {Role.REVIEWER},
    ("POST", "/ops/rumors/check"): {Role.REVIEWER},
    ("GET", "/ops/algorithms"): {Role.AUDITOR},
    ("GET", "/ops/reviews-due"): {Role.AUDITOR},
    ("POST", "/ops/algorithms"): set(),
    ("POST", "/ops/algorithms/{algorithm_id}/filing"): set(),
    ("POST", "/ops/algorithms/{algorithm_id}/assessments"): set(),
    ("GET", "/ops/datasets"): {Role.AUDITOR},
    ("POST", "/ops/datasets"): set(),
    ("POST", "/ops/datasets/{dataset_id}/pii-scan"): set(),
    ("POST", "/ops/datasets/{dataset_id}/sample-checks"): set(),
    ("GET", "/ops/policies/{kind}/history"): {Role.AUDITOR},
    ("POST", "/ops/policies/{kind}"): set(),
    ("GET", "/ops/switches"): {Role.AUDITOR},
    ("GET", "/ops/switches/history"): {Role.AUDITOR},
    ("POST", "/ops/switches/engage"): set(),
    ("POST", "/ops/switches/release"): set(),
    ("GET", "/ops/reports"): {Role.AUDITOR},
    ("POST", "/ops/reports"): {Role.AUDITOR},
    ("POST", "/ops/reports/verify"): {Role.AUDITOR},
}


def make_app(gov: Governance) -> FastAPI:
    app = FastAPI()
    app.state.governance = gov
    app.include_router(router)
    return app


@pytest.fixture
def client(gov: Governance) -> Iterator[TestClient]:
    with TestClient(make_app(gov)) as client:
        yield client


def operator(gov: Governance, *roles: str, state: AccountState | None = None) -> dict[str, str]:
    user = gov.accounts.create_user(gov.accounts.create_org("Ops"), "operator")
    _, key = gov.accounts.issue_key(user, [f"governance:{r}" for r in roles] or ["chat"])
    if state is not None:
        gov.accounts.set_state(user, state, "test", "admin")
    return {"Authorization": f"Bearer {key}"}


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    return api_error(response, status, code)


def test_report_follow_and_answer_over_a_real_server(gov: Governance, tmp_path: Path) -> None:
    handler = operator(gov, "complaint_handler")
    with LiveServer(make_app(gov)) as server, httpx.Client(base_url=server.url) as http:
        flow = http.get("/v1/governance/flow").json()
        assert flow["acknowledge_working_days"] == 1 and "工作日" in flow["markdown"]
        filed = http.post("/v1/governance/complaints", json=REPORT)
        assert filed.status_code == 201, filed.text
        code = filed.json()["code"]
        upload = http.post("/v1/governance/complaints/evidence",
                           content=png(tmp_path, labelled=False),
                           headers={"X-Receipt-Code": code, "X-Filename": "shot.png",
                                    "Content-Type": "image/png"})
        assert upload.status_code == 201, upload.text
        assert upload.json()["label_verdict"] == "not_found"
        queue = http.get("/v1/governance/ops/complaints/queue", headers=handler).json()["queue"]
        complaint_id = queue[0]["id"]
        assert queue[0]["deadline"] == "acknowledge"
        moved = http.post(f"/v1/governance/ops/complaints/{complaint_id}/transition",
                          headers=handler, json={"to": "in_review", "note": "checking"})
        assert moved.json()["state"] == "in_review"
        answered = http.post(f"/v1/governance/ops/complaints/{complaint_id}/answer",
                             headers=handler, json={"decision": "upheld",
                                                    "answer": "已补充标识并警告发布者。"})
        assert answered.status_code == 200 and answered.json()["answered_at"]
        status = http.post("/v1/governance/complaints/status", json={"receipt_code": code})
        body = status.json()
        assert body["state"] == "answered" and body["answer"] == "已补充标识并警告发布者。"
        assert [s["state"] for s in body["steps"]] == ["received", "in_review", "answered"]
        assert body["evidence"] == [{"filename": "shot.png", "format": "png",
                                     "label_verdict": "not_found"}]
        assert "handler" not in status.text and "r@example.com" not in status.text


def _ops_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operator route the app serves, from its OpenAPI description."""
    return {(method.upper(), path.removeprefix("/v1/governance"))
            for path, item in app.openapi()["paths"].items()
            if path.startswith("/v1/governance/ops/") for method in item}


def test_every_operator_route_checks_roles(gov: Governance, client: TestClient) -> None:
    assert _ops_routes(make_app(gov)) == set(ROUTE_ROLES)
    keys = {role: operator(gov, role.value) for role in Role}
    unscoped = operator(gov)
    suspended_admin = operator(gov, "admin", state=AccountState.SUSPENDED)
    for (method, path), allowed in ROUTE_ROLES.items():
        url = "/v1/governance" + path.replace("{", "").replace("}", "")
        for headers, status, code in ((None, 401, "unauthenticated"),
                                      (unscoped, 403, "forbidden"),
                                      (suspended_admin, 401, "unauthenticated")):
            error(client.request(method, url, headers=headers, json={}), status, code)
        for role, headers in keys.items():
            response = client.request(method, url, headers=headers, json={})
            if role is Role.ADMIN or role in allowed:
                assert response.status_code not in (401, 403), (method, path, role)
            else:
                error(response, 403, "forbidden")


def test_public_errors_have_one_shape(client: TestClient) -> None:
    missing = {k: v for k, v in REPORT.items() if k != "category"}
    body = error(client.post("/v1/governance/complaints", json=missing), 422, "invalid_request")
    assert body["message"].startswith("body.category")
    error(client.post("/v1/governance/complaints", json={**REPORT, "x": 1}), 422,
          "invalid_request")
    error(client.post("/v1/governance/complaints", content=b"{not json",
                      headers={"Content-Type": "application/json"}), 422, "invalid_request")
    error(client.post("/v1/governance/complaints", content=iter([b"{}"]),
                      headers={"Content-Type": "application/json"}), 411, "length_required")
    error(client.post("/v1/governance/complaints", content=b"x" * 300_000,
                      headers={"Content-Type": "application/json"}), 413, "request_too_large")
    error(client.post("/v1/governance/complaints", json={**REPORT, "kind": "appeal"}), 401,
          "login_required")
    error(client.post("/v1/governance/complaints", json=REPORT,
                      headers={"Authorization": "Bearer sg-wrong"}), 401, "invalid_api_key")
    error(client.post("/v1/governance/complaints/status", json={"receipt_code": "SG-NOPE"}),
          404, "unknown_receipt")
    error(client.get("/v1/governance/policies/service_agreement"), 404, "unknown_policy")
    error(client.post("/v1/governance/complaints/evidence", content=b"x"), 422,
          "invalid_request")  # no receipt header


def test_public_forms_are_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/v1/governance/complaints", json=REPORT).status_code == 201
    limited = client.post("/v1/governance/complaints", json=REPORT)
    error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) >= 1


def test_evidence_upload_limits(gov: Governance, client: TestClient, tmp_path: Path) -> None:
    code = client.post("/v1/governance/complaints", json=REPORT).json()["code"]
    headers = {"X-Receipt-Code": code}
    error(client.post("/v1/governance/complaints/evidence", content=b"MZ" + bytes(100),
                      headers=headers), 415, "unsupported_media_type")
    too_big = bytes(gov.settings.complaints.max_evidence_bytes + 1)
    error(client.post("/v1/governance/complaints/evidence", content=too_big, headers=headers),
          413, "request_too_large")
    error(client.post("/v1/governance/complaints/evidence", content=png(tmp_path, labelled=True),
                      headers={"X-Receipt-Code": "SG-0000-0000-0000-0000"}), 404,
          "unknown_receipt")


def test_appeal_policies_and_public_information(gov: Governance, client: TestClient,
                                                user_id: str) -> None:
    _, key = gov.accounts.issue_key(user_id)
    user = {"Authorization": f"Bearer {key}"}
    appeal = client.post("/v1/governance/complaints", headers=user, json={
        **REPORT, "kind": "appeal", "category": "other", "target_kind": "account",
        "target": user_id})
    assert appeal.status_code == 201
    assert gov.complaints.find()[0].reporter_user_id == user_id
    gov.policies.publish("management_rules", "管理规则", "# 管理规则", actor="admin")
    assert client.get("/v1/governance/policies").json()["policies"][0]["version"] == 1
    pending = client.get("/v1/governance/policies/pending", headers=user).json()
    assert pending["must_accept"] == [{"kind": "management_rules", "version": 1,
                                       "title": "管理规则"}]
    error(client.get("/v1/governance/policies/pending"), 401, "unauthenticated")
    error(client.post("/v1/governance/policies/management_rules/accept", headers=user,
                      json={"version": 2}), 409, "not_current_version")
    accepted = client.post("/v1/governance/policies/management_rules/accept", headers=user,
                           json={"version": 1})
    assert accepted.status_code == 200 and accepted.json()["channel"] == "api"
    assert client.get("/v1/governance/policies/pending", headers=user).json() == {
        "must_accept": []}
    assert client.get("/v1/governance/policies/management_rules?version=1").json()["body"]
    gov.registry.register_algorithm("对话算法", "generation", ["gpt-demo"], actor="a",
                                    filing_number="网信算备0001号",
                                    public_info_url="https://beian.example.cn/1")
    filings = client.get("/v1/governance/filings").json()["filings"]
    assert filings == [{"algorithm": "对话算法", "filing_number": "网信算备0001号",
                        "public_info_url": "https://beian.example.cn/1",
                        "models": ["gpt-demo"]}]
    key_info = client.get("/v1/governance/report-key").json()
    assert key_info["public_key"] == gov.reports.public_key


def test_operator_work_and_regulator_archive(gov: Governance, client: TestClient,
                                             user_id: str) -> None:
    admin, auditor = operator(gov, "admin"), operator(gov, "auditor")
    reviewer = operator(gov, "reviewer")
    added = client.post("/v1/governance/ops/rumors", headers=reviewer, json={
        "claim": "某市自来水厂被投毒，全市停水三天", "refutation": "经核实，供水正常。",
        "sources": ["水务局"], "refuted_on": "2025-09-01", "action": "block"})
    assert added.status_code == 201, added.text
    checked = client.post("/v1/governance/ops/rumors/check", headers=reviewer,
                          json={"text": "听说某市自来水厂被投毒，全市停水三天"}).json()
    assert checked["action"] == "block" and checked["notice"].startswith("【辟谣】")
    engaged = client.post("/v1/governance/ops/switches/engage", headers=admin, json={
        "switch": "model", "model": "gpt-demo", "reason": "责令暂停", "order_ref": "令-7"})
    assert engaged.json()["switch"] == "model:gpt-demo"
    assert gov.switches.blocking_generation("gpt-demo") is not None
    error(client.post("/v1/governance/ops/switches/release", headers=admin, json={
        "switch": "generation", "reason": "r", "order_ref": "o"}), 409, "switch_not_engaged")
    handler = operator(gov, "complaint_handler")
    code = client.post("/v1/governance/complaints", json=REPORT).json()["code"]
    complaint_id = gov.complaints.find()[0].id
    assert code
    answered = client.post(f"/v1/governance/ops/complaints/{complaint_id}/answer",
                           headers=handler, json={"decision": "upheld", "answer": "已处理",
                                                  "enforcement": [{"user_id": user_id,
                                                                   "state": "limited",
                                                                   "reason": "多次违规"}]})
    assert answered.json()["enforcement"][0]["to_state"] == "limited"
    assert gov.accounts.user_state(user_id) == AccountState.LIMITED
    contact = client.post(f"/v1/governance/ops/complaints/{complaint_id}/contact",
                          headers=handler)
    assert contact.json() == {"contact": "r@example.com"}
    archive = client.post("/v1/governance/ops/reports", headers=auditor, json={
        "since": "2025-09-01T00:00:00+08:00", "until": "2025-11-01T00:00:00+08:00"})
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    verified = client.post("/v1/governance/ops/reports/verify", headers=auditor,
                           params={"key": gov.reports.public_key},
                           content=archive.content).json()
    assert verified["ok"] is True and verified["files"] == 7, verified
    tampered = bytearray(archive.content)
    tampered[len(tampered) // 2] ^= 0xFF
    bad = client.post("/v1/governance/ops/reports/verify", headers=auditor,
                      content=bytes(tampered)).json()
    assert bad["ok"] is False and bad["problems"]
    error(client.post("/v1/governance/ops/reports/verify?key=nope", headers=auditor,
                      content=b""), 422, "invalid_key")
    assert client.get("/v1/governance/ops/reports", headers=auditor).json()["exports"]
