"""A venue with a book to report on: accounts 1..6 of ``rollup.engine.testnet``'s venue, account
3 short the perpetual at nearly full leverage under the scenario rule (16% of its notional),
then the perpetual 7.8% higher and its rows not yet published again: account 3 is the account
nearest to liquidation under both of the report's rules, above maintenance on the published rows
(the rule enforced) and below it on the rows at the new price (the report's scenario column)."""

from __future__ import annotations

from rollup.engine import testnet as tn
from rollup.engine.testnet import CALL, PERP, PUT
from rollup.state.encoding import KIND_PERP
from rollup.transactions import BUY, SELL, Deposit, OracleUpdate, Order

FAR = 10**9
RISKY = 3
DEPOSIT = 4 * 10**10
RAISED = 64_700  # the perpetual's price after the rise


def risky_book(journal=None):
    seq = tn.venue(n_accounts=6, deposit=DEPOSIT, journal=journal)
    trades = [(1, 4, PERP, 1_000_000, 60_000), (2, 5, CALL, 10_000, 3_000),
              (5, 1, PUT, 20_000, 2_500), (RISKY, 6, PERP, 4_140_000, 60_000)]
    for oid, (seller, buyer, asset, size, price) in enumerate(trades, start=1):
        seq.apply_verified(Order(seller, asset, SELL, size, price, oid, FAR))
        seq.apply_verified(Order(buyer, asset, BUY, size, price, oid, FAR))
    seq.apply_verified(OracleUpdate(PERP, RAISED, 2))
    return seq


UNDERWATER = 1  # the account below maintenance in ``underwater_book``


def underwater_book(journal=None):
    """Account 1 long 1,300 perps near full leverage and short 100 puts, account 2 long 300
    calls and short 500 perps (deposits 1.4 x 10**7; 3 and 4, the counterparties, 10**10 more);
    then the perpetual 12% lower, the options marked again and the rows republished: account 1
    is below maintenance, and liquidating a part of its perpetual restores it."""
    seq = tn.venue(n_accounts=4, deposit=14 * 10**6, journal=journal)
    for i in (3, 4):
        seq.apply_verified(Deposit(i, tn.public_key(tn.key(i)), 10**10))
    trades = [(3, UNDERWATER, PERP, 1_300, 60_000), (UNDERWATER, 4, PUT, 100, 2_500),
              (4, 2, CALL, 300, 3_000), (2, 3, PERP, 500, 60_000)]
    for oid, (seller, buyer, asset, size, price) in enumerate(trades, start=1):
        seq.apply_verified(Order(seller, asset, SELL, size, price, oid, FAR))
        seq.apply_verified(Order(buyer, asset, BUY, size, price, oid, FAR))
    for asset, price in ((PERP, 52_800), (PUT, 8_000), (CALL, 400)):
        seq.apply_verified(OracleUpdate(asset, price, 2))
    tn.rows_update(seq, 2)
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
