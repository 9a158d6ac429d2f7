"""The operator's risk report (``rollup.margin.report``): the ranking by each rule against the
exact integer rules, the scenario requirement against the reference, the grid P&L by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollup.margin import report as rp
from rollup.margin import scenario as sc
from rollup.margin.risk import value_and_risk
from rollup.state.encoding import RISK_SCALE
from tests.support.risk import RISKY, risky_book


@pytest.fixture(scope="module")
def book():
    st = risky_book().state
    return st, rp.report(st, top=10)


def test_the_near_liquidation_account_ranks_first_under_both_rules(book):
    st, rep = book
    rows = rep["nearest_to_liquidation"]
    assert rows[0]["account"] == RISKY
    assert rp.report(st, by="scenario")["nearest_to_liquidation"][0]["account"] == RISKY
    ratios = [x["today"]["ratio"] for x in rows]
    assert ratios == sorted(ratios, reverse=True) and 0.5 < ratios[0] < 1
    assert rep["accounts_with_positions"] == len(rows) == 6
    table = sc.oracle_table(st)
    for x in rows:
        acc = st.accounts[x["account"]]
        v, risk_m = value_and_risk(st, acc, maintenance=True)
        assert x["value"] == v and x["today"]["ratio"] == risk_m / (v * RISK_SCALE)
        assert x["today"]["liquidatable"] == (v * RISK_SCALE < risk_m)
        r = sc.requirement(acc.positions, table)
        assert x["scenario"]["requirement"] == r
        assert x["scenario"]["liquidatable"] == (v * RISK_SCALE < sc.MAINTENANCE_PPM * r)
    # the rise leaves it above maintenance on the published rows (the rule enforced) but under
    # it on the rows at the new price
    assert not rows[0]["today"]["liquidatable"] and rows[0]["scenario"]["liquidatable"]
    assert rep["liquidatable"]["today"] == 0


def test_ratio_edges():
    assert rp.ratio(0, -5) == 0.0 and math.isinf(rp.ratio(1, 0))
    assert rp.ratio(3 * RISK_SCALE, 4) == 0.75


def test_grid_pnl_by_hand(book):
    st, rep = book
    grid = rep["scenario_grid"]
    assert [r["row"] for r in grid] == list(range(sc.N_SCENARIOS))
    table = sc.oracle_table(st)
    value = {i: value_and_risk(st, a)[0] for i, a in st.accounts.items()}
    for s in (0, 7, 15, 16):
        loss = {i: sc.losses(a.positions, table).get(1, [0] * sc.N_SCENARIOS)[s]
                for i, a in st.accounts.items()}
        assert grid[s]["net_pnl"] == pytest.approx(-sum(loss.values()), abs=1e-3)
        want = sum(max(0, x - value[i]) for i, x in loss.items())
        assert grid[s]["platform_pnl"] == pytest.approx(-want)
    # +500% (row 23, weighted 3.2%) leaves the leveraged short short of collateral; -66% (row
    # 16, weighted 24%) leaves every long covered
    assert grid[23]["platform_pnl"] < 0 and grid[7]["platform_pnl"] == 0
    assert grid[16]["platform_pnl"] == 0
    assert rep["greeks"]["net"] == {"1": {"delta": 0.0, "gamma": 0.0, "vega": 0.0,
                                          "theta": 0.0}}
    assert np.isfinite([r["losing_accounts_loss"] for r in grid]).all()


def test_a_liquidatable_account_is_listed_with_its_liquidation_plan():
    from rollup.margin import sizing
    from tests.support.risk import UNDERWATER, underwater_book

    st = underwater_book().state
    rep = rp.report(st, top=10)
    rows = {x["account"]: x for x in rep["nearest_to_liquidation"]}
    p = sizing.plan(st, UNDERWATER)
    assert rows[UNDERWATER]["today"]["liquidatable"] and p is not None
    assert rows[UNDERWATER]["plan"] == {
        "asset": p.asset, "size": p.size, "excess_before": p.excess_before,
        "excess_after": p.excess_after, "restores": p.restores}
    others = [x for i, x in rows.items() if i != UNDERWATER]
    assert others and all(x["plan"] is None for x in others if not x["today"]["liquidatable"])
