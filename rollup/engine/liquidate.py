"""The liquidation handler: a liquidator takes over part of an account's position below
maintenance margin at the oracle price, paid a penalty, if that improves the account's
maintenance excess and leaves the liquidator allowed (``rollup.margin.risk``). The shape of the
handlers in ``rollup.engine.funds``; the fee account (0) does not liquidate."""

from __future__ import annotations

from rollup import errors as E
from rollup.engine.checks import (
    check,
    check_collateral,
    fee,
    funding_of,
    listed,
    nonce_is,
    not_expired,
    set_balance,
    working,
)
from rollup.engine.receipts import Receipt, record
from rollup.margin.risk import excess, has_rows, in_window, is_liquidatable, trade_allowed
from rollup.state.state import FEE_ACCOUNT
from rollup.transactions import T_LIQUIDATION, Liquidation


def liquidation(seq, req: Liquidation):
    st = seq.state
    lq = st.account(req.liquidator)
    nonce_is(lq, req.nonce)
    not_expired(st, req.expiry)
    check(req.liquidator != req.liquidated, E.InvalidRequest, "self-liquidation")
    check(req.liquidator != FEE_ACCOUNT, E.InvalidRequest,
          "the fee account (0) holds no positions: it does not liquidate")
    asset = listed(st, req.asset)
    check(has_rows(st, req.asset), E.UnknownMarket, f"asset {req.asset} has no scenario rows")
    victim_before = st.account(req.liquidated)
    check(is_liquidatable(st, victim_before), E.NotLiquidatable,
          f"account {req.liquidated} is above maintenance margin")
    b = victim_before.balance(req.asset)
    check(b != 0, E.NotLiquidatable, "no position in that asset")
    check(0 < req.size <= abs(b), E.InvalidRequest, "size must be in 1..|position|")
    delta = req.size if b > 0 else -req.size  # balance moving from victim to liquidator
    price = st.oracle[req.asset].price
    penalty = fee(req.size * price, asset.liquidation_fee)
    victim, liq = working(st, req.liquidated), working(st, req.liquidator)
    funding = funding_of(st, asset)
    set_balance(victim, asset, b - delta, funding)
    set_balance(liq, asset, liq.balance(req.asset) + delta, funding)
    victim.collateral += delta * price - penalty
    liq.collateral += -delta * price + penalty
    liq.nonce += 1
    check_collateral(victim)
    check_collateral(liq)
    check(in_window(st, victim) and in_window(st, liq), E.InvalidRequest,
          "scenario losses out of range")
    check(excess(st, victim, maintenance=True) > excess(st, victim_before, maintenance=True),
          E.NotLiquidatable, "liquidation would not improve the account")
    check(trade_allowed(st, lq, liq), E.InsufficientMargin,
          f"liquidator {req.liquidator} would be under initial margin")
    st.put_account(req.liquidated, victim)
    st.put_account(req.liquidator, liq)
    rec = record(T_LIQUIDATION, liquidator=req.liquidator, liquidated=req.liquidated,
                 asset=req.asset, size=delta, price=price, penalty=penalty, nonce=req.nonce)
    return Receipt(0, 0, [rec]), []
