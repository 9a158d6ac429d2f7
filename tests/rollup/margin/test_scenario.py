"""The scenario rule (``rollup.margin.scenario``, docs/margin.md): the oracle's revaluation
against Black-Scholes, the rule's properties, and its compiled twin against the reference on
random and edge inputs (exact integers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollup.errors import BadOracle, UnknownMarket
from rollup.margin import greeks as bs
from rollup.margin import scenario as sc
from rollup.margin.risk import account_value
from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT, RISK_SCALE
from rollup.state.state import EMPTY_SLOT, Account, Asset, OracleEntry, State
from tests.support.risk import linear_risk

PERP, CALL, PUT = 1, 2, 3
SPOT = STRIKE = 60_000
DAYS = 20
IV = 0.6


def venue(iv: float = IV) -> State:
    """A perpetual at SPOT and an ATM call and put on it expiring in DAYS, marked by the oracle at
    their Black-Scholes values at ``iv`` (today's linear factors as in the test venue)."""
    s = State(account_depth=4)
    s.begin()
    s.add_asset(Asset(PERP, KIND_PERP, 50_000, 30_000))
    for a, kind in ((CALL, KIND_CALL), (PUT, KIND_PUT)):
        s.add_asset(Asset(a, kind, 100_000, 50_000, underlying=PERP, strike=STRIKE,
                          expiry=DAYS * 86_400, short_initial=100_000, short_maintenance=60_000))
    marks = bs.price(SPOT, STRIKE, DAYS / 365, 0.0, iv, np.array([True, False]))
    for a, p in ((PERP, SPOT), (CALL, round(marks[0])), (PUT, round(marks[1]))):
        s.set_oracle(a, OracleEntry(p, 0, 0, 0))
    s.commit(defer=True)
    return s


def account(positions, collateral: int = 0) -> Account:
    slots = [(a, b, 0) for a, b in positions] + [EMPTY_SLOT] * (8 - len(positions))
    return Account((1, 2), 0, collateral, slots)


# -- the oracle's rows -------------------------------------------------------------------------


def test_grid():
    assert len(sc.GRID) == 24 and sc.N_SCENARIOS == 26
    core, tail = sc.GRID[:16], sc.GRID[16:]
    assert {x for x, _, _ in core} == {k * 40_000 for k in range(-4, 5)}
    assert all(wt == RISK_SCALE for _, _, wt in core)
    for spot, vol, wt in tail:  # weights ~16% / |shock|: a linear position loses ~16% there
        assert vol == 400_000 and abs(abs(spot) * wt - 160_000 * RISK_SCALE) <= 1_600_000_000


def test_perp_row_by_hand():
    row = sc.perp_row(60_000)
    assert row[0] == 9_600 and row[15] == -9_600  # +-16%
    assert row[16] == -9_504  # -66% x 24%
    assert row[21] == 9_599  # +300% x 5.3333%: 9,599.94 floored
    assert row[24:] == [-1_200, 1_200]  # the delta charge, 2% of the price
    # floor, not truncation: the loss of a long is never understated
    assert sc.perp_row(1)[9] == -1 and sc.perp_row(1)[5] == 0


def test_vol_scale():
    assert sc.vol_scale(30) == pytest.approx(1.0)
    assert sc.vol_scale(1) == pytest.approx(30**0.3)
    assert sc.vol_scale(0.25) == sc.vol_scale(1)
    assert sc.vol_scale(120) == pytest.approx(0.25**0.13)


def test_revaluation_is_black_scholes():
    # Hull, example 15.6 (S=42, K=40, r=10%, sigma=20%, T=0.5: call 4.76, put 0.81) in base
    # units of 1/10,000: every grid row is the weighted, floored Black-Scholes difference
    s, k, secs = 420_000.0, 400_000.0, 0.5 * sc.SECONDS_PER_YEAR
    rows = sc.option_rows(s, k, secs, 0.10, 0.20, [True, False])
    v0 = bs.price(s, k, 0.5, 0.10, 0.20, np.array([True, False]))
    assert v0 == pytest.approx([47_600, 8_100], abs=50)
    scale = sc.vol_scale(secs / 86_400)
    for j, (spot, vol, wt) in enumerate(sc.GRID):
        v = bs.price(s * (1 + spot / 1e6), k, 0.5, 0.10, 0.20 * (1 + vol / 1e6 * scale),
                     np.array([True, False]))
        assert rows[:, j].tolist() == [math.floor(wt / 1e6 * (v[i] - v0[i])) for i in (0, 1)]


def test_put_call_parity_per_scenario():
    # C - P = S - K e^{-rT} whatever the volatility: the rows of a call and a put differ by
    # the weighted spot move (within the two floors), and their deltas by one
    s = 60_000.0
    rows = sc.option_rows(s, [50_000, 60_000, 75_000], 45 * 86_400, 0.04, 0.7,
                          np.array([[True], [False]]))
    calls, puts = rows[:3], rows[3:]
    for j, (spot, _, wt) in enumerate(sc.GRID):
        move = wt / 1e6 * spot / 1e6 * s
        assert np.all(np.abs(calls[:, j] - puts[:, j] - move) <= 1)
    assert np.all(np.abs(calls[:, 25] - puts[:, 25] - 0.02 * s) <= 1)
    assert np.all(np.abs(calls[:, 24] - puts[:, 24] + 0.02 * s) <= 1)


def test_delta_rows_are_finite_difference_deltas():
    # Hull's running example (ch. 19): S=49, K=50, r=5%, sigma=20%, 20 weeks: delta 0.522,
    # in base units of 1/1,000: the charge rows are -/+ 2% x 0.522 x 49,000, floored
    rows = sc.option_rows(49_000, 50_000, 20 / 52 * sc.SECONDS_PER_YEAR, 0.05, 0.20, True)
    assert rows[0, 24:].tolist() == [-512, 511]
    h = 1.0
    f = lambda x: bs.price(x, 50_000.0, 20 / 52, 0.05, 0.20, True)  # noqa: E731
    delta_fd = (f(49_000 + h) - f(49_000 - h)) / (2 * h)
    assert abs(0.02 * delta_fd * 49_000 - rows[0, 25]) < 1


def test_expired_series_is_intrinsic():
    rows = sc.option_rows(60_000, 50_000, 0, 0.0, 0.5, [True, False])
    up16 = [math.floor(9_600.0), 0]  # call intrinsic 10,000 -> 19,600; put stays 0
    assert rows[:, 0].tolist() == up16
    assert rows[:, 24:].tolist() == [[-1_200, 1_200], [0, 0]]  # delta 1 and 0


def test_oracle_rejects_what_it_cannot_publish():
    with pytest.raises(BadOracle):
        sc.option_rows(60_000, 60_000, 86_400, 0.0, 0.0, True)
    with pytest.raises(BadOracle):
        sc.option_rows(2.0**64, 1.0, 86_400, 0.0, 0.5, True)
    with pytest.raises(BadOracle):
        sc.oracle_table(venue(), {CALL: 0.5})  # no volatility for the put
    with pytest.raises(UnknownMarket):
        sc.requirement([(7, 1)], sc.oracle_table(venue(), {CALL: 0.5, PUT: 0.5}))


# -- the rule's properties ---------------------------------------------------------------------

TABLE = sc.oracle_table(venue(), {CALL: IV, PUT: IV})
held = st.dictionaries(st.sampled_from([PERP, CALL, PUT]), st.integers(-10**7, 10**7),
                       max_size=3)


def combine(x: dict, y: dict) -> list[tuple[int, int]]:
    return [(a, x.get(a, 0) + y.get(a, 0)) for a in {*x, *y}]


@settings(max_examples=200, deadline=None)
@given(held, held)
def test_portfolio_never_needs_more_than_its_parts(x, y):
    parts = sc.requirement(x.items(), TABLE) + sc.requirement(y.items(), TABLE)
    assert sc.requirement(combine(x, y), TABLE) <= parts


@settings(max_examples=100, deadline=None)
@given(held)
def test_maintenance_below_initial(x):
    init, maint = sc.risks(x.items(), TABLE)
    assert maint == init // 2
    assert (maint < init) == (init > 0)


def test_maintenance_below_initial_by_hand():
    init, maint = sc.risks([(PUT, -1_000)], TABLE)
    assert 0 < maint < init


def test_delta_hedged_needs_far_less_than_the_linear_rule():
    s = venue()
    delta = float(bs.greeks(SPOT, STRIKE, DAYS / 365, 0.0, IV, True)["delta"])
    hedged = [(CALL, 1_000), (PERP, -round(1_000 * delta))]
    linear = linear_risk(s, account(hedged))  # ppm-scaled, like risk_initial
    scenario, _ = sc.risks(hedged, TABLE)
    assert scenario < linear / 2
    # and less than either leg alone: the hedge is recognized
    assert sc.requirement(hedged, TABLE) < min(sc.requirement([p], TABLE) for p in hedged)


def test_short_straddle_needs_more_after_vol_up():
    straddle = account([(CALL, -1_000), (PUT, -1_000)])

    def needed(iv: float) -> tuple[int, int]:
        """(collateral needed to be healthy, worst core-grid loss) after an oracle update
        publishing marks and scenario rows at ``iv``."""
        s, table = venue(iv), sc.oracle_table(venue(iv), {CALL: iv, PUT: iv})
        marks = account_value(s, straddle)  # the short options' value at the marks
        r = sc.requirement(straddle.positions, table)
        core = max(sc.losses(straddle.positions, table)[PERP][:16])
        return r - marks, core

    calm, stressed = needed(IV), needed(1.5 * IV)
    assert stressed[0] > calm[0] * 1.1
    assert stressed[1] > calm[1]


# -- the compiled twin against the reference ---------------------------------------------------

LIM = sc.DV_LIMIT - 1
dvs = st.one_of(st.sampled_from([0, 1, -1, LIM, -LIM]), st.integers(-LIM, LIM),
                st.integers(-10**6, 10**6))
bals = st.one_of(st.sampled_from([0, 1, -1, 2**63 - 1, -2**63, 2**62]),
                 st.integers(-2**63, 2**63 - 1), st.integers(-10**6, 10**6))
N_TEST_ASSETS = 6


@st.composite
def tables(draw):
    """Assets 1..5: a random underlying each (some unlisted: 0), random rows."""
    dv = np.zeros((N_TEST_ASSETS, sc.N_SCENARIOS), np.int64)
    under = np.zeros(N_TEST_ASSETS, np.int64)
    for a in range(1, N_TEST_ASSETS):
        under[a] = draw(st.sampled_from([0, 1, 1, 2, 3]))
        dv[a] = draw(st.lists(dvs, min_size=sc.N_SCENARIOS, max_size=sc.N_SCENARIOS))
    return sc.Table(dv, under)


slots = st.lists(st.tuples(st.integers(0, N_TEST_ASSETS - 1), bals), min_size=8, max_size=8)


def reference(positions, table):
    try:
        return sc.OK, sc.requirement(positions, table), sc.spread(positions, table)
    except UnknownMarket:
        return sc.BAD_ASSET, None, None


@settings(max_examples=80, deadline=None)
@given(tables(), st.lists(slots, min_size=1, max_size=6))
def test_twin_equals_reference(table, accounts):
    asset = np.array([[a for a, _ in acc] for acc in accounts], np.int64)
    bal = np.array([[b for _, b in acc] for acc in accounts], np.int64)
    r, spread, status = sc.requirements(asset, bal, table)
    for i, acc in enumerate(accounts):
        want = reference(acc, table)
        assert status[i] == want[0]
        if want[0] == sc.OK:
            assert (sc.to_int(r[i]), sc.to_int(spread[i])) == want[1:]


def test_twin_at_the_range_ends():
    """Every slot at the largest |b * dV| (2**63 * (2**60 - 1)), one sign: 8 of them, ~2**126,
    still exact; then mixed signs cancelling; an empty account needs nothing."""
    dv = np.zeros((3, sc.N_SCENARIOS), np.int64)
    dv[1] = LIM
    dv[2] = -LIM
    dv[2, 5] = LIM
    table = sc.Table(dv, np.array([0, 1, 1]))
    cases = [[(1, -2**63)] * 8, [(2, -2**63)] * 8, [(1, -2**63), (2, -2**63)] * 4,
             [(0, 0)] * 8, [(1, 0), (2, 0)] * 4]
    asset = np.array([[a for a, _ in c] for c in cases], np.int64)
    bal = np.array([[b for _, b in c] for c in cases], np.int64)
    r, spread, status = sc.requirements(asset, bal, table)
    assert not status.any()
    for i, c in enumerate(cases):
        assert sc.to_int(r[i]) == sc.requirement(c, table)
        assert sc.to_int(spread[i]) == sc.spread(c, table)
    assert sc.to_int(r[0]) == 8 * 2**63 * LIM
    assert sc.to_int(r[3]) == sc.to_int(r[4]) == 0
    with pytest.raises(BadOracle):
        sc.requirements(asset, bal, sc.Table(dv * 2, table.under))


def test_twin_on_the_oracle_table():
    rng = np.random.default_rng(3)
    asset = np.tile(np.array([PERP, CALL, PUT, 0, 0, 0, 0, 0]), (200, 1))
    bal = rng.integers(-10**6, 10**6, (200, 8))
    r, _, status = sc.requirements(asset, bal, TABLE)
    assert not status.any()
    for i in range(200):
        positions = zip(asset[i].tolist(), bal[i].tolist(), strict=True)
        assert sc.to_int(r[i]) == sc.requirement(positions, TABLE)
    assert np.allclose(sc.to_float(r), [sc.to_int(x) for x in r])


def test_greeks_compiled_equals_numpy():
    rng = np.random.default_rng(11)
    n = 500
    args = (rng.uniform(1, 200, n), rng.uniform(1, 200, n), rng.uniform(1e-3, 3, n), 0.03,
            rng.uniform(0.05, 2.0, n), rng.random(n) < 0.5)
    fast, ref = bs.greeks_compiled(*args), bs.greeks(*args)
    for name in bs.GREEKS:
        # round-off only; theta's two terms cancel (a result 1e-5 of their size), so its error
        # is relative to the terms, not to the result (numpy's SIMD exp/log differ in the last
        # ulp from the compiled libm calls on some CPUs)
        scale = np.abs(ref[name]).max()
        assert np.allclose(fast[name], ref[name], rtol=1e-14, atol=1e-14 * scale), name
    one = bs.greeks_compiled(49.0, 50.0, 20 / 52, 0.05, 0.20, True)
    assert one["delta"].shape == () and float(one["delta"]) == pytest.approx(0.522, abs=5e-4)
