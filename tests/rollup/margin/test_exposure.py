"""Greeks of positions, accounts and the book (``rollup.margin.exposure``): against finite
differences of the Black-Scholes price at the implied volatility, put-call parity, the account
as the sum of its positions, the cache after a trade and after an oracle update, and the
volatility source shared with the scenario rows."""

from __future__ import annotations

import numpy as np
import pytest

from rollup.margin import exposure as ex
from rollup.margin import greeks as bs
from rollup.margin import scenario as sc
from rollup.margin.vols import implied_vols
from rollup.state.state import OracleEntry
from rollup.transactions import BUY, SELL, OracleUpdate, Order
from tests.rollup.margin.test_scenario import CALL, DAYS, IV, PERP, PUT, SPOT, STRIKE, account
from tests.rollup.margin.test_scenario import venue as scenario_venue
from tests.support.risk import FAR, RISKY, risky_book


def test_implied_vol_inverts_the_price_and_clamps():
    # where the price moves with the volatility (a deep in-the-money option at 5% is worth its
    # intrinsic value to 15 digits: no volatility to recover)
    s, k, t = 100.0, np.array([90.0, 100.0, 115.0]), np.array([0.25, 0.5, 2.0])
    for call in (True, False):
        for iv in (0.2, 0.6, 3.0):
            mark = bs.price(s, k, t, 0.0, iv, call)
            assert np.allclose(bs.implied_vol(mark, s, k, t, 0.0, call), iv, rtol=1e-9)
    # below the price at IV_MIN (here: below intrinsic) and above the bound S
    got = bs.implied_vol([0.0, 150.0], 100.0, 90.0, 0.5, 0.0, True)
    assert got[0] == pytest.approx(bs.IV_MIN) and got[1] == pytest.approx(bs.IV_MAX)


def test_the_oracle_marks_give_back_their_volatility():
    st = scenario_venue()  # marks: Black-Scholes at IV, rounded to integers
    vols = implied_vols(st)
    assert set(vols) == {CALL, PUT}
    assert all(v == pytest.approx(IV, abs=1e-4) for v in vols.values())
    # the scenario rows revalue at the same volatility by default
    assert np.array_equal(sc.oracle_table(st).dv, sc.oracle_table(st, vols).dv)
    assert ex.series(st).vols == vols


def _fd(s, k, t, iv, call):
    """(delta, gamma, vega per point, theta per day) by central differences of the price."""
    def v(s=s, t=t, iv=iv):
        return float(bs.price(s, k, t, 0.0, iv, call))

    hs, hv, ht = s * 1e-4, 1e-5, 1e-6
    return ((v(s=s + hs) - v(s=s - hs)) / (2 * hs),
            (v(s=s + hs) - 2 * v() + v(s=s - hs)) / hs**2,
            (v(iv=iv + hv) - v(iv=iv - hv)) / (2 * hv) * 0.01,
            -(v(t=t + ht) - v(t=t - ht)) / (2 * ht) / 365)


def test_positions_against_finite_differences_and_account_is_their_sum():
    st = scenario_venue()
    ser = ex.series(st)
    acc = account([(PERP, -7), (CALL, 11), (PUT, -4)], 10**9)
    g = ex.account_greeks(acc, ser)
    t = DAYS / 365
    for p in g.positions:
        if p.asset == PERP:
            assert p.greeks == ex.Greeks(-7.0, 0.0, 0.0, 0.0)
            continue
        want = _fd(float(SPOT), float(STRIKE), t, ser.vols[p.asset], p.asset == CALL)
        for got, fd in zip(p.greeks, want, strict=True):
            assert got == pytest.approx(p.balance * fd, rel=1e-5)
    assert list(g.underlyings) == [PERP]
    summed = np.sum([p.greeks for p in g.positions], axis=0)
    assert np.allclose(g.underlyings[PERP], summed, rtol=1e-15, atol=0)
    d, gm, vg, th = g.underlyings[PERP]
    assert g.total == pytest.approx((d * SPOT / 100, gm * SPOT**2 / 1e4, vg, th))


def test_put_call_parity():
    s, k = 100.0, np.array([70.0, 100.0, 140.0])
    c = bs.greeks(s, k, 0.3, 0.0, 0.45, True)
    p = bs.greeks(s, k, 0.3, 0.0, 0.45, False)
    assert np.allclose(c["delta"] - p["delta"], 1.0, rtol=0, atol=1e-12)
    assert np.allclose(c["gamma"], p["gamma"]) and np.allclose(c["vega"], p["vega"])
    # through the oracle: the call's and the put's marks imply (nearly) the same volatility
    u = ex.series(scenario_venue()).unit
    assert u[CALL, 0] - u[PUT, 0] == pytest.approx(1.0, abs=1e-4)
    assert u[CALL, 1] == pytest.approx(u[PUT, 1], rel=1e-3)


def test_expired_series_keep_only_their_intrinsic_delta():
    st = scenario_venue()
    st.begin()
    st.set_oracle(PERP, OracleEntry(SPOT + 500, 0, 0, 0))
    st.set_time(DAYS * 86_400 + 1)
    st.commit(defer=True)
    u = ex.series(st).unit
    assert u[CALL].tolist() == [1.0, 0.0, 0.0, 0.0]  # in the money
    assert u[PUT].tolist() == [0.0, 0.0, 0.0, 0.0]


def _fresh(st, i):
    return ex.account_greeks(st.accounts[i], ex.series(st))


def test_cache_follows_trades_and_oracle_updates():
    seq = risky_book()
    st = seq.state
    cache = ex.GreeksCache()
    before = {i: cache.account(st, i) for i in (1, 4, RISKY)}
    assert cache.computed == 3
    assert cache.account(st, 1) is before[1] and cache.computed == 3  # a hit
    # a trade replaces accounts 1 and 4: only they are computed again
    seq.apply_verified(Order(1, PERP, SELL, 500_000, 59_400, 9, FAR))
    seq.apply_verified(Order(4, PERP, BUY, 500_000, 59_400, 9, FAR))
    for i in (1, 4):
        got = cache.account(st, i)
        assert got == _fresh(st, i) and got != before[i]
    assert cache.account(st, RISKY) is before[RISKY] and cache.computed == 5
    # an oracle update: every account's Greeks are stale, recomputed on the next read
    options = cache.account(st, 1)
    seq.apply_verified(OracleUpdate(PERP, 57_000, 3))
    got = cache.account(st, 1)
    assert got == _fresh(st, 1) and got.underlyings != options.underlyings
    assert cache.account(st, RISKY) == _fresh(st, RISKY) and cache.computed == 7


def test_vectorized_accounts_and_book_equal_the_per_account_sums():
    st = risky_book().state
    ser = ex.series(st)
    ids, asset, bal = ex.positions_arrays(st)
    unders, g = ex.accounts_greeks(asset, bal, ser)
    assert unders.tolist() == [PERP]
    for k, i in enumerate(ids.tolist()):
        one = _fresh(st, i).underlyings.get(PERP, ex.Greeks(0.0, 0.0, 0.0, 0.0))
        assert np.allclose(g[k, 0], one, rtol=1e-12, atol=1e-12)
    book = ex.book_greeks(asset, bal, ser)
    # every position has its counterparty on the platform: the net is exactly 0
    assert book.net == {PERP: ex.Greeks(0.0, 0.0, 0.0, 0.0)}
    assert book.long[PERP].delta == pytest.approx(-book.short[PERP].delta)
    assert book.long[PERP].delta > 3_000_000
    assert book.long[PERP].delta == pytest.approx(np.maximum(g[:, 0, 0], 0).sum())
