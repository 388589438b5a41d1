"""Engine decisions: entry actions, view routing, per-risk policy, scores, stages,
streaming overlap, and sharing one engine between threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from synthguard.moderation.engine import EngineOptions
from tests.moderation.conftest import engine_of, entry


def test_actions_and_view_routing() -> None:
    engine = engine_of(entry("代开发票", id="b", action="block"),
                       entry("刷好评", id="r", risk_id="A.3.2", action="review"))
    assert engine.review("可代开发票", stage="input").decision == "block"
    assert engine.review("代開發票", stage="input").decision == "block"  # normalized
    assert engine.review("代～开～发～票", stage="input").decision == "review"  # loose
    assert engine.review("专业刷好评", stage="input").decision == "review"
    assert engine.review("正常的句子", stage="input").decision == "allow"


def test_per_risk_policy_passes_or_caps() -> None:
    entries = (entry("代开发票", id="b"), entry("刷好评", id="r", risk_id="A.3.2"))
    passed = engine_of(*entries, policy={"A.1.8": "pass"})
    result = passed.review("代开发票", stage="input")
    assert result.decision == "allow" and result.matches[0].action == "pass"
    assert result.risk_ids == ()
    capped = engine_of(*entries, policy={"A.1.8": "review"})
    assert capped.review("代开发票", stage="input").decision == "review"
    # A.5 (accuracy) goes to people by default.
    a5 = engine_of(entry("喝消毒液治新冠", risk_id="A.5.1"))
    assert a5.review("喝消毒液治新冠", stage="output").decision == "review"


def test_scores_add_up_per_risk_to_the_threshold() -> None:
    engine = engine_of(entry("地域黑", id="s1", risk_id="A.2.4", action="score", score=0.6),
                       entry("外地佬", id="s2", risk_id="A.2.4", action="score", score=0.6),
                       entry("老东西", id="s3", risk_id="A.2.6", action="score", score=0.6))
    assert engine.review("别搞地域黑", stage="input").decision == "allow"
    both = engine.review("地域黑，外地佬", stage="input")
    assert both.decision == "review" and both.risk_scores == (("A.2.4", 1.2),)
    # Scores of different risks do not add up.
    assert engine.review("地域黑，老东西", stage="input").decision == "allow"
    strict = engine_of(entry("地域黑", risk_id="A.2.4", action="score", score=0.6),
                       options=EngineOptions(score_threshold=0.5))
    assert strict.review("地域黑", stage="input").decision == "review"


def test_entries_apply_to_their_stages_only() -> None:
    engine = engine_of(entry(r"\b1[3-9][0-9]{9}\b", kind="regex", risk_id="A.4.6",
                             action="review", stages=["output"]))
    assert engine.review("我的电话13812345678", stage="input").decision == "allow"
    out = engine.review("他的电话13812345678", stage="output")
    assert out.decision == "review" and out.matches[0].span == (4, 15)


def test_one_match_per_entry_and_place_with_the_strictest_view() -> None:
    engine = engine_of(entry("代开发票"))
    matches = engine.review("代开发票，代 开 发 票", stage="input").matches
    assert [(m.view, m.span) for m in matches] == [("exact", (0, 4)), ("loose", (5, 12))]


def test_one_loose_scan_still_reports_the_strict_view_and_span() -> None:
    engine = engine_of(entry("谢谢你", action="review"))

    def first(text: str) -> tuple[str, tuple[int, int]]:
        match = engine.review(text, stage="input").matches[0]
        return match.view, match.span

    assert first("谢谢谢你") == ("exact", (1, 4))  # the repeat merged into the loose hit
    assert first("谢謝你") == ("normalized", (0, 3))
    assert first("谢 谢！你") == ("loose", (0, 5))
    assert first("谢谢谢謝你") == ("normalized", (2, 5))


def test_exact_only_mode_ignores_evasions() -> None:
    engine = engine_of(entry("代开发票"), options=EngineOptions(normalize=False))
    assert engine.review("代开发票", stage="input").decision == "block"
    assert engine.review("代開發票", stage="input").decision == "allow"


def test_review_records_release_and_user() -> None:
    engine = engine_of(entry("代开发票"))
    result = engine.review("代开发票", stage="input", user_id="u-7")
    data = result.as_dict()
    assert data["release"] == "test" and data["release_sha256"] == engine.release.sha256
    assert result.user_id == "u-7" and data["risk_ids"] == ["A.1.8"]
    assert data["matches"] == [{"entry_id": "e1", "risk_id": "A.1.8", "kind": "keyword",
                                "view": "exact", "span": [0, 4], "action": "block",
                                "evasions": [], "score": None}]


def test_longest_pattern_covers_the_widest_gapped_match() -> None:
    engine = engine_of(entry("代开发票"))
    text = "代" + "!" * 5 + "开" + "!" * 5 + "发" + "!" * 5 + "票"
    start, end = engine.review(text, stage="input").matches[0].span
    assert end - start <= engine.longest_pattern


def test_one_engine_shared_by_threads_gives_the_same_answers() -> None:
    engine = engine_of(entry("代开发票"), entry("傻帽", id="e2", action="review"),
                       entry("赌博网站", id="e3", pinyin=True))
    texts = ["代开发票", "傻!帽", "du bo wang zhan", "正常", "代開發票傻帽"] * 40
    expected = [engine.review(t, stage="input") for t in texts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: engine.review(t, stage="input"), texts))
    assert got == expected
