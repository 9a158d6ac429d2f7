from __future__ import annotations

import random

import pytest

from circuits.dsl import ConstraintSystem
from circuits.gadgets.merkle import index_bits, merkle_inclusion, merkle_root, merkle_update
from circuits.merkle import SparseMerkleTree, compute_root, zero_hashes
from circuits.poseidon import poseidon
from tests.support.gadgets import failing_components

CIRCOMLIB_SMT_PROCESSOR_24 = 13_531  # circomlib SMTProcessor(24), circom 2 --O2
DEPTH = 4


def filled_tree(seed=1, depth=DEPTH, n=5):
    rng = random.Random(seed)
    t = SparseMerkleTree(depth)
    for _ in range(n):
        t.set(rng.randrange(1 << depth), rng.randrange(1, 1 << 64))
    return t


# -- native twin -------------------------------------------------------------------------------


def test_empty_tree_and_zero_hashes():
    z = zero_hashes(3)
    assert z[0] == 0 and z[1] == poseidon([0, 0]) and z[3] == poseidon([z[2], z[2]])
    assert SparseMerkleTree(3).root == z[3]


def test_tree_matches_dense_definition():
    t = filled_tree(seed=2, depth=3, n=4)
    level = [t.get(i) for i in range(8)]
    while len(level) > 1:
        level = [poseidon([level[2 * i], level[2 * i + 1]]) for i in range(len(level) // 2)]
    assert t.root == level[0]
    for i in range(8):
        assert compute_root(t.get(i), i, t.proof(i)) == t.root


def test_set_back_to_zero_restores_root():
    t = SparseMerkleTree(DEPTH)
    empty = t.root
    t.set(5, 9)
    assert t.root != empty
    t.set(5, 0)
    assert t.root == empty and all(not lv for lv in t._levels)
    with pytest.raises(IndexError):
        t.get(1 << DEPTH)


# -- gadgets -----------------------------------------------------------------------------------


def inclusion_system(leaf, index, siblings, root):
    cs = ConstraintSystem()
    r = cs.public_input("root", root)
    lf = cs.private_input("leaf", leaf)
    idx = cs.private_input("index", index)
    sib = [cs.private_input(f"s{k}", v) for k, v in enumerate(siblings)]
    bits = index_bits(cs, idx, len(siblings))
    merkle_inclusion(cs, lf, sib, bits, r, bits_checked=True)
    return cs


@pytest.mark.parametrize("index", [0, 6, (1 << DEPTH) - 1])
def test_inclusion(index):
    t = filled_tree()
    t.set(index, 1234)
    cs = inclusion_system(1234, index, t.proof(index), t.root)
    assert cs.check() == []
    assert cs.n_constraints == DEPTH * 241 + DEPTH


def test_inclusion_of_empty_leaf():
    t = filled_tree()
    idx = next(i for i in range(1 << DEPTH) if t.get(i) == 0)
    assert inclusion_system(0, idx, t.proof(idx), t.root).check() == []


def test_inclusion_negatives_name_the_root_check():
    t = filled_tree()
    t.set(9, 77)
    sib = t.proof(9)
    bad_sib = list(sib)
    bad_sib[2] += 1
    cases = {
        "wrong sibling": (77, 9, bad_sib),
        "wrong leaf": (78, 9, sib),
        "flipped path bit": (77, 9 ^ 4, sib),
    }
    for name, (leaf, index, siblings) in cases.items():
        fails = failing_components(inclusion_system(leaf, index, siblings, t.root))
        # the root equality fails; the last hash's constraints may too, since finalization
        # substituted the root into them
        assert "merkle_inclusion/root" in fails, name
        assert all(c.startswith("merkle_inclusion/") for c in fails), name


def test_root_gadget_matches_native_with_unchecked_bits():
    t = filled_tree(seed=3)
    cs = ConstraintSystem()
    bits = [cs.private_input(f"b{k}", (5 >> k) & 1) for k in range(DEPTH)]
    sib = [cs.private_input(f"s{k}", v) for k, v in enumerate(t.proof(5))]
    root = merkle_root(cs, t.get(5), sib, bits)
    assert root.value == t.root and cs.check() == []
    # a non-boolean "bit" is caught by the booleanity constraints
    w = cs.witness()
    w[cs.wire_index(bits[1])] = 2
    assert "merkle_root/path_bits" in failing_components(cs, w)


def update_system(old_leaf, new_leaf, index, siblings, old_root, new_root):
    cs = ConstraintSystem()
    o = cs.public_input("old_root", old_root)
    n = cs.public_input("new_root", new_root)
    bits = [cs.private_input(f"b{k}", (index >> k) & 1) for k in range(len(siblings))]
    sib = [cs.private_input(f"s{k}", v) for k, v in enumerate(siblings)]
    merkle_update(cs, cs.private_input("old", old_leaf), cs.private_input("new", new_leaf), sib,
                  bits, old_root=o, new_root=n)
    return cs


def test_update_matches_native():
    t = filled_tree(seed=4)
    for index, value in [(3, 11), (3, 0), (12, 99)]:  # overwrite, delete, insert
        old, old_root, new_root, sib = t.update(index, value)
        cs = update_system(old, value, index, sib, old_root, new_root)
        assert cs.check() == []
        assert cs.n_constraints == DEPTH * (2 * 241 + 1)


def test_update_negatives():
    t = filled_tree(seed=5)
    old, old_root, new_root, sib = t.update(7, 5)
    bad_sib = list(sib)
    bad_sib[0] ^= 1
    fails = {
        "wrong sibling": (old, 5, 7, bad_sib, old_root, new_root),
        "wrong old leaf": (old + 1, 5, 7, sib, old_root, new_root),
        "wrong new leaf": (old, 6, 7, sib, old_root, new_root),
        "flipped path bit": (old, 5, 7 ^ 1, sib, old_root, new_root),
    }
    expect = {
        "wrong sibling": {"merkle_update/old_root", "merkle_update/new_root"},
        "wrong old leaf": {"merkle_update/old_root"},
        "wrong new leaf": {"merkle_update/new_root"},
        "flipped path bit": {"merkle_update/old_root", "merkle_update/new_root"},
    }
    for name, args in fails.items():
        got = failing_components(update_system(*args))
        assert {c for c in got if c.endswith("_root")} == expect[name], name
        assert all(c.startswith("merkle_update/") for c in got), name


def test_update_depth24_count_vs_circomlib():
    cs = ConstraintSystem(compute_witness=False)
    sib = [cs.private_input(f"s{k}") for k in range(24)]
    bits = [cs.private_input(f"b{k}") for k in range(24)]
    merkle_update(cs, cs.private_input("old"), cs.private_input("new"), sib, bits,
                  old_root=cs.public_input("old_root"), new_root=cs.public_input("new_root"))
    ours = cs.n_constraints
    print(f"Merkle update depth 24: ours {ours}, circomlib SMTProcessor(24) "
          f"{CIRCOMLIB_SMT_PROCESSOR_24}")
    assert ours == 24 * (2 * 241 + 1) == 11_592
    assert ours <= CIRCOMLIB_SMT_PROCESSOR_24
