"""The engine's read interface (``rollup.engine.views``) and the choices fixed at construction
(the matcher, deferred roots)."""

from __future__ import annotations

import dataclasses

import pytest

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.matching import PythonMatcher
from rollup.engine.testnet import CALL, FAR, PERP
from rollup.engine.views import Level, OpenOrder
from rollup.transactions import BUY, REDUCE_ONLY, SELL, Cancel, Order


def trading_venue(**options):
    seq = tn.venue(n_accounts=4, deposit=10**10, **options)
    for req in [Order(1, PERP, SELL, 10, 60_100, 1, FAR), Order(2, PERP, SELL, 5, 60_100, 1, FAR),
                Order(1, PERP, SELL, 7, 60_300, 2 + 256, FAR),  # slot 2
                Order(3, PERP, SELL, 4, 60_200, 1, FAR), Order(1, PERP, BUY, 3, 59_000, 3, FAR),
                Order(2, PERP, BUY, 6, 59_500, 2, FAR), Order(3, PERP, BUY, 2, 59_500, 2, FAR),
                Order(4, PERP, BUY, 12, 60_100, 1, FAR),  # takes 10 of 1's, 2 of 2's
                Order(1, CALL, SELL, 1, 3_100, 4, FAR), Cancel(1, CALL, 4),
                Order(1, PERP, BUY, 1, 58_000, 5, FAR, REDUCE_ONLY)]:
        seq.apply_verified(req)
    return seq


def test_open_orders_and_book_levels_read_the_books():
    seq = trading_venue()
    # account 1: its first ask filled, the call cancelled; by order slot
    assert seq.open_orders(1) == [OpenOrder(PERP, 2 + 256, SELL, 60_300, 7, 7, FAR, 0),
                                  OpenOrder(PERP, 3, BUY, 59_000, 3, 3, FAR, 0),
                                  OpenOrder(PERP, 5, BUY, 58_000, 1, 1, FAR, REDUCE_ONLY)]
    assert seq.open_orders(2) == [OpenOrder(PERP, 1, SELL, 60_100, 5, 3, FAR, 0),
                                  OpenOrder(PERP, 2, BUY, 59_500, 6, 6, FAR, 0)]
    assert seq.open_orders(4) == []
    b = seq.book_levels(PERP, 10)
    assert b.bids == [Level(59_500, 8, 2), Level(59_000, 3, 1), Level(58_000, 1, 1)]
    assert b.asks == [Level(60_100, 3, 1), Level(60_200, 4, 1), Level(60_300, 7, 1)]
    assert (b.asset, b.kind, b.oracle_price) == (PERP, 1, tn.PERP_PRICE)
    # depth cuts each side after the best levels
    assert seq.book_levels(PERP, 1).asks == [Level(60_100, 3, 1)]
    assert seq.book_levels(PERP, 1).bids == [Level(59_500, 8, 2)]
    assert seq.book_levels(CALL, 5).asks == [] and seq.book_levels(CALL, 5).bids == []
    assert seq.status().resting_orders == 7 == sum(len(x.open_orders) for x in (
        seq.account_view(i) for i in range(5)))


def test_account_view_and_status():
    seq = trading_venue()
    v = seq.account_view(4)
    assert v.positions == [(PERP, 12, 0)] and v.nonce == 0
    assert v.margin.healthy and not v.margin.liquidatable
    assert v.margin.excess_initial == v.margin.value * 10**6 - v.margin.risk_initial
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.collateral = 0  # a value, not the engine's account
    s = seq.status()
    assert (s.seq, s.root, s.accounts, s.assets) == (seq.seq, seq.state.root, 5, [1, 2, 3])
    assert s.oracle_pk == tn.public_key(tn.ORACLE_KEY) and s.stopped is None
    with pytest.raises(E.UnknownMarket):
        seq.book_levels(9, 5)
    with pytest.raises(E.UnknownAccount):
        seq.account_view(99)


def test_matcher_is_chosen_at_construction():
    """A sequencer built with ``PythonMatcher`` sends no run to the kernel; the default one
    does; both give the same results and state."""
    flow = [Order(1 + k % 4, PERP, k % 2, 1 + k % 5, 60_000 + (k % 7) * 10 - 30, 1 + k // 4, FAR)
            for k in range(60)]
    python = tn.venue(n_accounts=4, matcher=PythonMatcher(), defer_root=True)
    compiled = tn.venue(n_accounts=4, defer_root=True)
    got_p = python.submit_many(flow, verified=True)
    got_c = compiled.submit_many(flow, verified=True)
    assert python.core_stats == {"matched": 0, "handed_back": 0}
    assert compiled.core_stats == {"matched": 60, "handed_back": 0}
    assert got_p == got_c and sum(len(r.fills) for r in got_c) > 10
    assert python.state.root == compiled.state.root


def test_deferred_roots_for_a_block():
    seq = tn.venue(n_accounts=2)
    assert not seq.defer_root
    with seq.deferred_roots():
        assert seq.defer_root
        r = seq.apply_verified(Order(1, PERP, SELL, 1, 60_000, 1, FAR))
        assert r.root is None  # queued, not hashed
    assert not seq.defer_root
    r = seq.apply_verified(Order(2, PERP, SELL, 1, 60_000, 1, FAR))
    assert r.root == seq.state.root == seq.state.recompute_root()
    with pytest.raises(AttributeError):
        seq.defer_root = True  # not a switch: a constructor argument
