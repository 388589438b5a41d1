"""`synthguard governance` with Typer's runner on a SQLite file and a governance settings
file (the National Day week configured): flow, deadlines, complaint handling, rumors,
registries, policies, switches, and a regulator archive exported, verified and refused
once tampered; one real process for the one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from synthguard.config import Config
from synthguard.governance.cli import governance_app
from synthguard.governance.complaint_views import Submission
from synthguard.governance.service import Governance
from synthguard.governance.settings import GovernanceSettings
from synthguard.store import Database
from tests.governance.helpers import rewrite_archive

SETTINGS = """
[calendar]
holidays = ["2025-10-01..2025-10-08"]
makeup_workdays = ["2025-09-28", "2025-10-11"]

[complaints]
acknowledge_days = 2
answer_days = 7
evidence_dir = "{evidence}"

[reports]
dir = "{reports}"

[complaints.answer_days_by_category]
personal_information = 15
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    settings = tmp_path / "governance.toml"
    settings.write_text(SETTINGS.format(evidence=tmp_path / "evidence",
                                        reports=tmp_path / "reports"))
    return {"SYNTHGUARD_SECRET": "5a" * 32, "SYNTHGUARD_CONFIG": "",
            "SYNTHGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SYNTHGUARD_GOVERNANCE_CONFIG": str(settings),
            "SYNTHGUARD_GOVERNANCE_REPORT_KEY_FILE": str(tmp_path / "report-key"),
            "SYNTHGUARD_AUDIT_KEY_FILE": str(tmp_path / "audit-key")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(governance_app, ["--json", *args], env=env)


def data(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def services(env: dict[str, str]) -> Governance:
    config = Config.load(env=env, require_producer=False)
    db = Database(env["SYNTHGUARD_DATABASE_URL"])
    db.migrate()
    return Governance(db, config, GovernanceSettings.load(env))


def test_flow_and_deadline_follow_the_settings(env: dict[str, str]) -> None:
    flow = data(run(env, "flow"))
    assert flow["acknowledge_working_days"] == 2
    assert {c["category"]: c["answer_working_days"] for c in flow["categories"]}[
        "personal_information"] == 15
    markdown = CliRunner().invoke(governance_app, ["flow"], env=env).stdout
    assert "2 个工作日" in markdown and "2025-09-28" not in markdown  # only this year's
    due = data(run(env, "deadline", "2025-09-30T15:00", "--days", "5"))
    assert due["due_at"] == "2025-10-15T00:00:00+08:00"


def test_complaint_handling(env: dict[str, str]) -> None:
    gov = services(env)
    user = gov.accounts.create_user(gov.accounts.create_org("Acme"), "Li Lei")
    gov.complaints.submit(Submission("report", "missing_ai_label", "account", user,
                                     "未标识的合成视频", True))
    complaint_id = gov.complaints.find()[0].id
    gov.database.dispose()
    queue = data(run(env, "complaints", "queue"))["queue"]
    assert [e["id"] for e in queue] == [complaint_id]
    moved = data(run(env, "complaints", "move", complaint_id, "acknowledged",
                     "--actor", "handler-1"))
    assert moved["state"] == "acknowledged"
    answered = data(run(env, "complaints", "answer", complaint_id, "--decision", "upheld",
                        "--answer", "已警告", "--enforce", f"{user}:warned:未标识内容",
                        "--actor", "handler-1"))
    assert answered["enforcement"][0]["to_state"] == "warned"
    shown = CliRunner().invoke(governance_app, ["complaints", "show", complaint_id], env=env)
    assert "answered" in shown.stdout and "handler-1" in shown.stdout
    assert data(run(env, "complaints", "sweep")) == {"alerts": []}
    bad = run(env, "complaints", "answer", complaint_id, "--decision", "upheld", "--answer",
              "x", "--enforce", "nonsense")
    assert bad.exit_code == 1 and "USER:STATE:REASON" in bad.output


def test_records_policies_and_switches(env: dict[str, str], tmp_path: Path) -> None:
    added = data(run(env, "rumors", "add", "--claim", "某市自来水厂被投毒，全市停水三天",
                     "--refutation", "供水正常", "--source", "水务局", "--refuted-on",
                     "2025-09-01", "--block"))
    assert added["action"] == "block"
    assert data(run(env, "rumors", "check", "某市自来水厂被投毒全市停水三天"))["action"] == "block"
    assert len(data(run(env, "rumors", "list"))["claims"]) == 1
    algo = data(run(env, "registry", "add-algorithm", "--name", "对话算法", "--model", "chat",
                    "--filing-number", "网信算备0001号", "--filed-on", "2025-01-01",
                    "--first-review-on", "2025-06-01"))
    assert algo["status"] == "filed"
    overdue = run(env, "registry", "due")
    assert overdue.exit_code == 1 and json.loads(overdue.stdout)["due"]  # cron sees it
    dataset = data(run(env, "registry", "add-dataset", "--name", "语料", "--source", "自采",
                       "--licence", "CC-BY-4.0", "--collected-on", "2025-03-01"))
    records = tmp_path / "records.jsonl"
    records.write_text('{"text": "联系 13800138000"}\n{"text": "无"}\nnot json 13912345678\n')
    scan = data(run(env, "registry", "scan-dataset", dataset["id"], str(records)))
    assert scan["records_scanned"] == 3 and scan["counts"] == {"mobile": 2}
    section = CliRunner().invoke(governance_app, ["policies", "labeling-section"], env=env)
    agreement = tmp_path / "agreement.md"
    agreement.write_text("# 用户服务协议\n\n" + section.stdout)
    published = data(run(env, "policies", "publish", "service_agreement", "--title", "协议",
                         "--file", str(agreement)))
    assert published["version"] == 1
    on = data(run(env, "switches", "on", "registrations", "--reason", "责令暂停注册",
                  "--order", "令-1"))
    assert [s["switch"] for s in on["engaged"]] == ["registrations"]
    off = data(run(env, "switches", "off", "registrations", "--reason", "恢复", "--order", "令-2"))
    assert off["engaged"] == []


def test_report_export_verify_and_tamper(env: dict[str, str], tmp_path: Path) -> None:
    exported = data(run(env, "report", "export", "--since", "2025-10-01", "--until",
                        "2026-01-01"))
    out = Path(exported["path"])
    assert out == tmp_path / "reports" / "report-20251001-20260101.tar.gz"
    assert exported["manifest"]["audit"]["status"] == "no_checkpoint"
    key = data(run(env, "report", "key"))["public_key"]
    assert key == exported["public_key"]
    assert data(run(env, "report", "verify", str(out), "--key", key))["ok"] is True
    tampered = rewrite_archive(out, tmp_path / "tampered.tar.gz",
                        lambda name, body: body.replace(b"Regulator", b"Regulated"))
    failed = run(env, "report", "verify", str(tampered), "--key", key)
    assert failed.exit_code == 1 and json.loads(failed.stdout)["problems"] == [
        "summary.html: SHA-256 does not match the manifest (altered)"]


def test_errors_are_one_line(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "synthguard.governance.cli", "complaints", "show", "cmp_none"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == ("synthguard governance: error: no complaint 'cmp_none'")
