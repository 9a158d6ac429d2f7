"""Real batch and exit proofs through Rollup.sol, on py-evm and on Anvil (same proofs on both; see
tests/support/story.py): the relayer finalizes a deposit batch and a withdrawal batch across a
crash and restarts, refuses what the chain would not take, and after the operator disappears the
accounts leave through exodus with exit-circuit proofs.

py-evm runs each pairing check in Python (seconds each), so few proofs are checked on chain:
two batches and two exits that verify, one batch and one exit that must not. The tests in this
module share one chain per kind and run in file order (the last one switches the rollup to
exodus); `settled` finalizes batches 1 and 2 when the first test did not.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from circuits.babyjubjub import pack_point
from circuits.eddsa import eddsa_public_key, eddsa_sign
from rollup.chain.contracts import call
from rollup.chain.errors import ContractRevert
from rollup.chain.layout import ASSET_TOKEN
from rollup.settlement.relayer import (
    FINALIZED,
    PENDING,
    SENT,
    BatchRejected,
    BatchStore,
    ExodusActive,
    PublicInputMismatch,
    Relayer,
    RootMismatch,
    StoredBatch,
    accounts_by_key,
)
from tests.support.contracts import record_gas
from tests.support.story import (
    ALICE,
    ALICE_DEPOSIT,
    ALICE_ID,
    ALICE_WITHDRAWAL,
    BOB,
    BOB_GENESIS,
    BOB_ID,
    CAROL,
    DEADLINE,
    OPERATOR,
    SEEDS,
)


class Crash(Exception):
    """Stands for the relayer process dying."""


def revert_name(fn, *a, **k) -> str:
    with pytest.raises(ContractRevert) as ei:
        fn(*a, **k)
    return ei.value.name


def token_balance(w, who: str) -> int:
    return call(w.d.token.functions.balanceOf(who))


def finalized_numbers(w) -> list[int]:
    ev = w.rollup.contract.events.BatchFinalized()
    return [lg["args"]["batchNumber"] for lg in ev.get_logs(from_block=0)]


@pytest.fixture
def settled(world):  # noqa: F811
    """The chain at batch 2, whether or not the relayer test ran first."""
    r = world.rollup
    for b in world.story.stored[r.state().batch_number:]:
        r.submit_batch(*b.submission(), sender=OPERATOR)
    assert r.state().batch_number == 2
    return world


@pytest.mark.slow
def test_relayer_finalizes_real_batches_across_a_crash_and_restarts(world, tmp_path):  # noqa: F811
    s, r, kind = world.story, world.rollup, world.chain.kind
    db = tmp_path / "relayer.db"
    store = BatchStore(db)
    for b in s.stored:
        store.put(b)
    seen = []
    a = Relayer(r, store, on_request=seen.append,
                account_for_key=accounts_by_key(s.genesis_state))
    # the deposit event reaches the engine as the request and queue entry batch 1 consumes
    items = a.poll_events()
    assert seen == items and len(items) == 1
    it = items[0]
    assert (it.index, it.entry, it.request) == (0, s.entry0, s.deposit)
    assert it.queue_hash == r.queue_hash(1) == s.batches[0].queue_after
    assert store.queue_entries() == [s.entry0]

    # the relayer dies after the node accepted batch 2's transaction, before its receipt
    sent = store.mark_sent

    def mark_sent_then_die(number, tx_hash):
        sent(number, tx_hash)
        if number == 2:
            raise Crash

    store.mark_sent = mark_sent_then_die
    t = time.perf_counter()
    with pytest.raises(Crash):
        a.submit_pending()
    record_gas(kind, "settlement_two_real_batches_seconds", round(time.perf_counter() - t, 1))
    assert store.get(1).status == FINALIZED and store.get(2).status == SENT
    assert r.state().batch_number == 2  # the transaction was mined all the same
    store.close()

    # restart: a new relayer over the same store finds the transaction, sends nothing
    nonce = world.nonce()
    seen_b = []
    b = Relayer(r, BatchStore(db), on_request=seen_b.append,
                account_for_key=accounts_by_key(s.genesis_state))
    rep = b.run_once()
    assert rep.requests == [] and seen_b == []
    assert [(x.number, x.resumed) for x in rep.submitted] == [(2, True)]
    assert world.nonce() == nonce
    st = r.state()
    assert (st.batch_number, st.state_root, st.queue_consumed) == (2, s.final_root, 1)
    gas1, gas2 = b.store.get(1).gas_used, b.store.get(2).gas_used
    record_gas(kind, "submit_batch_real_1slot_deposit", gas1)
    record_gas(kind, "submit_batch_real_1slot_withdrawal", gas2)
    assert 200_000 < gas1 < 500_000 and 200_000 < gas2 < 500_000

    # and again: nothing to do, nothing sent
    rep = Relayer(r, BatchStore(db)).run_once()
    assert rep.submitted == [] and rep.requests == [] and world.nonce() == nonce
    assert finalized_numbers(world) == [1, 2]

    # batch 2's L1 record credited alice's address; she collects it
    assert r.pending(ALICE, ASSET_TOKEN) == ALICE_WITHDRAWAL
    before = token_balance(world, ALICE)
    res = r.withdraw(ASSET_TOKEN, sender=ALICE)
    record_gas(kind, "withdraw_token_real", res.gas_used)
    assert token_balance(world, ALICE) == before + ALICE_WITHDRAWAL
    assert r.pending(ALICE, ASSET_TOKEN) == 0


@pytest.mark.slow  # the session's proofs first (about a minute)
def test_relayer_refusals_leave_the_store_intact(settled, tmp_path):
    world = settled  # noqa: F811
    s, r = world.story, world.rollup
    store = BatchStore(tmp_path / "relayer.db")
    for b in s.stored:
        store.put(b)
    b2 = s.stored[1]
    rel = Relayer(r, store)
    nonce = world.nonce()

    # a batch 3 that does not start from the chain's root: refused before anything is sent
    store.put(StoredBatch(3, s.stored[0].new_root, b"\x05" * 32, 1, b2.public_data, b2.proof))
    with pytest.raises(RootMismatch) as ei:
        rel.submit_pending()
    assert (ei.value.number, ei.value.chain_root) == (3, s.final_root)
    assert store.get(1).status == store.get(2).status == FINALIZED  # the chain says so
    # proven for another public input than this chain computes: refused, nothing sent
    cand = StoredBatch(3, s.final_root, b"\x05" * 32, 1, b2.public_data, b2.proof, 12345)
    store.put(cand)
    with pytest.raises(PublicInputMismatch):
        rel.submit_pending()
    assert world.nonce() == nonce

    # rejected by the contract: the typed error names the custom error; the batch stays pending
    cand = replace(cand, public_input=None)
    store.put(cand)
    with pytest.raises(BatchRejected) as ei:
        Relayer(r, store, sender=CAROL).submit_pending()
    assert (ei.value.number, ei.value.reason) == (3, "NotOperator")
    kept = store.get(3)
    assert kept.same_content(cand) and (kept.status, kept.error) == (PENDING, "NotOperator")
    # batch 2's proof for another transition: the pairing check fails
    with pytest.raises(BatchRejected) as ei:
        rel.submit_pending()
    assert ei.value.reason == "InvalidProof"
    kept = store.get(3)
    assert kept.same_content(cand) and (kept.status, kept.error) == (PENDING, "InvalidProof")
    st = r.state()
    assert (st.batch_number, st.state_root) == (2, s.final_root)
    # a stored batch the chain finalized cannot be overwritten with other content
    from rollup.settlement.relayer import StoreError

    with pytest.raises(StoreError):
        store.put(replace(s.stored[1], new_root=b"\x06" * 32))
    assert store.get(2).same_content(s.stored[1])


@pytest.mark.slow
def test_exodus_with_real_exit_proofs(settled, tmp_path):
    world = settled  # noqa: F811
    s, r, ch, kind = world.story, world.rollup, world.chain, world.chain.kind
    # the operator is gone: alice's forced withdrawal (signed by her key) is never processed;
    # carol cannot sign one for bob's account
    bob_pk = eddsa_public_key(SEEDS["bob"])
    m = r.forced_withdrawal_message(BOB_ID, ASSET_TOKEN, 5, CAROL, pack_point(bob_pk))
    assert revert_name(r.request_forced_withdrawal, BOB_ID, ASSET_TOKEN, 5, to=CAROL,
                       public_key=bob_pk,
                       signature=eddsa_sign(SEEDS["alice"], m), sender=CAROL) == "BadSignature"
    r.request_forced_withdrawal(ALICE_ID, ASSET_TOKEN, 5, private_key=SEEDS["alice"],
                                sender=ALICE)
    assert revert_name(r.activate_exodus, sender=CAROL) == "NotOverdue"
    owner, amount, proof = s.exits[ALICE_ID]
    assert revert_name(r.exit, ALICE_ID, owner, 0, amount, proof, sender=CAROL) == "NotInExodus"
    ch.increase_time(DEADLINE + 10)
    res = r.activate_exodus(sender=CAROL)
    record_gas(kind, "activate_exodus_real", res.gas_used)
    assert r.state().exodus

    # no batch is accepted any more: the relayer says so without sending, the contract refuses
    store = BatchStore(tmp_path / "relayer.db")
    for b in s.stored:
        store.put(b)
    store.put(StoredBatch(3, s.final_root, b"\x07" * 32, 2, s.stored[1].public_data,
                          s.stored[1].proof))
    nonce = world.nonce()
    with pytest.raises(ExodusActive):
        Relayer(r, store).submit_pending()
    assert world.nonce() == nonce and store.get(3).status == PENDING
    assert revert_name(r.submit_batch, *s.stored[1].submission(), sender=OPERATOR) \
        == "ExodusActive"

    # each account leaves with exactly its value at the last finalized root
    assert {a: (o, v) for a, (o, v, _) in s.exits.items()} == {
        ALICE_ID: (ALICE, ALICE_DEPOSIT - ALICE_WITHDRAWAL), BOB_ID: (BOB, BOB_GENESIS)}
    for acc_id, (owner, amount, proof) in s.exits.items():
        before = r.pending(owner, ASSET_TOKEN)
        if acc_id == ALICE_ID:  # the same proof for another amount does not verify
            assert revert_name(r.exit, acc_id, owner, 0, amount + 1, proof, sender=CAROL) \
                == "InvalidProof"
        res = r.exit(acc_id, owner, 0, amount, proof, sender=CAROL)
        record_gas(kind, "exit_real", res.gas_used)
        assert r.pending(owner, ASSET_TOKEN) == before + amount
        assert revert_name(r.exit, acc_id, owner, 0, amount, proof, sender=CAROL) \
            == "AlreadyExited"
    # everybody collects; the contract ends with no tokens
    for who in (ALICE, BOB):
        r.withdraw(ASSET_TOKEN, sender=who)
    assert token_balance(world, r.address) == 0
    assert token_balance(world, BOB) == BOB_GENESIS
