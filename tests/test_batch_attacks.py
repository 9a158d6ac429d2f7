"""Attacks on the batch circuit that must fail: forged witnesses an operator could build, each
against the rule that stops it, and a differential test holding what the circuit accepts to
what the published records rebuild.

A small circuit (depth 4, 3 slots of which 1 is an L1 slot) serves every test. Each attack test
names the review finding it closes and says what the circuit before the fix did with it."""

from __future__ import annotations

import pickle

import pytest

from circuits.batch import DIFF_BYTES, build_batch_circuit
from rollup.batch import build_batch
from rollup.engine import testnet as tn
from rollup.engine.testnet import DOMAIN, PERP
from rollup.state.rebuild import batch_records, rebuild
from rollup.state.state import FEE_ACCOUNT
from rollup.transactions import (
    BUY,
    SELL,
    Order,
    Transfer,
)

SLOTS, L1, DEPTH = 3, 1, 4
FAR = 10**9


def order(acc, side, size, price, oid, asset=PERP, flags=0, expiry=FAR):
    return Order(acc, asset, side, size, price, oid, expiry, flags).signed(tn.key(acc), DOMAIN)


def oracle(cls, asset, value, t):
    return cls(asset, value, t).signed(tn.ORACLE_KEY, DOMAIN)


def copy(x):
    return pickle.loads(pickle.dumps(x))


def make(seq, reqs, *, strict=True, slots=SLOTS, l1=L1):
    pre = copy(seq)
    for r in reqs:
        seq.submit(r)
    return pre, build_batch(pre, reqs, slots=slots, batch_number=1, l1_slots=l1, strict=strict)


def rebuilt_root(pre, batch) -> int:
    """The root a user rebuilds from the batch's public data alone, on the pre-batch state."""
    st = rebuild(batch_records(batch.public_data, DIFF_BYTES), state=copy(pre.state))
    return st.root


def violated(cs, values, component=None) -> set[str]:
    return {x.component for x in cs.check(values=cs.solve(values), only=component)}


def hit(bad, name):
    return any(c == name or c.startswith(name + "/") for c in bad)


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=L1)


@pytest.fixture(scope="module")
def venue():
    """Accounts 1..4 funded; 1 long and 2 short 300k perps at 60,000; account 0 holds the fees
    of that trade plus a transfer, so it has collateral to move."""
    seq = tn.venue(n_accounts=4, depth=DEPTH, deposit=10**9)
    seq.submit(order(1, BUY, 300_000, 60_000, 1))
    seq.submit(order(2, SELL, 300_000, 60_000, 1))
    seq.submit(Transfer(3, FEE_ACCOUNT, 10**6, 0, FAR).signed(tn.key(3), DOMAIN))
    return seq


def _give_fee_account_a_position(seq, size=1_000):
    """Account 0 long `size` perps, as an engine that let account 0 trade would have left it
    (the state edited directly: today's engine refuses account 0's orders)."""
    st = seq.state
    st.begin()
    acc = st.edit_account(FEE_ACCOUNT)
    acc.positions[0] = (PERP, size, st.oracle[PERP].funding_index)
    st.commit()
    seq._sums.clear()


# -- finding 3 (price): the execution price is the maker's ------------------------------------


@pytest.mark.adversarial
def test_trade_price_between_both_limits(venue, cs):
    """The operator fills a buy limit 61,000 against a resting sell limit 60,500 at 60,700, a
    price it chose between the two limits. The circuit before the fix accepted it (it checked
    only a_price >= price >= b_price); the price must now be the maker's signed limit."""
    seq = copy(venue)
    seq.submit(order(4, SELL, 50, 60_700, 7))  # rests: the engine will trade at 60,700
    _, b = make(seq, [order(2, BUY, 20, 61_000, 9)])
    assert b.records[0][0] == 5 and cs.check(values=cs.solve(b.values)) == []
    # the same state change, the maker's order signed at 60,500: 60,500 <= 60,700 <= 61,000
    v = dict(b.values)
    (r8x, r8y), s = order(4, SELL, 50, 60_500, 7).sig
    v.update(s0_b_price=60_500, s0_sb_r8x=r8x, s0_sb_r8y=r8y, s0_sb_s=s)
    assert v["s0_taker_buyer"] == 1 and v["s0_price"] == 60_700
    assert not hit(violated(cs, v, "slot0/signature"), "slot0/signature")
    assert hit(violated(cs, v, "slot0/rules"), "slot0/rules")
    # and with the buyer as the maker (taker_buyer = 0): the buyer's limit is the price
    v = dict(b.values)
    (r8x, r8y), s = order(2, BUY, 20, 60_800, 9).sig
    v.update(s0_taker_buyer=0, s0_a_price=60_800, s0_sa_r8x=r8x, s0_sa_r8y=r8y, s0_sa_s=s)
    assert hit(violated(cs, v, "slot0/rules"), "slot0/rules")
