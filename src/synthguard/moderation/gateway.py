"""The moderation engine as the gateway's reviewer (Art. 10): inputs, whole answers and
streamed windows all pass `ModerationReviewer`.

The engine decides allow / review / block. "block" refuses the input or withholds the
output, with the matched entry ids as rule ids and the risk id as category. "review"
lets the text through and puts it in the human review queue, linked to the request's
record id, so a person sees what the automatic decision could not settle. Every decision
is also noted with the store, which counts blocks as violations of their user (the
gateway itself applies the account enforcement rule to blocked inputs, so the store is
built without `enforce` here: the same block must not count twice).

`default_reviewer` is what `create_app` runs when no reviewer is given: the configured
`RuleReviewer` first (cheap, the operator's own rules), then the engine over the library
from `Config.moderation_library`, or the starter library the project ships.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from synthguard.config import Config, ConfigError
from synthguard.gateway.review import (
    ALLOWED,
    ChainReviewer,
    ReviewContext,
    Reviewer,
    ReviewResult,
    RuleReviewer,
    Stage,
)
from synthguard.moderation.engine import Decision, Match, ModerationEngine, Review
from synthguard.moderation.library import make_release
from synthguard.moderation.library_files import load, starter
from synthguard.moderation.normalize import loose_view
from synthguard.moderation.store import ModerationStore
from synthguard.store import Database

# How far an RE2 pattern can match is not known from its text; the identity-number and
# phone patterns a library holds fit well inside this. A longer regex match cut by a
# streamed window boundary is only seen in the whole-answer review.
REGEX_REACH = 64


class ModerationReviewer:
    """The gateway `Reviewer` over a `ModerationEngine` (immutable, so thread-safe) and,
    optionally, the `ModerationStore` that keeps the review queue and the violations."""

    name = "moderation"
    # Not inline: a "review" or "block" decision writes to the database and a classifier
    # calls a model; neither belongs on the event loop, and both belong under the
    # gateway's review deadline. A short text that passes is pure CPU (about 0.2 ms):
    # `review_fast` answers those without the thread hop.
    inline = False

    def __init__(self, engine: ModerationEngine, store: ModerationStore | None = None) -> None:
        self.engine = engine
        self.store = store
        self._reach = _reach(engine)

    @property
    def longest_keyword(self) -> int:
        return self._reach

    def carry(self, reviewed: str) -> int:
        """The end of `reviewed` that holds its last `reach` match-view characters. The
        loose view skips what normalization removes (zero-width characters, marks,
        short separator runs, repeats), so counting there keeps a word stretched by
        such insertions inside the carry; the other views are no longer than it."""
        options = self.engine.options
        if not options.normalize:
            return min(len(reviewed), self._reach)
        view = loose_view(reviewed, max_gap=options.max_gap)
        if len(view.text) <= self._reach:
            return len(reviewed)
        return len(reviewed) - int(view.source[len(view.text) - self._reach])

    def review_fast(self, text: str, *, stage: Stage,
                    context: ReviewContext) -> ReviewResult | None:
        """ALLOWED when the engine passes the text and there is no model to ask (an
        allowed text writes nothing); None otherwise (then `review` runs in a thread and
        does the writes)."""
        if self.engine.classifier is not None:
            return None
        review = _news(self.engine.review(text, stage=stage, user_id=context.user_id),
                       context.seen)
        return ALLOWED if review.decision == "allow" else None

    def review(self, text: str, *, stage: Stage, context: ReviewContext) -> ReviewResult:
        review = _news(self.engine.review(text, stage=stage, user_id=context.user_id),
                       context.seen)
        if self.store is not None:
            self.store.note_automatic(review)
            if review.decision == "review":
                self.store.enqueue(review, text, record_id=context.record_id)
        if review.decision == "block":
            return _result(False, [m for m in review.matches if m.action == "block"])
        if review.decision == "review":
            return _result(True, [m for m in review.matches if m.action != "pass"])
        return ALLOWED


    @property
    def reads_images(self) -> bool:
        """Only a release with image-hash entries reads images."""
        return any(e.kind == "image_hash" for e in self.engine.release.entries)

    def review_image(self, data: bytes, *, stage: Stage,
                     context: ReviewContext) -> ReviewResult:
        """Match an image output against the image-hash entries. A block counts against
        the user like a text block; a "review" match queues the record for people with
        the image's digest (the queue keeps text, not images: the record id leads to
        the request, and the digest identifies the file)."""
        review = self.engine.review_image(data, stage=stage, user_id=context.user_id)
        if self.store is not None:
            self.store.note_automatic(review)
            if review.decision == "review":
                digest = hashlib.sha256(data).hexdigest()
                self.store.enqueue(review, f"[image output, sha256 {digest}]",
                                   record_id=context.record_id)
        if review.decision == "block":
            return _result(False, [m for m in review.matches if m.action == "block"])
        if review.decision == "review":
            return _result(True, [m for m in review.matches if m.action != "pass"])
        return ALLOWED


def _result(allowed: bool, matches: list[Match]) -> ReviewResult:
    ids = tuple(dict.fromkeys(m.entry_id for m in matches))
    return ReviewResult(allowed, ids, matches[0].risk_id if matches else None)


def _news(review: Review, seen: int) -> Review:
    """The review of a streamed window without what the previous window's review already
    decided: matches that end inside the first `seen` characters were found there (with
    more context around them), so they neither block again nor queue the text again.
    A decision stays only if a new match carries it."""
    if seen <= 0:
        return review
    fresh = tuple(m for m in review.matches if m.span[1] > seen)
    decision: Decision = "allow"
    if any(m.action == "block" for m in fresh):
        decision = "block"
    elif review.decision != "allow" and any(m.action in ("review", "score") for m in fresh):
        decision = "review"
    return dataclasses.replace(review, decision=decision, matches=fresh)


def _reach(engine: ModerationEngine) -> int:
    """Match-view characters a match can span together with what its rules look at:
    the longest pattern (with the gaps the engine allows), a regex allowance, known-bad
    samples whole, plus the widest context window, plus one character for the word-edge
    test on the left."""
    entries = engine.release.entries
    reach = max([engine.longest_pattern,
                 *(REGEX_REACH for e in entries if e.kind == "regex"),
                 *(len(e.pattern) for e in entries if e.kind == "sample")])
    window = max((e.context.window for e in entries if e.context is not None), default=0)
    return reach + window + 1


def load_engine(library: Path | None) -> ModerationEngine:
    """The engine over the active entries of a library file in force today (the starter
    library when `library` is None)."""
    try:
        entries = load(library) if library is not None else starter()
    except OSError as exc:
        raise ConfigError(f"moderation_library {library}: cannot read: "
                          f"{exc.strerror or exc}") from None
    version = f"file:{library.name}" if library is not None else "starter"
    return ModerationEngine(make_release(entries, version))


def default_reviewer(config: Config, database: Database) -> Reviewer:
    """The configured rules, then the moderation engine with its queue on `database`."""
    engine = load_engine(config.moderation_library)
    return ChainReviewer([RuleReviewer(config.review_rules),
                          ModerationReviewer(engine, ModerationStore(database))])
