"""Keyword matching against a brute-force reference, context and allow rules, and
regex safety (RE2: linear time, no backtracking features)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.moderation.matcher import KeywordMatcher, PatternSpec, RegexMatcher, regex_problem
from synthguard.moderation.normalize import exact_view, normalized_view

ALPHABET = "代开发票傻帽abＡ紅红"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=12),
       st.text(ALPHABET, max_size=60))
def test_every_occurrence_is_found_like_a_brute_force_scan(patterns: list[str],
                                                           text: str) -> None:
    # Non-Latin patterns only: Latin ones add the whole-word rule, tested separately.
    specs = [PatternSpec(i, p) for i, p in enumerate(patterns)
             if not (p.isascii() and p.isalnum())]
    matcher = KeywordMatcher(specs, "exact")
    found = {(h.entry, h.start, h.end) for h in matcher.find(exact_view(text))}
    expected = {(s.entry, i, i + len(s.pattern)) for s in specs
                for i in range(len(text) - len(s.pattern) + 1)
                if text.startswith(s.pattern, i)}
    assert found == expected


@settings(deadline=None)
@given(st.lists(st.text(ALPHABET, min_size=2, max_size=4), min_size=1, max_size=8),
       st.text(ALPHABET, max_size=40))
def test_normalized_matching_equals_brute_force_on_the_folded_text(patterns: list[str],
                                                                  text: str) -> None:
    from synthguard.moderation.normalize import fold_pattern

    specs = [PatternSpec(i, p) for i, p in enumerate(patterns)
             if not fold_pattern(p, "normalized").isascii()]
    matcher = KeywordMatcher(specs, "normalized")
    view = normalized_view(text)
    found = {(h.entry, h.start, h.end) for h in matcher.find(view)}
    expected = set()
    for s in specs:
        folded = fold_pattern(s.pattern, "normalized")
        expected |= {(s.entry, i, i + len(folded)) for i in range(len(view.text))
                     if view.text.startswith(folded, i)}
    assert found == expected


def test_allow_phrase_suppresses_only_the_occurrence_inside_it() -> None:
    matcher = KeywordMatcher([PatternSpec(0, "火车站", allow=("虹桥火车站",))], "normalized")
    hits = matcher.find(normalized_view("虹桥火车站旁边有人说要去火车站"))
    assert [(h.start, h.end) for h in hits] == [(12, 15)]


def test_context_rule_needs_near_word_and_no_absent_word_in_the_window() -> None:
    spec = PatternSpec(0, "炸药", near=("配方",), absent=("电影",), window=5)
    matcher = KeywordMatcher([spec], "normalized")

    def hits(text: str) -> int:
        return len(matcher.find(normalized_view(text)))

    assert hits("炸药配方") == 1
    assert hits("炸药") == 0
    assert hits("配方在很远很远很远的地方炸药") == 0  # near word outside the window
    assert hits("电影里的炸药配方") == 0


@pytest.mark.parametrize(("pattern", "reason"), [
    (r"(a)\1", "RE2"), (r"(?=a)b", "RE2"), (r"(?<!x)y", "RE2"), ("a*", "empty string"),
    ("(", "RE2"), ("x" * 1001, "longer than"), (r"(?:a{1000}){1000}", "RE2"),
])
def test_unsafe_or_useless_regexes_are_rejected(pattern: str, reason: str) -> None:
    problem = regex_problem(pattern)
    assert problem is not None and reason in problem


def test_nested_quantifiers_run_in_linear_time() -> None:
    # A backtracking engine needs ~2^n steps for (a+)+$ on "aaa...b"; RE2 does not
    # backtrack. The thread guards against a hang instead of timing the call.
    assert regex_problem(r"(a+)+$") is None
    matcher = RegexMatcher([(0, r"(a+)+$")])
    text = "a" * 50_000 + "b"
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(len(matcher.find(
        exact_view(text)))))
    worker.start()
    worker.join(timeout=60)
    assert result == [0]


def test_regex_offsets_are_characters_not_bytes() -> None:
    matcher = RegexMatcher([(0, r"1[3-9][0-9]{9}")])
    hits = matcher.find(normalized_view("电话：１３８１２３４５６７８"))
    assert [(h.start, h.end) for h in hits] == [(3, 14)]
