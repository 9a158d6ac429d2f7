"""Liquidation sizing (``rollup.margin.sizing``): the plan against a brute force over every
position and size, the engine accepts it and lands on the predicted excess, and the smallest
restoring size is the smallest (one unit less leaves the account liquidatable)."""

from __future__ import annotations

import pytest

from rollup.margin import sizing
from rollup.margin.risk import excess, is_liquidatable
from rollup.transactions import Liquidation
from tests.support.risk import FAR, UNDERWATER, underwater_book


@pytest.fixture(scope="module")
def book():
    return underwater_book()


def _brute(st, acc):
    """Per position: (smallest restoring q, else the first q of the largest excess; its excess),
    by trying every size."""
    out = {}
    for a, b, _ in acc.positions:
        if a and b:
            f = sizing.excess_after(st, acc, a)
            ex = {q: f(q) for q in range(1, abs(b) + 1)}
            ok = [q for q, x in ex.items() if x >= 0]
            q = ok[0] if ok else max(ex, key=lambda k: (ex[k], -k))
            out[a] = (q, ex[q])
    return out


def test_the_plan_is_the_brute_forces_and_the_engine_lands_on_it(book):
    seq = book.clone()
    st = seq.state
    acc = st.accounts[UNDERWATER]
    assert is_liquidatable(st, acc)
    p = sizing.plan(st, UNDERWATER)
    brute = _brute(st, acc)
    assert len(brute) == 2 and (p.size, p.excess_after) == brute[p.asset]
    assert p.excess_before == excess(st, acc, maintenance=True) < 0
    restoring = {a: q * st.oracle[a].price for a, (q, x) in brute.items() if x >= 0}
    assert restoring and p.restores and p.asset == min(restoring, key=restoring.get)
    seq.apply_verified(Liquidation(3, UNDERWATER, p.asset, p.size, st.account(3).nonce, FAR))
    assert excess(st, st.accounts[UNDERWATER], maintenance=True) == p.excess_after >= 0
    assert not is_liquidatable(st, st.accounts[UNDERWATER])


def test_one_unit_less_does_not_restore(book):
    seq = book.clone()
    st = seq.state
    p = sizing.plan(st, UNDERWATER)
    assert p.size > 1
    seq.apply_verified(Liquidation(3, UNDERWATER, p.asset, p.size - 1, st.account(3).nonce, FAR))
    assert is_liquidatable(st, st.accounts[UNDERWATER])


def test_a_position_that_cannot_restore_gets_its_best_size(book):
    """The short puts alone never bring account 1 back (the perpetual's loss stays): their plan
    is the size of the largest excess, strictly better than before."""
    st = book.state
    acc = st.accounts[UNDERWATER]
    puts = next(a for a, b, _ in acc.positions if b < 0)
    f = sizing.excess_after(st, acc, puts)
    q = sizing.best_size(f, abs(acc.balance(puts)))
    assert f(q) < 0 and f(q) == max(f(k) for k in range(1, abs(acc.balance(puts)) + 1))
    assert f(q) > excess(st, acc, maintenance=True)


def test_no_plan_for_a_healthy_account(book):
    st = book.state
    assert not is_liquidatable(st, st.accounts[3]) and sizing.plan(st, 3) is None
