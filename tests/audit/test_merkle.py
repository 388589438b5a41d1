"""RFC 6962 / RFC 9162 trees and proofs: the Certificate Transparency test vectors, and
pymerkle (an independent implementation) as an oracle over many random sizes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle.proof import InvalidProof

from synthguard.audit import merkle
from synthguard.audit.merkle import MemoryTree

# The reference leaves and roots from certificate-transparency's merkle_tree_test.
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (0, 1): [],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


def _ct_tree() -> MemoryTree:
    tree = MemoryTree()
    for leaf in CT_LEAVES:
        tree.append(merkle.leaf_hash(leaf))
    return tree


def test_hashing_uses_the_rfc_6962_prefixes() -> None:
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert merkle.node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(
        b"\x01" + b"l" * 32 + b"r" * 32).digest()
    assert MemoryTree().root() == merkle.EMPTY_ROOT


def test_roots_match_the_ct_vectors() -> None:
    tree = _ct_tree()
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_inclusion_proofs_match_the_ct_vectors(index: int, size: int) -> None:
    tree = _ct_tree()
    proof = merkle.inclusion_proof(tree, index, size)
    assert [h.hex() for h in proof] == CT_INCLUSION[(index, size)]
    assert merkle.verify_inclusion(index, size, tree.node((0, index)), proof, tree.root(size))


@pytest.mark.parametrize(("first", "second"), sorted(CT_CONSISTENCY))
def test_consistency_proofs_match_the_ct_vectors(first: int, second: int) -> None:
    tree = _ct_tree()
    proof = merkle.consistency_proof(tree, first, second)
    assert [h.hex() for h in proof] == CT_CONSISTENCY[(first, second)]
    assert merkle.verify_consistency(first, second, tree.root(first), tree.root(second), proof)


def _pair(size: int, seed: int) -> tuple[MemoryTree, InmemoryTree, list[bytes]]:
    entries = [hashlib.sha256(f"{seed}:{i}".encode()).digest()[: 1 + i % 40]
               for i in range(size)]
    ours, oracle = MemoryTree(), InmemoryTree()
    for entry in entries:
        ours.append(merkle.leaf_hash(entry))
        oracle.append_entry(entry)
    return ours, oracle, entries


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 600), seed=st.integers(0, 2**32), data=st.data())
def test_roots_and_proofs_agree_with_pymerkle(size: int, seed: int, data: st.DataObject) -> None:
    ours, oracle, entries = _pair(size, seed)
    later = data.draw(st.integers(1, size), label="later")
    index = data.draw(st.integers(0, later - 1), label="index")
    earlier = data.draw(st.integers(1, later), label="earlier")
    # pymerkle counts leaves from 1; its path starts with the leaf itself.
    assert ours.root(later) == oracle.get_root(later)
    assert ours.root(earlier) == oracle.get_root(earlier)
    proof = merkle.inclusion_proof(ours, index, later)
    assert proof == oracle.prove_inclusion(index + 1, later).path[1:]
    assert merkle.verify_inclusion(index, later, merkle.leaf_hash(entries[index]), proof,
                                   oracle.get_root(later))
    consistency = merkle.consistency_proof(ours, earlier, later)
    assert merkle.verify_consistency(earlier, later, oracle.get_root(earlier),
                                     oracle.get_root(later), consistency)
    # The oracle's own proof for the same pair verifies too: both describe one tree.
    oracle.prove_consistency(earlier, later).verify(oracle.get_root(earlier),
                                                    oracle.get_root(later))


@settings(max_examples=100, deadline=None)
@given(size=st.integers(2, 300), seed=st.integers(0, 2**32), data=st.data())
def test_altered_proofs_and_wrong_claims_are_rejected(size: int, seed: int,
                                                      data: st.DataObject) -> None:
    ours, oracle, _ = _pair(size, seed)
    index = data.draw(st.integers(0, size - 1))
    leaf, root = ours.node((0, index)), ours.root()
    proof = merkle.inclusion_proof(ours, index, size)
    other = (index + data.draw(st.integers(1, size - 1))) % size
    assert not merkle.verify_inclusion(other, size, leaf, proof, root)
    assert not merkle.verify_inclusion(index, size, ours.node((0, other)), proof, root)
    if proof:
        flipped = list(proof)
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped[at] = bytes([flipped[at][0] ^ 1]) + flipped[at][1:]
        assert not merkle.verify_inclusion(index, size, leaf, flipped, root)
        assert not merkle.verify_inclusion(index, size, leaf, proof[:-1], root)
    assert not merkle.verify_inclusion(index, size, leaf, [*proof, root], root)
    earlier = data.draw(st.integers(1, size - 1))
    consistency = merkle.consistency_proof(ours, earlier, size)
    assert not merkle.verify_consistency(earlier, size, ours.root(earlier), root[::-1],
                                         consistency)
    assert not merkle.verify_consistency(earlier, size, root, root, consistency)
    assert not merkle.verify_consistency(earlier, size, ours.root(earlier), root, [])
    # A fork: the same earlier tree, a different later one.
    with pytest.raises(InvalidProof):
        oracle.prove_consistency(earlier, size).verify(oracle.get_root(earlier), root[::-1])


def test_bulk_build_equals_appending() -> None:
    for size in (0, 1, 2, 3, 7, 8, 9, 100, 255, 256, 257):
        appended, _, _ = _pair(size, 7)
        built = MemoryTree.from_leaf_hashes(bytes(appended.levels[0]))
        assert built.levels == appended.levels[:len(built.levels)]
        assert built.root() == appended.root()


def test_range_nodes_decompose_right_edges() -> None:
    assert merkle.range_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert merkle.range_nodes(0, 0) == []
    # O(log n) stored nodes for a root of a million-leaf tree.
    assert len(merkle.range_nodes(0, 1_000_000)) == bin(1_000_000).count("1")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 3), (0, 1 << 63)])
def test_bad_inclusion_requests_are_errors(index: int, size: int) -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(index, size)
    assert not merkle.verify_inclusion(index, size, b"\x00" * 32, [], b"\x00" * 32)


@pytest.mark.parametrize(("first", "second"), [(0, 3), (4, 3), (-1, 2)])
def test_bad_consistency_requests_are_errors(first: int, second: int) -> None:
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(first, second)


def test_verifiers_reject_malformed_input_without_raising() -> None:
    tree = _ct_tree()
    root = tree.root()
    assert not merkle.verify_inclusion(0, 8, b"short", [], root)
    assert not merkle.verify_inclusion(0, 8, tree.node((0, 0)), [b"x" * 31] * 3, root)
    assert not merkle.verify_inclusion(0, 8, tree.node((0, 0)), [root] * 200, root)
    assert not merkle.verify_consistency(1, 8, root, root, [b"x"])
    assert not merkle.verify_consistency(3, 8, root, root, [root] * 200)
    # The empty tree is consistent with everything; equal sizes need equal roots.
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root, [])
    assert merkle.verify_consistency(8, 8, root, root, [])
    assert not merkle.verify_consistency(8, 8, root, tree.root(7), [])


def test_a_missing_stored_node_is_an_error() -> None:
    tree = _ct_tree()
    tree.levels[1] = tree.levels[1][:32]  # drop node (1, 1) and beyond
    with pytest.raises(KeyError):
        merkle.inclusion_proof(tree, 0, 8)
