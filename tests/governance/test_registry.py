"""Algorithm filings with assessments and review dates, datasets with PII scans and
sample checks, and the public filing information (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest

from synthguard.governance.errors import GovernanceError
from synthguard.governance.service import Governance
from synthguard.identity.numbers import id_check_character
from tests.accounts.conftest import FakeClock

FILING = "网信算备110108000000001230011号"
URL = "https://beian.example.cn/algorithms/0011"


def test_filing_and_public_information(gov: Governance) -> None:
    chat = gov.registry.register_algorithm("对话生成算法", "generation", ["gpt-demo", "gpt-demo"],
                                           actor="admin", filing_number=FILING,
                                           public_info_url=URL)
    assert chat.status == "filed" and chat.models == ("gpt-demo",)
    assert chat.filed_on == date(2025, 9, 30)  # the clock's day when none is given
    image = gov.registry.register_algorithm("图像生成算法", "generation", ["img-demo"],
                                            actor="admin")
    assert image.status == "pending" and gov.registry.filing_for_model("img-demo") is None
    public = gov.registry.filing_for_model("gpt-demo")
    assert public is not None and (public.filing_number, public.public_info_url) == (FILING,
                                                                                     URL)
    with pytest.raises(GovernanceError) as caught:
        gov.registry.record_filing(image.id, FILING, public_info_url=None,
                                   filed_on=date(2025, 9, 1))
    assert caught.value.code == "duplicate_filing"
    gov.registry.record_filing(image.id, "网信算备110108000000001230012号",
                               public_info_url=None, filed_on=date(2025, 9, 1))
    assert [f.algorithm for f in gov.registry.public_filings()] == ["图像生成算法", "对话生成算法"]
    gov.registry.retire_algorithm(image.id)
    assert [f.algorithm for f in gov.registry.public_filings()] == ["对话生成算法"]
    with pytest.raises(GovernanceError, match="retired"):
        gov.registry.record_filing(image.id, "x", public_info_url=None, filed_on=date.today())
    with pytest.raises(GovernanceError, match="http"):
        gov.registry.register_algorithm("x", "generation", [], actor="a",
                                        filing_number="y", public_info_url="javascript:alert(1)")


def test_assessments_move_the_review_date(gov: Governance, clock: FakeClock) -> None:
    algo = gov.registry.register_algorithm("人脸编辑算法", "biometric_editing", ["face"],
                                           actor="admin", review_interval_days=180,
                                           first_review_on=date(2025, 10, 10))
    assert [d.algorithm_id for d in gov.registry.reviews_due()] == [algo.id]
    assert gov.registry.reviews_due()[0].days_left == 10
    assert gov.registry.reviews_due(within_days=5) == []
    failed = gov.registry.record_assessment(algo.id, "security_assessment",
                                            assessed_on=date(2025, 9, 20), assessor="第三方机构",
                                            outcome="failed", actor="admin")
    assert failed.next_review_on == date(2025, 10, 10)  # a failure leaves it due
    passed = gov.registry.record_assessment(algo.id, "periodic_review",
                                            assessed_on=date(2025, 9, 25), assessor="内部评审",
                                            outcome="passed", actor="admin",
                                            report_ref="REV-2025-09")
    assert passed.next_review_on == date(2026, 3, 24)
    assert [a.outcome for a in passed.assessments] == ["failed", "passed"]
    clock.now = clock.now.replace(year=2026, month=4)
    due = gov.registry.reviews_due()
    assert due[0].days_left < 0  # overdue
    with pytest.raises(GovernanceError, match="before it happened"):
        gov.registry.record_assessment(algo.id, "periodic_review", assessed_on=date(2027, 1, 1),
                                       assessor="x", outcome="passed", actor="admin")
    with pytest.raises(GovernanceError, match="kind must be"):
        gov.registry.record_assessment(algo.id, "vibe_check",  # type: ignore[arg-type]
                                       assessed_on=date(2025, 9, 1), assessor="x",
                                       outcome="passed", actor="admin")


def test_datasets_scans_and_sample_checks(gov: Governance) -> None:
    algo = gov.registry.register_algorithm("语音合成算法", "generation", ["tts"], actor="admin")
    dataset = gov.registry.add_dataset("朗读语料 2025", source="自有录音棚采集",
                                       licence="内部授权，录音人书面同意",
                                       collected_on=date(2025, 3, 1), actor="admin",
                                       algorithm_id=algo.id)
    body = "11010519491231002"
    records = [f"我的身份证是{body}{id_check_character(body)}，电话 13800138000",
               "今天天气不错", "联系 zhang@example.com"]
    scan = gov.registry.scan_dataset(dataset.id, iter(records), actor="admin")
    assert (scan.records_scanned, scan.records_with_pii) == (3, 2)
    assert scan.counts == {"email": 1, "id_number": 1, "mobile": 1}
    assert scan.examples["id_number"] == ["1101**********002X"]
    assert body not in repr(scan) and "13800138000" not in repr(scan)
    checked = gov.registry.record_sample_check(dataset.id, checked_on=date(2025, 9, 29),
                                               sample_size=200, problems_found=3,
                                               outcome="conditional", checker="审核员A")
    assert [c.problems_found for c in checked.sample_checks] == [3]
    assert checked.pii_scans[0].counts == scan.counts and checked.algorithm_id == algo.id
    assert [d.id for d in gov.registry.datasets()] == [dataset.id]
    with pytest.raises(GovernanceError, match="problems_found"):
        gov.registry.record_sample_check(dataset.id, checked_on=date(2025, 9, 29),
                                         sample_size=2, problems_found=3, outcome="failed",
                                         checker="x")
    for call in (lambda: gov.registry.scan_dataset("dst_x", [], actor="a"),
                 lambda: gov.registry.add_dataset("x", source="s", licence="l",
                                                  collected_on=date(2025, 1, 1), actor="a",
                                                  algorithm_id="alg_x"),
                 lambda: gov.registry.algorithm("alg_x")):
        with pytest.raises(GovernanceError) as caught:
            call()
        assert caught.value.status == 404
