"""The public pages through the test client, on SQLite and PostgreSQL: filing a report
with evidence and following it, CSRF and rate limits, "check a file" (with and without
watermark keys), policies rendered without raw HTML, the filing footer on every page,
the published flow from the configuration, security headers, upload limits."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import synthguard
from synthguard.console.app import create_console_app
from synthguard.console.public import CHECKS_PER_MINUTE
from synthguard.governance.service import Governance
from synthguard.labels.api import Report
from synthguard.labels.protect import Protection
from synthguard.labels.security import SigningKey
from synthguard.watermark import KeyRing, WatermarkKey, watermark_file
from tests.accounts.conftest import make_config
from tests.console import seed
from tests.console.conftest import Console, csrf_token, signed_in
from tests.governance.conftest import governance_settings
from tests.watermark.corpus import photo

PUBLIC_PAGES = ("/", "/report", "/report/status", "/check", "/policies", "/process",
                "/filings", "/account/login", "/console/login")
RECEIPT = re.compile(r"data-receipt>([^<]+)<")


def report_form(token: str, **changes: str) -> dict[str, str]:
    return {"csrf_token": token, "kind": "report", "category": "missing_ai_label",
            "target_kind": "produce_id", "target": "0190f3a2b4c5d6e7f8a9b0c1d2e3f4a5",
            "description": "标识被删除了。", "declared_true": "true",
            "contact": "r@example.com", **changes}


def file_report(client: TestClient, tmp_path: Path,
                files: list[tuple[str, tuple[str, bytes, str]]] | None = None) -> str:
    token = csrf_token(client, "/report")
    if files is None:
        picture = seed.picture(tmp_path, labelled=False).read_bytes()
        files = [("evidence", ("shot.png", picture, "image/png"))]
    answer = client.post("/report", data=report_form(token), files=files)
    assert answer.status_code == 201, answer.text
    found = RECEIPT.search(answer.text)
    assert found
    return found.group(1).strip()


def test_a_report_with_evidence_is_received_and_followed(client: TestClient,
                                                         console: Console,
                                                         tmp_path: Path) -> None:
    code = file_report(client, tmp_path)
    [filed] = console.gov.complaints.find()
    assert filed.category == "missing_ai_label" and filed.contact_masked != "r@example.com"
    evidence = console.gov.complaints.get(filed.id).evidence
    assert [(e.filename, e.label_verdict) for e in evidence] == [("shot.png", "not_found")]
    token = csrf_token(client, "/report/status")
    status = client.post("/report/status", data={"csrf_token": token, "receipt_code": code})
    assert status.status_code == 200 and 'data-state="received"' in status.text
    assert "r@example.com" not in status.text
    unknown = client.post("/report/status", data={"csrf_token": token,
                                                  "receipt_code": "SG-0000-0000-0000"})
    assert unknown.status_code == 404 and "No report has this receipt code" in unknown.text


def test_a_rejected_evidence_file_does_not_lose_the_report(client: TestClient,
                                                           console: Console,
                                                           tmp_path: Path) -> None:
    file_report(client, tmp_path, [("evidence", ("notes.exe", b"MZ\x90\x00" * 64,
                                                 "application/octet-stream"))])
    [filed] = console.gov.complaints.find()
    assert console.gov.complaints.get(filed.id).evidence == ()


def test_forms_need_the_csrf_token(client: TestClient, console: Console) -> None:
    token = csrf_token(client, "/report")
    for data in (report_form(token, csrf_token=""), report_form("forged")):
        answer = client.post("/report", data=data)
        assert answer.status_code == 403 and answer.headers["x-synthguard-error"] == "csrf"
    fresh = TestClient(console.app)  # no CSRF cookie at all
    assert fresh.post("/report", data=report_form(token)).status_code == 403
    assert console.gov.complaints.find() == []


def test_invalid_fields_are_named_not_echoed(client: TestClient) -> None:
    token = csrf_token(client, "/report")
    answer = client.post("/report", data=report_form(token, category="<script>x</script>"))
    assert answer.status_code == 422 and "category" in answer.text
    assert "<script>x" not in answer.text
    answer = client.post("/report", data=report_form(token, target_kind="url",
                                                     target="javascript:alert(1)"))
    assert answer.status_code == 422 and answer.headers["x-synthguard-error"] == "invalid_target"


def test_the_report_form_is_rate_limited(client: TestClient, console: Console) -> None:
    token = csrf_token(client, "/report")
    per_minute = console.gov.settings.complaints.submissions_per_minute
    for _ in range(per_minute):
        assert client.post("/report", data=report_form(token)).status_code == 201
    refused = client.post("/report", data=report_form(token))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert len(console.gov.complaints.find()) == per_minute


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_follow_up_and_check_forms_are_rate_limited(client: TestClient,
                                                        console: Console) -> None:
    token = csrf_token(client, "/report/status")
    lookups = console.gov.settings.complaints.status_lookups_per_minute
    for _ in range(lookups):
        answer = client.post("/report/status", data={"csrf_token": token,
                                                     "receipt_code": "SG-0000-0000-0000"})
        assert answer.status_code == 404
    refused = client.post("/report/status", data={"csrf_token": token,
                                                  "receipt_code": "SG-0000-0000-0000"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    upload = {"file": ("a.txt", b"plain text", "text/plain")}
    for _ in range(CHECKS_PER_MINUTE):
        assert client.post("/check", data={"csrf_token": token}, files=upload
                           ).status_code == 200
    refused = client.post("/check", data={"csrf_token": token}, files=upload)
    assert refused.status_code == 429 and refused.headers["x-synthguard-error"] == \
        "too_many_requests"


def test_check_a_file_reads_the_label(client: TestClient, tmp_path: Path) -> None:
    token = csrf_token(client, "/check")
    labelled = seed.picture(tmp_path, labelled=True).read_bytes()
    page = client.post("/check", data={"csrf_token": token},
                       files={"file": ("generated.png", labelled, "image/png")})
    assert page.status_code == 200 and 'data-verdict="compliant"' in page.text
    assert "img-0001" in page.text and "<html" in page.text
    fragment = client.post("/check", data={"csrf_token": token},
                           headers={"HX-Request": "true"},
                           files={"file": ("plain.txt", "没有标识的文本".encode(), "text/plain")})
    assert 'data-verdict="not_found"' in fragment.text and "<html" not in fragment.text
    # No keys configured: the watermark is not claimed either way, and the page says why.
    assert 'data-watermark="not_checked"' in page.text
    assert "no watermark keys configured" in page.text
    assert 'data-signature="unsigned"' in page.text and 'data-c2pa="absent"' in page.text
    assert 'data-watermark="not_checked"' in fragment.text  # the htmx answer has it all
    empty = client.post("/check", data={"csrf_token": token},
                        files={"file": ("empty.png", b"", "image/png")})
    assert empty.status_code == 422


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_check_a_file_finds_our_watermark(console: Console, tmp_path: Path) -> None:
    key = WatermarkKey(3, bytes(range(16, 48)))
    plain = tmp_path / "photo.png"
    photo(np.random.default_rng(7), (512, 384)).save(plain)
    marked = tmp_path / "marked.png"
    watermark_file(plain, marked, 0xC0FFEE, key)
    app = create_console_app(console.config, console.db, governance=console.gov,
                             identity=console.identity, watermark_keys=KeyRing([key]))
    with TestClient(app) as client:
        token = csrf_token(client, "/check")
        found = client.post("/check", data={"csrf_token": token},
                            files={"file": ("marked.png", marked.read_bytes(), "image/png")})
        assert 'data-watermark="present"' in found.text and f"{0xC0FFEE:014x}" in found.text
        clean = client.post("/check", data={"csrf_token": token},
                            files={"file": ("photo.png", plain.read_bytes(), "image/png")})
        assert 'data-watermark="absent"' in clean.text


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_check_a_file_shows_watermark_and_signature_from_the_configuration(
        console: Console, tmp_path: Path) -> None:
    """The gateway builds no key ring of its own for the pages: the configuration's
    content protection (Config.protection) gives the keys and the pinned signer."""
    protection = Protection(watermark_keys=KeyRing([WatermarkKey(4, bytes(range(32)))]),
                            signing_key=SigningKey.generate())
    plain = tmp_path / "photo.png"
    photo(np.random.default_rng(8), (512, 384)).save(plain)
    signed = tmp_path / "signed.png"
    synthguard.label(plain, signed, producer=seed.PRODUCER, produce_id="img-0042",
                     protection=protection)
    config = make_config(protection=protection)
    gov = Governance(console.db, config, governance_settings(tmp_path))
    app = create_console_app(config, console.db, governance=gov, identity=console.identity)
    with TestClient(app) as client:
        token = csrf_token(client, "/check")
        page = client.post("/check", data={"csrf_token": token},
                           files={"file": ("signed.png", signed.read_bytes(), "image/png")})
        assert 'data-verdict="compliant"' in page.text
        assert 'data-watermark="present"' in page.text
        assert "matches the label's ProduceID" in page.text
        assert 'data-signature="valid"' in page.text
        forged = tmp_path / "forged.png"
        synthguard.label(plain, forged, producer=seed.PRODUCER, produce_id="img-0042",
                         protection=Protection(signing_key=SigningKey.generate()))
        page = client.post("/check", data={"csrf_token": token},
                           files={"file": ("forged.png", forged.read_bytes(), "image/png")})
        assert 'data-signature="untrusted"' in page.text  # a key nobody pinned
        assert 'data-watermark="absent"' in page.text
        # Evidence is inspected with the same keys: the handler sees which of our
        # outputs a picture is.
        file_report(client, tmp_path, [("evidence", ("seen.png", signed.read_bytes(),
                                                     "image/png"))])
        [filed] = gov.complaints.find()
        [evidence] = gov.complaints.get(filed.id).evidence
        assert evidence.scan["watermark"]["status"] == "present"
        assert evidence.scan["signature"]["status"] == "valid"
        signed_in(client, console, "complaint_handler", name="handler")
        page = client.get(f"/console/complaints/{filed.id}")
        assert 'data-evidence-watermark="present"' in page.text


def test_check_a_file_renders_report_parts_it_does_not_know(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part the inspector learns to report shows up on the page without a template
    change (the report is rendered generically beside its known sections)."""
    known = Report.to_dict

    def with_new_part(report: Report) -> dict[str, Any]:
        return {**known(report), "provenance_chain": {"status": "found",
                                                      "steps": ["camera", "editor"]}}

    monkeypatch.setattr(Report, "to_dict", with_new_part)
    token = csrf_token(client, "/check")
    page = client.post("/check", data={"csrf_token": token},
                       files={"file": ("a.txt", b"plain text", "text/plain")})
    assert 'data-part="provenance_chain"' in page.text
    assert "<dt>status</dt><dd>found</dd>" in page.text and "<li>editor</li>" in page.text


def test_uploads_over_the_limit_are_refused(console: Console, tmp_path: Path) -> None:
    limit = 64 * 1024
    gov = Governance(console.db, console.config,
                     governance_settings(tmp_path, max_evidence_bytes=limit,
                                         max_evidence_files=2))
    app = create_console_app(console.config, console.db, governance=gov,
                             identity=console.identity)
    with TestClient(app) as client:
        token = csrf_token(client, "/check")
        answer = client.post("/check", data={"csrf_token": token},
                             files={"file": ("big.png", b"\0" * (limit + 1), "image/png")})
        assert answer.status_code == 413  # one file over the evidence limit
        answer = client.post("/check", data={"csrf_token": token},
                             files={"file": ("big.png", b"\0" * (3 * limit), "image/png")})
        assert answer.status_code == 413  # the body over what a report may carry
        assert answer.headers["x-synthguard-error"] == "request_too_large"
        form_type = {"content-type": "application/x-www-form-urlencoded"}
        answer = client.post("/report/status", content=b"x" * (300 * 1024), headers=form_type)
        assert answer.status_code == 413
        streamed = iter([b"receipt_code=" + b"x" * (200 * 1024), b"x" * (200 * 1024)])
        answer = client.post("/report/status", content=streamed, headers=form_type)
        assert answer.status_code == 413  # no declared length: counted as it arrives


def test_policies_render_markdown_without_raw_html(client: TestClient,
                                                   console: Console) -> None:
    console.gov.policies.publish(
        "platform_conventions", "平台公约", "# 平台公约\n\n**遵守**法律。<script>alert(1)"
        "</script>\n\n[link](javascript:alert(2))", actor="admin")
    page = client.get("/policies/platform_conventions")
    assert page.status_code == 200 and "<strong>遵守</strong>" in page.text
    assert "<script>alert" not in page.text and "href=\"javascript:" not in page.text
    assert "平台公约" in client.get("/policies").text
    assert client.get("/policies/service_agreement").status_code == 404
    assert client.get("/policies/no_such_kind").status_code == 422


def test_every_public_page_shows_the_filing(client: TestClient, console: Console) -> None:
    console.gov.registry.register_algorithm(
        "SynthGuard 生成合成算法", "生成合成类", ["synthguard-demo"], actor="admin",
        filing_number="网信算备110108000000001230011号",
        public_info_url="https://beian.example.cn/alg/1", filed_on=date(2025, 6, 1))
    token = csrf_token(client, "/report")
    answers = [client.get(path) for path in PUBLIC_PAGES]
    assert all(a.status_code == 200 for a in answers)
    answers += [  # what the forms answer, and an error page
        client.post("/report", data=report_form(token)),
        client.post("/report/status", data={"csrf_token": token, "receipt_code": "SG-X"}),
        client.post("/check", data={"csrf_token": token},
                    files={"file": ("a.txt", b"plain text", "text/plain")}),
        client.get("/policies/service_agreement"), client.get("/no/such/page/x")]
    for answer in answers:
        if answer.status_code == 404 and "content-security-policy" not in answer.headers:
            continue  # the app's own 404 for unknown paths (JSON, no footer)
        assert "网信算备110108000000001230011号" in answer.text, answer.url
        assert 'href="https://beian.example.cn/alg/1"' in answer.text, answer.url
    assert len(answers) >= len(PUBLIC_PAGES) + 4


def test_the_process_page_follows_the_configuration(client: TestClient,
                                                   console: Console) -> None:
    page = client.get("/process").text
    flow = console.gov.flow()
    assert flow.introduction in page and "1 个工作日内" in page
    assert re.search(r"个人信息权益请求.*?<td>15</td>", page, re.S)
    assert re.search(r"违法和不良信息.*?<td>5</td>", page, re.S)


def test_security_headers_and_cookies(client: TestClient) -> None:
    page = client.get("/report")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"]
    assert "sg_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; over https the cookie is Secure
    with TestClient(client.app, base_url="https://console.example") as tls:
        assert "Secure" in tls.get("/report").headers["set-cookie"]


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/console/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/console/htmx.min.js").text.startswith("var htmx=")
    assert client.get("/static/console/notice-font.otf").content[:4] == b"OTTO"
    for name in ("../web.py", "..%2Fweb.py", "missing.css"):
        assert client.get(f"/static/console/{name}").status_code == 404
