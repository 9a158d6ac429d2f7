"""Review of the quaternary trees (rev22): the exit circuit at an ODD account depth (binary top
level), an account at the top half (top index bit set) and at the last index; another account's
path, and the top bit flipped, must be refused."""

from __future__ import annotations

import pytest

from circuits import eddsa_public_key
from circuits.merkle import compute_root, sibling_count
from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit
from rollup.state.encoding import KIND_PERP
from rollup.state.state import Asset, OracleEntry, State
from rollup.transactions import Domain

DEPTH = 5  # odd: two 4-ary levels and a binary top
A, B = (1 << DEPTH) - 1, 1 << (DEPTH - 1)  # 31 (last index) and 16 (only the top bit set)
OWNER = 0x1234567890ABCDEF1234567890ABCDEF12345678
KEYS = {i: f"rev22-{i}".encode().ljust(32, b"\0") for i in (A, B)}
DOM = Domain(31337, 0x00C0FFEE00000000000000000000000000C0FFEE)


@pytest.fixture(scope="module")
def setup():
    st = State(account_depth=DEPTH)
    st.begin()
    st.add_asset(Asset(1, KIND_PERP, 50_000, 30_000))
    st.set_oracle(1, OracleEntry(price=61_000))
    st.set_time(5)
    for i, coll in ((A, 1_000_000), (B, 2_000_000)):
        acc = st.create_account(i, eddsa_public_key(KEYS[i]))
        acc.collateral = coll
    st.commit()
    claim = exit_inputs(st, DOM, A, OWNER, sign_exit(KEYS[A], DOM, A, OWNER))
    return st, claim, exit_circuit(st, claim)


def failing(cs, values):
    return {v.component for v in cs.check(values=values)}


def test_odd_depth_exit_is_satisfied_and_engine_proof_is_reference(setup):
    st, claim, cs = setup
    assert cs.check() == []
    sib = [claim.values[f"account_sib{k}"] for k in range(sibling_count(DEPTH))]
    leaf = st.account_tree.leaf(A)
    assert compute_root(leaf, A, sib, DEPTH) == st.account_tree.root


@pytest.mark.adversarial
def test_exit_for_a_opening_b_leaf_is_refused(setup):
    """account_id A (public), B's leaf fields and B's siblings: the path bits are A's."""
    st, claim, cs = setup
    other = exit_inputs(st, DOM, B, OWNER, sign_exit(KEYS[B], DOM, B, OWNER)).values
    vals = dict(claim.values)
    for n in ("pk_x", "pk_y", "nonce", "collateral", "orders_root"):
        vals[n] = other[n]
    for k in range(sibling_count(DEPTH)):
        vals[f"account_sib{k}"] = other[f"account_sib{k}"]
    bad = failing(cs, cs.solve(vals))
    assert any(c.startswith("account") for c in bad), bad


@pytest.mark.adversarial
def test_exit_with_top_bit_flipped_or_aliased_id_is_refused(setup):
    """A's leaf and siblings under id A ^ 2**(d-1) (the binary top's bit) or A + 2**d."""
    _, claim, cs = setup
    for bad_id in (A ^ (1 << (DEPTH - 1)), A + (1 << DEPTH)):
        vals = dict(claim.values)
        vals["account_id"] = bad_id
        bad = failing(cs, cs.solve(vals))
        assert any(c.startswith("account") for c in bad), (bad_id, bad)
