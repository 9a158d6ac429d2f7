"""Trading controls: the signed CancelAll and the operator's DropOrders (every field's bounds, what
they cancel and nothing else, a replayed CancelAll against newer orders, the public path refusing
the operator's type) and an account's capacity for resting orders."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.orders import CANCEL_ALL_TTL, ORDER_SLOTS, LiveOrders
from rollup.engine.testnet import CALL, DOMAIN, FAR, PERP, PUT, SOON
from rollup.state.encoding import KIND_CALL, KIND_PUT
from rollup.transactions import (
    BUY,
    SELL,
    Cancel,
    CancelAll,
    Deposit,
    DropOrders,
    ListAsset,
    OracleUpdate,
    Order,
)
from tests.support.engine import check_consistent, view

U64 = 1 << 64
# account -> (asset, order id) resting in the base venue
RESTING = {1: [(PERP, 1), (PERP, 2), (CALL, 3), (PERP, 7), (PUT, 9)],
           2: [(PERP, 1), (CALL, 2)]}


@pytest.fixture(scope="module")
def base():
    seq = tn.venue(n_accounts=3)
    for acc, orders in RESTING.items():
        for asset, oid in orders:
            side = SELL if acc == 1 else BUY
            price = {PERP: 60_000, CALL: 3_000, PUT: 2_500}[asset] + (100 if acc == 1 else -100)
            assert seq.apply_verified(Order(acc, asset, side, 5, price, oid, FAR)).resting == 5
    seq.state.flush()
    return seq


def resting_ids(seq, account):
    return sorted((a, oid) for (acc, _), (a, oid) in seq.live.items() if acc == account)


def expected_cancel(account, asset, up_to):
    return sorted((a, oid) for a, oid in RESTING.get(account, [])
                  if oid <= up_to and asset in (0, a))


def outcome_of(seq, req):
    """What the request did: its typed error with everything as before, or the receipt with
    only its orders gone from the books (state root and every account unchanged)."""
    before, root = view(seq), seq.state.root
    try:
        r = seq.apply_verified(req)
    except E.EngineError as exc:
        assert view(seq) == before and seq.state.root == root
        return type(exc)
    check_consistent(seq)
    after = view(seq)
    assert seq.state.root == root and after["accounts"] == before["accounts"]
    assert not r.records and not r.fills and seq.seq == before["seq"] + 1
    return r


ACCOUNTS = st.sampled_from([-1, 0, 1, 2, 3, 4, 1 << 40])
ASSETS = st.sampled_from([-1, 0, PERP, CALL, PUT, 7, 300])
BOUNDS = st.sampled_from([-1, 0, 1, 2, 3, 7, 8, U64 - 1, U64]) | st.integers(-5, 12)


@given(account=ACCOUNTS, asset=ASSETS, up_to=BOUNDS,
       expiry=st.sampled_from([-1, 0, 1, 2, SOON, 1 + CANCEL_ALL_TTL, 2 + CANCEL_ALL_TTL, FAR,
                               U64 - 1, U64]))
def test_cancel_all_fields(base, account, asset, up_to, expiry):
    """Accepted exactly when the account exists, the market is 0 or listed, 1 <= up_to < 2**64
    and the expiry is a 64-bit time not passed (the state's time is 1) and at most CANCEL_ALL_TTL
    ahead; it cancels exactly the account's orders in that market (or all) with an id <= up_to,
    in id order, and no other."""
    seq = base.clone()
    got = outcome_of(seq, CancelAll(account, asset, up_to, expiry))
    want = (E.UnknownAccount if account not in (0, 1, 2, 3)
            else E.UnknownMarket if asset not in (0, PERP, CALL, PUT)
            else E.InvalidRequest if not 0 < up_to < U64 or not 0 <= expiry < U64
            else E.Expired if expiry < seq.state.time
            else E.InvalidRequest if expiry > seq.state.time + CANCEL_ALL_TTL else None)
    if want is not None:
        assert got is want
        return
    gone = expected_cancel(account, asset, up_to)
    assert [(oid) for _, oid, _ in got.dropped] == sorted(oid for _, oid in gone)
    assert got.note == f"cancelled {len(gone)}"
    assert resting_ids(seq, account) == sorted(set(RESTING.get(account, [])) - set(gone))
    for other in (1, 2):
        if other != account:
            assert resting_ids(seq, other) == sorted(RESTING[other])


@given(account=ACCOUNTS, asset=ASSETS, up_to=BOUNDS)
def test_drop_orders_fields(base, account, asset, up_to):
    seq = base.clone()
    got = outcome_of(seq, DropOrders(account, asset, up_to))
    want = (E.UnknownAccount if account not in (0, 1, 2, 3)
            else E.UnknownMarket if asset not in (0, PERP, CALL, PUT)
            else E.InvalidRequest if not 0 < up_to < U64 else None)
    if want is not None:
        assert got is want
        return
    gone = expected_cancel(account, asset, up_to)
    assert [(a, oid) for a, oid, _ in got.dropped] == [(account, oid) for _, oid in
                                                       sorted(gone, key=lambda x: x[1])]
    assert resting_ids(seq, account) == sorted(set(RESTING.get(account, [])) - set(gone))


def test_cancel_all_is_signed_and_frees_the_slots_and_margin(base):
    seq = base.clone()
    ca = CancelAll(1, 0, U64 - 1, SOON)
    with pytest.raises(E.BadSignature):
        seq.submit(ca)
    with pytest.raises(E.BadSignature):
        seq.submit(ca.signed(tn.key(2), DOMAIN))
    r = seq.submit(ca.signed(tn.key(1), DOMAIN), public=True)
    assert [oid for _, oid, _ in r.dropped] == [1, 2, 3, 7, 9]
    assert seq.resting_totals.get(1) is None and seq.open_orders(1) == []
    # the slots are free for newer ids
    assert seq.apply_verified(Order(1, PERP, SELL, 5, 60_100, 1 + ORDER_SLOTS, FAR)).resting == 5


@pytest.mark.adversarial
def test_replayed_cancel_all_is_refused(base):
    """A CancelAll has no nonce: replayed after the trader placed order 5 (an id below its bound
    of 9, in a slot it freed), it would cancel an order newer than its signature. The engine
    remembers it until its expiry: the replay gets Replayed and changes nothing, also through a
    group, a snapshot and a clone; once expired it is refused as Expired."""
    seq = base.clone()
    ca = CancelAll(1, 0, 9, SOON).signed(tn.key(1), DOMAIN)
    assert len(seq.submit(ca, public=True).dropped) == 5
    seq.submit(tn.order(1, SELL, 5, 60_200, 5))
    seq.submit(tn.order(1, SELL, 5, 3_200, 11, asset=CALL))
    before = view(seq)
    for again in (seq, seq.clone(), type(seq).from_snapshot(seq.to_snapshot(), DOMAIN)):
        with pytest.raises(E.Replayed):
            again.submit(ca, public=True)
        with pytest.raises(E.GroupRejected) as info:
            again.submit_group([ca], public=True)
        assert isinstance(info.value.error, E.Replayed)
        assert view(again) == before
    assert resting_ids(seq, 1) == [(PERP, 5), (CALL, 11)]
    # another message (a new expiry) is a new cancel-all
    assert [oid for _, oid, _ in seq.submit(
        CancelAll(1, 0, 9, SOON + 1).signed(tn.key(1), DOMAIN)).dropped] == [5]
    seq.submit(tn.oracle(OracleUpdate, PERP, 60_000, SOON + 1))
    with pytest.raises(E.Expired):
        seq.submit(ca)
    check_consistent(seq)


def test_cancel_all_memory_is_bounded(base):
    """Thousands of cancel-alls over advancing time: the remembered ones are forgotten once
    expired (refused as Expired anyway), so the memory stays near those still live."""
    seq = base.clone()
    for t in range(2, 3_002):
        if t % 100 == 0:
            seq.apply_verified(OracleUpdate(PERP, 60_000, t))
        seq.apply_verified(CancelAll(2, 0, t, t + 50))
    assert len(seq.cancel_alls) <= 2 * 1024
    live = [k for k in seq.cancel_alls if k[3] >= seq.state.time]
    assert 50 <= len(live) <= 150
    with pytest.raises(E.Replayed):
        seq.apply_verified(CancelAll(*live[0]))


def test_drop_orders_is_refused_on_the_public_path(base):
    """The operator's DropOrders (and every other unsigned type) is refused with OperatorOnly on
    the public path, one by one and in a group commit, with nothing changed; the operator's own
    path takes it."""
    seq = base.clone()
    before = view(seq)
    for req in (DropOrders(1), DropOrders(1, PERP, 2), Deposit(1, tn.public_key(tn.key(1)), 5)):
        with pytest.raises(E.OperatorOnly):
            seq.submit(req, public=True)
        assert view(seq) == before
    got = seq.submit_many([DropOrders(1), tn.order(3, BUY, 1, 59_000, 1)], public=True)
    assert isinstance(got[0], E.OperatorOnly) and got[1].resting == 1
    assert resting_ids(seq, 1) == sorted(RESTING[1])
    with pytest.raises(E.GroupRejected) as info:
        seq.submit_group([DropOrders(1)], public=True)
    assert info.value.index == 0 and isinstance(info.value.error, E.OperatorOnly)
    r = seq.submit(DropOrders(1))
    assert r.note == "cancelled 5" and resting_ids(seq, 1) == []
    assert all(why == "dropped by the operator" for _, _, why in r.dropped)


# --- capacity -----------------------------------------------------------------------------------

SERIES = 20
LEVELS = 10


def option_venue():
    """The venue with 20 more option series (calls and puts at 10 strikes) priced by the
    oracle, with their scenario rows."""
    seq = tn.venue(n_accounts=2)
    for k in range(SERIES):
        asset = 10 + k
        seq.apply_verified(ListAsset(asset, KIND_CALL if k % 2 == 0 else KIND_PUT,
                                     risk_initial=100_000, risk_maintenance=50_000,
                                     underlying=PERP, strike=50_000 + 2_000 * (k // 2),
                                     expiry=tn.EXPIRY, short_initial=100_000,
                                     short_maintenance=60_000))
        seq.apply_verified(OracleUpdate(asset, 2_000 + 100 * k, 2))
    tn.rows_update(seq, 2)
    return seq


def quotes(first_id, spread=0):
    """Two-sided quotes, 10 levels a side, in every series: 400 orders of account 1."""
    out, oid = [], first_id
    for k in range(SERIES):
        mid = 2_000 + 100 * k
        for lvl in range(1, LEVELS + 1):
            for side, price in ((BUY, mid - 5 * lvl - spread), (SELL, mid + 5 * lvl + spread)):
                out.append(Order(1, 10 + k, side, 10, price, oid, FAR))
                oid += 1
    return out


def test_a_market_maker_quotes_400_orders_and_replaces_them_atomically():
    """20 option series quoted two-sided with 10 levels each (400 resting orders of one account)
    in one mass quote, then replaced by the next mass quote: 400 resting, all new."""
    seq = option_venue()
    first = quotes(1)
    r = seq.submit_group([CancelAll(1, 0, U64 - 1, SOON), *first], verified=True)
    assert all(x.resting == 10 for x in r[1:]) and len(seq.open_orders(1)) == 400
    second = quotes(401, spread=1)
    r = seq.submit_group([CancelAll(1, 0, 400, SOON), *second], verified=True)
    assert len(r[0].dropped) == 400 and all(x.resting == 10 for x in r[1:])
    assert sorted(o.order_id for o in seq.open_orders(1)) == list(range(401, 801))
    assert sum(len(b) for b in seq.books.values()) == 400
    check_consistent(seq)


def test_every_order_slot_can_hold_a_resting_order():
    """An account can rest one order per slot of its order tree (4,096), through the compiled
    core; one more finds its slot taken."""
    seq = tn.venue(n_accounts=1)
    reqs = [Order(1, PERP, BUY if k % 2 else SELL, 1, 50_000 + k if k % 2 else 70_000 + k,
                  k + 1, FAR) for k in range(ORDER_SLOTS)]
    with seq.deferred_roots():
        got = seq.submit_many(reqs, verified=True)
    assert all(not isinstance(x, E.EngineError) and x.resting == 1 for x in got)
    assert len(seq.open_orders(1)) == ORDER_SLOTS == 4096
    with pytest.raises(E.OrderIdReused):
        seq.apply_verified(Order(1, PERP, SELL, 1, 80_000, ORDER_SLOTS + 1, FAR))
    r = seq.apply_verified(CancelAll(1, PERP, U64 - 1, SOON))
    assert len(r.dropped) == ORDER_SLOTS and seq.live == {}


def _rest_many(seq, accounts, n, price=None):
    """Accounts rest n asks each (through the compiled core, roots deferred)."""
    with seq.deferred_roots():
        for acc in accounts:
            seq.submit_many([Order(acc, PERP, SELL, 1, price or 70_000 + oid, oid, FAR)
                             for oid in range(1, n + 1)], verified=True)
    seq.state.flush()


class _CountingLive(LiveOrders):
    """``Sequencer.live`` that counts the entries a handler reads."""

    touched = 0

    def __getitem__(self, key):
        _CountingLive.touched += 1
        return super().__getitem__(key)

    def get(self, key, default=None):
        _CountingLive.touched += 1
        return super().get(key, default)

    def items(self):
        for kv in super().items():
            _CountingLive.touched += 1
            yield kv


@pytest.mark.adversarial
@pytest.mark.parametrize("others", [2 * 1500, 2 * 2500])  # below and above ORDER_SLOTS live
def test_cancel_all_reads_only_the_accounts_own_orders(others):
    """A cancel-all (or DropOrders, an account view) reads the account's own live orders, never
    the venue's: a cheap signed request must not buy a scan of every resting order."""
    seq = tn.venue(n_accounts=3, deposit=10**15, defer_root=True)
    _rest_many(seq, (2, 3), others // 2)
    seq.apply_verified(Order(1, PERP, SELL, 1, 80_000, 7, FAR))
    seq.live = _CountingLive(seq.live)
    _CountingLive.touched = 0
    r = seq.apply_verified(CancelAll(1, 0, 2**64 - 1, SOON))
    assert [oid for _, oid, _ in r.dropped] == [7]
    assert seq.apply_verified(DropOrders(1)).dropped == []
    assert seq.open_orders(1) == []
    assert _CountingLive.touched <= 8, _CountingLive.touched
    check_consistent(seq)


def _rejected_group_seconds(seq, n):
    """The best of 3: [CancelAll(1, PERP, every id), a cancel of no order], rejected at item 1
    after the cancel-all took account 1's n orders out."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        with pytest.raises(E.GroupRejected):
            seq.submit_group([CancelAll(1, PERP, 2**64 - 1, SOON), Cancel(1, PERP, 10**9)],
                             verified=True)
        best = min(best, time.perf_counter() - t)
    assert len(seq.live.slots_of(1)) == n  # all put back
    return best


@pytest.mark.adversarial
def test_a_rejected_groups_rollback_does_not_grow_with_other_accounts_orders():
    """Undoing a removal puts the order back before the order that followed it when removed
    (O(1)), not by walking the level back from its tail past every later order: with 30,000
    later orders at the same price, the rollback of a group that cancelled 3,000 costs about
    what it costs alone (before: ~9x; an account could hold the writer for seconds per rate
    token, nothing journaled, repeatably). Priority is exactly as before the group."""
    n, k_accounts = 3000, 10
    seq = tn.venue(n_accounts=1 + k_accounts, deposit=10**15, defer_root=True)
    _rest_many(seq, (1,), n, price=70_000)
    _rejected_group_seconds(seq, n)  # warm-up (compilation)
    alone = _rejected_group_seconds(seq, n)
    _rest_many(seq, range(2, 2 + k_accounts), n, price=70_000)
    before = view(seq)
    crowded = _rejected_group_seconds(seq, n)
    assert view(seq) == before
    check_consistent(seq)
    assert crowded < 2.5 * alone + 0.05, (crowded, alone)
