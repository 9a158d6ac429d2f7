"""The engine's differential harness: flows of requests built op by op from a reference
sequencer's state, applied one by one there and in chunks on the compiled path, compared
after every chunk (tests/rollup/engine/test_core.py explains the method)."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import strategies as st

from circuits.babyjubjub import pack_point
from rollup.durability.snapshot import decode, encode
from rollup.engine import core as C
from rollup.engine import testnet as tn
from rollup.engine.checks import working
from rollup.engine.orders import ORDER_SLOTS
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
                cancel_alls=sorted(k for k in seq.cancel_alls if k[3] >= s.time),
                chunks_seen=sorted(k for k in seq.chunks_seen if k[2] == s.time),
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
            assert seq.live[(acc, oid % ORDER_SLOTS)] == (a, oid)
            assert (acc, oid) in seq.resting and (acc, oid) in seq.seen_orders
    assert len(seq.live) == sum(len(b) for b in seq.books.values()) == len(seq.resting)
    # each account's slot index is exactly its live entries
    by: dict = {}
    for acc, slot in seq.live:
        by.setdefault(acc, set()).add(slot)
    assert by == {a: set(seq.live.slots_of(a)) for a in by}
    assert sum(len(seq.live.slots_of(a)) for a in seq.state.accounts) == len(seq.live)
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
        """An order whose id reuses a slot: a live order's id + ORDER_SLOTS (slot busy), a seen
        id, a stored slot's id + ORDER_SLOTS (a legitimate reuse once the slot is free), or a
        lower one."""
        acct = self._acc(acc)
        stored = sorted(acct.orders.values()) if acct is not None else []
        live = sorted(oid for (a, _), (_, oid) in self.ref.live.items() if a == acc)
        seen = sorted(oid for a, oid in self.ref.seen_orders if a == acc)
        if how == "live" and live:
            oid = live[pick % len(live)] + ORDER_SLOTS
        elif how == "seen" and seen:
            oid = seen[pick % len(seen)]
        elif how == "slot" and stored:
            oid = stored[pick % len(stored)][0] + ORDER_SLOTS
        elif how == "lower" and stored:
            oid = max(1, stored[pick % len(stored)][0] - ORDER_SLOTS * (1 + pick % 2))
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


def seeded_ops(seed: int, n: int) -> list:
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
