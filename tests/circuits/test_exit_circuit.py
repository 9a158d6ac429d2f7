"""The exit circuit against the engine's state: satisfied by an honest exit, unsatisfied (with the
failing component named) by every tampering, and its public input is the contract's."""

from __future__ import annotations

import pytest

from circuits import eddsa_public_key
from circuits.exit import input_names
from circuits.lc import R
from circuits.merkle import sibling_count
from rollup.chain.layout import exit_public_input
from rollup.margin.risk import account_value
from rollup.recovery.exit import exit_circuit, exit_inputs, sign_exit
from rollup.state.encoding import KIND_CALL, KIND_PERP, encode, position_word
from rollup.state.state import Asset, OracleEntry, State
from rollup.transactions import Domain

DEPTH = 4
OWNER = 0x1234567890ABCDEF1234567890ABCDEF12345678
KEYS = {i: f"exit-test-{i}".encode().ljust(32, b"\0") for i in (1, 2)}
DOM = Domain(31337, 0x00C0FFEE00000000000000000000000000C0FFEE)


def small_state() -> State:
    """Two accounts, a perpetual with accrued funding and a call series, written directly (no
    sequencer: the exit only reads a finalized state)."""
    st = State(account_depth=DEPTH)
    st.begin()
    st.add_asset(Asset(1, KIND_PERP, 50_000, 30_000))
    st.add_asset(Asset(2, KIND_CALL, 100_000, 50_000, underlying=1, strike=60_000, expiry=10**6))
    st.set_oracle(1, OracleEntry(price=61_000, funding_index=-25))
    st.set_oracle(2, OracleEntry(price=3_000))
    st.set_time(5)
    a = st.create_account(1, eddsa_public_key(KEYS[1]))
    a.collateral, a.nonce = 1_000_000, 3
    a.positions[0] = (1, 7, -20)  # long 7 perps, snapshot -20: index fell 5, longs receive 5
    a.positions[3] = (2, -2, 0)  # short 2 calls
    a.orders[5] = (5, 1)
    b = st.create_account(2, eddsa_public_key(KEYS[2]))
    b.collateral = -500_000  # bought on credit: worth less than nothing
    b.positions[0] = (1, 1, -25)
    st.commit()
    return st


@pytest.fixture(scope="module")
def state():
    return small_state()


@pytest.fixture(scope="module")
def claim(state):
    return exit_inputs(state, DOM, 1, OWNER, sign_exit(KEYS[1], DOM, 1, OWNER))


@pytest.fixture(scope="module")
def cs(state, claim):
    return exit_circuit(state, claim)


def failing(cs, values):
    return {v.component for v in cs.check(values=values)}


def test_honest_exit_satisfies_and_matches_contract_input(state, claim, cs):
    assert cs.check() == []
    acc = state.account(1)
    # collateral + 7 * (61,000 + 5) - 2 * 3,000
    assert claim.token_amount == account_value(state, acc) == 1_000_000 + 7 * 61_005 - 6_000
    assert cs.witness()[1] == claim.public_input == exit_public_input(
        state.root, DOM.chain_id, DOM.rollup_address.to_bytes(20, "big"), 1,
        OWNER.to_bytes(20, "big"), 0, claim.token_amount)
    assert cs.stats()["public_outputs"] == 1 and cs.stats()["public_inputs"] == 0
    assert len(input_names(DEPTH)) == cs.stats()["private_inputs"]


def test_value_floored_at_zero(state):
    c = exit_inputs(state, DOM, 2, OWNER, sign_exit(KEYS[2], DOM, 2, OWNER))
    assert c.token_amount == 0
    cs = exit_circuit(state, c)
    assert cs.check() == []


def test_solve_reproduces_the_witness_of_a_structure_only_build(cs, claim):
    bare = exit_circuit(DEPTH)
    vals = bare.solve(claim.values)
    assert bare.check(values=vals) == []
    assert bare.witness(vals) == cs.witness()


@pytest.mark.parametrize("name, value, component", [
    ("owner", OWNER + 1, "owner_signature"),  # signature was for another owner
    ("sig_s", 12345, "owner_signature"),  # forged signature
    ("account_sib1", 77, "account"),  # wrong sibling
    ("collateral", encode(2_000_000), "account"),  # inflated leaf
    ("slot0_price", 70_000, "slot0"),  # a price the root does not commit
    ("slot1_balance", 5, "slot1"),  # a balance in an empty slot
    ("account_id", 2, "account"),  # another account's path
    # an exit signed for one deployment replayed on another (same root)
    ("rollup", DOM.rollup_address + 1, "owner_signature"),
    ("chain_id", 1, "owner_signature"),
])
@pytest.mark.adversarial
def test_tampered_inputs_fail_in_their_component(cs, claim, name, value, component):
    vals = dict(claim.values)
    vals[name] = value
    bad = failing(cs, cs.solve(vals))
    assert bad, f"tampering {name} was accepted"
    assert any(c == component or c.startswith(component + "/") for c in bad), bad


@pytest.mark.adversarial
def test_position_word_reopened_with_another_asset(cs, claim):
    """Slot 0 (perp, long 7) and slot 3 (call, short 2) are hashed as words asset + 2**8 *
    balance: slot 0 reopened as the call with balance (1 + 2**8 * 7 - 2) / 2**8 mod r keeps the
    leaf, and the call's oracle leaf opens; the balance range refuses it."""
    vals = dict(claim.values)
    assert (vals["slot0_asset"], vals["slot0_balance"], vals["slot3_asset"]) == (1, 7, 2)
    for f in ("asset", "price", "funding", "settlement", "settled", "rows"):
        vals[f"slot0_{f}"] = vals[f"slot3_{f}"]
    for k in range(sibling_count(8)):  # the oracle tree's proof (depth 8: 12 siblings)
        vals[f"slot0_sib{k}"] = vals[f"slot3_sib{k}"]
    vals["slot0_balance"] = (1 + 256 * 7 - 2) * pow(256, -1, R) % R
    bad = failing(cs, cs.solve(vals))
    assert not any(c.startswith(("account", "slot0/oracle")) for c in bad), bad
    assert "slot0/signed64/num2bits64" in bad, bad


def test_changed_public_input_fails(cs):
    w = cs.witness()
    w[1] = (w[1] + 1)
    bad = {v.component for v in cs.check(w)}
    assert any(c.startswith("public_input") for c in bad), bad


@pytest.mark.adversarial
def test_exit_slot_reopened_with_asset_past_its_byte(cs, claim):
    """The other half of the packing's injectivity in the exit circuit: slot 0 (perp 1, long 7)
    reopened as (257, 6) has the same word 1 + 256 * 7 = 257 + 256 * 6 and the same leaf, and
    would exit one perp (61,005) short; only the asset's 8 path bits (slot0/oracle) refuse it."""
    vals = dict(claim.values)
    assert (vals["slot0_asset"], vals["slot0_balance"]) == (1, 7)
    assert position_word(257, 6) == position_word(1, 7)
    vals["slot0_asset"], vals["slot0_balance"] = 257, 6
    bad = failing(cs, cs.solve(vals))
    # the leaf and its path, the signature and the balance range hold: only the asset's byte
    # (its 8-bit decomposition, and the oracle path built on those bits) fails
    assert "slot0/oracle/num2bits8" in bad, bad
    assert all(c.startswith("slot0/oracle/") for c in bad), bad
