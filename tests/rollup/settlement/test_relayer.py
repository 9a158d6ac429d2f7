"""The relayer's store and its reading of the priority queue (no proofs needed: a Rollup whose
verifier is never called). Real proofs through the relayer:
tests/rollup/settlement/test_settlement.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from circuits import eddsa_public_key
from circuits.babyjubjub import pack_point, unpack_point
from rollup.chain import layout
from rollup.chain import node as node_mod
from rollup.chain.contracts import deploy, transact
from rollup.chain.layout import ASSET_ETH, ASSET_TOKEN, KIND_DEPOSIT, KIND_FORCED_WITHDRAWAL
from rollup.chain.rollup import RollupClient
from rollup.settlement.relayer import (
    DEFAULT_CONFIRMATIONS,
    PENDING,
    BatchStore,
    QueueMismatch,
    Relayer,
    RelayerError,
    StoredBatch,
    StoreError,
    accounts_by_key,
)
from rollup.transactions import Deposit, ForcedWithdrawal, Refund

ETH = 10**18


def sample(number: int = 1, **kw) -> StoredBatch:
    d = dict(number=number, old_root=number, new_root=number + 1, queue_count_after=2,
             public_data=layout.encode_public_data([], b"\x01\x02"), proof=list(range(1, 9)),
             public_input=7)
    d.update(kw)
    return StoredBatch(**d)


# --- the store ---------------------------------------------------------------------------------

def test_store_keeps_batches_and_refuses_conflicts(tmp_path):
    db = tmp_path / "r.db"
    with BatchStore(db) as s:
        b1 = sample(1)
        s.put(b1)
        s.put(b1)  # the same again: a no-op
        assert s.get(1).same_content(b1) and s.get(1).status == PENDING
        assert s.get(1).old_root == (1).to_bytes(32, "big")
        s.put(replace(b1, new_root=9))  # a pending batch may be replaced (re-proven)
        s.mark_sent(1, b"\xaa" * 32)
        with pytest.raises(StoreError):  # not once it was sent
            s.put(replace(b1, new_root=10))
        s.put(sample(2))
        assert s.finalize_upto(1) == [1]
    with BatchStore(db) as s:  # durable
        assert [b.number for b in s.batches()] == [1, 2]
        assert s.get(1).new_root == (9).to_bytes(32, "big") and s.get(1).tx_hash == b"\xaa" * 32
        assert StoredBatch.from_json(s.get(2).to_json()).same_content(s.get(2))
    with pytest.raises(ValueError):
        sample(1, proof=[1, 2, 3])
    with pytest.raises(StoreError):
        StoredBatch.from_json({"batchNumber": 1})


def test_store_belongs_to_one_rollup_and_one_process(tmp_path):
    db = tmp_path / "r.db"
    a, b = BatchStore(db), BatchStore(db)
    a.bind(1, "0x" + "11" * 20)
    a.bind(1, "0x" + "11" * 20)
    with pytest.raises(StoreError, match="belongs to rollup"):
        b.bind(1, "0x" + "22" * 20)
    with pytest.raises(StoreError, match="belongs to rollup"):
        b.bind(2, "0x" + "11" * 20)
    a.lock()
    with pytest.raises(StoreError, match="in use"):
        b.lock()
    a.close()
    b.lock()
    b.close()
    with open(tmp_path / "junk.db", "wb") as f:
        f.write(b"not a database" * 100)
    with pytest.raises(StoreError):
        BatchStore(tmp_path / "junk.db")


def test_accounts_by_key_over_the_engine_state():
    from rollup.state.state import State

    st = State(account_depth=4)
    st.begin()
    st.create_account(3, eddsa_public_key(b"k3".ljust(32, b"\0")))
    st.commit()
    resolve = accounts_by_key(st)
    assert resolve(eddsa_public_key(b"k3".ljust(32, b"\0"))) == 3
    new1, new2 = (eddsa_public_key(s.ljust(32, b"\0")) for s in (b"n1", b"n2"))
    assert resolve(new1) == 4 and resolve(new2) == 5 and resolve(new1) == 4


# --- the priority queue on chain -----------------------------------------------------------------

def _bad_key() -> bytes:
    """32 bytes that are not a packed Baby Jubjub point."""
    for i in range(256):
        k = bytes([i]) * 32
        if unpack_point(k, strict=True) is None:
            return k
    raise AssertionError("no bad key found")


def test_priority_requests_reach_the_callback_exactly_once(chain, tmp_path):  # noqa: F811
    acc = chain.accounts
    deployer, u1, u2 = acc[6], acc[7], acc[8]
    token = deploy(chain, "TestToken", sender=deployer)
    # the verifiers are never called here: any address will do
    r = RollupClient.deploy(chain, batch_verifier=token.address, exit_verifier=token.address,
                            token=token.address, operator=deployer,
                            genesis_root=b"\x01" * 32, priority_deadline=3600, sender=deployer)
    for u in (u1, u2):
        transact(chain, token.functions.mint(u, 10**9), sender=u)
        transact(chain, token.functions.approve(r.address, 2**256 - 1), sender=u)
    pk1, pk2 = (eddsa_public_key(s.ljust(32, b"\0")) for s in (b"q1", b"q2"))
    k1, k2 = pack_point(pk1), pack_point(pk2)
    start = chain.w3.eth.block_number + 1
    r.deposit_token(k1, 100, sender=u1)
    r.deposit_eth(k2, ETH, sender=u2)
    r.request_forced_withdrawal(1, ASSET_TOKEN, 0, private_key=b"q1".ljust(32, b"\0"),
                                sender=u1)

    db = tmp_path / "relayer.db"
    got = []
    a = Relayer(r, BatchStore(db), on_request=got.append, from_block=start, log_chunk=2)
    items = a.poll_events()
    assert got == items and [i.index for i in items] == [0, 1, 2]
    want_entries = [layout.QueueEntry(KIND_DEPOSIT, ASSET_TOKEN, 1, u1, 100, k1),
                    layout.QueueEntry(KIND_DEPOSIT, ASSET_ETH, 2, u2, ETH, k2),
                    layout.QueueEntry(KIND_FORCED_WITHDRAWAL, ASSET_TOKEN, 1, u1, 0, k1)]
    assert [i.entry for i in items] == want_entries
    # deposits name the accounts the contract assigned to their keys, from 1 on; an ETH
    # deposit is refunded (the state holds the collateral token only)
    assert [i.request for i in items] == [
        Deposit(1, pk1, 100), Refund(2, ASSET_ETH, int(u2, 16), ETH, int.from_bytes(k2, "big")),
        ForcedWithdrawal(1, 0, int(u1, 16), ASSET_TOKEN, int.from_bytes(k1, "big"))]
    assert [i.queue_hash for i in items] == [r.queue_hash(i) for i in (1, 2, 3)]
    assert a.poll_events() == [] and len(got) == 3

    # two more; the consumer fails on the second: it is not recorded as handed on
    r.deposit_token(k1, 50, sender=u1)
    r.deposit_token(_bad_key(), 7, sender=u2)

    def flaky(item):
        if item.index == 4:
            raise RuntimeError("engine busy")
        got.append(item)

    a.on_request = flaky
    with pytest.raises(RuntimeError, match="engine busy"):
        a.poll_events()
    assert [i.index for i in got] == [0, 1, 2, 3]
    assert got[3].request == Deposit(1, pk1, 50)  # the same key: the same account
    a.store.close()

    # a restarted relayer (new objects, same store) hands on entry 4 once, and nothing else
    b = Relayer(r, BatchStore(db), on_request=got.append, from_block=start)
    again = b.poll_events()
    assert [i.index for i in again] == [4] and [i.index for i in got] == [0, 1, 2, 3, 4]
    assert isinstance(again[0].request, Refund) and "not a usable" in again[0].note
    passes = []
    Relayer(r, BatchStore(db), on_request=got.append).run(0, stop=lambda: True,
                                                           on_pass=passes.append)
    assert len(passes) == 1 and passes[0].requests == passes[0].submitted == []
    assert passes[0].state.queue_length == 5 and len(got) == 5
    # what the batch builder will consume, and the queue hashes it starts from
    assert b.store.queue_entries(0, 3) == want_entries
    assert b.store.queue_hash(5) == r.queue_hash(5)
    assert b.store.queue_hash(0) == layout.ZERO32


def test_relayer_checks_the_contract_and_the_queue_chain(chain, tmp_path):  # noqa: F811
    acc = chain.accounts
    with pytest.raises(RelayerError, match="no contract"):
        Relayer(RollupClient(chain, acc[9]), BatchStore(tmp_path / "a.db"))
    token = deploy(chain, "TestToken", sender=acc[6])
    r = RollupClient.deploy(chain, batch_verifier=token.address, exit_verifier=token.address,
                            token=token.address, operator=acc[6], genesis_root=b"\x01" * 32,
                            priority_deadline=3600, sender=acc[6])
    start = chain.w3.eth.block_number + 1
    r.deposit_eth(b"\x02" * 32, ETH, sender=acc[7])
    r.deposit_eth(b"\x03" * 32, ETH, sender=acc[7])
    # a store whose cursor says entry 0 was handed on with another hash: the chain disagrees
    store = BatchStore(tmp_path / "b.db")
    store.db.execute("INSERT INTO meta VALUES ('next_index', '1'), ('queue_hash', ?)",
                     ("ab" * 32,))
    with pytest.raises(QueueMismatch, match="queue entry 1"):
        Relayer(r, store, from_block=start).poll_events()
    # a store that skipped entry 0 entirely
    store = BatchStore(tmp_path / "c.db")
    with pytest.raises(QueueMismatch, match="entry 0 was never seen"):
        Relayer(r, store, from_block=start + 1).poll_events()
    # the store is tied to this rollup from now on
    with pytest.raises(StoreError, match="belongs to rollup"):
        Relayer(RollupClient(chain, token.address), store)


@pytest.mark.skipif(node_mod.anvil_path() is None, reason="anvil is not installed")
def test_default_confirmations_survive_a_reorg(tmp_path):
    """Reached over RPC, a chain that is not a local development one (here Anvil with chain id
    5) gets 2 confirmations by default: an event is handed on only once two blocks bury it, so
    a reorganisation of the last block cannot un-send a request. A local development chain
    (id 31337, mines on demand) gets 0."""
    for chain_id, want in ((5, DEFAULT_CONFIRMATIONS), (31337, 0)):
        with node_mod.AnvilNode(chain_id=chain_id) as n:
            ch = node_mod.rpc(n.url)
            token = deploy(ch, "TestToken")
            r = RollupClient.deploy(ch, batch_verifier=token.address,
                                    exit_verifier=token.address, token=token.address,
                                    operator=ch.accounts[0], genesis_root=b"\x01" * 32,
                                    priority_deadline=3600)
            rel = Relayer(r, BatchStore(tmp_path / f"c{chain_id}.db"))
            assert rel.confirmations == want
            if want:
                r.deposit_eth(b"\x05" * 32, ETH, sender=ch.accounts[1])
                assert rel.poll_events() == []  # the deposit's block is the head: not yet
                for _ in range(want):
                    ch.w3.provider.make_request("evm_mine", [])
                assert [i.index for i in rel.poll_events()] == [0]
            rel.store.close()
