
import numpy as np
import pytest

from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, PERP
from rollup.margin.liquidation import MarginMatrix
from rollup.margin.risk import account_risk, account_value, excess, is_liquidatable
from rollup.transactions import BUY, SELL, FundingTick, OracleUpdate, Order


@pytest.fixture(scope="module")
def book_state():
    # unsigned requests through apply_verified: signatures are covered by the sequencer tests
    seq = tn.venue(n_accounts=6)
    sizes = [1_000_000, 600_000, 300_000]  # the first short near its limit (R = 16%)
    for i, sz in enumerate(sizes):
        seq.apply_verified(Order(1 + i, PERP, SELL, sz, 60_000, 1, 10**9))
        seq.apply_verified(Order(4 + i, PERP, BUY, sz, 60_000, 1, 10**9))
    seq.apply_verified(Order(1, CALL, SELL, 10_000, 3_000, 2, 10**9))
    seq.apply_verified(Order(4, CALL, BUY, 10_000, 3_000, 2, 10**9))
    return seq


def test_margin_formula_by_hand(book_state):
    st = book_state.state
    acc = st.accounts[1]
    b = acc.balance(PERP)
    assert b == -1_000_000
    value = acc.collateral + b * 60_000 + acc.balance(CALL) * 3_000
    assert account_value(st, acc) == value
    # short 1,000,000 perps and 10,000 calls: the worst row of their summed losses, halved
    loss = [1_000_000 * p + 10_000 * c
            for p, c in zip(st.oracle[PERP].rows, st.oracle[CALL].rows, strict=True)]
    risk = 500_000 * max(0, *loss)
    assert account_risk(st, acc, maintenance=True) == risk
    assert excess(st, acc, maintenance=True) == value * 10**6 - risk


@pytest.mark.parametrize("price", [55_000, 58_000, 60_000, 61_500, 62_000, 63_000, 66_000])
def test_scan_equals_exact_rule(book_state, price):
    seq = book_state.clone()
    seq.apply_verified(OracleUpdate(PERP, price, 5))
    seq.apply_verified(FundingTick(PERP, 40, 6))
    mm = MarginMatrix(seq.state)
    exact = sorted(i for i, a in seq.state.accounts.items() if is_liquidatable(seq.state, a))
    assert sorted(mm.scan().tolist()) == exact
    ex = mm.excess()
    for r, i in enumerate(mm.ids):
        want = excess(seq.state, seq.state.accounts[int(i)], maintenance=True)
        assert ex[r] == pytest.approx(want, rel=1e-12, abs=1e6)


def test_scan_matrix_refresh(book_state):
    seq = book_state.clone()
    mm = MarginMatrix(seq.state)
    seq.apply_verified(Order(2, PERP, BUY, 600_000, 60_000, 5, 10**9))
    seq.apply_verified(Order(5, PERP, SELL, 600_000, 60_000, 5, 10**9))
    mm.refresh([2, 5, 0])
    fresh = MarginMatrix(seq.state)
    assert np.array_equal(mm.balance, fresh.balance)
    assert np.array_equal(mm.collateral, fresh.collateral)
