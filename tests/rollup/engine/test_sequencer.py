import dataclasses

import pytest

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.orders import ORDER_SLOTS
from rollup.engine.testnet import CALL, DOMAIN, PERP
from rollup.margin.risk import is_liquidatable
from rollup.state.rebuild import rebuild
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    Cancel,
    Deposit,
    Domain,
    ExpirySettlement,
    ForcedWithdrawal,
    FundingTick,
    Liquidation,
    OracleUpdate,
    Order,
    SettlementPrice,
    Transfer,
    Withdrawal,
)

FAR = 10**9


order, oracle = tn.order, tn.oracle


def view(seq):
    st = seq.state
    books = {a: sorted((o.account, o.order_id, o.remaining) for o in b.by_key.values())
             for a, b in seq.books.items()}
    accounts = {i: (a.pk, a.nonce, a.collateral, tuple(a.positions),
                    tuple(sorted(a.orders.items()))) for i, a in st.accounts.items()}
    return st.root, accounts, books, seq.seq, st.time, dict(st.oracle)


def rejected(seq, req, exc, submit=True):
    before = view(seq)
    with pytest.raises(exc) as info:
        (seq.submit if submit else seq.apply_verified)(req)
    assert info.value.reason
    assert view(seq) == before
    return info.value


@pytest.fixture(scope="module")
def base():
    return tn.venue(n_accounts=4)


@pytest.fixture
def seq(base):
    return base.clone()


def total_collateral(seq):
    return sum(a.collateral for a in seq.state.accounts.values())


def test_trade_updates_both_sides_and_fees(seq):
    c0 = total_collateral(seq)
    r = seq.submit(order(1, SELL, 100, 60_000, 1))
    assert r.resting == 100 and not r.fills
    r = seq.submit(order(2, BUY, 40, 61_000, 1))
    (f,) = r.fills
    assert (f.size, f.price, f.maker, f.taker) == (40, 60_000, 1, 2)  # maker's price
    st = seq.state
    assert st.accounts[1].balance(PERP) == -40 and st.accounts[2].balance(PERP) == 40
    assert f.taker_fee == 40 * 60_000 * 500 // 10**6 and f.maker_fee == 40 * 60_000 * 100 // 10**6
    assert st.accounts[0].collateral == f.taker_fee + f.maker_fee
    assert total_collateral(seq) == c0
    assert st.accounts[1].orders[1] == (1, 40) and st.accounts[2].orders[1] == (1, 40)
    assert seq.books[PERP].get(1, 1).remaining == 60
    assert st.root == st.recompute_root()
    assert len(r.records) == 1 and r.records[0][0] == 5


def test_price_time_priority_and_partial_fills(seq):
    seq.submit(order(1, SELL, 10, 60_100, 1))
    seq.submit(order(2, SELL, 10, 60_000, 1))
    seq.submit(order(3, SELL, 10, 60_000, 1))
    r = seq.submit(order(4, BUY, 25, 60_100, 1))
    assert [(f.maker, f.price, f.size) for f in r.fills] == [(2, 60_000, 10), (3, 60_000, 10),
                                                              (1, 60_100, 5)]
    assert seq.books[PERP].get(1, 1).remaining == 5


def test_post_only_ioc_market(seq):
    seq.submit(order(1, SELL, 10, 60_000, 1))
    rejected(seq, order(2, BUY, 5, 60_000, 1, flags=POST_ONLY), E.PostOnlyWouldCross)
    r = seq.submit(order(2, BUY, 5, 59_000, 2, flags=POST_ONLY))
    assert r.resting == 5
    rejected(seq, order(3, BUY, 5, 59_500, 1, flags=IOC), E.NoLiquidity)
    r = seq.submit(order(3, BUY, 50, 60_000, 2, flags=IOC))
    assert r.fills[0].size == 10 and r.resting == 0
    assert seq.books[PERP].get(3, 2) is None
    rejected(seq, order(4, BUY, 5, 70_000, 1, flags=MARKET), E.NoLiquidity)
    r = seq.submit(order(4, SELL, 3, 1, 2, flags=MARKET))
    assert r.fills[0].maker == 2 and r.fills[0].price == 59_000


def test_reduce_only(seq):
    rejected(seq, order(1, BUY, 5, 60_000, 1, flags=REDUCE_ONLY), E.ReduceOnlyViolation)
    seq.submit(order(2, SELL, 10, 60_000, 1))
    seq.submit(order(1, BUY, 4, 60_000, 2))
    seq.submit(order(3, BUY, 100, 60_000, 1))
    r = seq.submit(order(1, SELL, 10, 60_000, 3, flags=REDUCE_ONLY))
    assert r.fills[0].size == 4 and seq.state.accounts[1].balance(PERP) == 0


def test_self_trade_prevention_cancels_resting(seq):
    seq.submit(order(1, SELL, 10, 60_000, 1))
    seq.submit(order(2, SELL, 10, 60_000, 1))
    r = seq.submit(order(1, BUY, 10, 60_000, 2))
    assert r.dropped[0][:2] == (1, 1) and r.fills[0].maker == 2
    assert seq.books[PERP].get(1, 1) is None


def test_cancel(seq):
    seq.submit(order(1, SELL, 10, 60_000, 1))
    root = seq.state.root
    seq.submit(Cancel(1, PERP, 1).signed(tn.key(1), DOMAIN))
    assert seq.books[PERP].get(1, 1) is None and seq.state.root == root
    rejected(seq, Cancel(1, PERP, 1).signed(tn.key(1), DOMAIN), E.UnknownOrder)
    seq.submit(order(2, SELL, 10, 60_000, 1))
    rejected(seq, Cancel(2, PERP, 1).signed(tn.key(1), DOMAIN), E.BadSignature)


def test_replayed_and_forged_requests(seq):
    o = order(1, SELL, 10, 60_000, 1)
    seq.submit(o)
    rejected(seq, o, E.OrderIdReused)  # replay of a resting order
    seq.submit(Cancel(1, PERP, 1).signed(tn.key(1), DOMAIN))
    rejected(seq, o, E.OrderIdReused)  # replay after cancel
    assert seq.submit(order(1, SELL, 10, 60_000, 1 + ORDER_SLOTS)).resting == 10  # newer, same slot
    rejected(seq, order(1, SELL, 10, 60_000, 1 + 2 * ORDER_SLOTS), E.OrderIdReused)  # taken
    w = Withdrawal(1, 1000, 0xBEEF, 0, FAR).signed(tn.key(1), DOMAIN)
    seq.submit(w)
    rejected(seq, w, E.StaleNonce)
    rejected(seq, dataclasses.replace(w, nonce=1), E.BadSignature)  # tampered after signing
    rejected(seq, Withdrawal(1, 1000, 0xBEEF, 1, FAR).signed(tn.key(2), DOMAIN), E.BadSignature)
    other = Domain(DOMAIN.chain_id + 1, DOMAIN.rollup_address)
    rejected(seq, Withdrawal(1, 1000, 0xBEEF, 1, FAR).signed(tn.key(1), other), E.BadSignature)
    rejected(seq, OracleUpdate(PERP, 1, 10).signed(tn.key(1), DOMAIN), E.BadSignature)
    rejected(seq, dataclasses.replace(o, sig=None), E.BadSignature)


def test_rejections_leave_state_unchanged(seq):
    seq.submit(order(1, SELL, 10, 60_000, 1))
    cases = [
        (order(2, BUY, 1, 60_000, 1, asset=99), E.UnknownMarket),
        (order(2, BUY, 0, 60_000, 1), E.InvalidRequest),
        (order(2, 2, 1, 60_000, 1), E.InvalidRequest),
        (order(2, BUY, 1, 60_000, 0), E.InvalidRequest),
        (order(2, BUY, 1, 60_000, 3, expiry=0), E.Expired),
        (order(2, BUY, 10**9, 59_000, 4), E.InsufficientMargin),
        (Withdrawal(2, 10**11, 1, 0, FAR).signed(tn.key(2), DOMAIN), E.InsufficientCollateral),
        (Withdrawal(2, 0, 1, 0, FAR).signed(tn.key(2), DOMAIN), E.InvalidRequest),
        (Withdrawal(2, 5, 1, 0, 0).signed(tn.key(2), DOMAIN), E.Expired),
        (Transfer(2, 77, 5, 0, FAR).signed(tn.key(2), DOMAIN), E.UnknownAccount),
        (Transfer(2, 3, 5, 7, FAR).signed(tn.key(2), DOMAIN), E.StaleNonce),
        (Deposit(3, tn.public_key(tn.key(2)), 5), E.AccountExists),
        (Deposit(9, (0, 1), 5), E.UnsafeKey),
        (oracle(OracleUpdate, PERP, 50_000, 0), E.BadOracle),
        (oracle(FundingTick, CALL, 5, 10), E.UnknownMarket),
        (oracle(SettlementPrice, CALL, 61_000, 10), E.NotSettleable),
        (ExpirySettlement(1, CALL), E.NotSettleable),
        (Liquidation(3, 1, PERP, 1, 0, FAR).signed(tn.key(3), DOMAIN), E.NotLiquidatable),
        (Cancel(2, PERP, 5).signed(tn.key(2), DOMAIN), E.UnknownOrder),
    ]
    for req, exc in cases:
        rejected(seq, req, exc)
    # a position in every slot, then a ninth asset
    assert seq.state.accounts[2].balance(PERP) == 0


def test_margin_limits_orders_and_withdrawals(seq):
    # 10**10 collateral carries about 1.04M units at 60_000 (16% of the notional: the worst
    # scenario row, +16% or a weighted tail)
    rejected(seq, order(1, SELL, 1_200_000, 60_000, 1), E.InsufficientMargin)  # to rest
    seq.submit(order(1, SELL, 1_000_000, 60_000, 1))
    r = seq.submit(order(2, BUY, 1_000_000, 60_000, 1))
    assert r.fills[0].size == 1_000_000
    seq.submit(order(3, SELL, 1_000_000, 60_000, 1))
    rejected(seq, order(2, BUY, 1_000_000, 60_000, 2), E.InsufficientMargin)  # at the fill
    rejected(seq, Withdrawal(2, 9 * 10**9, 1, 0, FAR).signed(tn.key(2), DOMAIN),
             E.InsufficientMargin)
    # reducing is allowed even when it is the taker that is near its limit
    seq.submit(order(4, BUY, 400_000, 59_000, 1))
    r = seq.submit(order(2, SELL, 5_000_000, 1, 3, flags=MARKET | REDUCE_ONLY))
    assert r.fills[0].maker == 4 and seq.state.accounts[2].balance(PERP) == 600_000


def test_funding_and_liquidation(seq):
    seq.submit(order(1, SELL, 1_000_000, 60_000, 1))
    seq.submit(order(2, BUY, 1_000_000, 60_000, 1))
    c1, c2 = seq.state.accounts[1].collateral, seq.state.accounts[2].collateral
    seq.submit(oracle(FundingTick, PERP, 10, 2))  # longs pay 10 per unit
    seq.submit(Transfer(1, 3, 1, 0, FAR).signed(tn.key(1), DOMAIN))  # touching settles funding
    assert seq.state.accounts[1].collateral == c1 + 10_000_000 - 1
    assert seq.state.accounts[2].collateral == c2  # lazily settled later
    # 10% lower: below maintenance (half the published rows' 16%)
    seq.submit(oracle(OracleUpdate, PERP, 54_000, 3))
    assert is_liquidatable(seq.state, seq.state.accounts[2])
    rejected(seq, Liquidation(3, 2, PERP, 1_500_000, 0, FAR).signed(tn.key(3), DOMAIN),
             E.InvalidRequest)
    r = seq.submit(Liquidation(3, 2, PERP, 300_000, 0, FAR).signed(tn.key(3), DOMAIN))
    assert seq.state.accounts[2].balance(PERP) == 700_000
    assert seq.state.accounts[3].balance(PERP) == 300_000
    assert seq.state.accounts[3].nonce == 1 and r.records[0][0] == 10
    assert seq.state.root == seq.state.recompute_root()
    assert rebuild(b"".join(seq.records), 8).root == seq.state.root


def test_options_trade_and_expiry_settlement(seq):
    seq.submit(order(1, SELL, 1000, 3_000, 1, asset=CALL))
    seq.submit(order(2, BUY, 1000, 3_000, 1, asset=CALL))
    rejected(seq, oracle(SettlementPrice, CALL, 65_000, tn.EXPIRY - 1), E.NotSettleable)
    seq.submit(oracle(OracleUpdate, PERP, 65_000, tn.EXPIRY))
    rejected(seq, order(3, BUY, 1, 3_000, 1, asset=CALL), E.Expired)
    seq.submit(oracle(SettlementPrice, CALL, 65_000, tn.EXPIRY))
    c1, c2 = seq.state.accounts[1].collateral, seq.state.accounts[2].collateral
    seq.submit(ExpirySettlement(1, CALL))
    seq.submit(ExpirySettlement(2, CALL))
    assert seq.state.accounts[1].collateral == c1 - 1000 * 5_000
    assert seq.state.accounts[2].collateral == c2 + 1000 * 5_000
    assert seq.state.accounts[1].balance(CALL) == 0 == seq.state.accounts[2].balance(CALL)
    rejected(seq, ExpirySettlement(1, CALL), E.NotSettleable)
    assert rebuild(b"".join(seq.records), 8).root == seq.state.root


def _key(acc: int) -> int:
    from circuits.babyjubjub import pack_point

    return int.from_bytes(pack_point(tn.public_key(tn.key(acc))), "big")


def test_forced_withdrawal_always_consumed(seq):
    r = seq.submit(ForcedWithdrawal(1, 10**15, 0xAB, 1, _key(1)))
    assert r.note.startswith("not paid") and r.records[0][-28:-20] == bytes(8)
    c = seq.state.accounts[1].collateral
    r = seq.submit(ForcedWithdrawal(1, 1000, 0xAB, 1, _key(1)))
    assert r.note == "paid" and seq.state.accounts[1].collateral == c - 1000
    assert rebuild(b"".join(seq.records), 8).root == seq.state.root


@pytest.mark.adversarial
def test_no_request_after_exodus(seq):
    """After L1's exodus no batch can finalize: the sequencer takes nothing more, not even
    one group through the compiled core, and its state stays as it was."""
    root = seq.state.root
    seq.enter_exodus("activated on L1")
    for req in (order(1, BUY, 1, 60_000, 99), ForcedWithdrawal(1, 5, 0xAB, 1, _key(1)),
                Withdrawal(1, 10, 0xBEEF, 0, FAR).signed(tn.key(1), DOMAIN)):
        rejected(seq, req, E.ExodusActive)
    with pytest.raises(E.ExodusActive):
        seq.submit_many([order(2, SELL, 1, 60_000, 98)], group_root=True)
    assert seq.state.root == root


@pytest.mark.adversarial
def test_forced_withdrawal_signed_by_another_key_is_not_paid(seq):
    """Another account's key (the contract checked its signature, not whose key it is) gets
    nothing from account 1; no key at all neither."""
    c = seq.state.accounts[1].collateral
    for key in (_key(2), 0):
        r = seq.submit(ForcedWithdrawal(1, 1000, 0xAB, 1, key))
        assert r.note == "not paid: not signed by the account's key"
        assert r.records[0][-28:-20] == bytes(8)  # paid = 0 published
    assert seq.state.accounts[1].collateral == c


def test_submit_many_batch_verified_equals_one_by_one(base, monkeypatch):
    """A group checked by one batch signature verification gives the same results and state as
    ``submit`` one by one: valid, forged, replayed and unsigned requests, a signer created in the
    group, an unknown signer, and an oracle key changed mid-group (a pre-verified answer for the
    old key must not be used)."""
    from rollup import transactions
    from rollup.transactions import SetOracleKey

    new_oracle = tn.key(50)
    o1 = order(1, SELL, 10, 60_000, 1)
    forged = dataclasses.replace(order(2, BUY, 5, 61_000, 1), size=6)
    reqs = [
        o1,
        o1,  # replay of a resting order
        forged,
        order(2, BUY, 5, 61_000, 2),
        Order(3, PERP, BUY, 1, 61_000, 3, FAR).signed(tn.key(4), DOMAIN),  # another's key
        dataclasses.replace(order(3, BUY, 1, 61_000, 4), sig=None),
        order(9, BUY, 1, 60_000, 1),  # account 9 does not exist yet
        Deposit(9, tn.public_key(tn.key(9)), 10**10),
        order(9, BUY, 1, 60_000, 1),  # signer created earlier in the group
        order(10, BUY, 1, 60_000, 1),  # unknown account
        oracle(OracleUpdate, PERP, 60_100, 2),
        SetOracleKey(tn.public_key(new_oracle)).signed(tn.ORACLE_KEY, DOMAIN),
        oracle(OracleUpdate, PERP, 60_200, 3),  # old key: pre-verified True, now forged
        OracleUpdate(PERP, 60_300, 4).signed(new_oracle, DOMAIN),  # pre-verified False, now ok
        Withdrawal(1, 1000, 0xBEEF, 0, FAR).signed(tn.key(1), DOMAIN),
        Withdrawal(1, 1000, 0xBEEF, 0, FAR).signed(tn.key(1), DOMAIN),  # replay: stale nonce
        Withdrawal(2, 1000, 0xBEEF, 0, FAR).signed(tn.key(1), DOMAIN),  # wrong signer
    ]
    single = base.clone()
    expected = []
    for req in reqs:
        try:
            expected.append(single.submit(req))
        except E.EngineError as exc:
            expected.append(exc)

    calls = []
    real = transactions.verify_requests

    def spy(requests, keys, domain):
        calls.append(len(requests))
        return real(requests, keys, domain)

    monkeypatch.setattr("rollup.engine.sequencer.verify_requests", spy)
    grouped = base.clone()
    got = grouped.submit_many(reqs)
    # not pre-verified: the deposit and three orders of accounts absent up front
    assert calls == [len(reqs) - 4]

    def key(r):
        return (type(r).__name__, r.reason) if isinstance(r, E.EngineError) else r

    assert [key(r) for r in got] == [key(r) for r in expected]
    assert sum(isinstance(r, E.BadSignature) for r in got) == 5
    assert view(grouped) == view(single)

    # A custom verifier is called per request, as before; no batch.
    calls.clear()
    custom = base.clone()
    custom._verify = lambda req, pk, dom: req.verify(pk, dom)
    assert [key(r) for r in custom.submit_many(reqs)] == [key(r) for r in expected]
    assert calls == []
