"""The compiled matching core against the Python path: differential tests built to find
divergences.

Two sequencers start from clones of one venue, both with ``defer_root``: the reference
applies a flow one request at a time (``apply_verified``: every order through
``PythonMatcher.order``), the other applies the same flow with ``submit_many(chunk,
verified=True)`` over chunkings drawn by hypothesis, so runs of consecutive orders go through
``rollup.engine.kernel.match_run`` and the orders the kernel hands back go through
``PythonMatcher.order`` in between. Compared: every result (receipt, or the typed error's type
and reason), after every chunk the whole observable state (accounts, books with their priority
order and sequence numbers, ``live``, ``seen_orders``, ``resting``, ``resting_totals`` and the
wide ones, ``records``, time and oracle), and the state roots.

The flows are built op by op from the reference's state at that point (nonces, live orders,
equity), so withdrawals can leave an account just at its margin and orders can reuse live or
stale order ids on purpose. The divergences these tests found (order id 0 admitted by the core,
an int64 wrap of the fee sum) and two Python-path OverflowErrors are fixed; their minimal
reproducers are the tests at the end of the file.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollup import errors as E
from rollup.engine import core as C
from rollup.engine import testnet as tn
from rollup.engine.testnet import PERP
from rollup.errors import EngineError
from rollup.state.encoding import KIND_PERP
from rollup.transactions import (
    BUY,
    IOC,
    REDUCE_ONLY,
    SELL,
    Cancel,
    Deposit,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    scenario_chunks,
)
from tests.support.engine import (
    FAR,
    NEW,
    OPS,
    STATS,
    Flow,
    _counterparty,
    base,
    boundaries,
    check_consistent,
    chunkings,
    compare,
    compare_roots,
    differential,
    flag_sets,
    funded_fee_account,
    maker_flags,
    ops,
    result,
    run_one,
    seeded_ops,
    shifts,
    sides,
    submit_chunk,
    taker_flags,
    through_snapshot,
    view,
    weighted,
)


@settings(max_examples=400, deadline=None)
@given(ops, chunkings, boundaries)
def test_core_equals_python_path(flow_ops, sizes_, actions):
    differential(flow_ops, sizes_, actions)


# mostly crossing orders: long runs through the kernel, many fills
dense_ops = st.lists(weighted((6, OPS["cross"]), (2, OPS["order"]), (1, OPS["sweep"]),
                              (1, OPS["cancel"]), (1, OPS["reuse"])), min_size=10, max_size=50)


@settings(max_examples=150, deadline=None)
@given(dense_ops, chunkings, st.sampled_from([None, None, 1, 3, 7]))
def test_core_equals_python_path_dense(flow_ops, sizes_, run_cap):
    core = funded_fee_account(base(run_cap=run_cap))  # runs of at most run_cap orders
    differential(flow_ops, [4 * s for s in sizes_], [""], core=core)


# values at the kernel's range limits: collateral near 2**62, notionals q * p near 2**62 (sizes
# and prices near 2**31), marks near them; a perpetual without risk (only the ranges bind)
TOPS = [2**62 - 1, 2**62 - 2**33, 2**62, 2**62 + 1, 2**61, 2**61 + 2**60]
big_sizes = weighted((3, st.sampled_from([1, 2**20, 2**30, 2**31 - 1, 2**31, 2**31 + 1, 2**32])),
                     (2, st.integers(1, 2**32)))
big_prices = weighted((3, st.sampled_from([2**30, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1])),
                      (2, st.integers(2**29, 2**33)))
big_assets = st.sampled_from([NEW, NEW, PERP])
big_accounts = st.sampled_from([1, 2, 3, 4, 0])
big_op = weighted(
    (5, st.tuples(st.just("cross"), big_accounts, shifts, big_assets, sides, big_sizes,
                  big_prices, big_sizes, maker_flags, taker_flags).map(_counterparty)),
    (3, st.tuples(st.just("order"), big_accounts, big_assets, sides, big_sizes, big_prices,
                  flag_sets, st.just("far"))),
    (2, st.tuples(st.just("topup"), big_accounts, st.sampled_from(TOPS))),
    (2, st.tuples(st.just("oracle"), big_assets, big_prices)),
    (1, st.tuples(st.just("funding"), st.integers(-2**40, 2**40))),
    (1, OPS["withdraw"]), (1, OPS["cancel"]), (1, OPS["liquidate"]))
BIG_START = [("list", NEW, KIND_PERP, (0, 0, 0)), ("oracle", NEW, 2**31)] + [
    ("topup", i, 2**61 + 2**60) for i in range(5)]
big_ops = st.lists(big_op, min_size=5, max_size=40).map(lambda xs: BIG_START + xs)


@settings(max_examples=200, deadline=None)
@given(big_ops, chunkings, boundaries)
def test_core_equals_python_path_at_range_limits(flow_ops, sizes_, actions):
    differential(flow_ops, sizes_, actions)


def test_flows_exercise_both_paths():
    if not STATS["matched"]:  # run alone
        test_core_equals_python_path()
        test_core_equals_python_path_dense()
        test_core_equals_python_path_at_range_limits()
    assert STATS["matched"] > 100, STATS
    assert STATS["handed_back"] > 20, STATS
    assert STATS["fills"] > 100 and STATS["errors"] > 20, STATS


# --- deterministic tests ------------------------------------------------------------------------


def lockstep(ref, core, reqs, group):
    """``reqs`` one by one on ``ref`` and in groups on ``core``, compared per group; the
    results."""
    out = []
    for k in range(0, len(reqs), group):
        chunk = reqs[k:k + group]
        want = [run_one(ref, r) for r in chunk]
        assert submit_chunk(core, chunk) == want
        compare(ref, core)
        out += want
    compare_roots(ref, core)
    return out


def n_fills(results):
    return sum(len(r[1][3]) for r in results if r[0] == "ok")


def test_order_stream_all_in_the_core():
    """A normal stream (``benchmarks/engine.py``'s): every order is matched by the kernel, the
    results are the Python path's."""
    from benchmarks.engine import _order_stream

    stream = _order_stream(2_000, 40, seed=2)
    for group in (256, 64):
        ref = base(n_accounts=40, deposit=10**13, shared_key=True)
        core = base(n_accounts=40, deposit=10**13, shared_key=True)
        results = lockstep(ref, core, stream, group)
        assert core.core_stats == {"matched": 2_000, "handed_back": 0}
        assert n_fills(results) > 500  # it traded


def test_wide_resting_totals_still_match():
    """An account whose resting totals leave the arrays' range (an ask of notional 2**70) keeps
    exact totals in ``_wide_totals``; it keeps trading, as maker through the kernel and as a
    resting taker through the Python path, with the same results."""
    deposit = [Deposit(4, tn.public_key(tn.key(4)), 2**61)]  # in the kernel's range still
    reqs = deposit + [
        Order(1, PERP, SELL, 2**20, 2**50, 1, FAR),  # notional 2**70: wide
        Order(1, PERP, SELL, 1_000, 60_100, 2, FAR),  # rests through the Python path
        Order(2, PERP, BUY, 400, 60_200, 1, FAR),  # the kernel fills a wide maker
        Order(3, PERP, BUY, 700, 60_100, 1, FAR, IOC),
        Order(1, PERP, BUY, 500, 59_000, 3, FAR),
        Order(2, PERP, SELL, 200, 59_000, 2, FAR),
        Order(4, PERP, BUY, 3, 2**50, 1, FAR),  # takes 3 of the 2**50 ask
        Order(1, PERP, BUY, 100, 59_500, 4, FAR, REDUCE_ONLY),
        Cancel(1, PERP, 3),
        Order(3, PERP, BUY, 10, 2**50, 2, FAR, IOC),
        Cancel(1, PERP, 1),
        Order(1, PERP, SELL, 50, 60_000, 5, FAR),
        Order(2, PERP, BUY, 60, 60_000, 3, FAR),
    ]
    for group in (1, 3, 16):
        ref, core = base(), base()
        lockstep(ref, core, reqs, group)
        assert 1 in core._wide_totals and core._wide_totals == ref._wide_totals
        assert core.core.ai[core.core.index[1], C.A_FLAG] & C.F_RTWIDE
        assert core.core_stats["matched"] >= 3 and core.core_stats["handed_back"] >= 2



def test_snapshot_mid_flow_continues_identically():
    """A sequencer written to a snapshot and loaded between groups goes on exactly as one that
    was not: the books are rebuilt in priority order, the account mirror and the asset table
    reloaded, the resting totals recomputed."""
    flow_ops = seeded_ops(7, 160)
    ref, plain = differential(flow_ops, [5, 9, 2, 13], [""])
    ref2, loaded = differential(flow_ops, [5, 9, 2, 13], ["snapshot"])
    assert view(loaded) == view(plain) == view(ref) == view(ref2)
    assert loaded.state.root == plain.state.root
    assert plain.core_stats["matched"] > 50 and plain.core_stats["handed_back"] > 0
    # once more with pending handles and a wide account in the snapshot
    more = [Order(1, PERP, SELL, 2**20, 2**50, 10_001, FAR),
            Order(2, PERP, BUY, 5, 70_000, 10_001, FAR, IOC),
            Order(3, PERP, SELL, 5, 50_000, 10_001, FAR, IOC)]
    want = [run_one(ref, r) for r in more[:2]]
    assert submit_chunk(plain, more[:2]) == submit_chunk(loaded, more[:2]) == want
    assert 1 in loaded._wide_totals
    loaded = through_snapshot(loaded)
    want = [run_one(ref, more[2])]
    assert submit_chunk(plain, more[2:]) == submit_chunk(loaded, more[2:]) == want
    compare(ref, plain)
    compare(ref, loaded)
    compare_roots(ref, loaded)


def test_group_root_takes_the_core_path_too():
    """``group_root=True`` with ``defer_root`` off: the same results (each receipt carrying the
    root after its group), the same state, ``defer_root`` left off."""
    ref = funded_fee_account(base())
    core = funded_fee_account(base(defer_root=False))
    flow = Flow(ref)
    reqs = [r for op in seeded_ops(3, 150) for r in flow.requests(op)]
    k = 0
    for size in [9, 1, 30, 4] * 40:
        chunk = reqs[k:k + size]
        if not chunk:
            break
        k += size
        want = [run_one(ref, r) for r in chunk]
        got = core.submit_many(chunk, verified=True, group_root=True)
        root = core.state.root
        assert core.defer_root is False
        assert all(r.root == root for r in got if not isinstance(r, EngineError))
        for r in got:
            if not isinstance(r, EngineError):
                r.root = None
        assert [result(r) for r in got] == want
        compare(ref, core)
        assert root == ref.state.flush()
    assert core.core_stats["matched"] > 50


def test_resting_order_views_after_removal_and_reuse():
    """A ``RestingOrder`` view held across its order's removal (filled by the kernel, cancelled,
    dropped) reports ``live == False``, also once its handle holds another order."""
    seq = base()
    seq.submit_many([Order(1, PERP, SELL, 10, 60_000, 1, FAR),
                     Order(1, PERP, SELL, 10, 60_100, 2, FAR),
                     Order(2, PERP, BUY, 5, 59_000, 1, FAR)], verified=True)
    book = seq.books[PERP]
    filled, cancelled, dropped = book.get(1, 1), book.get(1, 2), book.get(2, 1)
    assert filled.live and cancelled.live and dropped.live
    handles = {filled._h, cancelled._h, dropped._h}
    # the kernel fills the first; a cancel (Python path) removes the second; a self-trade by
    # account 2 drops the third
    res = seq.submit_many([Order(3, PERP, BUY, 10, 60_000, 1, FAR, IOC), Cancel(1, PERP, 2),
                           Order(2, PERP, SELL, 1, 59_000, 2, FAR)], verified=True)
    assert [type(r).__name__ for r in res] == ["Receipt"] * 3
    assert res[2].dropped == [(2, 1, "self-trade prevention: resting order cancelled")]
    for v in (filled, cancelled, dropped):
        assert not v.live
    assert filled.remaining == 0
    # new orders take the freed handles (after the release at the next request)
    seq.submit_many([Order(4, PERP, SELL, 7, 61_000 + k, k + 1, FAR) for k in range(3)],
                    verified=True)
    new = [book.get(4, k + 1) for k in range(3)]
    assert {o._h for o in new} & handles  # a handle was reused
    for v in (filled, cancelled, dropped):
        assert not v.live and v.remaining == 0
    assert all(o.live and o.remaining == 7 for o in new)
    # the Python path reuses them the same way
    seq.apply_verified(Cancel(4, PERP, 1))
    seq.apply_verified(Order(4, PERP, SELL, 9, 62_000, 4, FAR))
    assert not new[0].live and book.get(4, 4).live


def test_journal_recover_reproduces_the_core_run(tmp_path):
    """A journaled flow applied in groups, recovered from its journal (replayed through the
    core in one group): the same root, books and accounts; and the same as one by one."""
    from rollup.durability.journal import Journal
    from rollup.engine.restart import recover

    path = tmp_path / "j.db"
    journaled = tn.venue(n_accounts=4, deposit=3 * 10**9, journal=Journal(path),
                         defer_root=True)
    ref = base()
    differential(seeded_ops(11, 120), [7, 3, 16], [""], ref=ref, core=journaled)
    assert journaled.core_stats["matched"] > 30
    journaled.journal.close()
    again = recover(path, tn.DOMAIN, account_depth=8)
    assert again.core_stats["matched"] > 30  # replayed through the kernel
    assert again.seq == journaled.seq == ref.seq
    assert again.state.root == journaled.state.root == ref.state.root
    vr, vg = view(ref), view(again)
    for k in vr:
        assert vg[k] == vr[k], k
    check_consistent(again)


def test_many_accounts_and_long_sweeps_are_handed_back():
    """An order that involves more accounts than the kernel's working set (64), or more fills
    than a call's buffers hold, is handed back, with the same results; a run whose buffers fill
    before a later order goes on in another call."""
    n = 66

    def tick(t):
        return OracleUpdate(PERP, 60_000, t)

    makers = [Order(i, PERP, SELL, 1, 60_000 + i, 1, FAR) for i in range(1, n + 1)]
    asks = [Order(i, PERP, SELL, 1, 61_000, 2 + k, FAR) for i in range(1, 5) for k in range(40)]
    reqs = (makers + [tick(2), Order(n + 1, PERP, BUY, n, 60_000 + n, 1, FAR, IOC), tick(3)]
            + asks[:80] + [tick(4), Order(n + 2, PERP, BUY, 75, 61_000, 1, FAR), tick(5)]
            + asks[80:] + [tick(6), Order(n + 3, PERP, BUY, 40, 61_000, 1, FAR),
                           Order(n + 1, PERP, BUY, 40, 61_000, 2, FAR), tick(7)])
    for group in (1, 70, 400):
        ref = base(n_accounts=n + 3, deposit=10**12, shared_key=True)
        core = base(n_accounts=n + 3, deposit=10**12, shared_key=True)
        results = lockstep(ref, core, reqs, group)
        assert core.core_stats["handed_back"] == 2
        assert n_fills(results) == n + 75 + 80
        assert all(r[0] == "ok" for r in results)


def test_arrays_grow_mid_run():
    """More accounts than the mirror's rows (256), more resting orders than the pool (1024), more
    price levels than a row holds (16): the arrays grow inside runs, the results do not change."""
    n = 300
    reqs = []
    for k in range(4):
        for i in range(1, n + 1):
            side = (i + k) % 2
            off = (i * 7 + k) % 45 * 10
            price = 59_000 - off if side == BUY else 61_000 + off
            reqs.append(Order(i, PERP, side, 1 + (i + k) % 3, price, k + 1, FAR))
    for i in range(1, 41):  # sweeps through many levels of either side
        side = i % 2
        reqs.append(Order(i, PERP, side, 40, 58_000 if side == SELL else 62_000, 100, FAR,
                          IOC if i % 3 else 0))
    ref = base(n_accounts=n, deposit=10**12, shared_key=True)
    core = base(n_accounts=n, deposit=10**12, shared_key=True)
    results = lockstep(ref, core, reqs, 700)
    assert core.core.ai.shape[0] > 256 and core.core.oi.shape[0] > 1024
    assert core.core.lp.shape[1] > 16
    assert n_fills(results) > 200
    assert core.core_stats["handed_back"] == 0


# --- divergences found by these tests, fixed (their reproducers) -------------------------------


def test_order_id_zero_rejected_by_core():
    """The core once admitted order id 0 (its run checks skipped 0 < id < 2**64)."""
    req = Order(1, PERP, BUY, 10, 60_000, 0, FAR)
    ref, core = base(), base()
    assert run_one(ref, req) == ("InvalidRequest", "order id must be in 1..2**64-1")
    assert submit_chunk(core, [req]) == [run_one(base(), req)]


def riskless_short_rows(asset: int, t: int) -> list:
    """Scenario chunks of rows (-1, 0, ..., 0): a short position in the asset never loses, a
    long one loses 1 a unit in scenario 0."""
    return scenario_chunks(asset, t, [-1] + [0] * 25)


def test_fee_sum_overflow_in_core():
    """Fees of 200% (maker and taker), a fill of notional 2**61 + 1: each fee is 2**62 + 2, their
    sum 2**63 + 4. The fee account (a third party) holds 2**62 - 1. Python: it ends with
    3 * 2**62 + 3; the core once wrapped the sum in int64 and wrote -2**62 + 3. Now a fee or a
    fee sum beyond 2**62 sends the order to the Python path."""
    x, n, top = NEW, 2**61 + 1, 2**62 - 1

    def venue():
        seq = base()
        for req in (ListAsset(x, KIND_PERP, risk_initial=0, risk_maintenance=0,
                              maker_fee=2 * 10**6, taker_fee=2 * 10**6, liquidation_fee=10_000),
                    OracleUpdate(x, n, 2), *riskless_short_rows(x, 2),
                    # accounts 1 and 2 hold some value beside their collateral
                    Order(3, PERP, SELL, 20, 60_000, 1, FAR),
                    Order(1, PERP, BUY, 10, 60_000, 1, FAR),
                    Order(2, PERP, BUY, 10, 60_000, 1, FAR)):
            seq.apply_verified(req)
        for i in (0, 1, 2):  # collateral 2**62 - 1: still in the kernel's range
            amount = top - seq.state.accounts[i].collateral
            seq.apply_verified(Deposit(i, tn.public_key(tn.key(i)), amount))
        seq.apply_verified(Order(1, x, SELL, 1, n, 2, FAR))  # the maker
        return seq

    ref, core = venue(), venue()
    taker = Order(2, x, BUY, 1, n, 2, FAR, IOC)
    want = run_one(ref, taker)
    assert want[0] == "ok" and want[1][3][0]["maker_fee"] == 2**62 + 2
    assert ref.state.accounts[0].collateral == 3 * 2**62 + 3
    assert submit_chunk(core, [taker]) == [want]
    assert core.core_stats == {"matched": 0, "handed_back": 1}
    assert core.state.accounts[0].collateral == 3 * 2**62 + 3
    compare(ref, core)
    compare_roots(ref, core)


# --- Python-path bugs found on the way (the same on both paths), fixed --------------------------


def test_order_expiry_beyond_64_bits_is_a_typed_error():
    """An expiry >= 2**64 was committed, then the book (64-bit times) raised OverflowError after
    the commit: now a typed rejection that changes nothing."""
    seq = base()
    before = view(seq)
    with pytest.raises(E.InvalidRequest, match="expiry must be a 64-bit time"):
        seq.apply_verified(Order(1, PERP, BUY, 10, 60_000, 1, 2**64))
    assert view(seq) == before


def test_liquidation_record_overflow_is_a_typed_error():
    """A penalty too large for its record's 64-bit field: a typed rejection, nothing changed."""
    seq = base()
    for req in (Order(1, PERP, BUY, 1_000, 60_000, 1, FAR),
                Order(2, PERP, SELL, 1_000, 60_000, 1, FAR),
                OracleUpdate(PERP, 2**62, 5)):  # account 2 (short) is far under maintenance
        seq.apply_verified(req)
    before = view(seq)
    # penalty = 1,000 * 2**62 * 1% > 2**64
    with pytest.raises(EngineError):
        seq.apply_verified(Liquidation(1, 2, PERP, 1_000, 0, FAR))
    assert view(seq) == before


# --- found by review, fixed --------------------------------------------------------------------


def test_funding_payments_cannot_wrap_the_core():
    """Six large perp longs whose funding payments b * (F - snapshot) sum past 2**128: summed
    unchecked in 128 bits they wrapped back into range and the core filled an order the Python
    path rejects (the settled collateral is ~ -2**128). Each payment is range-checked now, so
    the order is handed back. (Balances this large now pass no scenario window, so the state
    is written directly.)"""
    f = next(x for x in range(2**62 - 1, 0, -1)
             if 2**128 - (2**128 // (x + 2**63)) * (x + 2**63) < 2**40)
    total = 2**128 // (f + 2**63)  # long balance over six perps at price 1
    assets = range(4, 10)
    sizes = [total // 6] * 5 + [total - 5 * (total // 6)]
    setup = []
    for a in assets:
        setup += [ListAsset(a, KIND_PERP, risk_initial=0, risk_maintenance=0,
                            liquidation_fee=0), OracleUpdate(a, 1, 2), FundingTick(a, -2**63, 2)]
    setup += [FundingTick(a, f, 3) for a in assets]
    reqs = [Order(3, PERP, SELL, 1, 60_000, 1, FAR), Order(1, PERP, BUY, 1, 60_000, 1, FAR)]
    ref, core = base(shared_key=True), base(shared_key=True)
    for seq in (ref, core):
        for r in setup[:3 * len(assets)]:
            seq.apply_verified(r)
        # the positions as trades at price 1 would leave them (account 1 long, 2 short, raw
        # collateral 10**9 and 10**10 + total), written directly: no scenario window admits
        # them through trades (|b| dV < 2**60), and the assets have no rows (no risk)
        st = seq.state
        st.begin()
        one, two = st.edit_account(1), st.edit_account(2)
        for j, (a, b) in enumerate(zip(assets, sizes, strict=True)):
            one.positions[j], two.positions[j] = (a, b, -2**63), (a, -b, -2**63)
        one.collateral = 10**9
        two.collateral += total
        st.commit()
        for r in setup[3 * len(assets):]:
            seq.apply_verified(r)
    want = [run_one(ref, r) for r in reqs]
    assert want[1] == ("InvalidRequest", "collateral out of range")
    assert submit_chunk(core, reqs) == want
    assert core.core_stats["handed_back"] == 1
    compare(ref, core)
    compare_roots(ref, core)


def test_an_order_the_arrays_cannot_hold_cuts_the_run_there():
    """A field beyond 64 bits stops the run before that order (the Python path rejects it);
    the orders before and after it still go through the core."""
    reqs = [Order(1 + k % 4, PERP, k % 2, 1, 60_000 + (k % 7) * 10 - 30, 1 + k // 4, FAR)
            for k in range(40)]
    reqs.insert(20, Order(1, PERP, BUY, 2**63, 60_000, 500, FAR))
    ref, core = base(), base()
    want = [run_one(ref, r) for r in reqs]
    assert want[20] == ("InvalidRequest", "bad size")
    assert submit_chunk(core, reqs) == want
    assert core.core_stats == {"matched": 40, "handed_back": 0}
    compare(ref, core)
    compare_roots(ref, core)


def test_signatures_checked_in_the_run_as_submit_checks_them():
    """Without ``verified``, an order joins a run only if its signature verifies under the
    account's key (``preverify``'s answer, or the sequencer's verifier now when there is none):
    with a verifier that refuses some orders, ``submit_many`` gives what ``submit`` gives one by
    one, and the accepted orders still go through the core."""
    refused = {(2, 3), (1, 5)}

    def verify(req, pk, domain):
        return (req.account, req.order_id) not in refused

    reqs = [Order(1 + k % 4, PERP, k % 2, 1, 60_000 + (k % 5) * 10 - 20, 1 + k // 4, FAR)
            for k in range(32)]
    ref, core = base(), base()
    ref._verify = core._verify = verify
    want = []
    for r in reqs:
        try:
            want.append(result(ref.submit(r)))
        except EngineError as exc:
            want.append(result(exc))
    assert [w[0] for w in want].count("BadSignature") == 2
    got = [result(r) for r in core.submit_many(reqs)]
    assert got == want
    assert core.core_stats["matched"] == 30
    compare(ref, core)
    compare_roots(ref, core)
