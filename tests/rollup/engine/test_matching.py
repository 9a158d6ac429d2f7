"""The matching step's two implementations agree on everything, and the resting-order margin rule.

``PythonMatcher`` (incremental margin integers, no account copies per fill) is held to
``ReferenceMatcher`` (tests/support/reference_matcher.py: copies and full margin
recomputation) on random flows: the same receipts, errors, accounts, books, records and root.
Then resting-order margin: an account's open orders count toward its initial margin when it
rests another one, and a rejection changes nothing.
"""

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollup import errors as E
from rollup.engine import testnet as tn
from rollup.engine.checks import working
from rollup.engine.testnet import CALL, PERP, PUT
from rollup.errors import EngineError
from rollup.margin.summary import summary
from rollup.state.rebuild import fees_of_trade
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    T_TRADE,
    Cancel,
    FundingTick,
    OracleUpdate,
    Order,
    decode_record,
)
from tests.support.reference_matcher import ReferenceMatcher

_BASE: dict[tuple, object] = {}
STATS: list[bool] = []  # per request: did it trade (the flows must exercise fills)


def base(deposit: int = 3 * 10**9, reference: bool = False):
    """A fresh copy of the testnet venue (with ``reference``: matching with the oracle)."""
    k = (deposit, reference)
    if k not in _BASE:
        opts = {"matcher": ReferenceMatcher()} if reference else {}
        _BASE[k] = tn.venue(n_accounts=4, deposit=deposit, **opts)
    return _BASE[k].clone()


def view(seq):
    st = seq.state
    books = {a: sorted((o.account, o.order_id, o.side, o.price, o.remaining, o.seq)
                       for o in b.by_key.values()) for a, b in seq.books.items()}
    accounts = {i: (a.pk, a.nonce, a.collateral, tuple(a.positions),
                    tuple(sorted(a.orders.items()))) for i, a in st.accounts.items()}
    return accounts, books, seq.seq, sorted(seq.live.items()), sorted(seq.seen_orders), \
        seq.records


def resting_from_books(seq):
    out: dict = {}
    for asset, book in seq.books.items():
        for o in book.by_key.values():
            if o.flags & REDUCE_ONLY:
                continue
            agg = out.setdefault(o.account, {}).setdefault(asset, [0, 0, 0, 0])
            k = 0 if o.side == BUY else 2
            agg[k] += o.remaining
            agg[k + 1] += o.remaining * o.price
    return out


def receipt_view(r):
    return (r.seq, r.records, [vars(f) for f in r.fills], r.dropped, r.resting, r.note)


def run(seq, req):
    try:
        r = seq.apply_verified(req)
    except EngineError as exc:
        return type(exc).__name__, exc.reason
    _fees_follow_from_records(seq, r)
    return "ok", receipt_view(r)


def _fees_follow_from_records(seq, r):
    """A trade record publishes the taker flag, not the fees: what the engine charged must be
    what the flag, the notional and the listing's rates give (recovery recomputes them)."""
    trades = [(t, f) for t, f, _ in map(decode_record, r.records) if t == T_TRADE]
    assert len(trades) == len(r.fills)
    for (_, f), fill in zip(trades, r.fills, strict=True):
        buyer_took = fill.taker_side == BUY
        assert f["taker_buyer"] == buyer_took
        want = (fill.taker_fee, fill.maker_fee) if buyer_took else (fill.maker_fee, fill.taker_fee)
        assert fees_of_trade(seq.state, f) == want


# account 0 is the fee account: it may trade too (fees then land on a trading party)
accounts = st.integers(0, 4)
mids = {PERP: 60_000, CALL: 3_000, PUT: 2_500}
orders = st.tuples(st.just("order"), accounts, st.sampled_from([PERP, PERP, CALL, PUT]),
                   st.integers(0, 1), st.integers(1, 120_000), st.integers(-20, 20),
                   st.sampled_from([0, 0, 0, POST_ONLY, IOC, MARKET, REDUCE_ONLY]))
# a resting order and a crossing one from another account: flows that surely trade
crosses = st.tuples(st.just("cross"), accounts, accounts, st.sampled_from([PERP, CALL, PUT]),
                    st.integers(0, 1), st.integers(1, 60_000), st.integers(-5, 5),
                    st.integers(1, 90_000), st.sampled_from([0, 0, IOC, MARKET, REDUCE_ONLY]))
cancels = st.tuples(st.just("cancel"), accounts, st.integers(1, 8))
prices = st.tuples(st.just("price"), st.integers(50_000, 70_000))
funding = st.tuples(st.just("funding"), st.integers(-30, 30))
ops = st.lists(st.one_of(crosses, crosses, orders, orders, cancels, prices, funding),
               min_size=5, max_size=40)


@settings(max_examples=30, deadline=None)
@given(ops)
def test_fast_matching_equals_reference(flow):
    fast, ref = base(), base(reference=True)
    oid = dict.fromkeys(range(5), 0)
    t = 2
    requests = []
    for op in flow:
        kind = op[0]
        if kind == "cross":
            _, maker, taker, asset, side, size, offset, tsize, tflags = op
            price = max(1, mids[asset] + offset * (100 if asset == PERP else 10))
            oid[maker] += 1
            oid[taker] += 1
            requests.append(Order(maker, asset, side, size, price, oid[maker], 10**9))
            requests.append(Order(taker, asset, 1 - side, tsize, price, oid[taker], 10**9,
                                  tflags))
            continue
        if kind == "order":
            _, acc, asset, side, size, offset, flags = op
            oid[acc] += 1
            price = max(1, mids[asset] + offset * (100 if asset == PERP else 10))
            req = Order(acc, asset, side, size, price, oid[acc], 10**9, flags)
        elif kind == "cancel":
            req = Cancel(op[1], PERP, max(1, oid[op[1]] - op[2]))
        elif kind == "price":
            t += 1
            req = OracleUpdate(PERP, op[1], t)
        else:
            t += 1
            req = FundingTick(PERP, op[1] * t, t)
        requests.append(req)
    for req in requests:
        got = run(fast, req)
        assert got == run(ref, req), req
        STATS.append(got[0] == "ok" and bool(got[1][2]))
        assert view(fast) == view(ref)
        assert fast.resting_totals == ref.resting_totals == resting_from_books(fast)
    assert fast.state.root == ref.state.root == fast.state.recompute_root()


def test_flows_trade():
    if not STATS:  # run alone
        test_fast_matching_equals_reference()
    assert sum(STATS) >= 20, (sum(STATS), len(STATS))


# --- resting-order margin ---------------------------------------------------------------------

FAR = 10**9


@pytest.fixture
def seq():
    return base(DEPOSIT)


DEPOSIT = 3_200_000_000  # about 333,000 perp units each (R: 16% of the notional, 9,600 a unit)


def snapshot_view(seq):
    return view(seq), seq.state.root, pickle.dumps(seq.resting_totals)


def test_resting_orders_count_toward_initial_margin(seq):
    assert seq.apply_verified(Order(1, PERP, SELL, 200_000, 60_000, 1, FAR)).resting == 200_000
    # alone this one would fit; together with the first it would not
    before = snapshot_view(seq)
    with pytest.raises(E.InsufficientMargin):
        seq.apply_verified(Order(1, PERP, SELL, 200_000, 60_500, 2, FAR))
    assert snapshot_view(seq) == before
    other = base(DEPOSIT)
    assert other.apply_verified(Order(1, PERP, SELL, 200_000, 60_500, 2, FAR)).resting
    # the other side does not add up: all bids or all asks fill, not both
    assert seq.apply_verified(Order(1, PERP, BUY, 200_000, 59_500, 3, FAR)).resting == 200_000
    # cancelling frees the margin
    seq.apply_verified(Cancel(1, PERP, 1))
    assert seq.resting_totals[1][PERP][2:] == [0, 0]
    assert seq.apply_verified(Order(1, PERP, SELL, 200_000, 60_500, 2, FAR)).resting


def test_resting_margin_follows_fills_and_other_assets(seq):
    seq.apply_verified(Order(1, PERP, SELL, 200_000, 60_000, 1, FAR))
    seq.apply_verified(Order(2, PERP, BUY, 150_000, 60_000, 1, FAR))  # fills 150,000 of it
    assert seq.resting_totals[1][PERP] == [0, 0, 50_000, 50_000 * 60_000]
    # short 150,000 and 50,000 more resting: another 200,000 does not fit, 100,000 does
    with pytest.raises(E.InsufficientMargin):
        seq.apply_verified(Order(1, PERP, SELL, 200_000, 60_000, 2, FAR))
    seq.apply_verified(Order(1, PERP, SELL, 100_000, 60_000, 3, FAR))
    # an option series counts the perpetual's resting orders too
    before = snapshot_view(seq)
    with pytest.raises(E.InsufficientMargin):
        seq.apply_verified(Order(1, CALL, SELL, 200_000, 3_000, 4, FAR))
    assert snapshot_view(seq) == before
    assert seq.resting_totals == resting_from_books(seq)


def test_partial_fill_keeps_fills_and_cancels_unaffordable_remainder(seq):
    seq.apply_verified(Order(1, PERP, SELL, 300_000, 60_000, 1, FAR))
    seq.apply_verified(Order(3, PERP, BUY, 10_000, 59_000, 1, FAR))  # a small resting bid
    r = seq.apply_verified(Order(1, PERP, SELL, 300_000, 59_000, 2, FAR))
    assert [f.size for f in r.fills] == [10_000] and r.resting == 0
    assert r.note.startswith("remainder cancelled")
    assert seq.resting_totals == resting_from_books(seq)


def test_reducing_orders_stay_allowed(seq):
    seq.apply_verified(Order(1, PERP, SELL, 300_000, 60_000, 1, FAR))
    seq.apply_verified(Order(2, PERP, BUY, 300_000, 60_000, 1, FAR))  # 1 is short 300,000
    # a resting buy that closes the short lowers the worst case: allowed
    assert seq.apply_verified(Order(1, PERP, BUY, 300_000, 59_000, 2, FAR)).resting == 300_000
    # reduce-only orders are not counted and not checked
    assert seq.apply_verified(Order(1, PERP, BUY, 300_000, 58_000, 3, FAR, REDUCE_ONLY)).resting
    assert seq.resting_totals[1][PERP] == [300_000, 300_000 * 59_000, 0, 0]


def test_account_summary_cache_follows_prices_funding_and_edits():
    """``rollup.margin.summary.summary`` (cached per account object and oracle/registry version)
    is always what a fresh computation gives: funding settled on a copy, then value and initial
    risk."""
    from rollup.margin.risk import value_and_risk
    from rollup.state.state import OracleEntry

    seq = base()

    def fresh(i):
        w = working(seq.state, i)
        return (w.collateral, tuple(w.positions), *value_and_risk(seq.state, w))

    def check():
        for i in seq.state.accounts:
            assert summary(seq.state, i, seq._sums)[4:8] == fresh(i), i

    requests = [Order(1, PERP, BUY, 5, 60_000, 1, 10**9), Order(2, PERP, SELL, 5, 60_000, 1, 10**9),
                Order(3, CALL, SELL, 2, 3_000, 1, 10**9), Order(4, CALL, BUY, 2, 3_000, 1, 10**9)]
    for req in requests:
        assert seq.apply_verified(req).seq
    check()
    cached = {i: summary(seq.state, i, seq._sums) for i in seq.state.accounts}
    # a hit returns the entry
    assert all(summary(seq.state, i, seq._sums) is cached[i] for i in cached)
    for req in (OracleUpdate(PERP, 61_500, 5), FundingTick(PERP, 40, 6)):
        seq.apply_verified(req)
        assert all(summary(seq.state, i, seq._sums) is not cached[i] for i in (1, 2))
        check()
    # a table written directly (not through a transaction) still invalidates the cache
    seq.state.oracle[PERP] = OracleEntry(58_000, 40, 0, 0)
    check()
    # so does a new account object (a transaction's copy)
    st = seq.state
    st.begin()
    st.edit_account(1).collateral += 7
    st.commit()
    check()
