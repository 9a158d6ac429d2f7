import random

import pytest

from circuits.poseidon import poseidon_python
from rollup.state.tree import SparseMerkleTree, default_nodes, root_from_proof, verify_proof


def naive_root(leaves: dict[int, int], depth: int) -> int:
    """The dense definition: groups of four from the leaves up, a pair at an odd depth's top."""
    level = [leaves.get(i, 0) for i in range(1 << depth)]
    while len(level) > 1:
        fan = 4 if len(level) >= 4 else 2
        level = [poseidon_python(level[i:i + fan]) for i in range(0, len(level), fan)]
    return level[0]


def test_empty_tree_defaults():
    t = SparseMerkleTree(4)
    d = default_nodes(4)
    assert d[0] == 0 and d[1] == poseidon_python([0] * 4) and len(d) == 3
    assert t.root == d[-1] == naive_root({}, 4)
    assert default_nodes(5)[-1] == poseidon_python([d[2], d[2]]) == naive_root({}, 5)
    assert t.nodes == {}


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_updates_match_full_recomputation(depth):
    rng = random.Random(depth)
    t = SparseMerkleTree(depth)
    leaves: dict[int, int] = {}
    for step in range(6):
        batch = {rng.randrange(1 << depth): rng.randrange(1, 1 << 200)
                 for _ in range(rng.randrange(1, 6))}
        if step == 4:
            batch[next(iter(leaves))] = 0  # clearing a leaf restores the empty subtree
        leaves.update(batch)
        t.update(batch)
        assert t.root == naive_root(leaves, depth)
    assert all(v != t.defaults[h] for (h, _), v in t.nodes.items())


def test_batched_equals_sequential():
    a, b = SparseMerkleTree(11), SparseMerkleTree(11)
    changes = {i * 37 % 2048: i + 1 for i in range(40)}
    a.update(changes)
    for k, v in changes.items():
        b.set(k, v)
    assert a.root == b.root and a.nodes == b.nodes


@pytest.mark.parametrize("depth", [6, 7])
def test_proofs(depth):
    t = SparseMerkleTree(depth)
    top = (1 << depth) - 1
    t.update({3: 11, 40: 22, top: 33})
    for i in (0, 3, 40, top, 17):
        sib = t.proof(i)
        assert len(sib) == 3 * (depth // 2) + depth % 2
        assert verify_proof(t.root, i, t.leaf(i), sib)
        assert not verify_proof(t.root, i, t.leaf(i) + 1, sib)
        for other in (i ^ 1, i ^ 2, i ^ (1 << (depth - 1))):  # another child, another pair, top
            if t.leaf(other) != t.leaf(i):
                assert root_from_proof(other, t.leaf(i), sib) != t.root


def test_bounds():
    t = SparseMerkleTree(3)
    with pytest.raises(IndexError):
        t.set(8, 1)
    with pytest.raises(IndexError):
        t.proof(-1)
    with pytest.raises(ValueError):
        SparseMerkleTree(0)
    with pytest.raises(ValueError):
        root_from_proof(0, 1, [1, 2])  # no depth has 2 siblings


def test_deep_tree_is_sparse():
    t = SparseMerkleTree(32)
    t.update({0: 1, (1 << 32) - 1: 2})
    assert len(t.nodes) <= 2 * 17
    assert verify_proof(t.root, (1 << 32) - 1, 2, t.proof((1 << 32) - 1))


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 12, 24])
def test_same_tree_as_the_circuit_twin(depth):
    """circuits.merkle is the native twin of the Merkle gadget: roots and paths must agree."""
    from circuits.merkle import SparseMerkleTree as CircuitTree  # lazy: the twin, this test only
    from circuits.merkle import compute_root, zero_hashes  # lazy: the twin, this test only

    ours, theirs = SparseMerkleTree(depth), CircuitTree(depth)
    assert default_nodes(depth) == zero_hashes(depth)
    assert ours.root == theirs.root
    rng = random.Random(depth)
    top = (1 << depth) - 1
    changes = {rng.randrange(1 << depth): i + 1 for i in range(25)} | {0: 7, top: 9}
    ours.update(changes)
    for k, v in changes.items():
        theirs.set(k, v)
    assert ours.root == theirs.root
    for i in {0, top, rng.randrange(1 << depth), next(iter(changes))}:
        assert ours.proof(i) == theirs.proof(i)
        assert compute_root(ours.leaf(i), i, ours.proof(i), depth) == ours.root
