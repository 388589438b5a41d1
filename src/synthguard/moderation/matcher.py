"""Multi-pattern keyword matching over one view, and bounded regular expressions.

Keywords: one Aho-Corasick automaton per view (ahocorasick-rs: in the project benchmark
it scans several times faster than pyahocorasick and flashtext2 on the same library, and
it releases the GIL), behind the bigram prefilter of prefilter.py for long texts (the
same matches, several times faster with a large library). Overlapping matching finds
every occurrence, which the allow-list and context rules need: an allow phrase
(虹桥火车站) has to be seen around a keyword (火车站) that a leftmost-longest scan would
report instead.

Regexes run on RE2 (google-re2): matching time is linear in the text for every pattern,
so a pattern such as (a+)+$ cannot hang a review, and the backtracking-only features
(backreferences, lookaround) are rejected when an entry is validated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import re2  # type: ignore[import-untyped]

from synthguard.moderation.normalize import View, fold_patterns, is_latin_word
from synthguard.moderation.prefilter import KeywordScanner

Role = Literal["hit", "allow", "near", "absent"]
MAX_REGEX_LENGTH = 1000
# RE2's memory budget per compiled pattern: a huge counted repetition ({1000}{1000}) is
# refused at compile time instead of allocating a giant automaton.
REGEX_MAX_MEM = 8 << 20


@dataclass(frozen=True)
class PatternSpec:
    """A keyword or phrase of one entry, with the entry's allow-list and context rule."""

    entry: int  # index of the entry in the engine's tuple
    pattern: str
    allow: tuple[str, ...] = ()
    near: tuple[str, ...] = ()  # at least one must occur within `window` characters
    absent: tuple[str, ...] = ()  # none may occur within `window` characters
    window: int = 20


class Term(NamedTuple):  # tuples: a 100,000-entry library makes this many at build
    entry: int
    role: Role
    whole_word: bool


class Hit(NamedTuple):
    """A keyword of entry `entry` found at view.text[start:end]."""

    entry: int
    start: int
    end: int


class KeywordMatcher:
    """Every keyword, allow phrase and context word of a library, folded for one view."""

    def __init__(self, specs: Sequence[PatternSpec], view: str) -> None:
        self.view = view
        texts = [spec.pattern for spec in specs]
        owners: list[tuple[int, Role]] = [(spec.entry, "hit") for spec in specs]
        self._window: dict[int, int] = {}
        self._has_near: set[int] = set()
        for spec in specs:
            if not (spec.allow or spec.near or spec.absent):
                continue
            for role, words in (("allow", spec.allow), ("near", spec.near),
                                ("absent", spec.absent)):
                texts += words
                owners += [(spec.entry, role)] * len(words)  # type: ignore[list-item]
            if spec.near or spec.absent:
                self._window[spec.entry] = spec.window
            if spec.near:
                self._has_near.add(spec.entry)
        terms: dict[str, list[Term]] = {}
        for text, (entry, role) in zip(fold_patterns(texts, view), owners, strict=True):
            if not text:  # a pattern of separators only folds to nothing in the loose view
                continue
            # The pinyin view checks syllable edges instead of word edges.
            term = Term(entry, role, view != "pinyin" and text.isascii()
                        and is_latin_word(text))
            same = terms.get(text)
            if same is None:
                terms[text] = [term]
            else:
                same.append(term)
        self._patterns = list(terms)
        self._terms = [tuple(t) for t in terms.values()]
        self._scanner = KeywordScanner(self._patterns) if self._patterns else None
        self.longest = self._scanner.longest if self._scanner else 0

    def __len__(self) -> int:
        return len(self._patterns)

    def find(self, view: View) -> list[Hit]:
        """Keyword hits in the view after whole-word, edge, allow-list and context rules."""
        if self._scanner is None or not view.text:
            return []
        hits: list[Hit] = []
        others: dict[tuple[int, Role], list[tuple[int, int]]] = defaultdict(list)
        for index, start, end in self._scanner.scan(view.text):
            for term in self._terms[index]:
                if term.whole_word and not _word_edges(view, start, end):
                    continue
                if view.edges is not None and not (view.edges[start] and view.edges[end]):
                    continue
                if term.role == "hit":
                    hits.append(Hit(term.entry, start, end))
                else:
                    others[term.entry, term.role].append((start, end))
        if not others and not self._has_near:
            return hits
        return [h for h in hits if self._keeps(h, others)]

    def _keeps(self, hit: Hit, others: dict[tuple[int, Role], list[tuple[int, int]]]) -> bool:
        if any(s <= hit.start and hit.end <= e for s, e in others.get((hit.entry, "allow"), ())):
            return False
        window = self._window.get(hit.entry)
        if window is None:
            return True
        lo, hi = hit.start - window, hit.end + window

        def around(role: Role) -> bool:
            return any(s >= lo and e <= hi and (e <= hit.start or s >= hit.end)
                       for s, e in others.get((hit.entry, role), ()))

        if hit.entry in self._has_near and not around("near"):
            return False
        return not around("absent")


def _word_edges(view: View, start: int, end: int) -> bool:
    """Latin keywords match whole words only ("ass" must not match in "class"); a
    separator the loose view removed still ends a word ("f.u.c.k this")."""
    text = view.text
    if start > 0 and _latin_alnum(text[start - 1]) and not view.separated(start - 1, start):
        return False
    return not (end < len(text) and _latin_alnum(text[end]) and not view.separated(end - 1, end))


def _latin_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    return options


def regex_problem(pattern: str) -> str | None:
    """Why a regex cannot be an entry, or None. Patterns run on the normalized view."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"regex longer than {MAX_REGEX_LENGTH} characters"
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return f"regex not accepted by RE2 (linear-time engine): {detail}"
    if compiled.search("") is not None:
        return "regex matches the empty string, so it would match every text"
    return None


class RegexMatcher:
    """Regex entries, each compiled by RE2; scans the normalized view."""

    def __init__(self, specs: Sequence[tuple[int, str]]) -> None:
        self._compiled = tuple((entry, re2.compile(pattern, _options()))
                               for entry, pattern in specs)

    def __len__(self) -> int:
        return len(self._compiled)

    def find(self, view: View) -> list[Hit]:
        hits = []
        for entry, compiled in self._compiled:
            for m in compiled.finditer(view.text):
                start, end = m.span()
                if end > start:
                    hits.append(Hit(entry, start, end))
        return hits
