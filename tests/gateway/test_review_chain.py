"""The moderation reviewer and the reviewer chain without a server: held-back windows over
the starter library, the carry that keeps a stretched keyword whole across windows, and
what each decision writes to the moderation store."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from functools import cache

import anyio
import pytest

from synthguard.config import ReviewRuleSpec
from synthguard.gateway.review import (
    ALLOWED,
    MAX_CARRY_CHARS,
    ChainReviewer,
    ReviewContext,
    Reviewer,
    ReviewResult,
    RuleReviewer,
    Stage,
    carry_chars,
    review_fast,
)
from synthguard.gateway.streaming import HeldBackRelease, OutputBlocked, review_text
from synthguard.moderation.gateway import ModerationReviewer, load_engine
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database

CONTEXT = ReviewContext("r" * 32, "/v1/chat/completions", None)
ZERO_WIDTH = "\u200b"


@cache
def _engine_reviewer() -> ModerationReviewer:
    return ModerationReviewer(load_engine(None))


async def _stream(reviewer: Reviewer, parts: list[str], window: int
                  ) -> tuple[str, HeldBackRelease, BaseException | None]:
    async def deltas() -> AsyncIterator[str]:
        for part in parts:
            yield part

    release = HeldBackRelease(reviewer, CONTEXT, window_chars=window, timeout_s=10)
    out: list[str] = []
    try:
        async for piece in release.release(deltas()):
            out.append(piece)
    except OutputBlocked as exc:
        return "".join(out), release, exc
    return "".join(out), release, None


@pytest.mark.parametrize("stretch", [0, 3, 150, 1000])
def test_stretched_keyword_cut_by_windows_is_blocked(stretch: int) -> None:
    """血腥暴力视频 (starter-007, block) with zero-width characters inside: normalization
    removes them, so the word stays a block however far they stretch it; 8-character
    windows cut it many times. A fixed overlap in original characters would have lost
    the word's start once the stretch exceeds it."""
    word = "血腥" + ZERO_WIDTH * stretch + "暴力视频"
    text = "下面是一段说明，" + word + "，以上。"
    released, release, error = anyio.run(_stream, _engine_reviewer(), list(text), 8)
    assert isinstance(error, OutputBlocked)
    assert error.result.rule_ids == ("starter-007",) and error.result.category == "A.1.6"
    assert "视频" not in released and text.startswith(released)
    assert release.report.decision == "blocked"


def test_benign_stream_is_released_whole() -> None:
    text = "生日快乐！虹桥火车站附近的炸鸡店很好吃。大约炮兵连有一百人。" * 3
    released, release, error = anyio.run(_stream, _engine_reviewer(), list(text), 5)
    assert error is None and released == text
    assert release.report.windows_released == release.report.windows_reviewed


def test_carry_counts_match_view_characters() -> None:
    reviewer = _engine_reviewer()
    plain = "ab" * 1000
    reach = reviewer.longest_keyword
    assert reviewer.carry(plain) == reach
    # Repeats collapse in the loose view, so a run of them is carried whole.
    assert reviewer.carry("x" * 2000) == 2000
    # Characters that normalization removes do not use up the carry.
    padded = "ab" + ZERO_WIDTH * 3000
    assert reviewer.carry(padded) == len(padded)
    assert reviewer.carry("short") == len("short")
    # The gateway bounds any carry, so a flood of invisible characters cannot make every
    # window re-read the whole answer.
    flood = "a" + ZERO_WIDTH * (MAX_CARRY_CHARS * 2)
    assert carry_chars(reviewer, flood) == MAX_CARRY_CHARS


def test_reach_covers_patterns_context_and_samples() -> None:
    engine = load_engine(None)
    longest_sample = max(len(e.pattern) for e in engine.release.entries if e.kind == "sample")
    assert _engine_reviewer().longest_keyword > max(engine.longest_pattern, longest_sample)


def test_match_in_the_already_reviewed_part_is_not_news() -> None:
    reviewer = _engine_reviewer()
    earlier = "他说要炸火车站。"  # starter-004, block: it was reviewed with its own window
    new = "今天天气很好。"
    seen = ReviewContext(CONTEXT.record_id, CONTEXT.endpoint, "usr_1", 3, seen=len(earlier))
    assert reviewer.review(earlier + new, stage="output", context=seen).allowed
    blocked = reviewer.review(earlier + new, stage="output", context=CONTEXT)
    assert not blocked.allowed and blocked.rule_ids == ("starter-004",)
    later = "又说炸火车站。"
    again = reviewer.review(earlier + later, stage="output", context=seen)
    assert not again.allowed and again.rule_ids == ("starter-004",)


class _Recording:
    name = "recording"

    def __init__(self, result: ReviewResult) -> None:
        self.result = result
        self.calls = 0

    def review(self, text: str, **_: object) -> ReviewResult:
        self.calls += 1
        return self.result


def test_chain_first_block_wins() -> None:
    rules = RuleReviewer([ReviewRuleSpec(id="R-1", category="demo", pattern="bad")])
    after = _Recording(ReviewResult(True, ("later-1",), "A.4.3"))
    chain = ChainReviewer([rules, after])  # type: ignore[list-item]
    assert chain.name == "rules+recording" and chain.inline is False
    blocked = chain.review("a bad text", stage="input", context=CONTEXT)
    assert (blocked.allowed, blocked.rule_ids, blocked.category) == (False, ("R-1",), "demo")
    assert after.calls == 0
    flagged = chain.review("a fine text", stage="input", context=CONTEXT)
    assert (flagged.allowed, flagged.rule_ids, flagged.category) == (True, ("later-1",),
                                                                    "A.4.3")
    assert ChainReviewer([rules]).inline is True
    with pytest.raises(ValueError):
        ChainReviewer([])


def test_chain_refuses_a_member_that_answers_nonsense() -> None:
    wrong = _Recording("yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ChainReviewer([wrong]).review("text", stage="input",  # type: ignore[list-item]
                                      context=CONTEXT)


def test_chain_carry_is_the_widest_member_carry() -> None:
    rules = RuleReviewer([ReviewRuleSpec(id="R-1", category="demo", pattern="x" * 300)])
    chain = ChainReviewer([rules, _engine_reviewer()])
    text = "ab" * 500
    assert carry_chars(_engine_reviewer(), text) < 300 == carry_chars(rules, text)
    assert chain.carry(text) == 300
    assert chain.longest_keyword == max(rules.longest_keyword,
                                        _engine_reviewer().longest_keyword)


def test_streamed_review_match_is_queued_once(sqlite_database: Database) -> None:
    """A "review" word stays in the carry for several windows; the queue gets it once,
    with the record id, and the decision notes no violation."""
    store = ModerationStore(sqlite_database)
    reviewer = ModerationReviewer(load_engine(None), store)
    text = "我说了一句日你大爷，然后继续聊天。天气很好。我们去公园散步吧。"
    released, release, error = anyio.run(_stream, reviewer, list(text), 4)
    assert error is None and released == text
    assert release.report.windows_reviewed > 5
    [item] = store.items()
    assert item.record_id == CONTEXT.record_id and item.stage == "output"
    assert "日你" in item.content
    assert [m["entry_id"] for m in item.review["matches"]] == ["starter-023"]


def test_blocked_output_is_a_violation_of_its_user(sqlite_database: Database) -> None:
    store = ModerationStore(sqlite_database)
    reviewer = ModerationReviewer(load_engine(None), store)
    context = ReviewContext("r" * 32, "/v1/chat/completions", "usr_1")
    result = reviewer.review("求分享血腥暴力视频", stage="output", context=context)
    assert not result.allowed and result.rule_ids == ("starter-007",)
    assert store.violations("usr_1") == 1 and store.items() == []
    assert reviewer.review("今天天气很好", stage="output", context=context).allowed
    assert store.violations("usr_1") == 1


class _Thread:
    """A reviewer that must run in a worker thread (no inline, no review_fast)."""

    name = "thread"

    def __init__(self) -> None:
        self.calls: list[bool] = []  # whether each call ran on the event loop's thread

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult:
        self.calls.append(threading.current_thread() is threading.main_thread())
        return ReviewResult(True)


def test_review_fast_answers_a_passed_text_and_defers_a_flagged_one(
        database: Database) -> None:
    """The engine's pure-CPU pass is answered on the event loop; a block or a review
    match (which write to the store) and a configured classifier are left to `review`."""
    store = ModerationStore(database)
    reviewer = ModerationReviewer(load_engine(None), store)
    assert review_fast(reviewer, "今天天气很好", stage="input", context=CONTEXT) == ALLOWED
    assert review_fast(reviewer, "本公司可代开发票", stage="input", context=CONTEXT) is None
    assert review_fast(reviewer, "日你大爷的", stage="input", context=CONTEXT) is None
    assert store.items() == [] and store.violations("u") == 0  # the fast path wrote nothing
    rules = RuleReviewer([ReviewRuleSpec(id="T-1", category="c", pattern="forbidden")])
    chain = ChainReviewer([rules, reviewer])
    assert chain.review_fast("fine words", stage="input", context=CONTEXT) == ALLOWED
    blocked = chain.review_fast("forbidden words", stage="input", context=CONTEXT)
    assert blocked is not None and blocked.rule_ids == ("T-1",)  # decided by the rules
    assert chain.review_fast("代开发票", stage="input", context=CONTEXT) is None
    assert ChainReviewer([rules, _Thread()]).review_fast(
        "fine", stage="input", context=CONTEXT) is None


def test_review_text_uses_the_thread_only_when_the_fast_path_cannot_answer() -> None:
    slow = _Thread()
    chain = ChainReviewer([_engine_reviewer(), slow])

    async def main() -> None:
        for text in ("今天天气很好", "明天也不错"):
            await review_text(chain, text, stage="input", context=CONTEXT, timeout_s=5)

    anyio.run(main)
    # Both texts needed the thread-only member, so the chain went to a worker thread.
    assert slow.calls == [False, False]
    engine_only = ChainReviewer([_engine_reviewer()])
    calls: list[bool] = []

    def spy(text: str, **kwargs: object) -> ReviewResult:
        calls.append(True)
        return ReviewResult(True)

    engine_only.review = spy  # type: ignore[method-assign,assignment]
    anyio.run(lambda: review_text(engine_only, "今天天气很好", stage="input",
                                  context=CONTEXT, timeout_s=5))
    assert calls == []  # answered by review_fast, `review` never called
    anyio.run(lambda: review_text(engine_only, "代开发票", stage="input", context=CONTEXT,
                                  timeout_s=5))
    assert calls == [True]  # a block goes through `review`, which records it
