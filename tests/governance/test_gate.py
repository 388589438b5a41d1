"""The gateway's view of governance: refusals for switches and unaccepted policies,
rumor checks of outputs, filing fields for /v1/models, and the background sweep."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone

import pytest

from synthguard.governance.complaint_views import Submission
from synthguard.governance.gate import GovernanceGate
from synthguard.governance.policies import labeling_section
from synthguard.governance.service import Governance
from tests.accounts.conftest import FakeClock, make_config

CN = timezone(timedelta(hours=8))


def test_generation_gate(gov: Governance, user_id: str) -> None:
    gate = GovernanceGate(gov)
    assert gate.before_generation(user_id, "gpt-demo") is None
    gov.policies.publish("service_agreement", "用户服务协议", labeling_section(make_config()),
                         actor="admin")
    refusal = gate.before_generation(user_id, "gpt-demo")
    assert refusal is not None and (refusal.status, refusal.code) == (
        403, "policy_acceptance_required")
    assert refusal.detail["must_accept"] == [{
        "kind": "service_agreement", "version": 1,
        "accept": "/v1/governance/policies/service_agreement/accept"}]
    gov.policies.accept(user_id, "service_agreement", 1)
    assert gate.before_generation(user_id, "gpt-demo") is None
    gov.switches.engage("model", model="gpt-demo", reason="r", order_ref="令-1", actor="a")
    refusal = gate.before_generation(user_id, "gpt-demo")
    assert refusal is not None and (refusal.status, refusal.code) == (503, "model_suspended")
    assert "令-1" in refusal.message and gate.before_generation(user_id, "other") is None
    gov.switches.engage("generation", reason="r", order_ref="令-2", actor="a")
    refusal = gate.before_generation(user_id, "other")
    assert refusal is not None and refusal.code == "service_suspended"
    assert refusal.detail["order_ref"] == "令-2"


def test_registration_gate_outputs_and_filings(gov: Governance) -> None:
    gate = GovernanceGate(gov)
    assert gate.before_registration() is None
    gov.switches.engage("registrations", reason="r", order_ref="令-3", actor="a")
    refusal = gate.before_registration()
    assert refusal is not None and refusal.code == "registrations_suspended"
    gov.rumors.add("喝高度白酒可以预防新冠病毒感染", "酒精不能预防新冠病毒感染。",
                   sources=["辟谣平台"], refuted_on=date(2020, 2, 1), actor="r")
    verdict = gate.after_output("据说喝高度白酒可以预防新冠病毒感染。", record_id="0190abc")
    assert verdict.action == "notice"
    assert verdict.notice == "【辟谣】酒精不能预防新冠病毒感染。（来源：辟谣平台）"
    assert gov.rumors.matches()[0].subject_ref == "0190abc"
    assert gate.model_filing("chat") is None
    gov.registry.register_algorithm("对话算法", "generation", ["chat"], actor="a",
                                    filing_number="网信算备0002号")
    assert gate.model_filing("chat") == {"filing_number": "网信算备0002号",
                                         "public_info_url": None, "algorithm": "对话算法"}


def test_background_sweep_logs_alerts(gov: Governance, clock: FakeClock,
                                      caplog: pytest.LogCaptureFixture) -> None:
    gov.complaints.submit(Submission("report", "rumor", "url", "https://x.example/1",
                                     "谣言", True))
    clock.now = datetime(2025, 10, 10, 1, 0, tzinfo=CN)  # acknowledgement overdue

    async def one_round() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(gov.run_background(stop, interval_s=60))
        while not gov.complaints.get(gov.complaints.find()[0].id).level:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 10)

    with caplog.at_level(logging.WARNING, logger="synthguard.governance"):
        asyncio.run(one_round())
    alerts = [r for r in caplog.records if getattr(r, "event", "") == "complaint_deadline"]
    assert [(r.deadline, r.urgency) for r in alerts] == [  # type: ignore[attr-defined]
        ("acknowledge", "overdue")]
