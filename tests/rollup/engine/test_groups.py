"""Atomic groups (amend, mass quote): all or nothing. An accepted group is what its requests give
one by one; a group with a rejected item names it and leaves everything observable as it was
(accounts, books in priority order with their stamps, order slots, seen ids, resting totals,
records, sequence number, root), and the engine then goes on exactly as one that never saw it."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.groups import MAX_GROUP
from rollup.engine.testnet import CALL, DOMAIN, FAR, PERP, SOON
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    Cancel,
    CancelAll,
    OracleUpdate,
    Order,
    Withdrawal,
)
from tests.support.engine import check_consistent, receipt_view, view

MID = {PERP: 60_000, CALL: 3_000}
STEP = {PERP: 100, CALL: 10}


def rootless(receipts):
    return [receipt_view(dataclasses.replace(r, root=None)) for r in receipts]


def full_view(seq):
    v = view(seq)
    v["root"] = seq.state.root
    return v


@pytest.fixture(scope="module")
def base():
    """Accounts 2 and 3 quote PERP and CALL around the mid (one of 3's asks expires at time 5);
    account 1 rests orders 1..4."""
    seq = tn.venue(n_accounts=3)
    oid = {2: 0, 3: 0}
    for acc in (2, 3):
        for asset in (PERP, CALL):
            for lvl in (1, 2):
                for side, sign in ((BUY, -1), (SELL, 1)):
                    oid[acc] += 1
                    expiry = 5 if (acc, asset, lvl, side) == (3, PERP, 1, SELL) else FAR
                    seq.apply_verified(Order(acc, asset, side, 20 * lvl,
                                             MID[asset] + sign * lvl * STEP[asset]
                                             + (acc - 2) * sign, oid[acc], expiry))
    for k, (asset, side, d) in enumerate([(PERP, BUY, -3), (PERP, SELL, 3), (CALL, BUY, -3),
                                          (CALL, SELL, 4)]):
        seq.apply_verified(Order(1, asset, side, 10, MID[asset] + d * STEP[asset], k + 1, FAR))
    seq.state.flush()
    return seq


def signed(req):
    return req.signed(tn.key(req.account), DOMAIN)


def test_amend_replaces_one_order(base):
    seq = base.clone()
    old = seq.resting[(1, 2)]
    new = Order(1, PERP, SELL, 12, old.price - 50, 9, FAR)
    r = seq.submit_group([signed(Cancel(1, PERP, 2)), signed(new)], public=True)
    assert r[0].note == "cancelled" and r[1].resting == 12
    assert seq.books[PERP].get(1, 2) is None and seq.resting[(1, 9)] == signed(new)
    assert r[0].root == r[1].root == seq.state.root and r[1].seq == r[0].seq + 1
    check_consistent(seq)


def test_mass_quote_replaces_the_quotes_and_may_trade(base):
    """[CancelAll, orders...]: the account's quotes in the market go, the new ones rest, and a
    new quote that crosses trades with the other accounts like any order."""
    seq = base.clone()
    group = [signed(CancelAll(1, PERP, 4, SOON)),
             signed(Order(1, PERP, BUY, 5, 59_950, 11, FAR)),
             signed(Order(1, PERP, SELL, 5, 60_150, 12, FAR)),
             signed(Order(1, PERP, BUY, 30, 60_101, 13, FAR))]  # takes 2's and 3's asks
    r = seq.submit_group(group)
    assert [oid for _, oid, _ in r[0].dropped] == [1, 2]
    assert r[1].resting == 5 and r[2].resting == 5
    assert [(f.maker, f.size) for f in r[3].fills] == [(2, 20), (3, 10)]
    assert sorted(o.order_id for o in seq.open_orders(1)) == [3, 4, 11, 12]
    check_consistent(seq)


def test_a_rejected_item_changes_nothing(base):
    """Earlier items filled makers (one to the end), dropped an expired maker and the account's
    own crossing order (self-trade prevention), rested orders and cancelled others; the item
    that fails (post-only crossing) puts all of it back. Then the group without it is the same
    as its requests one by one."""
    seq = base.clone()
    seq.apply_verified(OracleUpdate(PERP, 60_000, 6))  # 3's first PERP ask is now expired
    before = full_view(seq)
    good = [CancelAll(1, CALL, 10, SOON),
            Order(1, PERP, BUY, 120, 60_300, 20, FAR),  # an expired maker, fills, 1's ask 2
            Order(1, CALL, SELL, 7, 3_100, 21, FAR),
            Order(1, PERP, BUY, 3, 59_000, 22, FAR),
            Cancel(1, PERP, 1)]
    bad = Order(1, PERP, SELL, 1, 59_000, 23, FAR, POST_ONLY)
    for at in range(len(good) + 1):
        with pytest.raises(E.GroupRejected) as info:
            seq.submit_group([*good[:at], bad, *good[at:]], verified=True)
        assert info.value.index == at and isinstance(info.value.error, E.PostOnlyWouldCross)
        assert full_view(seq) == before
        check_consistent(seq)
    one_by_one = seq.clone()
    want = [one_by_one.apply_verified(r) for r in good]
    got = seq.submit_group(good, verified=True)
    assert rootless(got) == rootless(want) and all(r.root == seq.state.root for r in got)
    assert full_view(seq) == full_view(one_by_one)
    assert [len(r.fills) for r in got] == [0, 3, 0, 0, 0] and got[1].resting == 20
    assert {why for r in got for _, _, why in r.dropped} == {
        "cancelled", "expired", "self-trade prevention: resting order cancelled"}


def test_a_rejected_group_restores_an_account_gone_wide():
    """An item rests an order whose notional leaves the compiled core's range (the account's
    totals go to the exact dict); the next item fails: the account is back in the arrays."""
    seq = tn.venue(n_accounts=2, deposit=10**18)
    seq.apply_verified(Order(1, PERP, SELL, 10, 61_000, 1, FAR))
    before = full_view(seq)
    big = Order(1, PERP, BUY, 10**14, 59_000, 2, FAR)  # 5.9e18 > 2**62
    with pytest.raises(E.GroupRejected) as info:
        seq.submit_group([big, Cancel(1, PERP, 77)], verified=True)
    assert isinstance(info.value.error, E.UnknownOrder) and info.value.index == 1
    assert full_view(seq) == before and 1 not in seq._wide_totals
    r = seq.submit_group([big], verified=True)
    assert r[0].resting == 10**14 and 1 in seq._wide_totals
    check_consistent(seq)


def test_group_shape_and_signatures(base):
    seq = base.clone()
    before = full_view(seq)
    o = signed(Order(1, PERP, BUY, 1, 59_000, 30, FAR))
    cases = [([], 0, E.InvalidRequest),
             ([o, signed(Withdrawal(1, 5, 1, 0, FAR))], 1, E.InvalidRequest),
             ([o, signed(Order(2, PERP, BUY, 1, 59_000, 30, FAR))], 1, E.InvalidRequest),
             ([o] * (MAX_GROUP + 1), MAX_GROUP, E.InvalidRequest),
             ([o, dataclasses.replace(signed(Order(1, PERP, BUY, 1, 59_000, 31, FAR)), size=2)],
              1, E.BadSignature),
             ([o, Cancel(1, PERP, 1)], 1, E.BadSignature),
             ([signed(Order(9, PERP, BUY, 1, 59_000, 1, FAR))], 0, E.UnknownAccount),
             ([o, o], 1, E.OrderIdReused)]
    for reqs, index, err in cases:
        with pytest.raises(E.GroupRejected) as info:
            seq.submit_group(reqs)
        assert (info.value.index, type(info.value.error)) == (index, err), reqs[:2]
        assert info.value.reason.startswith(f"group item {index}: {err.__name__}")
        assert full_view(seq) == before


# --- groups against their requests one by one ---------------------------------------------------

FLAGS = st.sampled_from([0, 0, 0, 0, 0, POST_ONLY, IOC, MARKET, REDUCE_ONLY])
# an order: (asset, side, size, price steps from the mid, flags, id: fresh below 10, else 1..3)
ORDER = st.tuples(st.just("order"), st.sampled_from([PERP, CALL]), st.sampled_from([BUY, SELL]),
                  st.integers(1, 45), st.integers(-3, 3), FLAGS, st.integers(0, 12))
ITEM = st.one_of(
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("cancel_all"), st.sampled_from([0, PERP, CALL]), st.integers(0, 12),
              st.sampled_from([SOON, SOON, FAR, 0])),
    ORDER, ORDER,
)


def build(items):
    """The group's requests: a cancel names the group's latest order (0), one of account 1's
    resting orders 1..4, or none (5)."""
    out, fresh, assets = [], 10, {1: PERP, 2: PERP, 3: CALL, 4: CALL, 5: PERP}
    for it in items:
        if it[0] == "cancel":
            oid = it[1] or fresh
            out.append(Cancel(1, assets.get(oid, PERP), oid))
        elif it[0] == "cancel_all":
            out.append(CancelAll(1, it[1], it[2], it[3]))
        else:
            _, asset, side, size, d, flags, reuse = it
            if reuse < 10:
                fresh += 1
                assets[fresh] = asset
            out.append(Order(1, asset, side, size, MID[asset] + d * STEP[asset],
                             fresh if reuse < 10 else reuse - 9, FAR, flags))
    return out


@given(st.lists(ITEM, min_size=1, max_size=8))
def test_group_is_its_requests_one_by_one_or_nothing(base, items):
    """The first item that its request one by one rejects is the group's ``index`` with the same
    error, and nothing changed; with none rejected, the group gives the same receipts and engine.
    Either way the engine then takes the same requests (one by one, then through the compiled
    core) exactly as the engine that took the same path without a group."""
    reqs = build(items)
    ref, seq = base.clone(), base.clone()
    first_bad, want = None, []
    for i, r in enumerate(reqs):
        try:
            want.append(ref.apply_verified(r))
        except E.EngineError as exc:
            first_bad = (i, type(exc), exc.reason)
            break
    if first_bad is None:
        got = seq.submit_group(reqs, verified=True)
        assert rootless(got) == rootless(want)
        assert all(r.root == seq.state.root for r in got)
    else:
        ref = base.clone()
        with pytest.raises(E.GroupRejected) as info:
            seq.submit_group(reqs, verified=True)
        e = info.value
        assert (e.index, type(e.error), e.error.reason) == first_bad
    assert full_view(seq) == full_view(ref)
    check_consistent(seq)
    more = build([("order", PERP, BUY, 60, 3, 0, 0), ("cancel_all", 0, 30, SOON),
                  ("order", CALL, SELL, 30, -3, 0, 0), ("order", PERP, SELL, 15, -2, 0, 0)])
    more = [dataclasses.replace(r, order_id=r.order_id + 100) if isinstance(r, Order) else r
            for r in more]
    for a in (ref, seq):
        for r in more[:2]:
            try:
                a.apply_verified(r)
            except E.EngineError:
                pass
        with a.deferred_roots():
            a.submit_many([dataclasses.replace(r, account=2) if isinstance(r, Order) else r
                           for r in more[2:]], verified=True)
    assert full_view(seq) == full_view(ref)
