"""The review hook (deep-synthesis rules Art. 10): inputs and outputs pass a `Reviewer`.

The gateway only knows the protocol; `RuleReviewer` is the small built-in keyword/regex
reviewer the configuration fills, and the moderation engine replaces it. A reviewer that
raises, or does not answer within the gateway's timeout, counts as "review could not
run": the gateway then refuses the input or withholds the output (fail closed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from synthguard.config import ReviewRuleSpec

Stage = Literal["input", "output"]


@dataclass(frozen=True)
class ReviewContext:
    """What a reviewer may know about the request besides the text: ids only."""

    record_id: str
    endpoint: str
    user_id: str | None
    window: int | None = None  # index of the streamed output window under review


@dataclass(frozen=True)
class ReviewResult:
    allowed: bool
    rule_ids: tuple[str, ...] = ()
    category: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"allowed": self.allowed, "rule_ids": list(self.rule_ids),
                "category": self.category}


ALLOWED = ReviewResult(True)


class Reviewer(Protocol):
    """Decides whether a text may pass. Must be thread-safe: the gateway calls it from
    worker threads, under a deadline, so that a slow reviewer never stalls other
    requests. A reviewer whose work is bounded CPU work of microseconds may set a class
    attribute `inline = True`; the gateway then calls it directly, without the thread
    hop (and without the deadline, which could not interrupt it anyway)."""

    name: str

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult: ...


class ReviewFailed(Exception):
    """The reviewer could not give a decision (raised, timed out)."""


def normalize(text: str) -> str:
    """NFKC + casefold, so full-width letters and case variants match the same rule."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class _Rule:
    id: str
    category: str
    pattern: re.Pattern[str]


class RuleReviewer:
    """Blocks a text when any rule matches it; reports every rule that matched."""

    name = "rules"
    inline = True  # a few precompiled patterns over one text: no thread hop needed

    def __init__(self, rules: Iterable[ReviewRuleSpec]) -> None:
        self._rules = tuple(
            _Rule(r.id, r.category,
                  re.compile(r.pattern if r.regex else re.escape(normalize(r.pattern)),
                             re.IGNORECASE))
            for r in rules)

    @property
    def longest_keyword(self) -> int:
        """An upper bound on the span a keyword rule matches (regex rules: unknown, so a
        fixed allowance); streaming overlaps windows by this much so a word cut in two
        by a window boundary is still seen whole."""
        spans = [len(r.pattern.pattern) for r in self._rules]
        return max(spans, default=0)

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult:
        folded = normalize(text)
        hits = [r for r in self._rules if r.pattern.search(folded)]
        if not hits:
            return ALLOWED
        return ReviewResult(False, tuple(r.id for r in hits), hits[0].category)
