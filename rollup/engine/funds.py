"""Request handlers for collateral: deposit, withdrawal, forced withdrawal, refund, transfer.

Each handler takes the sequencer and the request, validates it on working copies and writes
the accounts into the open state transaction; it returns the receipt and no book changes (or
raises the typed error: the sequencer then rolls the transaction back). Deposits, forced
withdrawals and refunds come from the L1 priority queue and carry no signature.
"""

from __future__ import annotations

from circuits.babyjubjub import pack_point
from circuits.eddsa import public_key_is_safe
from rollup import errors as E
from rollup.engine.checks import check, check_collateral, nonce_is, not_expired, working
from rollup.engine.receipts import Receipt, record
from rollup.margin.risk import account_value, in_window, is_healthy
from rollup.state.encoding import AMOUNT_BITS, fits_unsigned
from rollup.state.state import Account
from rollup.transactions import (
    T_DEPOSIT,
    T_FORCED_WITHDRAWAL,
    T_REFUND,
    T_TRANSFER,
    T_WITHDRAWAL,
    Deposit,
    ForcedWithdrawal,
    Refund,
    Transfer,
    Withdrawal,
)


def deposit(seq, req: Deposit):
    check(fits_unsigned(req.amount, AMOUNT_BITS), E.InvalidRequest, "amount out of range")
    st = seq.state
    existing = st.accounts.get(req.account)
    if existing is None:
        check(public_key_is_safe(req.pk), E.UnsafeKey, "key off the curve or small order")
        acc = st.create_account(req.account, tuple(req.pk))
    else:
        check(tuple(existing.pk) == tuple(req.pk), E.AccountExists,
              f"account {req.account} holds another key")
        acc = st.edit_account(req.account)
    acc.collateral += req.amount
    check_collateral(acc)
    rec = record(T_DEPOSIT, account=req.account,
                 l2_key=int.from_bytes(pack_point(req.pk), "big"), amount=req.amount)
    return Receipt(0, 0, [rec]), []


def _debit(seq, i: int, amount: int) -> Account:
    """Working copy of account i after paying ``amount`` out (collateral and margin checked)."""
    check(0 < amount and fits_unsigned(amount, AMOUNT_BITS), E.InvalidRequest,
          "amount must be positive and fit 64 bits")
    st = seq.state
    acc = working(st, i)
    equity = account_value(st, acc)
    check(amount <= equity, E.InsufficientCollateral,
          f"account {i} is worth {equity}, asked {amount}")
    acc.collateral -= amount
    check(in_window(st, acc), E.InvalidRequest, "scenario losses out of range")
    check(is_healthy(st, acc), E.InsufficientMargin, f"account {i} would be under initial margin")
    return acc


def withdrawal(seq, req: Withdrawal):
    st = seq.state
    nonce_is(st.account(req.account), req.nonce)
    not_expired(st, req.expiry)
    check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
    new = _debit(seq, req.account, req.amount)
    new.nonce += 1
    st.put_account(req.account, new)
    rec = record(T_WITHDRAWAL, account=req.account, amount=req.amount, to=req.to,
                 nonce=req.nonce)
    return Receipt(0, 0, [rec]), []


def forced_withdrawal(seq, req: ForcedWithdrawal):
    # An L1 queue entry is always consumed: when it cannot be paid, it publishes paid = 0.
    paid = 0
    try:
        check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
        check(req.asset == 1, E.InvalidRequest, "the state holds the collateral token only")
        acc = seq.state.accounts.get(req.account)
        check(acc is not None and req.l2_key == int.from_bytes(pack_point(acc.pk), "big"),
              E.InvalidRequest, "not signed by the account's key")
        new = _debit(seq, req.account, req.amount)
        seq.state.put_account(req.account, new)
        paid = req.amount
    except E.EngineError as exc:
        note = f"not paid: {exc.reason}"
    else:
        note = "paid"
    rec = record(T_FORCED_WITHDRAWAL, account=req.account,
                 requested=min(req.amount, (1 << 64) - 1), paid=paid,
                 to=req.to if fits_unsigned(req.to, 160) else 0)
    return Receipt(0, 0, [rec], note=note), []


def refund(seq, req: Refund):
    # An L1 deposit the state cannot take: consumed, paid back on L1, the state unchanged.
    check(fits_unsigned(req.amount, AMOUNT_BITS) and fits_unsigned(req.to, 160)
          and req.asset in (0, 1), E.InvalidRequest, "not a queue entry")
    rec = record(T_REFUND, account=req.account, asset=req.asset, to=req.to, amount=req.amount)
    return Receipt(0, 0, [rec], note="refunded on L1"), []


def transfer(seq, req: Transfer):
    st = seq.state
    nonce_is(st.account(req.sender), req.nonce)
    not_expired(st, req.expiry)
    check(req.sender != req.receiver, E.InvalidRequest, "transfer to self")
    st.account(req.receiver)
    new = _debit(seq, req.sender, req.amount)
    new.nonce += 1
    dst = working(st, req.receiver)
    dst.collateral += req.amount
    check_collateral(dst)
    st.put_account(req.sender, new)
    st.put_account(req.receiver, dst)
    rec = record(T_TRANSFER, sender=req.sender, receiver=req.receiver, amount=req.amount,
                 nonce=req.nonce)
    return Receipt(0, 0, [rec]), []
