"""A venue with a book to report on: accounts 1..6 of ``rollup.engine.testnet``'s venue, account
3 long the perpetual at nearly full leverage, then the perpetual 1% lower (account 3 is then the
account nearest to liquidation under both rules)."""

from __future__ import annotations

from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, PERP, PUT
from rollup.state.encoding import KIND_PERP
from rollup.transactions import BUY, SELL, OracleUpdate, Order

FAR = 10**9
RISKY = 3
DROPPED = 59_400  # the perpetual's price after the drop


def risky_book(journal=None):
    seq = tn.venue(n_accounts=6, journal=journal)
    trades = [(1, 4, PERP, 1_000_000, 60_000), (2, 5, CALL, 10_000, 3_000),
              (5, 1, PUT, 20_000, 2_500), (6, RISKY, PERP, 3_000_000, 60_000)]
    for oid, (seller, buyer, asset, size, price) in enumerate(trades, start=1):
        seq.apply_verified(Order(seller, asset, SELL, size, price, oid, FAR))
        seq.apply_verified(Order(buyer, asset, BUY, size, price, oid, FAR))
    seq.apply_verified(OracleUpdate(PERP, DROPPED, 2))
    return seq


def linear_risk(state, acc) -> int:
    """The initial risk of the linear rule the scenario rule replaced (|b| p rf, plus
    |b| p_underlying sf for a short option; ppm-scaled): what the scenario tests compare with."""
    risk = 0
    for a, b, _ in acc.positions:
        if a and b:
            x = state.assets[a]
            risk += abs(b) * state.oracle[a].price * x.risk_initial
            if b < 0 and x.kind != KIND_PERP:
                risk += -b * state.oracle[x.underlying].price * x.short_initial
    return risk
