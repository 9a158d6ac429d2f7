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

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.babyjubjub import pack_point
from rollup import errors as E
from rollup.durability.snapshot import decode, encode
from rollup.engine import core as C
from rollup.engine import testnet as tn
from rollup.engine.checks import working
from rollup.engine.runs import CompiledMatcher
from rollup.engine.sequencer import Sequencer
from rollup.engine.testnet import CALL, EXPIRY, PERP, PUT
from rollup.errors import EngineError
from rollup.margin.risk import value_and_risk
from rollup.state.encoding import KIND_CALL, KIND_PERP, KIND_PUT
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    Cancel,
    Deposit,
    ExpirySettlement,
    ForcedWithdrawal,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    SettlementPrice,
    Transfer,
    Withdrawal,
)

FAR = 10**9
NEW, HIGH = 4, 9  # assets listed during a flow (9 grows the core's asset arrays)
MIDS = {PERP: 60_000, CALL: 3_000, PUT: 2_500, NEW: 1_000, HIGH: 1_000}
STEP = {PERP: 100, CALL: 10, PUT: 10, NEW: 10, HIGH: 10}
# matched / handed-back orders and fills over all examples (the flows must exercise both paths)
STATS = {"matched": 0, "handed_back": 0, "fills": 0, "errors": 0, "untyped": 0}

_BASE: dict[tuple, object] = {}


def base(n_accounts: int = 4, deposit: int = 3 * 10**9, shared_key: bool = False,
         defer_root: bool = True, run_cap: int | None = None):
    """A fresh copy of the testnet venue, ``defer_root`` on unless told; ``run_cap``: kernel
    runs of at most this many orders (``CompiledMatcher``)."""
    k = (n_accounts, deposit, shared_key, defer_root, run_cap)
    if k not in _BASE:
        opts = {"matcher": CompiledMatcher(run_cap)} if run_cap else {}
        _BASE[k] = tn.venue(n_accounts=n_accounts, deposit=deposit,
                            depth=8 if n_accounts < 256 else 9,
                            shared_key=shared_key, defer_root=defer_root, **opts)
    return _BASE[k].clone()


def funded_fee_account(seq):
    seq.apply_verified(Deposit(0, tn.public_key(tn.key(0)), 10**9))
    return seq


# --- what is compared ---------------------------------------------------------------------------


def receipt_view(r):
    return (r.seq, r.root, r.records, [vars(f) for f in r.fills], r.dropped, r.resting, r.note)


def result(r):
    if isinstance(r, EngineError):
        return type(r).__name__, r.reason
    return "ok", receipt_view(r)


def run_one(seq, req):
    try:
        return result(seq.apply_verified(req))
    except EngineError as exc:
        return result(exc)


def order_view(o):
    return (o.account, o.order_id, o.side, o.price, o.size, o.remaining, o.expiry, o.flags,
            o.seq, o.live)


def view(seq):
    """Everything observable of a sequencer (handles and caches aside)."""
    s = seq.state
    accounts = {i: (a.pk, a.nonce, a.collateral, tuple(a.positions),
                    tuple(sorted(a.orders.items()))) for i, a in s.accounts.items()}
    books = {}
    for a, b in seq.books.items():
        keyed = sorted((k, order_view(o)) for k, o in b.by_key.items())
        priority = [[order_view(o) for o in side.iter_orders()] for side in (b.bids, b.asks)]
        books[a] = (keyed, priority)
    return dict(accounts=accounts, books=books, seq=seq.seq, live=sorted(seq.live.items()),
                seen=sorted(seq.seen_orders), records=list(seq.records),
                resting=sorted(seq.resting.items(), key=lambda kv: kv[0]),
                totals=seq.resting_totals, wide=seq._wide_totals, time=s.time,
                oracle=sorted(s.oracle.items()), assets=sorted(s.assets), order_seq=int(
                    seq.core.meta[C.M_SEQ]))


def totals_from_books(seq):
    out: dict = {}
    for asset, book in seq.books.items():
        for o in book.by_key.values():
            if o.flags & REDUCE_ONLY:
                continue
            agg = out.setdefault(o.account, {}).setdefault(asset, [0, 0, 0, 0])
            k = 0 if o.side == BUY else 2
            agg[k] += o.remaining
            agg[k + 1] += o.remaining * o.price
    return {i: {a: t for a, t in per.items() if t[0] or t[2]} for i, per in out.items()
            if any(t[0] or t[2] for t in per.values())}


def check_consistent(seq):
    """The book dicts, the arrays, ``live`` / ``resting`` and the totals agree."""
    for a, b in seq.books.items():
        keyed = b.by_key
        assert all(o.live and o.remaining > 0 for o in keyed.values()), a
        walked = [(o.account, o.order_id) for side in (b.bids, b.asks)
                  for o in side.iter_orders()]
        assert sorted(walked) == sorted(keyed), a
        for side in (b.bids, b.asks):  # price-time priority
            prio = [((o.price if side.is_bid else -o.price), -o.seq) for o in side.iter_orders()]
            assert prio == sorted(prio, reverse=True), a
        for acc, oid in keyed:
            assert seq.live[(acc, oid % 256)] == (a, oid)
            assert (acc, oid) in seq.resting and (acc, oid) in seq.seen_orders
    assert len(seq.live) == sum(len(b) for b in seq.books.values()) == len(seq.resting)
    assert seq.resting_totals == totals_from_books(seq)


def compare(ref, core):
    check_consistent(ref)
    check_consistent(core)
    vr, vc = view(ref), view(core)
    for k in vr:
        assert vc[k] == vr[k], k


def compare_roots(ref, core):
    assert core.state.flush() == ref.state.flush() == core.state.recompute_root()
    assert ref.state.recompute_root() == ref.state.root


def submit_chunk(core, chunk):
    before = dict(core.core_stats)
    got = [result(r) for r in core.submit_many(chunk, verified=True)]
    for k in ("matched", "handed_back"):
        STATS[k] += core.core_stats[k] - before[k]
    return got


# --- flows --------------------------------------------------------------------------------------


class Flow:
    """Turns abstract ops into requests, reading the reference sequencer's state at each op's turn
    (so a withdrawal can leave an account just at its margin, a cancel can name a live order,
    an order can reuse a live, stale or lower order id)."""

    def __init__(self, ref) -> None:
        self.ref = ref
        self.oid: dict[int, int] = {}
        self.t = ref.state.time

    # helpers

    def _id(self, acc: int) -> int:
        self.oid[acc] = self.oid.get(acc, 0) + 1
        return self.oid[acc]

    def _now(self) -> int:
        self.t = max(self.t, self.ref.state.time)
        return self.t

    def _later(self, dt: int) -> int:
        self.t = self._now() + dt
        return self.t

    def _price(self, asset: int, p) -> int:
        if isinstance(p, tuple):
            return max(1, MIDS.get(asset, 1_000) + p[1] * STEP.get(asset, 10))
        return p

    def _expiry(self, kind: str) -> int:
        t = self._now()
        return {"far": FAR, "soon": t + 3, "now": t, "max": 2**64 - 1,
                "past": max(0, t - 1), "series": EXPIRY}[kind]

    def _acc(self, i: int):
        return self.ref.state.accounts.get(i)

    def _nonce(self, i: int) -> int:
        a = self._acc(i)
        return a.nonce if a is not None else 0

    def _free(self, i: int) -> int:
        """The most account i can pay out and stay at initial margin."""
        if self._acc(i) is None:
            return 1
        v, r = value_and_risk(self.ref.state, working(self.ref.state, i))
        return v - -(-r // 1_000_000)

    def _mark(self, asset: int) -> int:
        o = self.ref.state.oracle.get(asset)
        return o.price if o is not None and 0 < o.price < 2**40 else MIDS.get(asset, 1_000)

    # ops

    def requests(self, op) -> list:
        return getattr(self, "op_" + op[0])(*op[1:])

    def op_order(self, acc, asset, side, size, price, flags, exp):
        return [Order(acc, asset, side, size, self._price(asset, price), self._id(acc),
                      self._expiry(exp), flags)]

    def op_cross(self, maker, taker, asset, side, size, price, tsize, mflags, tflags):
        p = self._price(asset, price)
        return [Order(maker, asset, side, size, p, self._id(maker), FAR, mflags),
                Order(taker, asset, 1 - side, tsize, p, self._id(taker), FAR, tflags)]

    def op_sweep(self, acc, asset, side, size, depth, flags):
        mid = MIDS.get(asset, 1_000)
        p = mid + depth * STEP.get(asset, 10) if side == BUY else max(1, mid - depth * STEP.get(
            asset, 10))
        return [Order(acc, asset, side, size, p, self._id(acc), FAR, flags)]

    def op_cancel(self, acc, asset, pick):
        mine = sorted(v for (a, _), v in self.ref.live.items() if a == acc)
        if mine and pick >= 0:
            a, oid = mine[pick % len(mine)]
            return [Cancel(acc, a, oid)]
        return [Cancel(acc, asset, max(1, self.oid.get(acc, 0) + pick))]

    def op_reuse(self, acc, asset, side, size, price, how, pick):
        """An order whose id reuses a slot: a live order's id + 256 (slot busy), a seen id, a
        stored slot's id + 256 (a legitimate reuse once the slot is free), or a lower one."""
        acct = self._acc(acc)
        stored = sorted(acct.orders.values()) if acct is not None else []
        live = sorted(oid for (a, _), (_, oid) in self.ref.live.items() if a == acc)
        seen = sorted(oid for a, oid in self.ref.seen_orders if a == acc)
        if how == "live" and live:
            oid = live[pick % len(live)] + 256
        elif how == "seen" and seen:
            oid = seen[pick % len(seen)]
        elif how == "slot" and stored:
            oid = stored[pick % len(stored)][0] + 256
        elif how == "lower" and stored:
            oid = max(1, stored[pick % len(stored)][0] - 256 * (1 + pick % 2))
        else:
            oid = self._id(acc)
        return [Order(acc, asset, side, size, self._price(asset, price), oid, FAR)]

    def op_price(self, asset, kind, x):
        mid = MIDS.get(asset, 1_000)
        price = {"near": mid + x * STEP.get(asset, 10), "crash": max(1, mid // (2 + x % 4)),
                 "spike": mid * (2 + x % 4), "huge": 2**62 + x, "top": 2**64 - 1 - x,
                 "zero": 0, "mid": mid}[kind]
        return [OracleUpdate(asset, max(0, price), self._later(1))]

    def op_funding(self, index):
        return [FundingTick(PERP, index, self._later(1))]

    def op_time(self, kind, dt):
        t = {"step": self._now() + dt, "series": EXPIRY - 1 + dt % 3, "jump": self._now() + 10**4
             }[kind]
        t = max(t, self._now())
        self.t = t
        return [OracleUpdate(PERP, self._mark(PERP), t)]

    def op_settle(self, asset, price):
        return [SettlementPrice(asset, price, self._now())]

    def op_expset(self, acc, asset):
        return [ExpirySettlement(acc, asset)]

    def op_deposit(self, acc, amount):
        return [Deposit(acc, tn.public_key(tn.key(acc)), amount)]

    def op_withdraw(self, acc, frac, forced):
        amount = max(1, int(self._free(acc) * frac))
        if forced:
            key = int.from_bytes(pack_point(tn.public_key(tn.key(acc))), "big")
            return [ForcedWithdrawal(acc, amount, 0xAB, 1, key)]
        return [Withdrawal(acc, amount, 0xAB, self._nonce(acc), FAR)]

    def op_transfer(self, sender, receiver, frac):
        amount = max(1, int(self._free(sender) * frac))
        return [Transfer(sender, receiver, amount, self._nonce(sender), FAR)]

    def op_liquidate(self, liquidator, liquidated, asset, frac):
        acct = self._acc(liquidated)
        b = acct.balance(asset) if acct is not None else 0
        size = max(1, int(abs(b) * frac))
        return [Liquidation(liquidator, liquidated, asset, size, self._nonce(liquidator), FAR)]

    def op_list(self, asset, kind, factors):
        ri, mf, tf = factors
        if kind == KIND_PERP:
            listing = ListAsset(asset, KIND_PERP, risk_initial=ri, risk_maintenance=ri // 2,
                                maker_fee=mf, taker_fee=tf, liquidation_fee=10_000)
        else:
            listing = ListAsset(asset, kind, risk_initial=ri, risk_maintenance=ri // 2,
                                underlying=PERP, strike=tn.STRIKE, expiry=EXPIRY + 50,
                                short_initial=ri, short_maintenance=ri // 2, maker_fee=mf,
                                taker_fee=tf, liquidation_fee=10_000)
        return [listing, OracleUpdate(asset, MIDS[asset], self._later(1))]

    def op_topup(self, acc, target):
        """A deposit bringing account acc's collateral to ``target`` (near the kernel's range
        limit 2**62), when that is a valid deposit amount."""
        a = self._acc(acc)
        amount = target - (a.collateral if a is not None else 0)
        return [Deposit(acc, tn.public_key(tn.key(acc)), amount if amount > 0 else 1)]

    def op_oracle(self, asset, price):
        return [OracleUpdate(asset, price, self._later(1))]

    def op_invalid(self, acc, field):
        f = dict(account=acc, asset=PERP, side=BUY, size=10, price=60_000,
                 order_id=self._id(acc), expiry=FAR, flags=0)
        name, value = field
        f[name] = value if value != "past" else max(0, self._now() - 1)
        return [Order(**f)]


# (the fee-sum overflow once found needs fees above 100% on a notional near 2**61 and a fee account
# holding just under 2**62, which the flows do not build: its own test is at the end)
INVALID_FIELDS = [("order_id", 0), ("side", 2), ("side", -1), ("size", 0), ("size", -5),
                  ("size", 2**63),
                  ("size", 2**63 - 1), ("price", 0), ("price", 2**64), ("price", -1),
                  ("order_id", 2**64), ("order_id", -3), ("flags", 16), ("flags", -1),
                  ("flags", POST_ONLY | IOC), ("flags", POST_ONLY | MARKET), ("asset", 0),
                  ("asset", 7), ("asset", 2**63), ("account", 7), ("account", -1),
                  ("asset", 255), ("expiry", "past"), ("expiry", -1), ("expiry", 2**64),
                  ("side", True)]

def weighted(*choices):
    """One of the strategies, drawn with these weights (``st.one_of`` ignores repetition)."""
    picks = [i for i, (w, _) in enumerate(choices) for _ in range(w)]
    return st.sampled_from(picks).flatmap(lambda i: choices[i][1])


# 0 is the fee account (funded in ``base``, it trades too); 5 exists only after a deposit
accounts = st.sampled_from([1, 2, 3, 4, 1, 2, 3, 4, 0, 5])
assets = st.sampled_from([PERP, PERP, PERP, CALL, PUT, NEW, HIGH])
sides = st.integers(0, 1)
sizes = weighted((4, st.integers(1, 120_000)), (3, st.integers(1, 3_000)),
                 (1, st.sampled_from([2**31, 2**40, 2**62 - 1, 2**62, 2**63 - 1])))
near = st.integers(-20, 20).map(lambda x: ("near", x))
prices = weighted((6, near),
                  (1, st.sampled_from([1, 2**40, 2**61, 2**62 - 1, 2**62, 2**63 + 5, 2**64 - 1])))
flag_sets = st.sampled_from([0, 0, 0, 0, 0, POST_ONLY, IOC, MARKET, REDUCE_ONLY,
                             REDUCE_ONLY | IOC, POST_ONLY | REDUCE_ONLY, MARKET | IOC])
maker_flags = st.sampled_from([0, 0, 0, 0, POST_ONLY, REDUCE_ONLY])
expiries = st.sampled_from(["far"] * 8 + ["soon", "soon", "now", "max", "past", "series"])
fracs = st.sampled_from([1.0, 1.0, 0.999, 0.9, 0.5, 1.001, 0.0])

def _counterparty(op):
    """A cross's taker from its maker and a shift (0: the same account, a self-trade)."""
    ring = [1, 2, 3, 4, 0]
    maker, shift = op[1], op[2]
    taker = maker if shift == 0 or maker not in ring else ring[(ring.index(maker) + shift) % 5]
    return (op[0], maker, taker) + op[3:]


shifts = st.sampled_from([1, 2, 3, 4, 1, 2, 0])
taker_flags = st.sampled_from([0, 0, 0, IOC, MARKET, MARKET | IOC, REDUCE_ONLY, POST_ONLY])

OPS = {
    "order": st.tuples(st.just("order"), accounts, assets, sides, sizes, prices, flag_sets,
                       expiries),
    "cross": st.tuples(st.just("cross"), accounts, shifts, assets, sides,
                       st.integers(1, 60_000), near, st.integers(1, 90_000), maker_flags,
                       taker_flags).map(_counterparty),
    "sweep": st.tuples(st.just("sweep"), accounts, assets, sides, sizes, st.integers(0, 60),
                       st.sampled_from([0, IOC, MARKET, REDUCE_ONLY])),
    "cancel": st.tuples(st.just("cancel"), accounts, assets, st.integers(-3, 8)),
    "reuse": st.tuples(st.just("reuse"), accounts, assets, sides, st.integers(1, 50_000), near,
                       st.sampled_from(["live", "seen", "slot", "lower"]), st.integers(0, 9)),
    "price": st.tuples(st.just("price"), st.sampled_from([PERP, PERP, CALL, PUT, NEW, HIGH]),
                       st.sampled_from(["near"] * 6 + ["crash", "spike", "huge", "top", "zero",
                                                       "mid", "mid"]), st.integers(-20, 20)),
    "funding": st.tuples(st.just("funding"), weighted(
        (5, st.integers(-3_000, 3_000)), (1, st.sampled_from([2**62, -(2**62), 2**63 - 1])))),
    "time": st.tuples(st.just("time"), st.sampled_from(["step"] * 4 + ["series", "jump"]),
                      st.integers(1, 20)),
    "settle": st.tuples(st.just("settle"), st.sampled_from([CALL, PUT]),
                        st.sampled_from([50_000, 70_000, 2**62])),
    "expset": st.tuples(st.just("expset"), accounts, st.sampled_from([CALL, PUT])),
    "deposit": st.tuples(st.just("deposit"), accounts, st.sampled_from(
        [10**6, 10**9, 10**10, 2**61, 2**62, 2**64 - 1, 0])),
    "withdraw": st.tuples(st.just("withdraw"), accounts, fracs, st.booleans()),
    "transfer": st.tuples(st.just("transfer"), accounts, accounts, fracs),
    "liquidate": st.tuples(st.just("liquidate"), accounts, accounts,
                           st.sampled_from([PERP, CALL, PUT]), st.sampled_from([1.0, 0.5, 0.1])),
    "list": st.tuples(st.just("list"), st.sampled_from([NEW, HIGH]),
                      st.sampled_from([KIND_PERP, KIND_PERP, KIND_CALL, KIND_PUT]),
                      st.sampled_from([(50_000, 100, 500), (0, 0, 0), (50_000, 10**6, 10**6),
                                       (100_000, 2**31 - 1, 2**31 - 1), (2**31, 100, 500),
                                       (50_000, 2**31, 0), (2**32 - 1, 0, 0)])),
    "invalid": st.tuples(st.just("invalid"), accounts, st.sampled_from(INVALID_FIELDS)),
}
WEIGHTS = {"order": 8, "cross": 20, "sweep": 3, "cancel": 3, "reuse": 3, "price": 3,
           "funding": 1, "time": 1, "settle": 1, "expset": 1, "deposit": 2, "withdraw": 2,
           "transfer": 1, "liquidate": 1, "list": 1, "invalid": 3}
ops = st.lists(weighted(*[(WEIGHTS[k], s) for k, s in OPS.items()]), min_size=10, max_size=60)
# chunk sizes (cycled) and what happens at each chunk's end on the core side (cycled)
chunkings = st.lists(st.integers(1, 14), min_size=1, max_size=8)
boundaries = st.lists(st.sampled_from(["", "", "", "flush", "snapshot", "clone"]), min_size=1,
                      max_size=6)


def through_snapshot(seq):
    """``seq`` written to snapshot bytes and loaded again, with its modes (which are not in a
    snapshot: the constructor's)."""
    matcher = copy.copy(seq.matcher)
    matcher.stats = dict(seq.matcher.stats)
    return Sequencer.from_snapshot(decode(encode(seq.to_snapshot())), tn.DOMAIN,
                                   defer_root=seq.defer_root, matcher=matcher)


def differential(flow_ops, sizes_, actions, ref=None, core=None):
    """Apply the flow to the reference one by one and to the core sequencer in chunks,
    comparing as it goes; returns (ref, core)."""
    ref = ref if ref is not None else funded_fee_account(base())
    core = core if core is not None else funded_fee_account(base())
    flow = Flow(ref)
    pending: list = []
    expected: list = []
    n_chunk = 0

    def settle_chunk(ref_ahead=False):
        nonlocal core, n_chunk
        got = submit_chunk(core, pending)
        for req, g, e in zip(pending, got, expected, strict=True):
            assert g == e, req
        STATS["fills"] += sum(len(e[1][3]) for e in expected if e[0] == "ok")
        STATS["errors"] += sum(e[0] != "ok" for e in expected)
        pending.clear()
        expected.clear()
        if ref_ahead:  # the reference applied one more request already
            return
        compare(ref, core)
        action = actions[n_chunk % len(actions)]
        if action == "flush":
            compare_roots(ref, core)
        elif action == "snapshot":  # as a restart from a snapshot does
            core = through_snapshot(core)
        elif action == "clone":
            core = core.clone()
        n_chunk += 1

    for op in flow_ops:
        for req in flow.requests(op):
            try:
                want = run_one(ref, req)
            except Exception as exc:  # not a typed error (none known now)
                # the core path must fail alike: the request alone, after the pending ones
                if pending:
                    settle_chunk(ref_ahead=True)
                with pytest.raises(type(exc)):
                    core.submit_many([req], verified=True)
                compare(ref, core)
                STATS["untyped"] += 1
                continue
            expected.append(want)
            pending.append(req)
            if len(pending) >= sizes_[n_chunk % len(sizes_)]:
                settle_chunk()
    if pending:
        settle_chunk()
    compare_roots(ref, core)
    return ref, core


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


def _seeded_ops(seed: int, n: int) -> list:
    """A flow of the fuzz tests' ops drawn with ``random`` (for deterministic tests)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = rng.random()
        maker, taker = rng.randrange(0, 5), rng.randrange(0, 5)
        asset = rng.choice([PERP, PERP, CALL, PUT])
        off = ("near", rng.randrange(-10, 11))
        if x < 0.45:
            out.append(("cross", maker, taker, asset, rng.randrange(2), rng.randrange(1, 20_000),
                        off, rng.randrange(1, 30_000), rng.choice([0, 0, REDUCE_ONLY]),
                        rng.choice([0, 0, IOC, MARKET])))
        elif x < 0.75:
            out.append(("order", maker, asset, rng.randrange(2), rng.randrange(1, 50_000), off,
                        rng.choice([0, 0, 0, POST_ONLY, IOC, REDUCE_ONLY]),
                        rng.choice(["far", "far", "soon"])))
        elif x < 0.82:
            out.append(("cancel", maker, asset, rng.randrange(0, 5)))
        elif x < 0.88:
            out.append(("price", PERP, "near", rng.randrange(-30, 31)))
        elif x < 0.92:
            out.append(("funding", rng.randrange(-500, 500)))
        elif x < 0.96:
            out.append(("withdraw", maker, rng.choice([1.0, 0.9]), False))
        else:
            out.append(("time", "step", rng.randrange(1, 5)))
    return out


def test_snapshot_mid_flow_continues_identically():
    """A sequencer written to a snapshot and loaded between groups goes on exactly as one that
    was not: the books are rebuilt in priority order, the account mirror and the asset table
    reloaded, the resting totals recomputed."""
    flow_ops = _seeded_ops(7, 160)
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
    reqs = [r for op in _seeded_ops(3, 150) for r in flow.requests(op)]
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
    differential(_seeded_ops(11, 120), [7, 3, 16], [""], ref=ref, core=journaled)
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
                    OracleUpdate(x, n, 2),
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
    the order is handed back."""
    f = next(x for x in range(2**62 - 1, 0, -1)
             if 2**128 - (2**128 // (x + 2**63)) * (x + 2**63) < 2**40)
    total = 2**128 // (f + 2**63)  # long balance over six perps at price 1
    assets = range(4, 10)
    sizes = [total // 6] * 5 + [total - 5 * (total // 6)]
    setup = []
    for a in assets:
        setup += [ListAsset(a, KIND_PERP, risk_initial=0, risk_maintenance=0,
                            liquidation_fee=0), OracleUpdate(a, 1, 2), FundingTick(a, -2**63, 2)]
    for k, (a, b) in enumerate(zip(assets, sizes, strict=True)):
        setup += [Order(2, a, SELL, b, 1, 100 + k, FAR), Order(1, a, BUY, b, 1, 100 + k, FAR, IOC)]
    pk = tn.public_key(tn.key(1))
    need = total - 2 * 10**9  # account 1's raw collateral back to 10**9
    setup += [Deposit(1, pk, 2**64 - 1), Deposit(1, pk, need - (2**64 - 1))]
    setup += [FundingTick(a, f, 3) for a in assets]
    reqs = [Order(3, PERP, SELL, 1, 60_000, 1, FAR), Order(1, PERP, BUY, 1, 60_000, 1, FAR)]
    ref, core = base(shared_key=True), base(shared_key=True)
    for seq in (ref, core):
        for r in setup:
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
