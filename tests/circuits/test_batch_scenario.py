"""The scenario margin rule in the batch circuit (docs/margin.md, "In the circuit"): forged
witnesses that the linear rule would let through, hints that understate the requirement after
or overstate it before, a market without published rows, and the engine and the circuit on
random trades between random portfolios (both accept or both refuse)."""

from __future__ import annotations

import random

import pytest

from circuits.batch import account as side_module
from circuits.batch import build_batch_circuit
from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.checks import set_balance, working
from rollup.engine.testnet import CALL, DOMAIN, PERP, PUT
from rollup.margin.risk import account_value, in_window, is_healthy, trade_allowed
from rollup.settlement.batch import build_batch
from rollup.state.encoding import RISK_SCALE
from rollup.transactions import BUY, SELL, Liquidation, OracleUpdate, scenario_chunks
from tests.support.risk import linear_risk

SLOTS, DEPTH = 2, 4
order = tn.order


@pytest.fixture(scope="module")
def venue():
    seq = tn.venue(n_accounts=4, depth=DEPTH, deposit=10**9)
    seq.submit(order(2, SELL, 100_000, 60_000, 1))
    seq.submit(order(1, BUY, 100_000, 60_000, 1))
    return seq


@pytest.fixture(scope="module")
def cs():
    return build_batch_circuit(SLOTS, DEPTH, l1_slots=0)


def make(seq, reqs):
    pre = seq.clone()
    for r in reqs:
        seq.submit(r)
    return build_batch(pre, reqs, slots=SLOTS, batch_number=1, l1_slots=0)


def linear_healthy(state, acc) -> bool:
    """Healthy under the linear rule the scenario rule replaced."""
    return account_value(state, acc) * RISK_SCALE >= linear_risk(state, acc)


def failing(cs, values, steps=None) -> set[str]:
    """Components whose constraints the witness of ``values`` breaks; ``steps`` replaces hint
    functions (a forged witness)."""
    saved = cs._steps
    if steps:
        cs._steps = [(steps.get(fn, fn), *rest) for fn, *rest in saved]
    try:
        return {v.component for v in cs.check(values=cs.solve(values))}
    finally:
        cs._steps = saved


def test_honest_trade_satisfies(venue, cs):
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    b = make(seq, [order(3, BUY, 50, 61_000, 9)])
    assert failing(cs, b.values) == set()


def test_a_trade_the_linear_rule_allows_and_the_scenario_rule_refuses(venue, cs):
    # account 3 (10**9) buys 150k perps from account 4: 5% of 9e9 would fit, 16% does not
    seq = venue.clone()
    seq.submit(order(4, SELL, 10, 60_000, 7))
    b = make(seq, [order(3, BUY, 10, 60_000, 9)])
    st = seq.state
    big = st.account(3).copy()
    big.positions[big.slot_of(PERP)] = (PERP, 150_000, 0)
    big.collateral -= 150_000 * 60_000
    assert linear_healthy(st, big) and not is_healthy(st, big)
    with pytest.raises(E.InsufficientMargin):
        s2 = venue.clone()
        s2.submit(order(4, SELL, 150_000, 60_000, 7))
        s2.submit(order(3, BUY, 150_000, 60_000, 9))
    v = dict(b.values)
    v.update(s0_qty=150_000, s0_a_size=150_000, s0_b_size=150_000)
    _resign(v, "s0_", order(3, BUY, 150_000, 60_000, 9), "sa_")
    _resign(v, "s0_", order(4, SELL, 150_000, 60_000, 7), "sb_")
    assert "slot0/margin" in failing(cs, v)


def test_a_hinted_maximum_too_small_breaks_the_window(venue, cs):
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    b = make(seq, [order(2, BUY, 50, 61_000, 9)])
    low = {side_module._row_max: lambda *x: side_module._row_max(*x) - 1}
    bad = failing(cs, b.values, low)
    assert "slot0/account_a/scenario" in bad and "slot0/account_b/scenario" in bad


def test_a_hinted_row_that_overstates_the_loss_before_is_refused(venue, cs):
    # the liquidation moved before the price drop (account 1 above maintenance then): refused
    # in "margin" with honest hints; weights 2 and -1 on the worst row and the zero option sum
    # to 1 and would double the loss before, but they are no selection
    b = make(venue.clone(), [tn.oracle(OracleUpdate, PERP, 54_000, 10),
                             Liquidation(4, 1, PERP, 100, 0, 10**9).signed(tn.key(4), DOMAIN)])
    assert failing(cs, b.values) == set()
    with pytest.raises(E.NotLiquidatable):
        venue.clone().submit(Liquidation(4, 1, PERP, 100, 0, 10**9).signed(tn.key(4), DOMAIN))

    def overstate(*args):
        e = side_module._argmax_before(*args)
        k = e.index(1)
        if k < len(e) - 1:
            e[k], e[-1] = 2, -1
        return e

    swapped = _swap_slots(b.values)
    assert "slot0/margin" in failing(cs, swapped)
    assert "slot0/account_b/scenario" in failing(cs, swapped,
                                                 {side_module._argmax_before: overstate})


def test_a_market_without_rows_refuses_trades(venue, cs):
    # chunks 0..4 of an all-zero update of the perpetual before the batch; the batch holds the
    # last chunk, then a trade copied in from an honest batch: the engine refuses it, and so
    # does the circuit's "rules" (it accepts the same copy after a nonzero update)
    trade = _trade_batch(venue).values
    for rows, refused in (([0] * 26, True), ([5] * 26, False)):
        seq = venue.clone()
        chunks = [c.signed(tn.ORACLE_KEY, DOMAIN) for c in scenario_chunks(PERP, 20, rows)]
        for c in chunks[:5]:
            seq.submit(c)
        b = build_batch(seq.clone(), chunks[5:], slots=SLOTS, batch_number=1, l1_slots=0)
        seq.submit(chunks[5])
        if refused:
            with pytest.raises(E.UnknownMarket):
                seq.clone().submit(order(4, SELL, 50, 60_500, 70))
        v = dict(b.values)
        v.update({"s1_" + k[3:]: x for k, x in trade.items() if k.startswith("s0_")})
        assert ("slot1/rules" in failing(cs, v)) == refused


def _trade_batch(venue):
    seq = venue.clone()
    seq.submit(order(4, SELL, 50, 60_500, 7))
    return make(seq, [order(2, BUY, 50, 61_000, 9)])


def _resign(v, p, req, prefix):
    (r8x, r8y), s = req.sig
    v.update({f"{p}{prefix}r8x": r8x, f"{p}{prefix}r8y": r8y, f"{p}{prefix}s": s})


def _swap_slots(values):
    v = dict(values)
    for k in [k for k in values if k.startswith("s0_") or k.startswith("s1_")]:
        v[k] = values[("s1_" if k.startswith("s0_") else "s0_") + k[3:]]
    return v


def _allowed(st, i, asset, delta, price, fee_ppm) -> bool:
    """The engine's fill rule for account i receiving delta units at price (``trade_allowed``
    and the window), fee included."""
    before = st.account(i)
    after = working(st, i)
    set_balance(after, st.assets[asset], after.balance(asset) + delta,
                st.oracle[asset].funding_index)
    after.collateral -= delta * price + abs(delta) * price * fee_ppm // RISK_SCALE
    return in_window(st, after) and trade_allowed(st, before, after)


def test_engine_and_circuit_agree_on_random_trades(venue, cs):
    """Random portfolios (perpetual and options on both sides), random trades between two of
    the accounts forged into one honest slot: the circuit's margin rule holds exactly when the
    engine's rule allows both sides."""
    rng = random.Random(21)
    base = venue.clone()
    for oid, (buyer, seller, asset, size, price) in enumerate([
            (3, 4, CALL, 20_000, 3_000), (4, 3, PUT, 30_000, 2_500), (3, 1, PERP, 20_000, 60_000),
            (2, 4, CALL, 5_000, 3_000)], start=20):
        base.submit(order(seller, SELL, size, price, oid, asset=asset))
        base.submit(order(buyer, BUY, size, price, oid, asset=asset))
    st = base.state
    seen = {True: 0, False: 0}
    for i in range(10):
        asset = rng.choice([PERP, CALL, PUT])
        price = {PERP: 60_000, CALL: 3_000, PUT: 2_500}[asset]
        buyer, seller = rng.sample([1, 2, 3, 4], 2)
        size = rng.choice([1_000, 20_000, 60_000, 150_000, 400_000])
        x = st.assets[asset]
        engine = (_allowed(st, buyer, asset, size, price, x.taker_fee)
                  and _allowed(st, seller, asset, -size, price, x.maker_fee))
        seen[engine] += 1
        seq = base.clone()
        seq.submit(order(seller, SELL, 1, price, 100 + i, asset=asset))
        b = make(seq, [order(buyer, BUY, 1, price, 200 + i, asset=asset)])
        v = dict(b.values)
        v.update(s0_qty=size, s0_a_size=size, s0_b_size=size)
        _resign(v, "s0_", order(buyer, BUY, size, price, 200 + i, asset=asset), "sa_")
        _resign(v, "s0_", order(seller, SELL, size, price, 100 + i, asset=asset), "sb_")
        # (the forged leaf moves the root B's path opens: only the margin rule is compared)
        assert ("slot0/margin" not in failing(cs, v)) == engine, (buyer, seller, asset, size)
    assert seen[True] and seen[False]
