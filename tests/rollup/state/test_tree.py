import random

import pytest

from circuits.poseidon import poseidon_python
from rollup.state.tree import SparseMerkleTree, default_nodes, root_from_proof, verify_proof


def naive_root(leaves: dict[int, int], depth: int) -> int:
    level = [leaves.get(i, 0) for i in range(1 << depth)]
    for _ in range(depth):
        level = [poseidon_python([level[2 * i], level[2 * i + 1]]) for i in range(len(level) // 2)]
    return level[0]


def test_empty_tree_defaults():
    t = SparseMerkleTree(4)
    d = default_nodes(4)
    assert d[0] == 0 and d[1] == poseidon_python([0, 0])
    assert t.root == d[4] == naive_root({}, 4)
    assert t.nodes == {}


def test_updates_match_full_recomputation():
    rng = random.Random(1)
    t = SparseMerkleTree(4)
    leaves: dict[int, int] = {}
    for step in range(6):
        batch = {rng.randrange(16): rng.randrange(1, 1 << 200) for _ in range(rng.randrange(1, 6))}
        if step == 4:
            batch[next(iter(leaves))] = 0  # clearing a leaf restores the empty subtree
        leaves.update(batch)
        t.update(batch)
        assert t.root == naive_root(leaves, 4)
    assert all(v != t.defaults[h] for (h, _), v in t.nodes.items())


def test_batched_equals_sequential():
    a, b = SparseMerkleTree(10), SparseMerkleTree(10)
    changes = {i * 37 % 1024: i + 1 for i in range(40)}
    a.update(changes)
    for k, v in changes.items():
        b.set(k, v)
    assert a.root == b.root and a.nodes == b.nodes


def test_proofs():
    t = SparseMerkleTree(6)
    t.update({3: 11, 40: 22, 63: 33})
    for i in (0, 3, 40, 63, 17):
        sib = t.proof(i)
        assert len(sib) == 6
        assert verify_proof(t.root, i, t.leaf(i), sib)
        assert not verify_proof(t.root, i, t.leaf(i) + 1, sib)
        assert root_from_proof(i ^ 1, t.leaf(i), sib) != t.root or t.leaf(i) == t.leaf(i ^ 1)


def test_bounds():
    t = SparseMerkleTree(3)
    with pytest.raises(IndexError):
        t.set(8, 1)
    with pytest.raises(IndexError):
        t.proof(-1)
    with pytest.raises(ValueError):
        SparseMerkleTree(0)


def test_deep_tree_is_sparse():
    t = SparseMerkleTree(32)
    t.update({0: 1, (1 << 32) - 1: 2})
    assert len(t.nodes) <= 2 * 33
    assert verify_proof(t.root, (1 << 32) - 1, 2, t.proof((1 << 32) - 1))


def test_same_tree_as_the_circuit_twin():
    """circuits.merkle is the native twin of the Merkle gadget: roots and paths must agree."""
    from circuits.merkle import SparseMerkleTree as CircuitTree
    from circuits.merkle import compute_root, zero_hashes

    ours, theirs = SparseMerkleTree(12), CircuitTree(12)
    assert default_nodes(12) == list(zero_hashes(12))[:13]
    changes = {i * 97 % 4096: i + 1 for i in range(25)}
    ours.update(changes)
    for k, v in changes.items():
        theirs.set(k, v)
    assert ours.root == theirs.root
    for i in (0, 97, 4095, 5):
        assert ours.proof(i) == theirs.proof(i)
        assert compute_root(ours.leaf(i), i, ours.proof(i)) == ours.root
