"""The review hook (deep-synthesis rules Art. 10): inputs and outputs pass a `Reviewer`.

The gateway only knows the protocol; `RuleReviewer` is the small built-in keyword/regex
reviewer the configuration fills, and `ChainReviewer` puts it in front of the moderation
engine (synthguard.moderation.gateway). A reviewer that can also read images offers
`review_image(data, stage=..., context=...)` (the engine matches perceptual hashes);
`reads_images` tells whether a reviewer, or any member of a chain, does. A reviewer that
raises, or does not answer within the gateway's timeout, counts as "review could not
run": the gateway then refuses the input or withholds the output (fail closed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from synthguard.config import ReviewRuleSpec

Stage = Literal["input", "output"]


@dataclass(frozen=True)
class ReviewContext:
    """What a reviewer may know about the request besides the text: ids only."""

    record_id: str
    endpoint: str
    user_id: str | None
    window: int | None = None  # index of the streamed output window under review
    # Characters at the start of the text that an earlier window's review already saw
    # (the carry, see `carry_chars`): a match that ends inside them is not news.
    seen: int = 0


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
    hop (and without the deadline, which could not interrupt it anyway). A reviewer whose
    common case is pure CPU but whose other cases do I/O (a database write when it
    blocks, a call to a model) may offer `review_fast(text, stage=, context=)`: the
    answer when it needs no I/O, else None; the gateway tries it on the event loop for
    short texts and calls `review` in a thread only on None. A reviewer that normalizes
    text before matching should also offer `carry(reviewed) -> int`, how much of a
    streamed window's text the next window must be reviewed with (`carry_chars`)."""

    name: str

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult: ...


class ImageReviewer(Protocol):
    """A reviewer that also matches images (encoded bytes, hostile input); same rules of
    thread safety and failure as `Reviewer`."""

    def review_image(self, data: bytes, *, stage: Stage,
                     context: ReviewContext) -> ReviewResult: ...


class ReviewFailed(Exception):
    """The reviewer could not give a decision (raised, timed out)."""


# Reviewers that say nothing about their patterns get this much already-released text
# again with the next streamed window.
MIN_OVERLAP_CHARS = 32
# However far a reviewer asks to look back, a streamed window is reviewed with at most
# this much released text before it, so a stream of invisible or repeated characters
# cannot make every review re-read the whole answer.
MAX_CARRY_CHARS = 8192


def carry_chars(reviewer: object, reviewed: str) -> int:
    """How many trailing characters of `reviewed` (the text of one streamed window's
    review) the next window must be reviewed together with, so that a match cut in two
    by the window boundary is still seen whole. A reviewer that knows how far its
    matches reach in the original text provides `carry(reviewed)`; otherwise its
    `longest_keyword` (or MIN_OVERLAP_CHARS) is the allowance."""
    carry = getattr(reviewer, "carry", None)
    if callable(carry):
        wanted = int(carry(reviewed[-MAX_CARRY_CHARS:]))
    else:
        wanted = max(MIN_OVERLAP_CHARS, int(getattr(reviewer, "longest_keyword", 0)))
    return max(0, min(wanted, MAX_CARRY_CHARS, len(reviewed)))


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


class ChainReviewer:
    """Reviewers asked in order; the first that blocks decides (the ones after it are not
    asked). When all allow, the result carries every rule id they flagged: a reviewer
    may allow a text and still report what it sent to human review."""

    def __init__(self, reviewers: Sequence[Reviewer]) -> None:
        if not reviewers:
            raise ValueError("a ChainReviewer needs at least one reviewer")
        self.reviewers = tuple(reviewers)
        self.name = "+".join(r.name for r in self.reviewers)
        # Inline only when every member is: one slow member would stall the event loop.
        self.inline = all(getattr(r, "inline", False) for r in self.reviewers)

    @property
    def longest_keyword(self) -> int:
        return max(int(getattr(r, "longest_keyword", 0)) for r in self.reviewers)

    def carry(self, reviewed: str) -> int:
        return max(carry_chars(r, reviewed) for r in self.reviewers)

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult:
        return _first_block(r.review(text, stage=stage, context=context)
                            for r in self.reviewers)

    def review_fast(self, text: str, *, stage: Stage,
                    context: ReviewContext) -> ReviewResult | None:
        """The chain's answer when every member can give its own without I/O (inline
        members, or `review_fast` answers); None as soon as one cannot."""
        results = []
        for reviewer in self.reviewers:
            result = review_fast(reviewer, text, stage=stage, context=context)
            if result is None:
                return None
            results.append(result)
            if not result.allowed:
                break
        return _first_block(results)

    @property
    def reads_images(self) -> bool:
        return any(reads_images(r) for r in self.reviewers)

    def review_image(self, data: bytes, *, stage: Stage,
                     context: ReviewContext) -> ReviewResult:
        """The members that read images, in order, the first block deciding."""
        return _first_block(cast(ImageReviewer, r).review_image(data, stage=stage,
                                                                context=context)
                            for r in self.reviewers if reads_images(r))


def review_fast(reviewer: Reviewer, text: str, *, stage: Stage,
                context: ReviewContext) -> ReviewResult | None:
    """`reviewer`'s answer without I/O, or None when only `review` in a thread can give
    it (see `Reviewer`)."""
    fast = getattr(reviewer, "review_fast", None)
    if fast is not None:
        result: ReviewResult | None = fast(text, stage=stage, context=context)
        return result
    if getattr(reviewer, "inline", False):
        return reviewer.review(text, stage=stage, context=context)
    return None


def reads_images(reviewer: Reviewer) -> bool:
    """Whether `reviewer` can review image outputs (has a working `review_image`)."""
    return bool(getattr(reviewer, "reads_images", hasattr(reviewer, "review_image")))


def _first_block(results: Iterable[ReviewResult]) -> ReviewResult:
    """The first blocking result, else an allow carrying every rule id flagged (a
    reviewer may allow and still report what it sent to human review)."""
    flagged: list[str] = []
    category = None
    for result in results:
        if not isinstance(result, ReviewResult):
            raise TypeError(f"a reviewer returned {type(result).__name__}")
        if not result.allowed:
            return result
        flagged += [i for i in result.rule_ids if i not in flagged]
        category = category or result.category
    return ReviewResult(True, tuple(flagged), category) if flagged else ALLOWED
