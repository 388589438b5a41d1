"""The moderation engine: one release of the feature library, built once, shared by threads.

`review(text, stage=...)` looks for every entry in the views of normalize.py, keeps the
strictest view per entry and place, routes each match to an action and decides:
- a match in the exact or normalized view carries its entry's action;
- a match that needed looser matching (loose view, pinyin, initials, a spun near-
  duplicate, a pHash that is not near-identical) is at most "review", never "block";
- the per-risk policy then passes, caps to review, or keeps each match;
- "score" matches add their weight to their risk; a risk at the threshold is "review".
The decision is block if any match blocks, else review if any match or risk score asks
for it, else allow. The engine holds no mutable state after construction.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from synthguard.moderation import phash
from synthguard.moderation.classifier import Classifier, ClassifierVerdict
from synthguard.moderation.library import Action, Release, Stage
from synthguard.moderation.matcher import Hit, KeywordMatcher, PatternSpec, RegexMatcher
from synthguard.moderation.normalize import (
    DEFAULT_MAX_GAP,
    View,
    evasions,
    exact_view,
    fold_pattern,
    fold_patterns,
    loose_view,
    normalized_view,
    pinyin_view,
)
from synthguard.moderation.samples import SampleIndex

Decision = Literal["allow", "review", "block"]
ViewName = Literal["exact", "normalized", "loose", "model"]
PolicyAction = Literal["block", "review", "pass"]
RoutedAction = Literal["block", "review", "score", "pass"]
_STRENGTH = {"exact": 0, "normalized": 1, "model": 2, "loose": 3}
# A.5 risks (accuracy, reliability) are not lexical: their matches go to people.
DEFAULT_POLICY: Mapping[str, PolicyAction] = {"A.5.1": "review", "A.5.2": "review"}


@dataclass(frozen=True)
class Match:
    entry_id: str
    risk_id: str
    kind: str  # the entry kind, or "classifier"
    view: ViewName
    span: tuple[int, int]  # in the original text; (0, 0) for images
    action: RoutedAction  # after view routing and policy
    evasions: tuple[str, ...] = ()
    score: float | None = None  # near-duplicate overlap or pHash distance

    def as_dict(self) -> dict[str, object]:
        return {"entry_id": self.entry_id, "risk_id": self.risk_id, "kind": self.kind,
                "view": self.view, "span": list(self.span), "action": self.action,
                "evasions": list(self.evasions), "score": self.score}


@dataclass(frozen=True)
class Review:
    decision: Decision
    matches: tuple[Match, ...]
    stage: Stage
    release: str  # release version
    release_sha256: str
    user_id: str | None = None
    risk_scores: tuple[tuple[str, float], ...] = ()
    classifier: ClassifierVerdict | None = None

    @property
    def risk_ids(self) -> tuple[str, ...]:
        """Risks with a match that counts (not passed by policy), in taxonomy order."""
        return tuple(sorted({m.risk_id for m in self.matches if m.action != "pass"},
                            key=lambda r: [int(x) for x in r[2:].split(".")]))

    def as_dict(self) -> dict[str, object]:
        return {"decision": self.decision, "stage": self.stage, "release": self.release,
                "release_sha256": self.release_sha256, "risk_ids": list(self.risk_ids),
                "matches": [m.as_dict() for m in self.matches],
                "risk_scores": dict(self.risk_scores)}


@dataclass(frozen=True)
class EngineOptions:
    normalize: bool = True  # False: the exact view only (patterns as written)
    max_gap: int = DEFAULT_MAX_GAP
    score_threshold: float = 1.0


class _Found(NamedTuple):  # a tuple: a long text makes thousands of them per review
    entry: int
    view: ViewName
    span: tuple[int, int]
    extra: tuple[str, ...] = ()  # evasions known from how it was found (pinyin ...)
    score: float | None = None


@dataclass
class _Matchers:
    keyword: dict[str, KeywordMatcher] = field(default_factory=dict)
    initials: KeywordMatcher | None = None
    regex: RegexMatcher | None = None
    samples: SampleIndex | None = None
    images: phash.ImageIndex | None = None


class ModerationEngine:
    """Immutable once built; safe to share between the threads of a gateway."""

    def __init__(self, release: Release, *, policy: Mapping[str, PolicyAction] | None = None,
                 classifier: Classifier | None = None,
                 options: EngineOptions | None = None) -> None:
        started = time.perf_counter()
        self.release = release
        self.options = options or EngineOptions()
        self.policy: Mapping[str, PolicyAction] = dict(DEFAULT_POLICY, **(policy or {}))
        self.classifier = classifier
        self._entries = release.entries
        self._weights = {e.id: e.score for e in release.entries}
        self._normalized = fold_patterns([e.pattern for e in release.entries], "normalized")
        self._m = self._build()
        self.build_seconds = time.perf_counter() - started

    def _build(self) -> _Matchers:
        m = _Matchers()
        entries = self._entries
        specs, pinyin_specs, initials = [], [], []
        for i, e in enumerate(entries):
            if e.kind not in ("keyword", "phrase"):
                continue
            ctx = e.context
            spec = PatternSpec(i, e.pattern, e.allow, ctx.near if ctx else (),
                               ctx.absent if ctx else (), ctx.window if ctx else 20)
            specs.append(spec)
            if e.pinyin and self.options.normalize:
                pinyin_specs += [PatternSpec(i, p, spec.allow, spec.near, spec.absent,
                                             spec.window) for p in _pinyin_forms(e.pattern)]
                initials += [PatternSpec(i, p) for p in _initials(e.pattern)]
        # One automaton for the loose view finds every normalized match too (each step
        # of the loose view only merges more); `_strict` then tells them apart.
        views = ("loose",) if self.options.normalize else ("exact",)
        for view in views:
            m.keyword[view] = KeywordMatcher(specs, view)
        if pinyin_specs:
            m.keyword["pinyin"] = KeywordMatcher(pinyin_specs, "pinyin")
            m.initials = KeywordMatcher(initials, "loose")
        regexes = [(i, e.pattern) for i, e in enumerate(entries) if e.kind == "regex"]
        m.regex = RegexMatcher(regexes) if regexes else None
        samples = [(i, e.pattern) for i, e in enumerate(entries) if e.kind == "sample"]
        m.samples = SampleIndex(samples) if samples and self.options.normalize else None
        images = [(i, phash.from_hex(e.pattern)) for i, e in enumerate(entries)
                  if e.kind == "image_hash"]
        m.images = phash.ImageIndex(images) if images else None
        return m

    @property
    def longest_pattern(self) -> int:
        """Characters a keyword can span in the original text (pattern + gaps); streaming
        review overlaps windows by this much so that no match is cut in two."""
        longest = max((k.longest for k in self._m.keyword.values()), default=0)
        return longest * (1 + self.options.max_gap) if self.options.normalize else longest

    def review(self, text: str, *, stage: Stage, user_id: str | None = None) -> Review:
        found = self._find(text)
        verdict = self.classifier.classify(text, stage=stage) if self.classifier else None
        return self._decide(found, stage, user_id, verdict, text)

    def review_image(self, data: bytes, *, stage: Stage = "output",
                     user_id: str | None = None) -> Review:
        """Match an image (encoded bytes, treated as hostile) against the image hashes."""
        found = []
        if self._m.images is not None:
            image = phash.load(data)
            for hit in self._m.images.find(image):
                near = hit.distance <= phash.NEAR_IDENTICAL
                found.append(_Found(hit.entry, "normalized" if near else "loose", (0, 0),
                                    score=float(hit.distance)))
        return self._decide(found, stage, user_id, None, "")

    def _find(self, text: str) -> list[_Found]:
        m = self._m
        found: list[_Found] = []
        if not self.options.normalize:
            view = exact_view(text)
            found += self._keyword(m.keyword["exact"].find(view), view, "exact", text)
            if m.regex:
                found += self._keyword(m.regex.find(view), view, "exact", text)
            return found
        if m.regex:
            normalized = normalized_view(text)
            found += self._keyword(m.regex.find(normalized), normalized, "normalized", text)
        loose = loose_view(text, max_gap=self.options.max_gap)
        found += [self._strict(hit, loose, text) for hit in m.keyword["loose"].find(loose)]
        if m.initials is not None:
            found += self._keyword(m.initials.find(loose), loose, "loose", text, "initials")
        if "pinyin" in m.keyword:
            pinyin = pinyin_view(text, max_gap=self.options.max_gap)
            found += self._keyword(m.keyword["pinyin"].find(pinyin), pinyin, "loose", text,
                                   "pinyin")
        if m.samples is not None:
            for hit in m.samples.find(loose):
                span = loose.original_span(hit.start, hit.end)
                near = hit.score >= 0.9
                found.append(_Found(hit.entry, "normalized" if near else "loose", span,
                                    () if near else ("spinning",), round(hit.score, 3)))
        return found

    def _strict(self, hit: Hit, loose: View, text: str) -> _Found:
        """The strictest view a loose-view keyword hit holds in: exact when the original
        is the pattern as written, normalized when the normalized original contains the
        normalized pattern (the span narrowed to it), else loose."""
        start, end = loose.original_span(hit.start, hit.end)
        entry = self._entries[hit.entry]
        found = text[start:end]
        if found == entry.pattern:
            return _Found(hit.entry, "exact", (start, end))
        wanted = self._normalized[hit.entry]
        folded = fold_pattern(found, "normalized")
        if folded == wanted:
            return _Found(hit.entry, "normalized", (start, end))
        if wanted in folded:  # a repeat or separator run merged into the loose match
            view = normalized_view(found)
            at = view.text.find(wanted)
            sub_start, sub_end = view.original_span(at, at + len(wanted))
            span = (start + sub_start, start + sub_end)
            exact = text[span[0]:span[1]] == entry.pattern
            return _Found(hit.entry, "exact" if exact else "normalized", span)
        return _Found(hit.entry, "loose", (start, end))

    def _keyword(self, hits: list[Hit], view: View, name: ViewName, text: str,
                 extra: str | None = None) -> list[_Found]:
        if view.name == name == "exact" and extra is None:  # spans are the text's own
            return [_Found(hit.entry, "exact", (hit.start, hit.end)) for hit in hits]
        out = []
        entries = self._entries
        tag = (extra,) if extra else ()
        for hit in hits:
            span = view.original_span(hit.start, hit.end)
            if name != "loose" and text[span[0]:span[1]] == entries[hit.entry].pattern:
                out.append(_Found(hit.entry, "exact", span))
            else:
                out.append(_Found(hit.entry, name, span, tag))
        return out

    def _decide(self, found: list[_Found], stage: Stage, user_id: str | None,
                verdict: ClassifierVerdict | None, text: str) -> Review:
        matches = [self._route(f, text) for f in _strongest(found)
                   if stage in self._entries[f.entry].stages]
        if verdict is not None:
            matches += self._classifier_matches(verdict, len(text))
        scores: dict[str, float] = defaultdict(float)
        for match in matches:
            if match.action == "score":
                scores[match.risk_id] += self._weights[match.entry_id]
        decision: Decision = "allow"
        if any(m.action == "block" for m in matches):
            decision = "block"
        elif (any(m.action == "review" for m in matches)
              or any(s >= self.options.score_threshold for s in scores.values())):
            decision = "review"
        return Review(decision, tuple(sorted(matches, key=lambda m: (m.span, m.entry_id))),
                      stage, self.release.version, self.release.sha256, user_id,
                      tuple(sorted(scores.items())), verdict)

    def _route(self, f: _Found, text: str) -> Match:
        """The match as reported: its action after routing, and (only now, for the few
        matches kept) the evasion classes that explain it."""
        entry = self._entries[f.entry]
        action: RoutedAction = _cap(entry.action, f.view)
        action = self._apply_policy(entry.risk_id, action)
        classes = f.extra
        if f.view in ("normalized", "loose") and entry.kind in ("keyword", "phrase", "regex"):
            classes = (*evasions(text[f.span[0]:f.span[1]], entry.pattern), *classes)
        return Match(entry.id, entry.risk_id, entry.kind, f.view, f.span, action, classes,
                     f.score)

    def _apply_policy(self, risk_id: str, action: RoutedAction) -> RoutedAction:
        policy = self.policy.get(risk_id, "block")
        if policy == "pass":
            return "pass"
        if policy == "review" and action == "block":
            return "review"
        return action

    def _classifier_matches(self, verdict: ClassifierVerdict, length: int) -> list[Match]:
        if verdict.level == "safe":
            return []
        wanted: RoutedAction = "block" if verdict.level == "unsafe" else "review"
        return [Match(f"classifier:{label}", risk_id, "classifier", "model", (0, length),
                      self._apply_policy(risk_id, wanted))
                for label, risk_id in verdict.risks]


def _cap(action: Action, view: ViewName) -> RoutedAction:
    if view == "loose" and action == "block":
        return "review"
    return action


def _strongest(found: list[_Found]) -> list[_Found]:
    """One match per entry and place: the strictest view wins, and a looser match that
    overlaps a stricter match of the same entry is the same finding seen again. Kept
    spans of an entry never overlap, so each check is a bisection in sorted starts."""
    ordered = sorted(found, key=lambda f: (_STRENGTH[f.view], f.span))
    kept: list[_Found] = []
    starts: dict[int, list[int]] = defaultdict(list)
    ends: dict[int, list[int]] = defaultdict(list)
    for f in ordered:
        s_list, e_list = starts[f.entry], ends[f.entry]
        start, end = f.span
        at = bisect.bisect_left(s_list, start)
        if at < len(s_list) and s_list[at] < max(end, start + 1):
            continue  # a kept span starts inside this one
        if at > 0 and e_list[at - 1] > start:
            continue  # the kept span before this one reaches into it
        s_list.insert(at, start)
        e_list.insert(at, end)
        kept.append(f)
    return kept


def _pinyin_forms(pattern: str) -> list[str]:
    """The keyword's pinyin as the text view writes it (first reading of each hanzi)
    and as pypinyin reads the phrase (重庆 → chongqing, not zhongqing)."""
    from pypinyin import lazy_pinyin

    phrase = fold_pattern("".join(lazy_pinyin(pattern)), "loose")
    forms = {fold_pattern(pattern, "pinyin"), phrase}
    return sorted(f for f in forms if f.isascii() and len(f) >= 2)


def _initials(pattern: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(pattern, style=Style.NORMAL)
    initials = fold_pattern("".join(s[0] for s in syllables if s), "loose")
    return [initials] if len(initials) >= 2 and initials.isascii() else []


def check_examples(engine: ModerationEngine) -> list[str]:
    """Run every entry's must-match and must-not-match examples through the engine (in
    a stage the entry applies to); one line per example that does not behave."""
    problems = []
    for entry in engine.release.entries:
        stage = entry.stages[0]
        for example in entry.must_match:
            if not _matches(engine, entry.id, entry.kind, example, stage):
                problems.append(f"{entry.id}: must match {example!r} but does not")
        for example in entry.must_not_match:
            if _matches(engine, entry.id, entry.kind, example, stage):
                problems.append(f"{entry.id}: must not match {example!r} but does")
    return problems


def _matches(engine: ModerationEngine, entry_id: str, kind: str, example: str,
             stage: Stage) -> bool:
    if kind == "image_hash":  # examples are hashes of images that must (not) match
        entry = next(e for e in engine.release.entries if e.id == entry_id)
        return (phash.distance(phash.from_hex(entry.pattern), phash.from_hex(example))
                <= phash.MATCH_THRESHOLD)
    return any(m.entry_id == entry_id for m in engine.review(example, stage=stage).matches)
