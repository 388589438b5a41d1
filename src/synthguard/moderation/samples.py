"""Near-duplicate search against known-bad text samples (伪原创 rewrites).

A spun copy replaces words with synonyms and shuffles clauses, so no keyword survives,
but most character bigrams of the loose view still do, and a set of bigrams does not
care about clause order. Each sample is a MinHash signature in a banded LSH index
(64 bands of 2 rows, each band reduced to one 64-bit key). The text under review is cut
into windows of 4 blocks at the block size that fits each sample length (a window is
1-2x the sample), every window gets a signature, and
the LSH candidates are confirmed with the exact overlap coefficient
|window ∩ sample| / min(|window|, |sample|) of their bigram sets.

Signatures are computed with numpy for all windows at once (hash every bigram of the
text once under all permutations, then take block minima and combine blocks), not by
hashing each window's bigrams again; the band keys of every window are checked against
the index in one vectorised step, so a text with no candidate costs no Python loop over
bands. (This replaced datasketch's MinHashLSH, whose per-band lookups cost more than the
rest of a gateway request's review.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synthguard.moderation.normalize import View, loose_view

NUM_PERM = 128
BLOCK_SIZES = (8, 16, 32, 64, 128)  # a window is 4 blocks: 32 .. 512 bigrams
BLOCKS_PER_WINDOW = 4
MIN_SAMPLE_CHARS = 20
MAX_SAMPLE_CHARS = 4 * BLOCK_SIZES[-1]
# Calibrated in tests/moderation/test_samples.py on the project's own texts: copies
# with half their words replaced by synonyms and clauses reordered score 0.4-0.55,
# unrelated texts on the same topics (a real job ad against a 刷单 scam) 0.05 or less.
MATCH_THRESHOLD = 0.3
# The LSH index is only a candidate filter. A window 1-2x the sample holding a spun copy
# has a Jaccard similarity of about 0.2-0.35 with it; 64 bands of 2 rows find a pair at
# J=0.24 with probability 0.98 and one at J=0.03 (unrelated text) with 0.06.
LSH_BANDS = (64, 2)
_CHUNK = 4096  # bigrams hashed at once: 4096 x 128 x 8 bytes = 4 MiB
_U64 = npt.NDArray[np.uint64]
_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)


def _fmix64(k: _U64) -> _U64:
    """MurmurHash3's 64-bit finalizer: spreads structured codes (bigrams) over 64 bits."""
    k = k ^ (k >> np.uint64(33))
    k = k * np.uint64(0xFF51AFD7ED558CCD)
    k = k ^ (k >> np.uint64(33))
    k = k * np.uint64(0xC4CEB9FE1A85EC53)
    return k ^ (k >> np.uint64(33))


_rng = np.random.default_rng(0x5A6D)
# h_k(x) = a_k * fmix64(x) + b_k mod 2^64 with odd a_k (the "affine64" scheme).
_A = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)


def bigrams(view: View) -> _U64:
    """The view's character bigrams, one uint64 code each, in text order."""
    codes = np.frombuffer(view.text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    codes = codes.astype(np.uint64)
    if len(codes) < 2:
        return np.zeros(0, dtype=np.uint64)
    grams: _U64 = (codes[:-1] << np.uint64(21)) | codes[1:]
    return grams


def _block_minima(grams: _U64, block: int) -> _U64:
    """Signature of each block of `block` consecutive bigrams: (n_blocks, NUM_PERM)."""
    n_blocks = -(-len(grams) // block)
    out = np.empty((n_blocks, NUM_PERM), dtype=np.uint64)
    step = _CHUNK - _CHUNK % block
    mixed = _fmix64(grams)
    for lo in range(0, len(grams), step):
        part = mixed[lo:lo + step]
        pad = -len(part) % block
        hashed = part[:, None] * _A[None, :] + _B[None, :]
        if pad:
            hashed = np.vstack([hashed, np.full((pad, NUM_PERM), _MAX, dtype=np.uint64)])
        out[lo // block: lo // block + len(hashed) // block] = (
            hashed.reshape(-1, block, NUM_PERM).min(axis=1))
    return out


def signature(grams: _U64) -> _U64:
    """MinHash signature of a whole set of bigrams."""
    sig = np.full(NUM_PERM, _MAX, dtype=np.uint64)
    mixed = _fmix64(grams)
    for lo in range(0, len(grams), _CHUNK):
        hashed = mixed[lo:lo + _CHUNK, None] * _A[None, :] + _B[None, :]
        sig = np.minimum(sig, hashed.min(axis=0))
    return sig


_BANDS, _ROWS = LSH_BANDS
_BAND_SALT = np.arange(1, _BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def band_keys(sigs: _U64) -> _U64:
    """One 64-bit key per LSH band: (..., NUM_PERM) signatures -> (..., bands) keys.
    Equal bands give equal keys; different ones collide with probability about 2^-64,
    and a collision only adds a candidate that the exact overlap check then drops."""
    rows = sigs.reshape(*sigs.shape[:-1], _BANDS, _ROWS)
    key = _fmix64(rows[..., 0] ^ _BAND_SALT)
    for r in range(1, _ROWS):
        key = _fmix64(key ^ rows[..., r])
    return key


@dataclass(frozen=True)
class SampleHit:
    """Entry `entry` resembles loose-view characters [start, end) with this score."""

    entry: int
    score: float
    start: int
    end: int


class SampleIndex:
    """Known-bad samples of a release, ready to search."""

    def __init__(self, samples: Sequence[tuple[int, str]], *,
                 threshold: float = MATCH_THRESHOLD) -> None:
        self.threshold = threshold
        self._sets: dict[int, frozenset[int]] = {}
        self._blocks: set[int] = set()
        self._bands: dict[int, list[int]] = {}  # band key -> entries
        for entry, text in samples:
            grams = bigrams(loose_view(text))
            self._sets[entry] = frozenset(grams.tolist())
            self._blocks.add(block_size(len(grams)))
            for key in set(band_keys(signature(grams)).tolist()):
                self._bands.setdefault(key, []).append(entry)
        self._keys = np.array(sorted(self._bands), dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._sets)

    def find(self, view: View) -> list[SampleHit]:
        """The best window for each sample that scores at or above the threshold."""
        if not self._sets:
            return []
        grams = bigrams(view)
        windows = self._windows(grams)
        if not windows:
            return []
        keys = band_keys(np.stack([sig for _, _, sig in windows]))
        # Membership by binary search in the sorted key array: np.isin sorts and
        # deduplicates both sides first, several times slower for these few keys.
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hit = self._keys[at] == keys
        best: dict[int, SampleHit] = {}
        for w in np.flatnonzero(hit.any(axis=1)).tolist():
            lo, hi, _ = windows[w]
            candidates = {entry for key in keys[w][hit[w]].tolist()
                          for entry in self._bands[key]}
            window = set(grams[lo:hi].tolist())
            for entry in candidates:
                sample = self._sets[entry]
                score = len(window & sample) / max(1, min(len(window), len(sample)))
                if score >= self.threshold and (entry not in best
                                                or score > best[entry].score):
                    best[entry] = SampleHit(entry, score, lo, min(hi + 1, len(view.text)))
        return sorted(best.values(), key=lambda h: (h.start, h.entry))

    def _windows(self, grams: _U64) -> list[tuple[int, int, _U64]]:
        """(first bigram, end bigram, signature) of every window to query."""
        out: list[tuple[int, int, _U64]] = []
        if not len(grams):
            return out
        if len(grams) <= MAX_SAMPLE_CHARS:  # the whole text is itself a candidate
            out.append((0, len(grams), signature(grams)))
        for block in sorted(self._blocks):
            if len(grams) <= block:
                continue
            minima = _block_minima(grams, block)
            span = min(BLOCKS_PER_WINDOW, len(minima))
            for j in range(len(minima) - span + 1):
                sig = minima[j:j + span].min(axis=0)
                out.append((j * block, min((j + span) * block, len(grams)), sig))
        return out


def block_size(n_grams: int) -> int:
    """The smallest block whose window (4 blocks) holds a sample of n bigrams."""
    return next((b for b in BLOCK_SIZES if BLOCKS_PER_WINDOW * b >= n_grams), BLOCK_SIZES[-1])
