"""Incremental roots: after any mix of edits, commits (deferred or not) and rollbacks, the root
computed from the dirty leaves equals the root of the same tables rebuilt from scratch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.poseidon import poseidon
from rollup.state.encoding import ORDER_TREE_DEPTH, encode
from rollup.state.snapshot import state_from_tables, state_tables
from rollup.state.state import EMPTY_SLOT, State
from rollup.state.tree import SparseMerkleTree, update_trees

DEPTH = 6

ids = st.integers(0, (1 << DEPTH) - 1)
small = st.integers(-(1 << 70), 1 << 70)
edit = st.one_of(
    st.tuples(st.just("create"), ids, st.integers(1, 5)),
    st.tuples(st.just("collateral"), ids, small),
    st.tuples(st.just("nonce"), ids),
    st.tuples(st.just("position"), ids, st.integers(0, 7), st.integers(0, 3),
              st.integers(-1000, 1000), st.integers(-50, 50)),
    st.tuples(st.just("order"), ids, st.integers(0, 255), st.integers(0, 3),
              st.integers(0, 500)),
    st.tuples(st.just("same"), ids),  # touched, left as it was
)
# one transaction = a few edits, then commit (deferred or not) or rollback
txn = st.tuples(st.lists(edit, min_size=1, max_size=4),
                st.sampled_from(["commit", "defer", "defer", "rollback"]))


def apply_edit(s: State, e) -> None:
    kind, i = e[0], e[1]
    if kind == "create":
        if i not in s.accounts:
            s.create_account(i, (e[2], e[2] + 1))
        return
    if i not in s.accounts:
        return
    acc = s.edit_account(i)
    if kind == "collateral":
        acc.collateral = e[2]
    elif kind == "nonce":
        acc.nonce += 1
    elif kind == "position":
        _, _, j, asset, b, f = e
        acc.positions[j] = (asset, b, f) if asset and b else EMPTY_SLOT
    elif kind == "order":
        _, _, k, oid, filled = e
        if oid:
            acc.orders[k] = (oid, filled)
        else:
            acc.orders.pop(k, None)


def from_scratch(s: State) -> int:
    """The root of the tables, each leaf written out from the encoding."""
    leaves = {}
    for i, acc in s.accounts.items():
        # H16(words, snapshots), word = enc(asset + 2**8 * balance)
        slots = [encode(a + 256 * b) for a, b, _ in acc.positions]
        slots += [encode(f) for _, _, f in acc.positions]
        orders = SparseMerkleTree(ORDER_TREE_DEPTH)
        orders.update({k: poseidon([oid, filled]) for k, (oid, filled) in acc.orders.items()})
        leaves[i] = poseidon([acc.pk[0], acc.pk[1], acc.nonce, encode(acc.collateral),
                              poseidon(slots), orders.root])
    tree = SparseMerkleTree(DEPTH)
    tree.update(leaves)
    zero_rows = poseidon([poseidon([0] * 13), poseidon([0] * 13)])
    stage = poseidon([0, 0, 0, zero_rows])  # no scenario update in progress
    glob = poseidon([s.time, s.oracle_tree.root, *s.oracle_pk, stage])
    return poseidon([tree.root, s.registry_tree.root, glob])


@settings(max_examples=25, deadline=None)
@given(st.lists(txn, min_size=1, max_size=12))
def test_dirty_leaf_root_equals_from_scratch(txns):
    s = State(account_depth=DEPTH)
    for edits, end in txns:
        s.begin()
        for e in edits:
            apply_edit(s, e)
        if end == "rollback":
            s.rollback()
        else:
            s.commit(defer=end == "defer")
    root = s.root
    assert root == from_scratch(s)
    # the same tables in a new State, a clone, and the snapshot's tables, agree
    fresh = State(account_depth=DEPTH)
    fresh.accounts = {i: a.copy() for i, a in s.accounts.items()}
    assert fresh.recompute_root() == root
    assert s.clone().root == root
    assert state_from_tables(*state_tables(s)).root == root


@settings(max_examples=25, deadline=None)
@given(st.lists(st.dictionaries(st.integers(0, 63), st.integers(0, 3), max_size=10),
                min_size=1, max_size=3),
       st.lists(st.dictionaries(st.integers(0, 63), st.integers(0, 3), max_size=10),
                min_size=1, max_size=3))
def test_multi_tree_updates_equal_one_leaf_at_a_time(batches_a, batches_b):
    a, b = SparseMerkleTree(6), SparseMerkleTree(6)
    ra, rb = SparseMerkleTree(6), SparseMerkleTree(6)
    for ba, bb in zip(batches_a, batches_b, strict=False):
        update_trees([(a, ba), (b, bb)])
        for k, v in ba.items():
            ra.set(k, v)
        for k, v in bb.items():
            rb.set(k, v)
        assert (a.root, a.nodes) == (ra.root, ra.nodes)
        assert (b.root, b.nodes) == (rb.root, rb.nodes)
    assert a.root == naive_root({k: a.leaf(k) for k in range(64)})
    assert b.root == naive_root({k: b.leaf(k) for k in range(64)})


def naive_root(leaves: dict[int, int]) -> int:
    level = [leaves.get(i, 0) for i in range(64)]
    while len(level) > 1:  # groups of four (depth 6: three 4-ary levels)
        level = [poseidon(level[i:i + 4]) for i in range(0, len(level), 4)]
    return level[0]
