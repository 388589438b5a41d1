"""Held-back windows and the rule reviewer, without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.config import ReviewRuleSpec
from synthguard.gateway.review import ReviewContext, ReviewFailed, ReviewResult, RuleReviewer
from synthguard.gateway.streaming import HeldBackRelease, OutputBlocked, next_window

CONTEXT = ReviewContext("0" * 32, "/v1/chat/completions", "usr_1")
RULES = RuleReviewer([ReviewRuleSpec(id="K-1", category="kw", pattern="secretplan"),
                      ReviewRuleSpec(id="R-1", category="rx", pattern=r"\bbomb\w*", regex=True)])


def test_window_ends_at_sentence_end_or_length() -> None:
    assert next_window("Hello. World", 80) == 6
    assert next_window("你好。世界", 80) == 3
    assert next_window("line one\nline two", 80) == 9
    assert next_window("no end yet", 80) == 0
    assert next_window("x" * 100, 80) == 80
    assert next_window("x" * 79 + ".", 80) == 80
    assert next_window("", 80) == 0


async def _deltas(parts: list[str]) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def _release(parts: list[str], reviewer: object = RULES,
                   window: int = 10) -> tuple[list[str], HeldBackRelease, BaseException | None]:
    release = HeldBackRelease(reviewer, CONTEXT, window_chars=window,  # type: ignore[arg-type]
                              timeout_s=1)
    out: list[str] = []
    try:
        async for piece in release.release(_deltas(parts)):
            out.append(piece)
    except (OutputBlocked, ReviewFailed) as exc:
        return out, release, exc
    return out, release, None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab .\n。", max_size=15), max_size=12),
       st.integers(min_value=1, max_value=20))
def test_released_text_is_the_input_in_bounded_windows(parts: list[str], window: int) -> None:
    out, release, error = anyio.run(_release, parts, RULES, window)
    assert error is None
    assert "".join(out) == "".join(parts)
    assert all(0 < len(piece) <= window for piece in out)
    assert release.report.windows_reviewed == release.report.windows_released == len(out)
    assert release.report.decision == "allowed"


def test_word_split_across_windows_is_still_caught() -> None:
    # Window 10 cuts "secretplan" after "xxxxxxsecr"; the overlap shows the reviewer the
    # whole word in the next window, which is blocked before release.
    out, release, error = anyio.run(_release, ["xxxxxxsecr", "etplan and more"])
    assert isinstance(error, OutputBlocked) and error.result.rule_ids == ("K-1",)
    assert out == ["xxxxxxsecr"]
    assert release.report.as_dict()["windows_reviewed"] == 2
    assert release.report.as_dict()["complete"] is False


def test_nothing_after_a_blocked_window_is_released() -> None:
    out, release, error = anyio.run(_release, ["Fine. ", "The bomber. ", "Fine again."])
    assert isinstance(error, OutputBlocked)
    assert out == ["Fine."]  # " The bomber." is the blocked window; the rest never reviewed
    report = release.report.as_dict()
    assert report["decision"] == "blocked" and report["rule_ids"] == ["R-1"]
    assert report["windows_released"] == 1


class _Broken:
    name = "broken"

    def __init__(self, fail_at: int, *, wrong_type: bool = False) -> None:
        self.calls = 0
        self.fail_at = fail_at
        self.wrong_type = wrong_type

    def review(self, text: str, **_: object) -> ReviewResult:
        self.calls += 1
        if self.calls < self.fail_at:
            return ReviewResult(True)
        if self.wrong_type:
            return "yes"  # type: ignore[return-value]
        raise ConnectionError("moderation service down")


@pytest.mark.parametrize("wrong_type", [False, True])
def test_reviewer_failure_fails_closed(wrong_type: bool) -> None:
    out, release, error = anyio.run(_release, ["One. ", "Two. ", "Three."],
                                    _Broken(2, wrong_type=wrong_type))
    assert isinstance(error, ReviewFailed)
    assert out == ["One."]
    report = release.report.as_dict()
    assert report["decision"] == "failed" and report["complete"] is False
    assert report["windows_reviewed"] == 1  # the failed review is not counted as one


def test_stream_that_ends_midway_is_not_complete() -> None:
    async def cut() -> HeldBackRelease:
        release = HeldBackRelease(RULES, CONTEXT, window_chars=10, timeout_s=1)
        async for _ in release.release(_deltas(["One. ", "Two. ", "Three."])):
            break  # the client went away
        return release
    release = anyio.run(cut)
    assert release.report.as_dict()["complete"] is False
    assert release.report.decision == "incomplete"


def test_rule_reviewer_normalizes_width_and_case() -> None:
    blocked = RULES.review("ＳＥＣＲＥＴＰＬＡＮ", stage="input", context=CONTEXT)
    assert not blocked.allowed and blocked.category == "kw"
    both = RULES.review("secretplan bombs", stage="output", context=CONTEXT)
    assert both.rule_ids == ("K-1", "R-1")
    assert RULES.review("a quiet text", stage="input", context=CONTEXT).allowed
    assert RuleReviewer([]).review("anything", stage="input", context=CONTEXT).allowed
