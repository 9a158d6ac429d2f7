"""Resting-order margin: the worst case of an account's resting orders, and their totals.

A remainder may rest only if the account stays ``allowed`` (``rollup.margin.risk``, against the
account before the order) when it fills entirely at its limit price and, in every asset, the
account's other resting orders fill on whichever side (all bids, all asks, or none) leaves the
least excess, each at its limit price (fees aside; reduce-only orders, which can only shrink a
position, are neither counted nor checked). Each asset's side is judged alone against the
account's losses and the risk changes are summed (the scenario rule is not separable). The
rule needs, per account and asset, only the totals [bid size, bid notional, ask size, ask
notional] of its resting orders: they live in a compact ``store`` (the matching core's arrays,
which the compiled kernel also updates) while they fit it, and exactly in ``wide`` (account ->
asset -> totals) once they leave its range. ``rollup.margin.compiled.resting_worst`` is the twin
of ``resting_worst``.
"""

from __future__ import annotations

from typing import Protocol

from rollup.margin.risk import losses, shifted, under_of, worst
from rollup.state.encoding import RISK_SCALE
from rollup.state.state import State
from rollup.transactions import BUY


def resting_worst(state: State, totals: dict[int, list[int]],
                  positions: list[tuple[int, int, int]], asset_id: int,
                  balance: int) -> tuple[int, int]:
    """(value change, risk change) of resting orders with these ``totals`` in the worst case:
    per asset the side (all bids fill, all asks fill, or none) that leaves the least excess,
    lexicographically on (excess, value change, risk change), each against the losses of
    ``positions`` with ``balance`` for ``asset_id``."""
    held = [(a, b) for a, b, _ in positions if a and a != asset_id] + [(asset_id, balance)]
    ls = losses(state, held)
    dv_total = dr_total = 0
    for a, (bq, bn, aq, an) in totals.items():
        price = state.oracle[a].price
        dv_a = state.oracle[a].rows
        row = ls.get(under_of(state, a))
        m_b = worst(row) if row is not None else 0
        best_ex = best_dv = best_dr = 0  # nothing fills
        for q, n in ((bq, bn), (-aq, -an)):
            if q:
                dv = q * price - n
                dr = RISK_SCALE * (worst(shifted(row or [0] * len(dv_a), q, dv_a)) - m_b)
                ex = dv * RISK_SCALE - dr
                if (ex, dv, dr) < (best_ex, best_dv, best_dr):
                    best_ex, best_dv, best_dr = ex, dv, dr
        dv_total += best_dv
        dr_total += best_dr
    return dv_total, dr_total


class TotalsStore(Protocol):
    """Where totals live while they fit (``rollup.engine.core.Core``)."""

    def rt_add(self, account: int, asset: int, side: int, price: int, qty: int,
               accounts: dict) -> bool: ...

    def totals_of(self, account: int) -> dict[int, list[int]]: ...

    def all_totals(self) -> dict[int, dict[int, list[int]]]: ...


def totals_of(store: TotalsStore, wide: dict, account: int) -> dict[int, list[int]]:
    """asset -> [bid size, bid notional, ask size, ask notional] of the account's orders."""
    per = wide.get(account)
    return per if per is not None else store.totals_of(account)


def all_totals(store: TotalsStore, wide: dict) -> dict[int, dict[int, list[int]]]:
    """``totals_of`` for every account with resting orders."""
    out = store.all_totals()
    out.update({i: per for i, per in wide.items() if per})
    return out


def add(store: TotalsStore, wide: dict, account: int, asset_id: int, side: int, price: int,
        qty: int, accounts: dict) -> None:
    """Count ``qty`` more (fewer, if negative) of an order resting at ``price`` on ``side``."""
    per = wide.get(account)
    if per is None:
        if store.rt_add(account, asset_id, side, price, qty, accounts):
            return
        # the store cannot hold it: this account's totals are kept here from now on
        per = wide[account] = store.totals_of(account)
    agg = per.get(asset_id)
    if agg is None:
        agg = per[asset_id] = [0, 0, 0, 0]
    k = 0 if side == BUY else 2
    agg[k] += qty
    agg[k + 1] += qty * price
    if not (agg[0] or agg[2]):
        del per[asset_id]
