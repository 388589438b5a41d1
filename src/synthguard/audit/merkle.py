"""RFC 6962 / RFC 9162 Merkle trees over a store of complete-subtree hashes.

A tree of n leaves is stored as its complete subtrees: node (level, index) is the hash
of the 2**level leaves starting at index * 2**level. Those nodes never change once
written, every other subtree hash is a fold of O(log n) of them, and appending a leaf
writes one leaf node plus one node per level it completes. So roots and proofs are
computed here as pure functions over a `NodeSource` that hands back the few stored
hashes they need, in one batched lookup, without ever loading the whole log.

Proof generation follows RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF), verification
§2.1.3.2 and §2.1.4.2 to the letter: proofs are interchangeable with any RFC 6962 log's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
# Sizes are 64-bit in every RFC 6962 log; a longer proof than this cannot be valid.
MAX_SIZE = 1 << 63
MAX_PROOF_HASHES = 2 * 64

Node = tuple[int, int]  # (level, index): the complete subtree of leaves [index << level, ...)


class ProofError(ValueError):
    """A proof request or a proof is malformed (sizes out of range, wrong length)."""


class NodeSource(Protocol):
    """Where stored complete-subtree hashes come from (a database, memory, an archive)."""

    def nodes(self, wanted: Sequence[Node]) -> list[bytes]:
        """The hashes of `wanted`, in order; raises if one is not stored."""
        ...


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(width: int) -> int:
    """The largest power of two strictly below `width` (width >= 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[Node]:
    """The complete subtrees whose fold is MTH(D[begin:end]), largest first, for a range
    that occurs in an RFC 6962 tree (begin aligned to a power of two >= end - begin)."""
    nodes: list[Node] = []
    at, width = begin, end - begin
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, at >> level))
            at += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees, largest first: the right fold RFC 6962's
    split at the largest power of two produces."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _check_size(size: int) -> None:
    if not 0 <= size < MAX_SIZE:
        raise ProofError(f"tree size {size} is out of range")


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees [begin, end) whose hashes form PATH(index, D[size]), bottom first."""
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes form PROOF(first, D[second]) (RFC 9162 §2.1.4.1)."""
    _check_size(second)
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    ranges: list[tuple[int, int]] = []
    begin, end, m, whole = 0, second, first, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin, m, whole = begin + k, m - k, False
    if not whole:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def subtree_hashes(source: NodeSource, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, with one batched lookup of the stored nodes they need."""
    plans = [range_nodes(begin, end) for begin, end in ranges]
    wanted = sorted({node for plan in plans for node in plan})
    found = dict(zip(wanted, source.nodes(wanted), strict=True))
    return [fold([found[node] for node in plan]) for plan in plans]


def root(source: NodeSource, size: int) -> bytes:
    _check_size(size)
    return subtree_hashes(source, [(0, size)])[0] if size else EMPTY_ROOT


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    return subtree_hashes(source, inclusion_ranges(index, size))


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    return subtree_hashes(source, consistency_ranges(first, second))


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); raises `ProofError` when
    the proof cannot belong to (index, size) at all."""
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     expected_root: bytes) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == expected_root
    except ProofError:
        return False


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2. The empty tree is consistent with every tree; equal sizes need
    an empty proof and equal roots."""
    try:
        _check_size(second)
        _check_hashes([first_root, second_root, *proof])
    except ProofError:
        return False
    if not 0 <= first <= second or len(proof) > MAX_PROOF_HASHES:
        return False
    if first == 0:
        return not proof
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a stored subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def _check_hashes(hashes: Sequence[bytes]) -> None:
    if len(hashes) > MAX_PROOF_HASHES + 2:
        raise ProofError("proof has too many hashes")
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in hashes):
        raise ProofError(f"proof hashes must be {HASH_SIZE} bytes")


class MemoryTree:
    """A whole tree in memory, one bytearray per level: for the verifier (which rebuilds
    the tree from the exported entries), for tests and for the bench's bulk load."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]

    @classmethod
    def from_leaf_hashes(cls, hashes: bytes | bytearray) -> MemoryTree:
        """Build from concatenated 32-byte leaf hashes, level by level."""
        tree = cls()
        tree.levels[0] = bytearray(hashes)
        level = tree.levels[0]
        while len(level) >= 2 * HASH_SIZE:
            above = bytearray()
            for at in range(0, len(level) - HASH_SIZE, 2 * HASH_SIZE):
                above += node_hash(bytes(level[at:at + HASH_SIZE]),
                                   bytes(level[at + HASH_SIZE:at + 2 * HASH_SIZE]))
            tree.levels.append(above)
            level = above
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> None:
        self.levels[0] += leaf
        index, level, h = self.size - 1, 0, leaf
        while index & 1:
            sibling = self.node((level, index - 1))
            h = node_hash(sibling, h)
            level, index = level + 1, index >> 1
            if level == len(self.levels):
                self.levels.append(bytearray())
            self.levels[level] += h

    def node(self, node: Node) -> bytes:
        level, index = node
        if level >= len(self.levels) or not 0 <= index < len(self.levels[level]) // HASH_SIZE:
            raise KeyError(node)
        return bytes(self.levels[level][index * HASH_SIZE:(index + 1) * HASH_SIZE])

    def nodes(self, wanted: Sequence[Node]) -> list[bytes]:
        return [self.node(node) for node in wanted]

    def root(self, size: int | None = None) -> bytes:
        return root(self, self.size if size is None else size)

    def subtree(self, begin: int, end: int) -> bytes:
        return subtree_hashes(self, [(begin, end)])[0]
