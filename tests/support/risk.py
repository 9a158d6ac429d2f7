"""A venue with a book to report on: accounts 1..6 of ``rollup.engine.testnet``'s venue, account
3 long the perpetual at nearly full leverage, then the perpetual 1% lower (account 3 is then the
account nearest to liquidation under both rules)."""

from __future__ import annotations

from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, PERP, PUT
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
