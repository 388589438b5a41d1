"""The refutation library: reworded and disguised copies of a refuted claim match, unrelated
texts do not; matches are recorded without the text; policy decides notice or block."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest

from synthguard.governance.errors import GovernanceError
from synthguard.governance.rumors import RumorLibrary
from synthguard.governance.service import Governance
from synthguard.store import Database
from tests.accounts.conftest import FakeClock

ALCOHOL = "喝高度白酒可以预防新冠病毒感染"
WATER = "某市自来水厂被投毒，全市停水三天"


def _library(gov: Governance) -> tuple[str, str]:
    alcohol = gov.rumors.add(ALCOHOL, "酒精不能预防新冠病毒感染，过量饮酒有害健康。",
                             sources=["https://www.piyao.org.cn/example"],
                             refuted_on=date(2020, 2, 1), claim_seen_on=date(2020, 1, 28),
                             actor="reviewer")
    water = gov.rumors.add(WATER, "经核实，该市供水正常，系谣言。", sources=["某市水务局通报"],
                           refuted_on=date(2025, 5, 1), action="block", actor="reviewer")
    return alcohol.id, water.id


@pytest.mark.parametrize("text, expected", [
    ("听说喝高度白酒能预防新冠病毒感染，是真的吗？", "alcohol"),  # reworded
    ("新冠病毒感染可以通过喝高度的白酒来预防", "alcohol"),  # reordered
    ("紧急通知：某市自來水廠被投毒！全市停水三天！！", "water"),  # traditional, padded
    ("某 市 自 来 水 厂 被 投 毒 ， 全 市 停 水 三 天", "water"),  # spaced out
    ("今天天气很好，我们去公园散步吧，顺便买点水果。", None),
    ("喝白酒对身体有害，建议少喝。", None),  # same topic words, not the claim
    ("本文介绍如何接种疫苗预防病毒感染。", None),
])
def test_matching(gov: Governance, text: str, expected: str | None) -> None:
    alcohol, water = _library(gov)
    verdict = gov.rumors.check(text, subject_kind="output", subject_ref="rec-1")
    if expected is None:
        assert verdict.action == "pass" and verdict.hits == () and verdict.notice is None
        assert gov.rumors.matches() == []
        return
    claim_id = alcohol if expected == "alcohol" else water
    assert [h.claim_id for h in verdict.hits] == [claim_id]
    hit = verdict.hits[0]
    assert hit.score >= gov.rumors.settings.threshold
    assert 0 <= hit.span[0] < hit.span[1] <= len(text)
    assert verdict.action == ("notice" if expected == "alcohol" else "block")
    assert verdict.notice is not None and verdict.notice.startswith("【辟谣】")
    match = gov.rumors.matches()[0]
    assert (match.claim_id, match.subject_kind, match.subject_ref) == (claim_id, "output",
                                                                      "rec-1")
    assert match.text_sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_previews_are_not_recorded_and_block_wins(gov: Governance) -> None:
    _library(gov)
    verdict = gov.rumors.check(f"{ALCOHOL}。另外，{WATER}。", record=False)
    assert verdict.action == "block" and len(verdict.hits) == 2
    assert gov.rumors.matches() == []
    assert "酒精不能预防" in (verdict.notice or "") and "水务局" in (verdict.notice or "")


def test_retired_claims_stop_matching(gov: Governance) -> None:
    alcohol, water = _library(gov)
    gov.rumors.retire(alcohol, actor="reviewer")
    assert gov.rumors.check(ALCOHOL).action == "pass"
    assert {c.id for c in gov.rumors.claims(include_retired=True)} == {alcohol, water}
    assert [c.id for c in gov.rumors.claims()] == [water]
    with pytest.raises(GovernanceError) as caught:
        gov.rumors.retire("rmr_missing", actor="reviewer")
    assert caught.value.status == 404


def test_another_process_sees_changes_after_reload(gov: Governance, database: Database) -> None:
    other = RumorLibrary(database, gov.rumors.settings, refresh_s=3600)
    assert other.check(WATER).action == "pass"
    _library(gov)
    assert other.check(WATER).action == "pass"  # its cached index is fresh for an hour
    other.reload()
    assert other.check(WATER).action == "block"
    quick = RumorLibrary(database, gov.rumors.settings, refresh_s=0)
    assert quick.check(WATER).action == "block"


@pytest.mark.parametrize("changes, message", [
    ({"claim": "谣言"}, "characters of text"),
    ({"refutation": ""}, "refutation needs"),
    ({"sources": [" "]}, "at least one source"),
    ({"action": "delete"}, "notice or block"),
    ({"claim_seen_on": date(2026, 1, 1)}, "before it was seen"),
    ({"actor": ""}, "actor"),
])
def test_bad_claims(gov: Governance, changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"claim": WATER, "refutation": "不实", "sources": ["x"],
                                 "refuted_on": date(2025, 5, 1), "actor": "r"}
    values.update(changes)
    with pytest.raises(GovernanceError, match=message):
        gov.rumors.add(**values)  # type: ignore[arg-type]


def test_regulator_listing(gov: Governance, clock: FakeClock) -> None:
    alcohol, water = _library(gov)
    gov.rumors.check(ALCOHOL, subject_kind="output")
    gov.rumors.check(WATER, subject_kind="report")
    gov.rumors.check(WATER, subject_kind="output")
    since = clock.now.replace(hour=0)
    lines = {line["claim_id"]: line for line in gov.rumors.report(since, datetime(
        2030, 1, 1, tzinfo=UTC))}
    assert lines[water]["matches"] == 2 and lines[water]["by_action"] == {"block": 2}
    assert lines[water]["by_subject"] == {"report": 1, "output": 1}
    assert lines[alcohol]["added_in_period"] is True
    assert lines[alcohol]["claim_seen_on"] == "2020-01-28"
    # A later period sees only claims matched in it.
    clock.advance(days=30)
    gov.rumors.check(WATER)
    later = gov.rumors.report(clock.now.replace(hour=0), datetime(2030, 1, 1, tzinfo=UTC))
    assert [line["claim_id"] for line in later] == [water]
    assert later[0]["added_in_period"] is False and later[0]["matches"] == 1
