"""The operator pages through the test client, on SQLite and PostgreSQL: complaints
answered with enforcement, the review queue warning users, the library workflow,
registries, rumors, policies, regulator exports, audit verification (a tampered log
names its first bad entry), switches, users, consent records and operators."""

from __future__ import annotations

import io
import re
import tarfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from synthguard.accounts import AccountState
from synthguard.audit.models import AuditLeaf
from synthguard.governance.archive import verify_archive
from synthguard.moderation.library import Entry
from tests.console import seed
from tests.console.conftest import Console, signed_in
from tests.console.seed import REPORT


def form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, **fields}


def test_a_complaint_is_answered_with_enforcement(client: TestClient, console: Console,
                                                  tmp_path: Path) -> None:
    token = signed_in(client, console, "complaint_handler", name="handler")
    publisher = seed.user(console, "publisher")
    receipt = console.gov.complaints.submit(REPORT)
    picture = seed.picture(tmp_path, labelled=False).read_bytes()
    console.gov.complaints.add_evidence(receipt.code, "shot.png", picture)
    [entry] = console.gov.complaints.queue()
    page = client.get(f"/console/complaints/{entry.id}")
    assert page.status_code == 200 and "r@example.com" not in page.text
    link = re.search(r'href="(/console/complaints/[^"]+/evidence/[^"]+)"', page.text)
    assert link
    download = client.get(link.group(1))
    assert download.content == picture
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")
    assert client.get(f"/console/complaints/{entry.id}/evidence/evd_other").status_code == 404
    revealed = client.post(f"/console/complaints/{entry.id}/contact", data=form(token),
                           headers={"HX-Request": "true"})
    assert "r@example.com" in revealed.text and "<html" not in revealed.text
    moved = client.post(f"/console/complaints/{entry.id}/transition",
                        data=form(token, to="in_review", note="checking"))
    assert moved.status_code == 200 and "Complaint updated." in moved.text
    answered = client.post(f"/console/complaints/{entry.id}/answer", data=form(
        token, decision="upheld", answer="已警告发布者。", enforce_user=publisher,
        enforce_state="warned", enforce_reason="removed the AI label"))
    assert answered.status_code == 200 and 'data-state="answered"' in answered.text
    assert console.accounts.user_state(publisher) is AccountState.WARNED
    done = console.gov.complaints.get(entry.id)
    assert done.enforcement[0]["user_id"] == publisher and done.answered_at is not None
    assert done.answered_at <= done.answer_due_at
    again = client.post(f"/console/complaints/{entry.id}/answer",
                        data=form(token, decision="rejected", answer="again"))
    assert again.status_code == 409
    closed = client.post(f"/console/complaints/{entry.id}/transition",
                         data=form(token, to="closed"))
    assert closed.status_code == 200 and 'data-state="closed"' in closed.text
    console.gov.complaints.submit(REPORT)
    [fresh] = console.gov.complaints.queue()
    refused = client.post(f"/console/complaints/{fresh.id}/answer", data=form(
        token, decision="upheld", answer="x", enforce_user=publisher))
    assert refused.status_code == 422  # enforcement without its state and reason


def test_the_review_queue_warns_only_on_block(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "reviewer", name="reviewer")
    calm, rude, suspended = (seed.user(console, n) for n in ("calm", "rude", "gone"))
    console.accounts.set_state(suspended, AccountState.SUSPENDED, "earlier", "admin")
    items = {user: seed.queued(console, user) for user in (calm, rude, suspended)}
    page = client.get("/console/review")
    assert page.text.count('data-state="open"') == 3
    not_claimed = client.post(f"/console/review/{items[calm]}/decide",
                              data=form(token, decision="allow"))
    assert not_claimed.status_code == 409
    for user, decision in ((calm, "allow"), (rude, "block"), (suspended, "block")):
        assert client.post(f"/console/review/{items[user]}/claim",
                           data=form(token)).status_code == 200
        decided = client.post(f"/console/review/{items[user]}/decide",
                              data=form(token, decision=decision, note="checked"))
        assert "Decision recorded." in decided.text
    assert console.accounts.user_state(calm) is AccountState.ACTIVE
    assert console.accounts.user_state(rude) is AccountState.WARNED
    assert console.accounts.user_state(suspended) is AccountState.SUSPENDED
    history = console.accounts.describe_user(rude).history[-1]
    assert history.actor == "reviewer" and f"review item {items[rude]}" in history.reason
    other = seed.queued(console, calm)
    client.post(f"/console/review/{other}/claim", data=form(token))
    escalated = client.post(f"/console/review/{other}/escalate",
                            data=form(token, note="needs a senior"))
    assert "Item escalated." in escalated.text and 'data-state="escalated"' in escalated.text


def test_the_library_workflow(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    entry = Entry(id="KW-9001", risk_id="A.4.2", kind="keyword", pattern="冒充名人",
                  action="review", source="console test", author="lead")
    console.app.state.console.moderation.add([entry], actor="lead")
    own = client.post("/console/library/KW-9001/move", data=form(token, to="reviewed"))
    assert own.status_code == 409  # the author cannot review their own entry
    other = TestClient(console.app)
    other_token = signed_in(other, console, "reviewer", name="second")
    for to in ("reviewed", "active"):
        moved = other.post("/console/library/KW-9001/move", data=form(other_token, to=to))
        assert "Entry moved." in moved.text
    assert 'data-status="active"' in other.get("/console/library?status=active").text
    released = client.post("/console/library/releases", data=form(token, version="2026.1"))
    assert "Release cut." in released.text
    assert client.post("/console/library/releases",
                       data=form(token, version="bad version!")).status_code == 422


def test_registries_feed_the_public_footer(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    added = client.post("/console/registries/algorithms", data=form(
        token, name="文生图算法", algorithm_type="生成合成类", models="synthguard-demo\nimg-1",
        filing_number="网信算备110108000000009990011号", filed_on="2025-06-01",
        public_info_url="https://beian.example.cn/alg/9"))
    assert "Saved." in added.text
    assert "网信算备110108000000009990011号" in client.get("/report").text
    [algorithm] = console.gov.registry.algorithms()
    assessed = client.post(f"/console/registries/algorithms/{algorithm.id}/assessments",
                           data=form(token, kind="security_assessment",
                                     assessed_on="2025-07-01", assessor="第三方评估机构",
                                     outcome="passed"))
    assert "Saved." in assessed.text
    assert console.gov.registry.algorithm(algorithm.id).next_review_on > date(2026, 6, 1)
    client.post("/console/registries/datasets", data=form(
        token, name="图文对", source="自采", licence="CC-BY-4.0", collected_on="2025-01-01"))
    [dataset] = console.gov.registry.datasets()
    client.post(f"/console/registries/datasets/{dataset.id}/pii-scan",
                data=form(token, records="联系 13800138000\n无\nmail a@b.cn"))
    client.post(f"/console/registries/datasets/{dataset.id}/sample-checks", data=form(
        token, checked_on="2025-02-01", sample_size="100", problems_found="2",
        outcome="conditional"))
    [dataset] = console.gov.registry.datasets()
    assert dataset.pii_scans[0].records_with_pii == 2
    assert dataset.sample_checks[0].problems_found == 2
    page = client.get("/console/registries")
    assert "13800138000" not in page.text  # only counts and masked examples
    half = client.post("/console/registries/algorithms", data=form(
        token, name="x", algorithm_type="y", filing_number="网信算备1号"))
    assert half.status_code == 422


def test_rumors_and_switches(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    added = client.post("/console/rumors", data=form(
        token, claim="某地自来水含有大量有毒物质不能饮用", refutation="经检测水质达标。",
        sources="https://gov.example.cn/notice", refuted_on="2026-01-05"))
    assert "Saved." in added.text
    checked = client.post("/console/rumors/check", headers={"HX-Request": "true"},
                          data=form(token, text="听说某地自来水含有大量有毒物质，不能饮用！"))
    assert 'data-action="notice"' in checked.text and "【辟谣】" in checked.text
    [claim] = console.gov.rumors.claims()
    assert "Claim retired." in client.post(f"/console/rumors/{claim.id}/retire",
                                           data=form(token)).text
    engaged = client.post("/console/switches/engage", data=form(
        token, switch="model", model="synthguard-demo", reason="监管要求",
        order_ref="2026-7"))
    assert "Switch engaged." in engaged.text
    assert console.gov.switches.blocking_generation("synthguard-demo") is not None
    assert "model:synthguard-demo" in client.get("/console/").text  # the dashboard warns
    released = client.post("/console/switches/release", data=form(
        token, switch="model", model="synthguard-demo", reason="整改完成", order_ref="2026-8"))
    assert "Switch released." in released.text
    again = client.post("/console/switches/release", data=form(
        token, switch="generation", reason="x", order_ref="y"))
    assert again.status_code == 409


def test_the_labeling_section_is_offered_and_required(client: TestClient,
                                                      console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    page = client.get("/console/policies").text
    section = re.search(r'<textarea id="body-service_agreement"[^>]*>(.*?)</textarea>', page,
                        re.S)
    assert section and "生成合成内容标识" in section.group(1)
    body = section.group(1).replace("&lt;", "<").replace("&gt;", ">").replace(
        "&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    ok = client.post("/console/policies/service_agreement",
                     data=form(token, title="服务协议", body=body, requires_acceptance="true"))
    assert "New version published." in ok.text
    assert console.gov.policies.current("service_agreement") is not None
    refused = client.post("/console/policies/service_agreement",
                          data=form(token, title="服务协议", body="只有服务条款，没有说明。"))
    assert refused.status_code == 422


def test_exports_and_audit_verification(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "auditor", name="auditor")
    nothing = client.post("/console/audit/verify", data=form(token))
    assert 'data-ok="false"' in nothing.text and "checkpoint" in nothing.text
    seed.logged_records(console, 5)
    today = datetime.now(UTC).date()
    archive = client.post("/console/exports", data=form(
        token, since=(today - timedelta(days=1)).isoformat(), until=today.isoformat()))
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    path = Path(console.gov.settings.reports_dir) / "downloaded.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(archive.content)
    assert verify_archive(path, None).ok
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        assert "summary.html" in tar.getnames()
    assert "auditor" in client.get("/console/exports").text
    assert client.post("/console/exports", data=form(token, since="2026-01-02",
                                                     until="2026-01-01")).status_code == 422
    verified = client.post("/console/audit/verify", data=form(token),
                           headers={"HX-Request": "true"})
    assert 'data-ok="true"' in verified.text and "5 entries" in verified.text
    with console.db.session() as s:
        s.execute(update(AuditLeaf).where(AuditLeaf.idx == 2).values(
            entry='{"tampered": true}'))
    tampered = client.post("/console/audit/verify", data=form(token))
    assert 'data-ok="false"' in tampered.text and "#2" in tampered.text


def test_users_and_consent_records(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    user_id = seed.user(console, "王芳")
    console.accounts.mark_verified(user_id, "person", "evidence-1")
    info, _ = console.identity.consent.create(
        user_id, subject_name="张三", scope="face", purpose="换脸短片",
        allowed_outputs=["image"], valid_until=datetime.now(UTC) + timedelta(days=30),
        statement_ref="upload/statement-1.pdf")
    assert user_id in client.get("/console/users?q=王").text
    changed = client.post(f"/console/users/{user_id}/state",
                          data=form(token, state="limited", reason="complaint cmp_x"))
    assert "Account state changed." in changed.text and 'data-state="limited"' in changed.text
    listing = client.get(f"/console/consents?user_id={user_id}")
    assert info.consent_id in listing.text and "张三" not in listing.text
    detail = client.get(f"/console/consents/{info.consent_id}")
    assert 'data-state="active"' in detail.text and "张三" not in detail.text
    revoked = client.post(f"/console/consents/{info.consent_id}/revoke",
                          data=form(token, reason="subject asked by phone"))
    assert 'data-state="revoked"' in revoked.text
    assert client.get("/console/consents/cns_unknown").status_code == 404
    assert client.get("/console/users/usr_unknown").status_code == 404


def test_the_dashboard_and_operators(client: TestClient, console: Console) -> None:
    token = signed_in(client, console, "admin", name="lead")
    seed.logged_records(console, 4)
    seed.queued(console, seed.user(console))
    console.gov.complaints.submit(REPORT)
    page = client.get("/console/").text
    assert "block rate 25.0 %" in page and "blocked_input 1" in page
    assert re.search(r"Review queue</h2>\s*<p class=\"stat\">1</p>", page)
    assert "已签名条目 signed entries" in page
    made = client.post("/console/operators", data={
        "csrf_token": token, "name": "new.reviewer", "password": "a long enough password",
        "roles": ["reviewer", "auditor"]})
    assert "Operator created." in made.text
    weak = client.post("/console/operators", data={
        "csrf_token": token, "name": "weak", "password": "short", "roles": ["auditor"]})
    assert weak.status_code == 422
    disabled = client.post("/console/operators/new.reviewer/disable", data=form(token))
    assert "Operator disabled" in disabled.text
    assert console.operators.authenticate("new.reviewer", "a long enough password") is None
