"""The margin rule and its compiled twin agree: ``rollup.margin.compiled`` (Numba, 128-bit pairs,
on the asset table the engine's ``Core`` loads, scenario rows included) against
``rollup.margin.risk`` and ``rollup.margin.resting`` (Python integers), on random and edge
inputs. Where the twin answers
``ok`` it gives the same integers; it answers not ok exactly when an input leaves its ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rollup.engine.core import Core
from rollup.margin import compiled as T
from rollup.margin.resting import resting_worst
from rollup.margin.risk import allowed, unsettled_funding, value_and_risk
from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT
from rollup.state.state import EMPTY_SLOT, Account, Asset, OracleEntry, State

BOUND = T.BOUND
M64 = (1 << 64) - 1
PERP, CALL, PUT, PERP2 = 1, 2, 3, 4
KINDS = {PERP: KIND_PERP, CALL: KIND_CALL, PUT: KIND_PUT, PERP2: KIND_PERP}


def pair(x: int) -> tuple[int, int]:
    """A Python int as ``rollup.margin.wide``'s (hi, lo) pair."""
    lo = x & M64
    return x >> 64, lo - (1 << 64) if lo >> 63 else lo


def value(p) -> int:
    hi, lo = p
    return (int(hi) << 64) + (int(lo) & M64)


def edge_ints(top: int, lo: int = 0):
    """Integers in [lo, top), drawn often at the ends and around powers of two."""
    edges = [x for x in (lo, lo + 1, top - 1, top // 2, (1 << 31) - 1, 1 << 31, 1 << 40)
             if lo <= x < top]
    return st.one_of(st.sampled_from(edges), st.integers(lo, top - 1))


prices = edge_ints(BOUND, 1)
factors = edge_ints(1 << 31)
fundings = st.one_of(st.sampled_from([0, 1, -1, BOUND - 1, -(BOUND - 1)]),
                     st.integers(-(BOUND - 1), BOUND - 1))
balances = st.one_of(st.sampled_from([0, 1, -1, 2**31, -2**31, 2**62, -2**62, 2**63 - 1,
                                      -2**63]),
                     st.integers(-2**63, 2**63 - 1), st.integers(-10**6, 10**6))
dvs = st.one_of(st.integers(-10**6, 10**6), st.integers(-(2**60 - 1), 2**60 - 1),
                st.sampled_from([0, 2**60 - 1, -(2**60 - 1), 2**31]))
rows = st.lists(dvs, min_size=26, max_size=26).map(tuple)
markets = st.fixed_dictionaries({a: st.tuples(prices, factors, rows, fundings)
                                 for a in KINDS})


def venue(market) -> tuple[State, np.ndarray]:
    """A state with the four assets listed at these (price, fee factor, scenario rows, funding
    index), and the asset table the engine loads from it."""
    s = State(account_depth=4)
    s.begin()
    for a, kind in KINDS.items():
        _, rf, _, _ = market[a]
        s.add_asset(Asset(a, kind, rf, rf, underlying=0 if kind == KIND_PERP else PERP,
                          strike=1, expiry=10**9, maker_fee=rf, taker_fee=rf))
    for a, (p, _, dv, f) in market.items():
        s.set_oracle(a, OracleEntry(p, f if KINDS[a] == KIND_PERP else 0, 0, 0, dv))
    s.commit(defer=True)
    core = Core()
    core.sync(s)
    return s, core.asi


def in_range(x: int) -> bool:
    return -BOUND < x < BOUND


def under(a: int) -> int:
    return a if KINDS[a] == KIND_PERP else PERP


def sums_in_range(terms) -> bool:
    """The twin's ``shift`` chain: each product and each partial sum below BOUND."""
    x = 0
    for t in terms:
        if not in_range(t):
            return False
        x -= t
        if not in_range(x):
            return False
    return True


def losses_in_range(s: State, held, aid: int = -1, hb: int = 0, a2: int = 0,
                    q2: int = 0) -> bool:
    """The twin's ranges for the losses of the underlyings of ``held`` (slot order, balance hb
    for aid, q2 more of a2) -- every underlying the slots, aid or a2 name."""
    us = {under(a) for a, b in held if a and (b or a == aid)}
    if aid > 0:
        us.add(under(aid))
    if a2 > 0:
        us.add(under(a2))
    for u in us:
        for r in range(26):
            terms, seen = [], False
            for a, b in held:
                if not a:
                    continue
                seen |= a == aid
                b = hb if a == aid else b
                if b and under(a) == u:
                    terms.append(b * s.oracle[a].rows[r])
            if aid > 0 and not seen and hb and under(aid) == u:
                terms.append(hb * s.oracle[aid].rows[r])
            if a2 > 0 and q2 and under(a2) == u:
                terms.append(q2 * s.oracle[a2].rows[r])
            if not sums_in_range(terms):
                return False
    return True


values = st.integers(-(1 << 66), 1 << 66)
risks = st.integers(0, 1 << 98)
S = 1_000_000  # RISK_SCALE


@settings(max_examples=100, deadline=None)
@given(values, risks, values, risks, st.sampled_from(["any", "excess 0", "same excess",
                                                     "same risk"]))
def test_allowed(v0, r0, v1, r1, case):
    if case == "excess 0" and v1 >= 0:
        r1 = v1 * S  # healthy, just
    elif case == "same excess":
        v0, r0 = v1 + 1, r1 + S  # less risk, excess unchanged: allowed
    elif case == "same risk":
        r0 = r1  # not less risk: allowed only if healthy
    assert T.allowed(pair(v0), pair(r0), pair(v1), pair(r1)) == allowed(v0, r0, v1, r1)


@st.composite
def accounts(draw):
    """Up to four held assets in random slots, snapshots where funding applies, collateral."""
    held = draw(st.dictionaries(st.sampled_from(list(KINDS)),
                                st.tuples(balances.filter(bool), fundings), max_size=4))
    where = draw(st.permutations(range(8)))
    positions = [EMPTY_SLOT] * 8
    for j, (a, (b, snap)) in zip(where, held.items(), strict=False):
        positions[j] = (a, b, snap if KINDS[a] == KIND_PERP else 0)
    coll = draw(st.one_of(st.integers(-(BOUND - 1), BOUND - 1), st.integers(-10**9, 10**9)))
    return Account((1, 2), 0, coll, positions)


def arrays(acc: Account):
    pa, pb, ps = (np.array(col, np.int64) for col in zip(*acc.positions, strict=True))
    return pa, pb, ps


@settings(max_examples=80, deadline=None)
@given(markets, accounts())
def test_value_and_risk(market, acc):
    s, asi = venue(market)
    ok, settled, v, r = T.value_and_risk(asi, *arrays(acc), acc.collateral)
    held = [(a, b, snap) for a, b, snap in acc.positions if a]
    payments_ok = all(in_range(b * (s.oracle[a].funding_index - snap))
                      for a, b, snap in held if KINDS[a] == KIND_PERP)
    expect_settled = acc.collateral + unsettled_funding(s, acc)
    expect_ok = (payments_ok and all(in_range(b * s.oracle[a].price) for a, b, _ in held)
                 and losses_in_range(s, [(a, b) for a, b, _ in acc.positions])
                 and in_range(expect_settled))
    assert ok == expect_ok
    if ok:
        assert (settled, value(v), value(r)) == (expect_settled, *value_and_risk(s, acc))


totals = st.lists(st.tuples(edge_ints(BOUND), edge_ints(BOUND), edge_ints(BOUND),
                            edge_ints(BOUND)), min_size=4, max_size=4)
sizes = st.one_of(st.integers(-10**6, 10**6), edge_ints(BOUND, -(BOUND - 1)))


@settings(max_examples=80, deadline=None)
@given(markets, accounts(), totals, st.sampled_from(list(KINDS)), sizes, st.data())
def test_resting_worst(market, acc, rows, aid, hb, data):
    s, asi = venue(market)
    # per asset: [bid size, bid notional, ask size, ask notional], some assets without orders
    rt = np.zeros((asi.shape[0], 4), np.int64)
    per = {}
    for a, row in zip(KINDS, rows, strict=True):
        if data.draw(st.booleans()):
            rt[a] = row
            if row[0] or row[2]:
                per[a] = list(row)
    pa, pb, _ = arrays(acc)
    ok, dv, dr = T.resting_worst(rt, asi, pa, pb, aid, hb)
    held = [(a, b) for a, b, _ in acc.positions]
    expect_ok = True
    for a, (bq, _, aq, _) in per.items():
        expect_ok &= losses_in_range(s, held, aid, hb)
        for q in (bq, -aq):
            if q:
                expect_ok &= (in_range(q * s.oracle[a].price)
                              and losses_in_range(s, held, aid, hb, a, q))
    assert ok == expect_ok
    if ok:
        assert (value(dv), value(dr)) == resting_worst(s, per, acc.positions, aid, hb)


def test_resting_worst_edges():
    """Both sides resting, the worse one chosen; a tie on excess broken by the value change."""
    # the perpetual loses 5 a unit long in every row: risk 5,000,000 a unit
    opt = (3,) * 13 + (-4,) * 13
    s, asi = venue({PERP: (100, 50_000, (-5,) * 26, 0), CALL: (10, 100_000, opt, 0),
                    PUT: (10, 100_000, opt[::-1], 0), PERP2: (1, 0, (0,) * 26, 0)})
    rt = np.zeros((asi.shape[0], 4), np.int64)
    long_ = Account((1, 2), 0, 0, [(PERP, 50, 0)] + [EMPTY_SLOT] * 7)
    pa, pb, _ = arrays(long_)
    cases = [  # (totals, asset of the new order, its hypothetical balance, expected or None)
        ({PERP: [10, 900, 20, 2_200]}, PERP, 50, None),  # bids at a loss, asks at a gain
        ({CALL: [0, 0, 5, 40]}, PERP, 50, None),  # a short call: the underlying's price too
        ({PERP2: [3, 3, 3, 3]}, PERP, 50, (0, 0)),  # no risk, no gain: a tie on every key
        ({PERP: [1, 100, 0, 0], PERP2: [0, 0, 7, 0]}, PERP2, -4, None),
        # excess 0 either way (risk 5,000,000 a unit): the smaller value change is worse
        ({PERP: [10, 950, 0, 0]}, PERP, 50, (0, 0)),  # bids: dv 50 > 0; nothing is worse
        ({PERP: [0, 0, 10, 950]}, PERP, 50, (-50, -50_000_000)),  # asks: dv -50 < 0
    ]
    for per, aid, hb, expected in cases:
        rt[:] = 0
        for a, row in per.items():
            rt[a] = row
        ok, dv, dr = T.resting_worst(rt, asi, pa, pb, aid, hb)
        want = resting_worst(s, per, long_.positions, aid, hb)
        assert ok and (value(dv), value(dr)) == want, per
        assert expected in (None, want), per
    # a notional at the range's last value, then one unit of size more: the twin says so
    # rather than answer
    rt[:] = 0
    rt[PERP] = [BOUND // 100, 0, 0, 0]  # price 100
    assert T.resting_worst(rt, asi, pa, pb, PERP, 0)[0]
    rt[PERP] = [BOUND // 100 + 1, 0, 0, 0]
    assert not T.resting_worst(rt, asi, pa, pb, PERP, 0)[0]
