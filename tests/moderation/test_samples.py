"""Near-duplicate search: spun (synonym-replaced) and clause-reordered copies of a
known-bad sample are found, alone or inside other text; unrelated text is not. The
threshold in samples.py is calibrated here on texts the project wrote."""

from __future__ import annotations

import random

from synthguard.moderation.normalize import loose_view
from synthguard.moderation.samples import MATCH_THRESHOLD, SampleIndex
from tests.moderation.conftest import engine_of, entry

SCAM = ("高薪招聘网络兼职，每天只需在家动动手指刷单，日结工资三百元起，无需任何经验，"
        "先交一百元会员费即可上岗，名额有限，速速添加客服领取任务。")
SCAM_SPUN = ("名额有限，快快加客服领任务。待遇丰厚诚聘线上兼职，每日仅需居家动动手指刷单，"
             "当日结算薪水三百块起步，不用任何经验，预先缴纳一百块会员费就能上岗。")
RUMOUR = ("紧急通知：本市自来水厂今晚将停水三天，据说水源已被污染，请大家马上去超市抢购"
          "矿泉水，转发给你关心的每一个人，官方还没有公布消息。")
RUMOUR_SPUN = ("官方目前尚未公布消息。告急通知：本市供水厂今夜要停水三日，听说水源早已被污染，"
               "请各位立刻到超市抢购矿泉水，转发给你在乎的每个人。")
UNRELATED = [
    "今年夏天雨水较多，农业部门提醒各地做好防汛准备，及时疏通排水沟渠，加固大棚设施，"
    "确保粮食作物安全度汛，同时关注病虫害的发生情况。",
    "这家餐厅的招牌菜是红烧肉和清蒸鱼，每天中午客人都排起长队，老板说秘诀在于选用新鲜"
    "食材，并且坚持小火慢炖两个小时以上。",
    # Same topics as the samples: a real job advert, a real water notice.
    "本公司招聘软件工程师，要求熟悉Python和数据库，具有三年以上工作经验，待遇面议，"
    "有意者请将简历发送至人事部门邮箱，我们会尽快与您联系。",
    "市自来水公司发布公告，因管道检修，明天上午八点至下午四点部分区域将降压供水，请居民"
    "提前做好储水准备，给您带来不便敬请谅解。",
]


def _index() -> SampleIndex:
    return SampleIndex([(0, SCAM), (1, RUMOUR)])


def _scores(index: SampleIndex, text: str) -> dict[int, float]:
    return {h.entry: h.score for h in index.find(loose_view(text))}


def test_spun_and_reordered_copies_are_found() -> None:
    index = _index()
    assert _scores(index, SCAM) == {0: 1.0}
    assert set(_scores(index, SCAM_SPUN)) == {0}
    assert set(_scores(index, RUMOUR_SPUN)) == {1}


def test_clause_shuffles_keep_the_score_high() -> None:
    index = _index()
    clauses = RUMOUR.rstrip("。").split("，")
    rng = random.Random(7)
    for _ in range(10):
        rng.shuffle(clauses)
        scores = _scores(index, "，".join(clauses) + "。")
        assert scores.get(1, 0) >= 0.8


def test_unrelated_texts_stay_far_below_the_threshold() -> None:
    index = SampleIndex([(0, SCAM), (1, RUMOUR)], threshold=0.0)
    for text in UNRELATED:
        assert all(s < MATCH_THRESHOLD / 2 for s in _scores(index, text).values()), text


def test_a_copy_inside_a_longer_text_is_found_at_its_place() -> None:
    text = UNRELATED[0] + UNRELATED[1] + RUMOUR_SPUN + UNRELATED[2] * 3
    hits = _index().find(loose_view(text))
    assert [h.entry for h in hits] == [1]
    view = loose_view(text)
    start, end = view.original_span(hits[0].start, hits[0].end)
    copy_at = text.index(RUMOUR_SPUN)
    # The window found overlaps the copy for most of the copy's length.
    overlap = min(end, copy_at + len(RUMOUR_SPUN)) - max(start, copy_at)
    assert overlap >= 0.6 * len(RUMOUR_SPUN)


def test_engine_routes_spun_copies_to_review_and_exact_copies_to_the_action() -> None:
    engine = engine_of(entry(SCAM, kind="sample", action="block"))
    exact = engine.review("转给你看：" + SCAM, stage="input")
    assert exact.decision == "block" and exact.matches[0].view == "normalized"
    spun = engine.review(SCAM_SPUN, stage="input")
    assert spun.decision == "review" and spun.matches[0].evasions == ("spinning",)
    assert engine.review(UNRELATED[2], stage="input").matches == ()
