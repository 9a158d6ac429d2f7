"""Review of the quaternary trees (rev22): the batch circuit at an ODD account depth (binary
top level; every existing batch test runs at depth 4), with both trading accounts in the top
half (top index bit set), the last index included: the engine's witness satisfies the circuit,
and its roots are the engine's."""

from __future__ import annotations

import pytest

from rollup.engine import testnet as tn
from rollup.engine.testnet import DOMAIN, FAR, PERP
from rollup.settlement.batch import build_batch
from rollup.transactions import BUY, SELL, Order, Transfer

DEPTH = 5
N = (1 << DEPTH) - 1  # accounts 1..31: 16..31 have the top bit set, 31 is the last index


def order(acc, side, size, price, oid):  # shared_key: every account holds key(1)
    return Order(acc, PERP, side, size, price, oid, FAR, 0).signed(tn.key(1), DOMAIN)


@pytest.mark.parametrize("a, b", [(N, 1 << (DEPTH - 1))])
def test_odd_depth_batch_satisfies_and_roots_match(a, b):
    seq = tn.venue(n_accounts=N, depth=DEPTH, deposit=10**10, shared_key=True)
    seq.submit(order(a, SELL, 5, 60_000, 1))
    pre = seq.clone()
    reqs = [order(b, BUY, 3, 60_000, 2),
            Transfer(a, 1, 1000, 0, FAR).signed(tn.key(1), DOMAIN)]
    for q in reqs:
        seq.submit(q)
    batch = build_batch(pre, reqs, slots=3, batch_number=1, l1_slots=1)
    assert batch.old_root == pre.state.root and batch.new_root == seq.state.root
    cs = batch.circuit()
    assert cs.check() == []
    assert cs.witness()[1] == batch.public_input
