"""Review of the quaternary trees (rev22): the engine's tree, the clear reference and the
gadgets agree at every depth parity, for empty subtrees and edge indices; no other child
position or sibling order reaches an honest root; every index bit (odd depths' top included)
is range-checked; the batch circuit's fixed-leaf tree_root is the engine's registry/oracle root."""

from __future__ import annotations

import itertools
import random

import pytest

from circuits.batch.gadgets import tree_root
from circuits.dsl import ConstraintSystem
from circuits.gadgets.merkle import index_bits, merkle_inclusion, merkle_update
from circuits.merkle import SparseMerkleTree as RefTree
from circuits.merkle import compute_root, insert_child, sibling_count, zero_hashes
from circuits.poseidon import poseidon
from rollup.state.tree import SparseMerkleTree as EngineTree
from rollup.state.tree import default_nodes, root_from_proof, update_trees, verify_proof
from tests.support.gadgets import failing_components


def _edges(depth):
    n = 1 << depth
    return sorted({0, 1, 2, 3, 4, n // 2, n // 2 - 1, n - 4, n - 2, n - 1} & set(range(n)))


@pytest.mark.parametrize("depth", list(range(1, 12)) + [23, 24])
def test_engine_reference_and_zero_hashes_agree(depth):
    rng = random.Random(depth)
    eng, ref = EngineTree(depth), RefTree(depth)
    assert eng.root == ref.root == zero_hashes(depth)[-1]
    assert default_nodes(depth) == zero_hashes(depth)
    idx = _edges(depth) + [rng.randrange(1 << depth) for _ in range(6)]
    for i in idx:
        v = rng.randrange(1, 1 << 250)
        eng.set(i, v)
        ref.set(i, v)
        assert eng.root == ref.root, (depth, i)
    for i in idx + [rng.randrange(1 << depth)]:
        p = eng.proof(i)
        assert p == ref.proof(i) and len(p) == sibling_count(depth)
        assert root_from_proof(i, eng.leaf(i), p) == compute_root(ref.get(i), i, p, depth) \
            == eng.root
    for i in idx:  # emptying every leaf restores the empty root and stores no node
        eng.set(i, 0)
        ref.set(i, 0)
    assert eng.root == ref.root == zero_hashes(depth)[-1] and eng.nodes == {}


def test_update_trees_mixed_parities_in_one_call_equals_fresh_trees():
    rng = random.Random(7)
    trees = [EngineTree(d) for d in (1, 2, 3, 5, 8, 9)]
    for _ in range(3):
        jobs = [(t, {rng.randrange(t.capacity): rng.choice([0, 0, rng.randrange(1, 99)])
                     for _ in range(5)}) for t in trees]
        update_trees(jobs)
        for t, _ in jobs:
            fresh = EngineTree(t.depth)
            fresh.update({i: v for (lv, i), v in t.nodes.items() if lv == 0})
            ref = RefTree(t.depth)
            for (lv, i), v in t.nodes.items():
                if lv == 0:
                    ref.set(i, v)
            assert t.nodes == fresh.nodes and t.root == ref.root, t.depth


def test_layout_is_injective_over_positions_and_sibling_orders():
    """Distinct values: the 4-ary node of cur at p with siblings in proof order equals that of
    cur at p' with a permutation of the siblings only when p' = p and the order is the same."""
    cur, sibs = 11, [21, 22, 23]
    for p in range(4):
        honest = poseidon(insert_child(cur, p, sibs))
        for q in range(4):
            for perm in itertools.permutations(sibs):
                same = poseidon(insert_child(cur, q, list(perm))) == honest
                assert same == (q == p and list(perm) == sibs), (p, q, perm)


def _inclusion(depth, leaf, index, sib, root, idx_value=None, bits_value=None):
    cs = ConstraintSystem()
    idx = cs.private_input("idx", index if idx_value is None else idx_value)
    bits = index_bits(cs, idx, depth)
    s = [cs.private_input(f"s{k}", v) for k, v in enumerate(sib)]
    merkle_inclusion(cs, cs.private_input("leaf", leaf), s, bits, cs.public_input("root", root),
                     bits_checked=True)
    return cs, bits, idx


@pytest.mark.parametrize("depth", [1, 3, 5, 4])
def test_gadget_matches_engine_at_edge_indices(depth):
    eng = EngineTree(depth)
    rng = random.Random(depth)
    for i in _edges(depth):
        eng.set(i, rng.randrange(1, 1 << 200))
    empty = [j for j in range(1 << depth) if eng.leaf(j) == 0][:1]
    for i in _edges(depth) + empty:
        cs, _, _ = _inclusion(depth, eng.leaf(i), i, eng.proof(i), eng.root)
        assert cs.check() == [], (depth, i)


@pytest.mark.adversarial
@pytest.mark.parametrize("depth", [3, 5])
def test_odd_top_bit_and_aliased_index_are_refused(depth):
    """An honest opening of leaf i; the index wire set to i ^ 2**(d-1) (the binary top's bit)
    with the bits kept, or to i + 2**d: the index decomposition refuses both; the top bit
    flipped inside the bits too: the root check refuses it."""
    eng = EngineTree(depth)
    i = (1 << depth) - 1
    eng.set(i, 5)
    eng.set(i ^ (1 << (depth - 1)), 6)
    cs, bits, idx = _inclusion(depth, 5, i, eng.proof(i), eng.root)
    assert cs.check() == []
    p = eng.proof(i)
    vals = {"idx": i, "leaf": 5, "root": eng.root, **{f"s{k}": v for k, v in enumerate(p)}}
    assert cs.check(values=cs.solve(vals)) == []
    for other in (i ^ (1 << (depth - 1)), i + (1 << depth)):
        fails = {v.component for v in cs.check(values=cs.solve({**vals, "idx": other}))}
        assert fails and all(c.startswith(("merkle_index", "merkle_inclusion")) for c in fails), \
            (other, fails)
        assert any(c.startswith("merkle_index") for c in fails) or other < 1 << depth, fails


@pytest.mark.adversarial
@pytest.mark.parametrize("depth", [2, 3])
def test_update_of_empty_leaf_under_a_permuted_sibling_order_is_refused(depth):
    """Insert into an empty slot p whose 4-ary group holds another leaf: the prover swaps the
    siblings (proof order) so the occupied leaf seems to be at p; the old root check refuses."""
    eng = EngineTree(depth)
    eng.set(1, 77)  # group {0,1,2,3}: the leaf at 1
    sib = eng.proof(0)  # [77, 0, 0] (+ top)
    forged = [sib[1], sib[0], *sib[2:]]
    for s in (sib, forged):
        cs = ConstraintSystem()
        bits = [cs.private_input(f"b{k}", 0) for k in range(depth)]
        ss = [cs.private_input(f"s{k}", v) for k, v in enumerate(s)]
        merkle_update(cs, 0, 9, ss, bits, old_root=cs.public_input("old", eng.root))
        assert (cs.check() == []) == (s is sib)


@pytest.mark.parametrize("depth", [8, 5, 7])
@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_batch_tree_root_equals_engine_tree(depth, n):
    if n > 1 << depth:
        return
    rng = random.Random(depth * 100 + n)
    leaves = [rng.randrange(1 << 200) if rng.random() < 0.7 else 0 for _ in range(n)]
    cs = ConstraintSystem()
    got = tree_root(cs, [cs.private_input(f"l{k}", v) for k, v in enumerate(leaves)], depth)
    eng = EngineTree(depth)
    eng.update(dict(enumerate(leaves)))
    assert cs.eval(got) == eng.root and cs.check() == []


@pytest.mark.adversarial
def test_verify_proof_refuses_an_index_past_the_tree():
    """verify_proof (exported by rollup.state) takes any index: i + 2**d verifies as leaf i.
    (Pre-existing on main: the binary root_from_proof ignored the high bits too.)"""
    eng = EngineTree(5)
    eng.set(3, 42)
    p = eng.proof(3)
    assert verify_proof(eng.root, 3, 42, p)
    assert not verify_proof(eng.root, 3 + (1 << 5), 42, p)


@pytest.mark.adversarial
@pytest.mark.parametrize("depth", [3, 4])
def test_every_path_bit_non_boolean_is_refused(depth):
    """Each path bit in turn (b0 and b1 of each 4-ary level, the binary top's bit) set to 2,
    -1 or 1/2, the rest recomputed by the solver: the gadget's booleanity check refuses it."""
    eng = EngineTree(depth)
    i = (1 << depth) - 2
    eng.set(i, 9)
    sib = eng.proof(i)
    cs = ConstraintSystem()
    bits = [cs.private_input(f"b{k}", (i >> k) & 1) for k in range(depth)]
    s = [cs.private_input(f"s{k}", v) for k, v in enumerate(sib)]
    merkle_inclusion(cs, cs.private_input("leaf", 9), s, bits, cs.public_input("root", eng.root))
    assert cs.check() == []
    from circuits.lc import R
    for k in range(depth):
        for bad in (2, R - 1, (R + 1) // 2):
            w = cs.witness()
            w[cs.wire_index(bits[k])] = bad
            assert "merkle_inclusion/merkle_root/path_bits" in failing_components(cs, w), (k, bad)
