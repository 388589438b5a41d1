"""The prefiltered keyword scan finds exactly what the plain Aho-Corasick scan finds, in
the same order, and actually skips most of a long text with a large library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.moderation.engine import EngineOptions, ModerationEngine
from synthguard.moderation.library import Entry, make_release
from synthguard.moderation.prefilter import MIN_CHARS, KeywordScanner

# Mixed scripts, a combining mark, an astral hanzi and an emoji (two UTF-16 units, one
# code point), U+FFFF (the first-choice separator: a pattern holding it moves the
# separator elsewhere) and U+FDD0 (the next one).
ALPHABET = "ab火车站虹桥АаΑ\u0301\U00020000\U0001f600\uffff\ufdd0 。"


def _forced(patterns: list[str], bits: int | None) -> KeywordScanner:
    """A scanner that prefilters every text, whatever its length or candidate density."""
    return KeywordScanner(patterns, min_chars=0, max_coverage=float("inf"), bits=bits)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(ALPHABET, min_size=1, max_size=5), min_size=1, max_size=15),
       st.text(ALPHABET, max_size=120), st.sampled_from([None, 1, 3, 13]))
def test_prefiltered_scan_equals_the_plain_scan(patterns: list[str], text: str,
                                                bits: int | None) -> None:
    # bits=1 or 3: nearly every position collides in the bitmap (false candidates).
    scanner = _forced(patterns, bits)
    assert scanner.scan(text) == scanner.scan_plain(text)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(ALPHABET, min_size=1, max_size=3), min_size=1, max_size=8),
       st.lists(st.text(ALPHABET, max_size=40), min_size=1, max_size=4),
       st.integers(0, 2000))
def test_overlapping_and_adjacent_occurrences_in_long_texts(patterns: list[str],
                                                            pieces: list[str],
                                                            filler: int) -> None:
    """Occurrences at the very start and end, next to each other and overlapping, with
    long stretches that hold none (the default bitmap and thresholds)."""
    text = "".join(patterns) + "。" * filler + "".join(pieces) + "".join(patterns)
    scanner = KeywordScanner(patterns, min_chars=0)
    assert scanner.scan(text) == scanner.scan_plain(text)


def test_empty_text_and_no_candidates() -> None:
    scanner = _forced(["火车站", "x"], None)
    assert scanner.scan("") == [] == scanner.scan_plain("")
    assert scanner.scan("虹桥" * 5000) == []
    assert scanner.scan("x") == [(1, 0, 1)]


def test_a_library_holding_every_separator_is_scanned_plainly() -> None:
    from synthguard.moderation.prefilter import _SEPARATORS

    patterns = ["ab", "".join(map(chr, _SEPARATORS))]
    scanner = KeywordScanner(patterns, max_coverage=float("inf"))
    text = "ab" + "x" * MIN_CHARS + patterns[1]
    assert scanner.runs(np.frombuffer(text.encode("utf-32-le"), dtype="<u4")) is None
    assert scanner.scan(text) == [(0, 0, 2), (1, MIN_CHARS + 2, len(text))]


def test_empty_patterns_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        KeywordScanner(["a", ""])
    with pytest.raises(ValueError, match="non-empty"):
        KeywordScanner([])


def _library(rng: np.random.Generator, size: int) -> list[str]:
    pool = np.arange(0x4E00, 0x4E00 + 3000)
    return sorted({"".join(map(chr, rng.choice(pool, int(rng.integers(2, 5)))))
                   for _ in range(size)})


def test_a_large_library_skips_most_of_a_long_text() -> None:
    rng = np.random.default_rng(8)
    patterns = _library(rng, 20_000)
    text = "".join(map(chr, rng.integers(0x4E00, 0x4E00 + 3000, 50_000)))
    scanner = KeywordScanner(patterns)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    runs = scanner.runs(codes)
    assert runs is not None
    starts, ends = runs
    assert int((ends - starts).sum()) < len(text) // 10
    found = scanner.scan(text)
    assert found and found == scanner.scan_plain(text)


def test_short_and_dense_texts_take_the_plain_scan() -> None:
    scanner = KeywordScanner(["ab", "ba"])
    short = "ab" * ((MIN_CHARS - 1) // 2)
    dense = "ab" * MIN_CHARS
    assert scanner.runs(np.frombuffer(short.encode("utf-32-le"), dtype="<u4")) is None
    assert scanner.runs(np.frombuffer(dense.encode("utf-32-le"), dtype="<u4")) is None
    assert scanner.scan(dense) == scanner.scan_plain(dense)


def test_engine_review_of_a_long_text_reports_matches_at_their_places() -> None:
    """End to end through the engine on a text long enough to be prefiltered."""
    rng = np.random.default_rng(9)
    keywords = _library(rng, 2000)
    entries = [Entry(id=f"k{i}", risk_id="A.1.8", kind="keyword", pattern=k,
                     action="block", source="test", author="a", reviewer="b",
                     status="active") for i, k in enumerate(keywords)]
    release = make_release(entries, "t")
    # Hangul: no normalization step changes it, so every view stays as long as the text.
    filler = "".join(map(chr, rng.integers(0xAC00, 0xD7A4, MIN_CHARS * 2)))
    text = f"{filler}{keywords[5]}{filler}{keywords[7]}"
    for options in (EngineOptions(normalize=False), EngineOptions()):
        review = ModerationEngine(release, options=options).review(text, stage="input")
        spans = {(m.entry_id, m.span) for m in review.matches}
        second = len(filler) * 2 + len(keywords[5])
        assert spans == {("k5", (len(filler), len(filler) + len(keywords[5]))),
                         ("k7", (second, second + len(keywords[7])))}
        assert review.decision == "block"
