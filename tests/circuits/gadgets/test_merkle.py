from __future__ import annotations

import random
from contextlib import contextmanager

import pytest

from circuits.dsl import ConstraintSystem
from circuits.gadgets.merkle import index_bits, merkle_inclusion, merkle_root, merkle_update
from circuits.lc import R
from circuits.merkle import (
    SparseMerkleTree,
    compute_root,
    empty_root,
    level_widths,
    sibling_count,
    zero_hashes,
)
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


def dense_root(leaves: list[int]) -> int:
    """The tree's definition on a full leaf list (independent of circuits.merkle): groups of
    four from the leaves up, a pair at the top of an odd depth."""
    level = list(leaves)
    while len(level) > 1:
        fan = 4 if len(level) >= 4 else 2
        level = [poseidon(level[i:i + fan]) for i in range(0, len(level), fan)]
    return level[0]


def test_empty_tree_and_zero_hashes():
    z = zero_hashes(3)
    assert z == [0, poseidon([0] * 4), poseidon([poseidon([0] * 4)] * 2)]
    assert SparseMerkleTree(3).root == z[2] == empty_root(3) == dense_root([0] * 8)
    assert level_widths(5) == [2, 2, 1] and sibling_count(5) == 7 and sibling_count(24) == 36


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_tree_matches_dense_definition(depth):
    t = filled_tree(seed=depth, depth=depth, n=4)
    n = 1 << depth
    t.set(n - 1, 5)
    assert t.root == dense_root([t.get(i) for i in range(n)])
    for i in range(n):
        assert compute_root(t.get(i), i, t.proof(i), depth) == t.root


def test_proof_order_is_pair_then_other_pair():
    t = SparseMerkleTree(2)
    for i, v in enumerate([10, 11, 12, 13]):
        t.set(i, v)
    assert [t.proof(i) for i in range(4)] == [[11, 12, 13], [10, 12, 13], [13, 10, 11],
                                               [12, 10, 11]]
    assert t.root == poseidon([10, 11, 12, 13])


def test_set_back_to_zero_restores_root():
    t = SparseMerkleTree(DEPTH)
    empty = t.root
    t.set(5, 9)
    assert t.root != empty
    t.set(5, 0)
    assert t.root == empty and all(not lv for lv in t._levels)
    with pytest.raises(IndexError):
        t.get(1 << DEPTH)
    with pytest.raises(ValueError):
        compute_root(1, 0, [1, 2], DEPTH)


# -- gadgets -----------------------------------------------------------------------------------


def inclusion_system(leaf, index, siblings, root, depth=DEPTH):
    cs = ConstraintSystem()
    r = cs.public_input("root", root)
    lf = cs.private_input("leaf", leaf)
    idx = cs.private_input("index", index)
    sib = [cs.private_input(f"s{k}", v) for k, v in enumerate(siblings)]
    bits = index_bits(cs, idx, depth)
    merkle_inclusion(cs, lf, sib, bits, r, bits_checked=True)
    return cs


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 12])
def test_inclusion(depth):
    t = filled_tree(depth=depth)
    rng = random.Random(depth)
    for index in (0, (1 << depth) - 1, rng.randrange(1 << depth)):
        t.set(index, 1234)
        cs = inclusion_system(1234, index, t.proof(index), t.root, depth)
        assert cs.check() == []
        # per 4-ary level 3 swaps + Poseidon(4) 297, a binary top 1 + 240, one per index bit
        assert cs.n_constraints == depth // 2 * 300 + depth % 2 * 241 + depth


def test_inclusion_of_empty_leaf():
    t = filled_tree()
    idx = next(i for i in range(1 << DEPTH) if t.get(i) == 0)
    assert inclusion_system(0, idx, t.proof(idx), t.root).check() == []


def test_inclusion_negatives_name_the_root_check():
    t = filled_tree()
    for i in range(1 << DEPTH):  # distinct siblings: a permutation changes the proof
        t.set(i, 100 + i)
    t.set(9, 77)
    sib = t.proof(9)
    bad_sib = list(sib)
    bad_sib[2] += 1
    cases = {
        "wrong sibling": (77, 9, bad_sib),
        "wrong leaf": (78, 9, sib),
        "flipped path bit": (77, 9 ^ 4, sib),
        "other pair's siblings swapped": (77, 9, sib[:1] + sib[2:0:-1] + sib[3:]),
        "pair sibling and other pair swapped": (77, 9, [sib[1], sib[0]] + sib[2:]),
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
    depth = 2 * (len(siblings) // 3) + len(siblings) % 3
    bits = [cs.private_input(f"b{k}", (index >> k) & 1) for k in range(depth)]
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
        assert cs.n_constraints == DEPTH // 2 * (2 * 300 + 2)


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
    sib = [cs.private_input(f"s{k}") for k in range(36)]
    bits = [cs.private_input(f"b{k}") for k in range(24)]
    merkle_update(cs, cs.private_input("old"), cs.private_input("new"), sib, bits,
                  old_root=cs.public_input("old_root"), new_root=cs.public_input("new_root"))
    ours = cs.n_constraints
    print(f"Merkle update depth 24: ours {ours}, circomlib SMTProcessor(24) "
          f"{CIRCOMLIB_SMT_PROCESSOR_24}")
    assert ours == 12 * (2 * 300 + 2) == 7_224  # binary: 24 * (2 * 241 + 1) = 11,592
    assert ours <= CIRCOMLIB_SMT_PROCESSOR_24


# -- forged insertions ---------------------------------------------------------------------------


class _Recording(ConstraintSystem):
    """Records the wires created inside components named "new" (the new leaf's path)."""

    def __init__(self):
        super().__init__()
        self.new_wires: set[int] = set()

    @contextmanager
    def component(self, name):
        start = len(self.kind)
        with super().component(name):
            yield
        if name == "new":
            self.new_wires.update(range(start, len(self.kind)))


def root_system(leaf, siblings, index, depth, root, cls=ConstraintSystem):
    cs = cls()
    bits = [cs.private_input(f"b{k}", (index >> k) & 1) for k in range(depth)]
    sib = [cs.private_input(f"s{k}", v) for k, v in enumerate(siblings)]
    merkle_inclusion(cs, cs.private_input("leaf", leaf), sib, bits, cs.public_input("root", root))
    return cs, bits


@pytest.mark.adversarial
@pytest.mark.parametrize("depth", [2, 3])
def test_forged_child_position_fails_the_swaps(depth):
    """Every hash honest for the leaf at child q, the path bits naming p != q: the insertion's
    swaps (not only the root) refuse the witness."""
    sib = [random.Random(depth).randrange(1, 1 << 64) for _ in range(sibling_count(depth))]
    for q in range(1 << depth):
        root = compute_root(99, q, sib, depth)
        honest, _ = root_system(99, sib, q, depth, root)
        assert honest.check() == []
        for p in range(1 << depth):
            if p == q:
                continue
            cs, bits = root_system(99, sib, p, depth, root)
            w = honest.witness()
            for k, b in enumerate(bits):
                w[cs.wire_index(b)] = (p >> k) & 1
            fails = failing_components(cs, w)
            assert any("cswap" in c for c in fails), (p, q, fails)


@pytest.mark.adversarial
def test_forged_non_boolean_bits_fail():
    """Bits 2 or -1 (p - 1) in place of a path bit, the rest of the witness recomputed by the
    solver: the booleanity constraint refuses them (with the gadget's own bits check)."""
    t = filled_tree(seed=6, depth=4)
    sib = t.proof(6)
    for bad in (2, R - 1, (R + 1) // 2):
        cs, bits = root_system(t.get(6), sib, 6, 4, t.root)
        w = cs.witness()
        w[cs.wire_index(bits[0])] = bad
        assert "merkle_inclusion/merkle_root/path_bits" in failing_components(cs, w)


@pytest.mark.adversarial
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_update_with_other_bits_for_the_new_leaf_fails(depth):
    """An update witness whose new-leaf path is honest for index q while the shared bits (and
    the old path) say p: the new path's swaps refuse it."""
    t = filled_tree(seed=depth, depth=depth, n=3)
    p, q = 1, (1 << depth) - 2
    old, old_root, _, sib = t.update(p, 5)
    new_root_q = compute_root(5, q, sib, depth)

    def system(index, new_root):
        cs = _Recording()
        o = cs.public_input("old_root", compute_root(old, index, sib, depth))
        n = cs.public_input("new_root", new_root)
        bits = [cs.private_input(f"b{k}", (index >> k) & 1) for k in range(depth)]
        s = [cs.private_input(f"s{k}", v) for k, v in enumerate(sib)]
        merkle_update(cs, cs.private_input("old", old), cs.private_input("new", 5), s, bits,
                      old_root=o, new_root=n)
        return cs, n

    honest_p, _ = system(p, compute_root(5, p, sib, depth))
    assert honest_p.check() == []
    honest_q, n_q = system(q, new_root_q)
    assert honest_q.check() == []
    w, wq = honest_p.witness(), honest_q.witness()
    for i in honest_p.new_wires:  # signal ids; wires that survived the linear substitution
        try:
            w[honest_p.wire_index(i)] = wq[honest_q.wire_index(i)]
        except KeyError:
            continue
    w[honest_p.wire_index(n_q)] = new_root_q
    fails = failing_components(honest_p, w)
    assert any(c.startswith("merkle_update/level") and "/new" in c for c in fails), fails
    assert all("/old" not in c for c in fails), fails
    assert old_root == compute_root(old, p, sib, depth)
