"""Overlapping keyword scans of long texts: a vectorised bigram prefilter in front of the
Aho-Corasick automaton, with the same matches, in the same order, as the plain scan.

Why: with a 100,000-keyword library the automaton no longer fits in the CPU caches and
ahocorasick-rs scans about 25-35 MB/s of Chinese text whatever its options (contiguous
NFA, DFA, bytes or str haystack: measured in docs/benchmarks.md), while the project's
target is 50 MB/s. Yet almost every position of a text starts no keyword. So, in a few
numpy passes over the text's code points, the prefilter finds the positions whose first
two code points begin some pattern (a hashed bitmap of the patterns' first bigrams, and
of the one-code-point patterns: false positives, never false negatives), keeps the runs
[p, p + longest) around them, joins the runs with a code point that no pattern contains
and runs the same automaton over that much shorter text. Offsets go back through the
array of original positions.

Why the matches are exactly the plain scan's: every match starts at a candidate and so
lies inside that candidate's run; no match crosses the separator; and at each position
of a run the automaton is in the state it has in the whole text (the longest suffix
read that begins a pattern starts at a candidate of the same run, or is the current
character), so it reports the same matches in the same order. tests/moderation/
test_prefilter.py checks this against the plain scan on random libraries and texts.

When it does not pay it is skipped: texts shorter than `MIN_CHARS` (the gateway's
streamed windows: numpy's fixed cost per call is more than scanning them) and texts whose
runs would cover more than `MAX_COVERAGE` of the text (then the plain scan is cheaper).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import ahocorasick_rs
import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.uint32]
Bitmap = npt.NDArray[np.uint8]
Index = npt.NDArray[np.intp]
ScanMatch = tuple[int, int, int]  # pattern index, start, end (code point offsets)

MIN_CHARS = 4096
MAX_COVERAGE = 0.5
# Bitmap bits per pattern, rounded up to a power of two: at most ~1/128 of the bits set,
# so under 1 % of the positions that start no pattern pass by a hash collision. The
# bitmap is clamped to 1 KiB .. 8 MiB (2**13 .. 2**26 bits).
_BITS_PER_KEY = 128
_MIN_BITS, _MAX_BITS = 13, 26
_M1, _M2 = np.uint32(0x9E3779B1), np.uint32(0x85EBCA6B)  # golden ratio, murmur3's c1
# Noncharacters, which no library has a reason to hold; the runs are joined by the first
# that no pattern holds (a library holding all of them is only ever scanned plainly).
_SEPARATORS = (0xFFFF, 0xFFFE, *range(0xFDD0, 0xFDF0))


def _codes(text: str) -> Codes:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class KeywordScanner:
    """An Aho-Corasick automaton (ahocorasick-rs, standard match kind) over `patterns`,
    scanned with overlapping matches; immutable, so shared by threads. The keyword
    arguments are for tests and tuning: `bits` forces the bitmap size (tiny: many
    collisions)."""

    def __init__(self, patterns: Sequence[str], *, min_chars: int = MIN_CHARS,
                 max_coverage: float = MAX_COVERAGE, bits: int | None = None) -> None:
        if not patterns or not all(patterns):
            raise ValueError("patterns must be non-empty strings")
        self.automaton = ahocorasick_rs.AhoCorasick(
            patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
        self.longest = max(len(p) for p in patterns)
        self.min_chars, self.max_coverage = min_chars, max_coverage
        joined = "".join(patterns)
        codes = _codes(joined)
        lengths = np.fromiter(map(len, patterns), dtype=np.int64, count=len(patterns))
        starts = np.cumsum(lengths) - lengths
        pairs = starts[lengths >= 2]
        singles = codes[starts[lengths == 1]]
        if bits is None:  # sized by patterns, not distinct keys: at worst a larger bitmap
            keys = len(patterns) * _BITS_PER_KEY
            bits = min(_MAX_BITS, max(_MIN_BITS, (keys - 1).bit_length()))
        self._bits = bits
        self._bigrams = self._bitmap(_hash(codes[pairs], codes[pairs + 1], bits))
        self._singles = (self._bitmap(_hash(singles, np.zeros_like(singles), bits))
                         if len(singles) else None)
        free = [c for c in _SEPARATORS if chr(c) not in joined]
        self._separator = free[0] if free else 0
        if not free:  # nothing can join the runs safely: always the plain scan
            self.min_chars = sys.maxsize

    def _bitmap(self, hashes: Codes) -> Bitmap:
        bits = np.zeros(1 << self._bits, dtype=bool)
        bits[hashes] = True
        packed = np.packbits(bits, bitorder="little")
        packed.flags.writeable = False
        return packed

    def scan(self, text: str) -> list[ScanMatch]:
        """Every occurrence of every pattern, as (pattern index, start, end) in the order
        the automaton reports them: exactly `scan_plain(text)`."""
        if len(text) < self.min_chars:
            return self.scan_plain(text)
        codes = _codes(text)
        runs = self.runs(codes)
        if runs is None:
            return self.scan_plain(text)
        return self._scan_runs(codes, *runs)

    def scan_plain(self, text: str) -> list[ScanMatch]:
        """The automaton over the whole text."""
        return self.automaton.find_matches_as_indexes(text, overlapping=True)

    def runs(self, codes: Codes) -> tuple[Index, Index] | None:
        """Starts and ends of the runs of `codes` that can hold a match, or None where the
        whole text should be scanned (too short, or the runs cover too much of it)."""
        n = len(codes)
        if n < self.min_chars:
            return None
        candidates = _lookup(self._bigrams, _hash(codes[:-1], codes[1:], self._bits))
        if self._singles is not None:
            singles = _lookup(self._singles, _hash(codes, np.zeros_like(codes), self._bits))
            candidates = np.append(candidates, np.uint8(0)) | singles
        starts = np.flatnonzero(candidates)
        if not len(starts):
            return starts, starts
        ends = np.minimum(starts + self.longest, n)
        first = np.ones(len(starts), dtype=bool)  # a run begins here: no overlap or touch
        first[1:] = starts[1:] > ends[:-1]
        run_starts, run_ends = starts[first], ends[np.append(first[1:], True)]
        if int((run_ends - run_starts).sum()) > self.max_coverage * n:
            return None
        return run_starts, run_ends

    def _scan_runs(self, codes: Codes, starts: Index, ends: Index) -> list[ScanMatch]:
        """The automaton over the runs, each followed by the separator, in one call."""
        if not len(starts):
            return []
        sizes = ends - starts + 1
        offsets = np.cumsum(sizes) - sizes
        origin = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))
        origin[offsets + sizes - 1] = len(codes)  # the separator's slot: one past the end
        joined = np.append(codes, np.uint32(self._separator))[origin]
        found = self.scan_plain(joined.tobytes().decode("utf-32-le", "surrogatepass"))
        if not found:
            return []
        matches = np.array(found, dtype=np.int64)
        pattern = matches[:, 0].tolist()
        start = origin[matches[:, 1]].tolist()
        end = (origin[matches[:, 2] - 1] + 1).tolist()
        return list(zip(pattern, start, end, strict=True))


def _hash(first: Codes, second: Codes, bits: int) -> Codes:
    """Multiplicative hash of code point pairs to `bits` bits (uint32 arithmetic wraps)."""
    return (((first * _M1) ^ second) * _M2) >> np.uint32(32 - bits)


def _lookup(bitmap: Bitmap, hashes: Codes) -> Bitmap:
    """1 where the hashed bit is set, else 0."""
    shifts = (hashes & np.uint32(7)).astype(np.uint8)
    found: Bitmap = (bitmap[hashes >> np.uint32(3)] >> shifts) & np.uint8(1)
    return found
