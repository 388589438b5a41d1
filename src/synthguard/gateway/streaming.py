"""Held-back streaming review: model output is released only in reviewed windows.

Existing gateways have shipped streams that skipped output review, or reviewed them only
after the client had the text, and logged them as passed (see the gateway reference,
§1.3). Here output is buffered into windows that end at a sentence end (。！？.!? or a
newline) or after `window_chars` characters, and each window is reviewed before any of
it is released. A blocked window, a reviewer that raises, or one that times out ends the
release: nothing after the last reviewed window ever reaches the client (fail closed).
`StreamReport` counts what was reviewed and released, so the record can never claim a
stream was reviewed when it was not.

A word can be cut in two by a window boundary whatever the window length, so each window
is reviewed together with the end of what was already released (the carry): as much as
the reviewer says its matches can reach back (`carry_chars`), which for a normalizing
reviewer is counted in its match view, not in characters of the original text: zero-width
characters or repeats inserted into a word would otherwise stretch it past any fixed
overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import anyio

from synthguard.gateway.review import (
    ReviewContext,
    Reviewer,
    ReviewFailed,
    ReviewResult,
    carry_chars,
    review_fast,
)

SENTENCE_ENDS = frozenset("。！？.!?\n")
# Longer texts go to a worker thread even for an inline reviewer, so one huge prompt
# cannot hold up every other request on the event loop.
INLINE_MAX_CHARS = 32_768
# A reviewer's `review_fast` (CPU work that grows with the text, such as the moderation
# engine's, about 0.2 ms for a few hundred characters) is tried on the event loop only
# for texts up to this length: prompts and streamed windows, the common case.
FAST_MAX_CHARS = 2_048
StreamDecision = Literal["allowed", "blocked", "failed", "incomplete"]


def next_window(buffer: str, window_chars: int) -> int:
    """Length of the window at the start of `buffer`, or 0 when more text is needed:
    up to and including the first sentence end, else `window_chars` characters."""
    for i, ch in enumerate(buffer[:window_chars]):
        if ch in SENTENCE_ENDS:
            return i + 1
    return window_chars if len(buffer) >= window_chars else 0


@dataclass
class StreamReport:
    """What happened to one streamed output, for the request record."""

    windows_reviewed: int = 0
    windows_released: int = 0
    chars_released: int = 0
    decision: StreamDecision = "incomplete"
    blocked: ReviewResult | None = None
    failure: str | None = None
    released: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.released)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": "stream",
            "decision": self.decision,
            # True only when every character the model produced passed review.
            "complete": self.decision == "allowed",
            "windows_reviewed": self.windows_reviewed,
            "windows_released": self.windows_released,
            "chars_released": self.chars_released,
            "rule_ids": list(self.blocked.rule_ids) if self.blocked else [],
            "category": self.blocked.category if self.blocked else None,
            "failure": self.failure,
        }


class OutputBlocked(Exception):
    def __init__(self, result: ReviewResult) -> None:
        super().__init__(result.category or "blocked")
        self.result = result


async def review_text(reviewer: Reviewer, text: str, *, stage: Literal["input", "output"],
                      context: ReviewContext, timeout_s: float) -> ReviewResult:
    """Run the reviewer in a worker thread with a deadline (or, for a reviewer that
    declares itself `inline`, directly; or first its `review_fast` on a short text);
    any failure is ReviewFailed."""
    try:
        fast = (review_fast(reviewer, text, stage=stage, context=context)
                if len(text) <= FAST_MAX_CHARS and hasattr(reviewer, "review_fast") else None)
        if fast is not None:
            result = fast
        elif getattr(reviewer, "inline", False) and len(text) <= INLINE_MAX_CHARS:
            result = reviewer.review(text, stage=stage, context=context)
        else:
            with anyio.fail_after(timeout_s):
                result = await anyio.to_thread.run_sync(
                    lambda: reviewer.review(text, stage=stage, context=context),
                    abandon_on_cancel=True)
    except TimeoutError:
        raise ReviewFailed(f"reviewer {reviewer.name!r} timed out after {timeout_s} s") from None
    except Exception as exc:
        raise ReviewFailed(f"reviewer {reviewer.name!r} failed: {type(exc).__name__}") from exc
    if not isinstance(result, ReviewResult):
        raise ReviewFailed(f"reviewer {reviewer.name!r} returned {type(result).__name__}")
    return result


class HeldBackRelease:
    """Turns the model's text deltas into reviewed windows. Iterate `release(deltas)`;
    it raises OutputBlocked or ReviewFailed at the first window that may not go out,
    and `report` says how far it got either way."""

    def __init__(self, reviewer: Reviewer, context: ReviewContext, *, window_chars: int,
                 timeout_s: float) -> None:
        self._reviewer = reviewer
        self._context = context
        self._window_chars = window_chars
        self._timeout_s = timeout_s
        self._tail = ""  # released text the next window is reviewed with
        self.report = StreamReport()

    async def release(self, deltas: AsyncIterator[str]) -> AsyncIterator[str]:
        buffer = ""
        async for delta in deltas:
            buffer += delta
            while (n := next_window(buffer, self._window_chars)) > 0:
                yield await self._pass(buffer[:n])
                buffer = buffer[n:]
        if buffer:
            yield await self._pass(buffer)
        self.report.decision = "allowed"

    async def _pass(self, window: str) -> str:
        report = self.report
        context = ReviewContext(self._context.record_id, self._context.endpoint,
                                self._context.user_id, report.windows_reviewed,
                                seen=len(self._tail))
        reviewed = self._tail + window
        try:
            result = await review_text(self._reviewer, reviewed, stage="output",
                                       context=context, timeout_s=self._timeout_s)
            # Without a carry the next window could not be reviewed safely, so a
            # reviewer that cannot say it fails this window, like its review would.
            carry = carry_chars(self._reviewer, reviewed) if result.allowed else 0
        except ReviewFailed as exc:
            report.decision, report.failure = "failed", str(exc)
            raise
        except Exception as exc:
            report.decision = "failed"
            report.failure = f"reviewer {self._reviewer.name!r} failed: {type(exc).__name__}"
            raise ReviewFailed(report.failure) from exc
        report.windows_reviewed += 1
        if not result.allowed:
            report.decision, report.blocked = "blocked", result
            raise OutputBlocked(result)
        report.windows_released += 1
        report.chars_released += len(window)
        report.released.append(window)
        self._tail = reviewed[len(reviewed) - carry:]
        return window
