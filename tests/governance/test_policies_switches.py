"""Policy versions and acceptance (the gateway's gate), and the service switches."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from synthguard.governance.errors import GovernanceError
from synthguard.governance.policies import Policies, labeling_section
from synthguard.governance.service import Governance
from synthguard.governance.switches import Switches, SwitchKind
from synthguard.store import Database
from tests.accounts.conftest import FakeClock, make_config

AGREEMENT = "# 用户服务协议\n\n" + labeling_section(make_config())


def test_labeling_section_follows_the_configuration() -> None:
    config = dataclasses.replace(make_config(notice="AI生成 | AI-generated content",
                                             notice_position="end"),
                                 producer_code="001191110102MACQD9K64010000")
    section = labeling_section(config)
    assert "结尾添加提示“AI生成 | AI-generated content”" in section
    assert "001191110102MACQD9K64010000" in section and "GB 45438-2025" in section
    assert "不少于六个月" in section  # Measures Art. 9


def test_acceptance_gate(gov: Governance, user_id: str, clock: FakeClock) -> None:
    assert gov.policies.must_accept(user_id) == []
    gov.policies.publish("service_agreement", "用户服务协议", AGREEMENT, actor="admin")
    gov.policies.publish("management_rules", "管理规则", "# 管理规则\n", actor="admin")
    gov.policies.publish("platform_conventions", "平台公约", "# 平台公约\n", actor="admin",
                         requires_acceptance=False)
    assert [(r.kind, r.version) for r in gov.policies.must_accept(user_id)] == [
        ("management_rules", 1), ("service_agreement", 1)]
    gov.policies.accept(user_id, "service_agreement", 1)
    first = gov.policies.accept(user_id, "management_rules", 1, channel="web")
    assert gov.policies.must_accept(user_id) == []
    clock.advance(minutes=5)
    assert gov.policies.accept(user_id, "management_rules", 1) == first  # kept, not redone
    clock.advance(days=30)
    v2 = gov.policies.publish("service_agreement", "用户服务协议（2025年10月修订）",
                              AGREEMENT + "\n新增条款。\n", actor="admin")
    assert v2.version == 2 and v2.sha256 != gov.policies.version("service_agreement", 1).sha256
    assert [(r.kind, r.version) for r in gov.policies.must_accept(user_id)] == [
        ("service_agreement", 2)]
    with pytest.raises(GovernanceError) as caught:
        gov.policies.accept(user_id, "service_agreement", 1)
    assert caught.value.code == "not_current_version"
    gov.policies.accept(user_id, "service_agreement", 2)
    assert gov.policies.must_accept(user_id) == []
    assert gov.policies.acceptance_count("service_agreement", 2) == 1
    assert [(a.kind, a.version) for a in gov.policies.acceptances(user_id)] == [
        ("management_rules", 1), ("service_agreement", 1), ("service_agreement", 2)]
    assert [v.version for v in gov.policies.history("service_agreement")] == [1, 2]
    assert [v.kind for v in gov.policies.current_all()] == [
        "management_rules", "platform_conventions", "service_agreement"]


def test_policy_refusals(gov: Governance, user_id: str) -> None:
    with pytest.raises(GovernanceError) as caught:
        gov.policies.publish("service_agreement", "协议", "没有说明方法的协议", actor="admin")
    assert caught.value.code == "labeling_missing"
    with pytest.raises(GovernanceError) as caught:
        gov.policies.publish("privacy_theatre", "x", "y", actor="admin")
    assert caught.value.status == 404
    gov.policies.publish("management_rules", "管理规则", "正文", actor="admin")
    with pytest.raises(GovernanceError) as caught:
        gov.policies.accept("usr_missing", "management_rules", 1)
    assert caught.value.status == 404
    with pytest.raises(GovernanceError, match="version 1 of service_agreement"):
        gov.policies.accept(user_id, "service_agreement", 1)  # nothing published
    assert gov.policies.current("service_agreement") is None


def test_switches_are_recorded_and_checked(gov: Governance, clock: FakeClock) -> None:
    switches = gov.switches
    assert not switches.is_active(SwitchKind.GENERATION)
    assert switches.blocking_generation("gpt-demo") is None
    engaged = switches.engage("model", model="gpt-demo", reason="监管部门责令暂停该模型服务",
                              order_ref="网信执法〔2025〕12号", actor="admin")
    assert engaged.switch == "model:gpt-demo"
    assert switches.is_active("model", "gpt-demo") and not switches.is_active("model", "other")
    blocking = switches.blocking_generation("gpt-demo")
    assert blocking is not None and blocking.order_ref == "网信执法〔2025〕12号"
    assert switches.blocking_generation("other") is None
    clock.advance(hours=1)
    switches.engage("registrations", reason="暂停新用户注册", order_ref="网信执法〔2025〕13号",
                    actor="admin")
    assert switches.is_active(SwitchKind.REGISTRATIONS)
    clock.advance(hours=1)
    switches.release("model", model="gpt-demo", reason="整改完成，恢复服务",
                     order_ref="网信执法〔2025〕14号", actor="admin")
    assert [s.switch for s in switches.active()] == ["registrations"]
    history = switches.history()
    assert [(c.switch, c.engaged, c.order_ref[-3:]) for c in history] == [
        ("model:gpt-demo", True, "12号"), ("registrations", True, "13号"),
        ("model:gpt-demo", False, "14号")]
    assert switches.history(since=clock.now - timedelta(minutes=30)) == history[2:]
    with pytest.raises(GovernanceError) as caught:
        switches.release("generation", reason="r", order_ref="o", actor="a")
    assert caught.value.code == "switch_not_engaged"


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "everything"}, "unknown switch"),
    ({"kind": "model"}, "needs a model route"),
    ({"kind": "generation", "model": "x"}, "only it takes one"),
    ({"kind": "generation", "order_ref": " "}, "order reference"),
    ({"kind": "generation", "reason": ""}, "reason"),
])
def test_switch_refusals(gov: Governance, kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"reason": "r", "order_ref": "o", "actor": "a", **kwargs}
    with pytest.raises(GovernanceError, match=message):
        gov.switches.engage(**values)  # type: ignore[arg-type]


def test_another_process_sees_a_flip_within_the_cache_time(gov: Governance,
                                                           database: Database) -> None:
    cached = Switches(database, cache_s=3600)
    assert not cached.is_active("generation")
    gov.switches.engage("generation", reason="r", order_ref="o", actor="a")
    assert not cached.is_active("generation")  # still within its cache time
    assert Switches(database, cache_s=0).is_active("generation")
    assert [s.switch for s in cached.active()] == ["generation"]  # listing reads fresh


def test_policy_gate_cache(gov: Governance, user_id: str, database: Database) -> None:
    """The gate's cache never serves a user who must accept a version published through
    the same object, and serves a user at once after accepting; a version published by
    another process counts within the cache time."""
    policies = gov.policies
    first = policies.publish("service_agreement", "协议", AGREEMENT, actor="ops")
    assert [r.version for r in policies.must_accept(user_id)] == [first.version]
    policies.accept(user_id, "service_agreement", first.version)
    assert policies.must_accept(user_id) == []
    second = policies.publish("service_agreement", "协议", AGREEMENT + "\n改", actor="ops")
    assert [r.version for r in policies.must_accept(user_id)] == [second.version]
    policies.accept(user_id, "service_agreement", second.version)
    assert policies.must_accept(user_id) == []

    stale = Policies(database, cache_s=3600)  # a gateway process that has cached
    assert stale.must_accept(user_id) == []
    elsewhere = Policies(database)  # another process, same database
    third = elsewhere.publish("service_agreement", "协议", AGREEMENT + "\n再改", actor="ops")
    assert stale.must_accept(user_id) == []  # within its cache time
    assert [r.version for r in Policies(database, cache_s=0).must_accept(user_id)] == [
        third.version]
