"""The L1 queue into the running sequencer (rollup.node.l1feed) on Anvil: a token deposit to a new
key, an ETH deposit (refunded) and the owner's forced withdrawal reach the journal once each,
across a feed restart and a lost cursor; `batch build` finds the entries in the feed's store."""

from __future__ import annotations

import threading

import pytest

from circuits.babyjubjub import pack_point
from rollup.chain import node
from rollup.chain.contracts import deploy, transact
from rollup.chain.layout import ASSET_ETH, ASSET_TOKEN, KIND_DEPOSIT, KIND_FORCED_WITHDRAWAL
from rollup.chain.rollup import RollupClient
from rollup.errors import ExodusActive
from rollup.transactions import Deposit, ForcedWithdrawal, Refund
from tests.support.operator import pk, trader, write_config

needs_anvil = pytest.mark.skipif(node.anvil_path() is None, reason="anvil is not installed")
ETH = 10**18


@needs_anvil
def test_feed_submits_each_l1_entry_once(tmp_path):
    from rollup.api.service import SequencerService
    from rollup.config import load
    from rollup.node.l1feed import STORE_NAME, L1Feed
    from rollup.settlement.stage import fed_queue as _fed_queue

    with node.anvil() as chain:
        acc = chain.accounts
        operator, user = acc[0], acc[1]
        token = deploy(chain, "TestToken", sender=operator)
        # genesis holds accounts 0..2, so new keys get ids from 3 (verifiers never called)
        r = RollupClient.deploy(chain, batch_verifier=token.address,
                                exit_verifier=token.address, token=token.address,
                                operator=operator, genesis_root=b"\x01" * 32,
                                priority_deadline=3_600, first_account_id=3, account_limit=256,
                                sender=operator)
        path = write_config(tmp_path / "op", n_traders=2, node=chain.url,
                            chain_id=chain.w3.eth.chain_id, rollup_address=r.address)
        cfg = load(path)
        key = pack_point(pk(trader(3)))
        transact(chain, token.functions.mint(user, 10**9), sender=user)
        transact(chain, token.functions.approve(r.address, 2**256 - 1), sender=user)
        r.deposit_token(key, 1_000, sender=user)
        r.deposit_eth(b"\x07" * 32, ETH, sender=user)
        r.request_forced_withdrawal(3, ASSET_TOKEN, 100, private_key=trader(3), sender=user)

        service = SequencerService(cfg, log=lambda m: None).start()
        try:
            feed = L1Feed(service)
            assert feed.poll() == 3
            st = service.call(lambda s: s.seq.state)
            assert st.account(3).collateral == 900  # the key's forced withdrawal was paid
            rows = service.call(lambda s: [q for _, q in s.journal.requests_after(s.genesis_seq)])
            assert [type(q) for q in rows] == [Deposit, Refund, ForcedWithdrawal]
            assert rows[1] == Refund(4, ASSET_ETH, int(user, 16), ETH,
                                     int.from_bytes(b"\x07" * 32, "big"))
            feed.close()
            # a restarted feed hands on nothing new; made on one thread, polled on another (as
            # the node runs it): its SQLite store belongs to the polling thread
            again = L1Feed(service)
            got: list = []
            t = threading.Thread(target=lambda: (got.append(again.poll()), again.close()))
            t.start()
            t.join(60)
            assert got == [0]
            # the cursor lost (a crash before it moved): the entries come again, the journal
            # already has them, nothing is applied twice
            (cfg.data / STORE_NAME).unlink()
            lost = L1Feed(service)
            accepted = service.accepted
            assert lost.poll() == 3 and service.accepted == accepted
            assert service.call(lambda s: s.seq.state.account(3).collateral) == 900
            # the operator never batches them: exodus on L1; the next poll stops the sequencer
            chain.increase_time(3_600 + 60)
            r.activate_exodus(sender=user)
            accepted = service.accepted
            assert lost.poll() == 0 and lost.exodus
            with pytest.raises(ExodusActive):
                service.submit(ForcedWithdrawal(3, 1, 0xAB, ASSET_TOKEN, 0))
            assert service.accepted == accepted
            lost.close()
            first = service.genesis_seq + 1
        finally:
            service.close()
        # the batch builder's default queue: the fed entries not consumed before row `first`
        entries = _fed_queue(cfg, first)
        assert [(e.kind, e.asset, e.account_id) for e in entries] == [
            (KIND_DEPOSIT, ASSET_TOKEN, 3), (KIND_DEPOSIT, ASSET_ETH, 4),
            (KIND_FORCED_WITHDRAWAL, ASSET_TOKEN, 3)]
        assert _fed_queue(cfg, first + 2) == entries[2:]
