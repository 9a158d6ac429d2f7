"""Liquidation sizing on the scenario rule (docs/margin.md): for an account below maintenance,
the position a liquidator takes over and how much. Taking q units of asset a (balance b, price
p, liquidation fee f ppm) moves the losses of a's underlying by +sign(b) q dV[a, s] and the
account's value by the penalty only (the position leaves at the mark):

    excess(q) = (v - floor(q p f / 10**6)) * RISK_SCALE - MAINTENANCE_PPM * R(q)

R(q) is convex in q (a maximum of affine functions), so excess is concave but for the
penalty's rounding. Per position: the smallest q in 1..|b| with excess(q) >= 0 (maintenance
restored), else the q of the largest excess. Across positions: the restoring plan that moves
the least notional (q p), else the one gaining the most excess per unit of notional. Exact
integers on ``rollup.margin.risk``; the engine's Liquidation of a plan's (asset, size) is
accepted and leaves the predicted excess (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rollup.margin import risk
from rollup.margin.scenario import MAINTENANCE_PPM
from rollup.state.encoding import RISK_SCALE
from rollup.state.state import Account, State


@dataclass(frozen=True)
class Plan:
    asset: int
    size: int  # units taken over, 1..|balance|
    excess_before: int  # value * RISK_SCALE - maintenance risk
    excess_after: int

    @property
    def restores(self) -> bool:
        return self.excess_after >= 0


def excess_after(state: State, acc: Account, asset: int) -> Callable[[int], int]:
    """q -> the account's maintenance excess after q units of its ``asset`` position are
    liquidated (the formula of the module docstring)."""
    b = acc.balance(asset)
    ls = risk.losses(state, acc.positions)
    u = risk.under_of(state, asset)
    others = sum(risk.worst(row) for k, row in ls.items() if k != u)
    row, dv = ls[u], state.oracle[asset].rows
    v = risk.account_value(state, acc)
    p, f = state.oracle[asset].price, state.assets[asset].liquidation_fee
    sign = 1 if b > 0 else -1

    def excess(q: int) -> int:
        # the balance moves by -sign q: risk.shifted takes the change of the balance
        r = others + risk.worst(risk.shifted(row, -sign * q, dv))
        return (v - q * p * f // RISK_SCALE) * RISK_SCALE - MAINTENANCE_PPM * r

    return excess


def best_size(excess: Callable[[int], int], n: int) -> int:
    """The smallest q in 1..n with excess(q) >= 0, else the first q of the largest excess
    (binary searches on a concave function)."""
    lo, hi = 1, n
    while lo < hi:  # the peak: the first q whose next step does not gain
        mid = (lo + hi) // 2
        if excess(mid + 1) > excess(mid):
            lo = mid + 1
        else:
            hi = mid
    peak = lo
    if excess(peak) < 0:
        return peak
    lo, hi = 1, peak
    while lo < hi:  # rising up to the peak: the first q at or above 0
        mid = (lo + hi) // 2
        if excess(mid) >= 0:
            hi = mid
        else:
            lo = mid + 1
    return lo


def plan(state: State, account_id: int) -> Plan | None:
    """The liquidation of the module docstring for ``account_id``; None when it is not below
    maintenance or no position's liquidation improves it."""
    acc = state.accounts[account_id]
    if not risk.is_liquidatable(state, acc):
        return None
    before = risk.excess(state, acc, maintenance=True)
    best, key = None, None
    for a, b, _ in acc.positions:
        if not a or not b or not risk.has_rows(state, a):
            continue
        excess = excess_after(state, acc, a)
        q = best_size(excess, abs(b))
        after = excess(q)
        if after <= before:
            continue
        notional = max(1, q * state.oracle[a].price)
        # restoring plans first, by least notional; then by excess gained per notional
        k = (0, notional, a) if after >= 0 else (1, -(after - before) / notional, a)
        if key is None or k < key:
            best, key = Plan(a, q, before, after), k
    return best
