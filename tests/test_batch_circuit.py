"""The batch circuit and builder at toy size (depth 4, 3 slots): an honest batch of a deposit
(creating an account, from the L1 queue), a transfer and a withdrawal satisfies the circuit,
chains to the engine's root and has the contract's public input; each tampering breaks the
constraint system in the component that states the rule."""

from __future__ import annotations

import pickle

import pytest

from circuits import eddsa_public_key
from circuits.babyjubjub import pack_point
from rollup.batch import BatchQueue, Unsupported, build_batch
from rollup.chain.layout import ASSET_TOKEN, KIND_DEPOSIT, QueueEntry, queue_chain
from rollup.engine.sequencer import Sequencer
from rollup.state.state import State
from rollup.transactions import Deposit, Domain, Transfer, Withdrawal

DOM = Domain(31337, 0x5FBDB2315678AFECB367F032D93F642F64180AA3)
KEYS = {i: f"batch-test-{i}".encode().ljust(32, b"\0") for i in range(3)}
FAR = 10**9


@pytest.fixture(scope="module")
def world():
    pks = {i: eddsa_public_key(k) for i, k in KEYS.items()}
    seq = Sequencer(State(account_depth=4), DOM)
    seq.submit(Deposit(0, pks[0], 0))
    seq.submit(Deposit(1, pks[1], 1_000))
    pre = pickle.loads(pickle.dumps(seq))
    reqs = [Deposit(2, pks[2], 500),
            Transfer(1, 2, 300, 0, FAR).signed(KEYS[1], DOM),
            Withdrawal(2, 100, 0xABC, 0, FAR).signed(KEYS[2], DOM)]
    for r in reqs:
        seq.submit(r)
    queue = [QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 0, b"\x22" * 20, 500, pack_point(pks[2]))]
    batch = build_batch(pre, reqs, slots=3, batch_number=1, queue=queue)
    return pre, seq, reqs, queue, batch


@pytest.fixture(scope="module")
def cs(world):
    return world[4].circuit()


def components(cs, values):
    return {v.component for v in cs.check(values=values)}


def hit(bad, name):
    return any(c == name or c.startswith(name + "/") for c in bad)


def test_honest_batch(world, cs):
    pre, seq, _, queue, batch = world
    assert batch.new_root == seq.state.root and batch.old_root == pre.state.root
    assert batch.queue_after == queue_chain(queue)[-1] and batch.queue_consumed == 1
    assert cs.check() == []
    assert cs.witness()[1] == batch.public_input
    # padding: fewer requests than slots still proves, to the same root
    small = build_batch(pre, world[2][:1], slots=3, batch_number=1, queue=queue)
    assert cs.check(values=cs.solve(small.values)) == []


@pytest.mark.parametrize("case, component", [
    ("forged_signature", "slot1/signature"),
    ("replayed_nonce", "slot2/signature"),
    ("overspend", "slot2/debit"),
    ("wrong_sibling", "slot1/account_b"),
    ("deposit_claims_existing_account", "slot0/account_a"),
])
def test_tampered_witness_fails(world, cs, case, component):
    v = dict(world[4].values)
    if case == "forged_signature":
        v["s1_sig_s"] = (v["s1_sig_s"] + 1) % (1 << 250)
    elif case == "replayed_nonce":
        # the withdrawal signed again for nonce 1 while the leaf still holds nonce 0
        (r8x, r8y), s = Withdrawal(2, 100, 0xABC, 1, FAR).signed(KEYS[2], DOM).sig
        v.update(s2_sig_r8x=r8x, s2_sig_r8y=r8y, s2_sig_s=s)
    elif case == "overspend":
        (r8x, r8y), s = Withdrawal(2, 10_000, 0xABC, 0, FAR).signed(KEYS[2], DOM).sig
        v.update(s2_amount=10_000, s2_sig_r8x=r8x, s2_sig_r8y=r8y, s2_sig_s=s)
    elif case == "wrong_sibling":
        v["s1_b_sib2"] += 1
    elif case == "deposit_claims_existing_account":
        v["s0_new"] = 0  # claim the deposit's account already existed
    bad = components(cs, cs.solve(v))
    assert hit(bad, component), bad


def test_changed_public_data_fails(world, cs):
    w = cs.witness()
    w[1] += 1
    assert hit({v.component for v in cs.check(w)}, "public_input")
    # and the contract's input moves with one byte of public data
    b = world[4]
    from rollup.chain import layout
    data = bytearray(b.public_data)
    data[-1] ^= 1
    assert layout.batch_public_input(DOM.chain_id, DOM.rollup_address.to_bytes(20, "big"), 1,
                                     b.old_root, b.new_root, b.queue_before, b.queue_after,
                                     bytes(data)) != b.public_input


def test_builder_refuses_what_the_circuit_does_not_prove(world):
    pre = world[0]
    from rollup.transactions import FundingTick
    with pytest.raises(Unsupported):
        build_batch(pre, [FundingTick(1, 5, 2)], slots=1, batch_number=1)


def test_batch_queue_closes_on_size_and_age():
    now = [0.0]
    q = BatchQueue(slots=2, max_age=10, clock=lambda: now[0])
    assert q.add("a") is None
    assert q.add("b") == ["a", "b"]
    assert q.add("c") is None
    now[0] = 11
    assert q.poll() == ["c"] and q.poll() is None
