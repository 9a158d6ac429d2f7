"""The sequencer: the single writer that validates requests, matches orders and updates the state.

Every request goes through the same steps: verify its signature against the key committed in the
state, validate it and build the new account values on working copies (nothing in the state or
the books changes yet), journal it, then apply: state commit and book changes. Any typed error
before the journal write rolls back, so a rejected request leaves the root, every balance and
every book exactly as they were. A journaled request is acknowledged; replaying the journal
through ``apply_verified`` reproduces the same state, since every step is a deterministic
function of the state and the request (time is the oracle's, never the clock's).

Two matchers, one set of rules. ``apply_verified`` matches an order in Python (``_order``,
held to the straightforward ``_order_reference`` by the tests). ``submit_many`` (with a deferred
or per-group root) sends each run of consecutive orders to the compiled core
(``rollup.engine.core``): one Numba call validates, matches and margin-checks the whole run on
the books' arrays and a mirror of the trading accounts, then ``_core_results`` turns its outputs
into the same receipts, records, journal rows, book bookkeeping and account objects, once per
run. The core hands back to ``apply_verified`` every order it cannot decide exactly as
``_order`` would (every rejection, reduce-only takers, amounts beyond its 62-bit ranges), so the
two give identical results; ``core_stats`` counts both.

Roots: with ``defer_root`` the commit only marks the changed leaves dirty and the root is
computed on demand (``state.root``, ``flush``, a batch), all dirty leaves hashed together
(``rollup.state.state``); otherwise every receipt carries the root after its request.
Journal: ``submit`` journals one request per SQLite transaction; ``submit_many`` journals a
group in one transaction and acknowledges it once that is on disk (group commit).
Snapshots: the journal's policy (``rollup.durability``) is checked after each request or group;
``to_snapshot`` / ``from_snapshot`` (``rollup.engine.snapshot``) are the engine's side of it.

Deposits and forced withdrawals (read from the L1 priority queue), expiry settlements, and the
operator's listings (ListAsset) carry no signature: only the queue reader and the operator may
pass them in; user-facing endpoints must accept signed request types only. An oracle-key change
(SetOracleKey, the operator's too) must be signed by the current oracle key (the first one,
while none is registered, excepted): the operator cannot replace an oracle it does not hold.
The fee account (account 0) collects every trade's fees and holds no positions: it may not
place orders or liquidate (the batch circuit credits a batch's fees to it once, at the end, and
requires it to hold no positions then; ``rollup.state.rebuild`` says why the published records
then rebuild the same root).
Matching policy: price-time priority, trades at the maker's price, self-trade prevention cancels
the resting order, margin is checked fill by fill against the account just before the fill (the
rule the batch circuit proves per slot): a maker that would breach it is cancelled and matching
goes on, a taker that would breach it stops (rejected if nothing filled). Resting-order margin:
a remainder may rest only if the account stays allowed (the initial-margin rule of a trade,
against the account before the order) in the hypothetical where it fills entirely at its limit
price and, in every asset, the account's other resting orders fill on whichever side (all bids,
all asks, or none) leaves the least excess, each at its limit price (fees aside; reduce-only
orders, which can only shrink a position, are neither counted nor checked). Otherwise the
remainder is cancelled, or the order rejected if nothing filled. These are admission rules of
the sequencer: the state transitions (what a fill does to balances, collateral, fees, order
slots) are those of ``rollup.state.encoding`` and unchanged by them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from circuits.babyjubjub import pack_point
from circuits.eddsa import public_key_is_safe
from rollup import errors as E
from rollup.durability.snapshot import Snapshot
from rollup.engine import core as C
from rollup.engine import snapshot
from rollup.engine.orderbook import OrderBook, RestingOrder
from rollup.margin.risk import (
    account_value,
    allowed,
    excess,
    is_healthy,
    is_liquidatable,
    settle_funding,
    trade_allowed,
    value_and_risk,
)
from rollup.state.encoding import (
    AMOUNT_BITS,
    BALANCE_BITS,
    COLLATERAL_BITS,
    FUNDING_BITS,
    KIND_CALL,
    KIND_PERP,
    ORDER_ID_BITS,
    ORDER_TREE_DEPTH,
    PRICE_BITS,
    RISK_SCALE,
    TIME_BITS,
    fits,
    fits_unsigned,
)
from rollup.state.state import (
    EMPTY_SLOT,
    FEE_ACCOUNT,
    POSITION_SLOTS,
    Account,
    Asset,
    OracleEntry,
    State,
)
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    T_DEPOSIT,
    T_EXPIRY_SETTLEMENT,
    T_FORCED_WITHDRAWAL,
    T_FUNDING,
    T_LIQUIDATION,
    T_LIST_ASSET,
    T_ORACLE,
    T_REFUND,
    T_SET_ORACLE_KEY,
    T_SETTLEMENT_PRICE,
    T_TRADE,
    T_TRANSFER,
    T_WITHDRAWAL,
    Cancel,
    Deposit,
    Domain,
    ExpirySettlement,
    ForcedWithdrawal,
    FundingTick,
    Liquidation,
    ListAsset,
    OracleUpdate,
    Order,
    Refund,
    Request,
    SetOracleKey,
    SettlementPrice,
    Transfer,
    Withdrawal,
    encode_record,
    record_size,
)

ORDER_SLOTS = 1 << ORDER_TREE_DEPTH
# the core's codes for why a maker was dropped, and for a receipt's note
_WHY = {C.WHY_EXPIRED: "expired",
        C.WHY_SELF: "self-trade prevention: resting order cancelled",
        C.WHY_REDUCE: "reduce-only order would not reduce",
        C.WHY_MARGIN: "maker under initial margin"}
_NOTES = {C.NOTE_NONE: "", C.NOTE_STOPPED: "stopped: further fills would breach initial margin",
          C.NOTE_CANCELLED: "remainder cancelled: resting it would breach initial margin"}


@dataclass
class Fill:
    maker: int
    taker: int
    maker_order: int
    taker_order: int
    asset: int
    size: int
    price: int
    taker_side: int
    maker_fee: int
    taker_fee: int


@dataclass
class Receipt:
    seq: int  # position in the journal (accepted requests only)
    root: int
    records: list[bytes] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    dropped: list[tuple[int, int, str]] = field(default_factory=list)  # (account, order, why)
    resting: int = 0  # size left resting in the book
    note: str = ""


def _check(cond: bool, exc: type[E.EngineError], reason: str) -> None:
    if not cond:
        raise exc(reason)


def _set_balance(acc: Account, asset: Asset, b: int, funding: int) -> None:
    """Write the balance of ``asset`` (allocating or freeing its slot)."""
    _check(fits(b, BALANCE_BITS), E.InvalidRequest, "balance out of range")
    j = acc.slot_of(asset.asset_id)
    if j is None:
        if b == 0:
            return
        j = acc.slot_of(0)
        _check(j is not None, E.NoPositionSlot, f"no free position slot for asset {asset.asset_id}")
    snap = funding if asset.kind == KIND_PERP else 0
    acc.positions[j] = (asset.asset_id, b, snap) if b else EMPTY_SLOT


def _check_collateral(acc: Account) -> None:
    _check(fits(acc.collateral, COLLATERAL_BITS), E.InvalidRequest, "collateral out of range")


_BALANCE_LIMIT = 1 << (BALANCE_BITS - 1)  # signed: -limit <= b < limit
_COLLATERAL_LIMIT = 1 << (COLLATERAL_BITS - 1)
_PRICE_LIMIT = 1 << PRICE_BITS
_ORDER_ID_LIMIT = 1 << ORDER_ID_BITS
_TIME_LIMIT = 1 << TIME_BITS
_TRADE = struct.Struct(">BIIHQQQQQQ")  # RECORDS[T_TRADE], big-endian
# an order's fields as the core's input columns (Q_ACCT.. and QU_..)
_Q_INT = attrgetter("account", "asset", "side", "size", "flags")
_Q_UINT = attrgetter("order_id", "price", "expiry")
_I64, _U64 = 1 << 63, 1 << 64
assert _TRADE.size == record_size(T_TRADE)


def _record(tx_type: int, **values: int) -> bytes:
    """``encode_record``, with a value that does not fit its field a typed rejection (a fee, a
    penalty or a payout too large for the public data) rather than an OverflowError."""
    try:
        return encode_record(tx_type, **values)
    except OverflowError:
        raise E.InvalidRequest("a value does not fit its public-data record field") from None


def _trade_record(buyer: int, seller: int, asset: int, size: int, price: int, buyer_order: int,
                  seller_order: int, buyer_fee: int, seller_fee: int) -> bytes:
    """``encode_record(T_TRADE, ...)``, packed in one call (the same bytes; a value that does
    not fit: ``_record``'s typed error)."""
    try:
        return _TRADE.pack(T_TRADE, buyer, seller, asset, size, price, buyer_order, seller_order,
                           buyer_fee, seller_fee)
    except struct.error:
        return _record(T_TRADE, buyer=buyer, seller=seller, asset=asset, size=size,
                             price=price, buyer_order=buyer_order, seller_order=seller_order,
                             buyer_fee=buyer_fee, seller_fee=seller_fee)


class _Work:
    """An account while one order is matched: its positions with funding settled and its
    collateral, as ``Sequencer._working`` would make them, plus the order slots written so far;
    its value and initial risk now (v, r) and before the order (v0, r0); its balance of the
    traded asset and the slot holding it. The account object itself is built once, at the end
    (``account()``), and only for an account that traded."""

    __slots__ = ("src", "positions", "coll", "orders", "v0", "r0", "v", "r", "bal", "slot")

    def __init__(self, summary: tuple, asset_id: int) -> None:
        # summary: Sequencer._summary (account, versions, raw collateral, settled collateral,
        # settled positions, value, risk)
        self.src = summary[0]
        self.coll = summary[4]
        self.positions = positions = list(summary[5])
        self.v0 = self.v = summary[6]
        self.r0 = self.r = summary[7]
        self.orders = None
        self.slot, self.bal = None, 0
        for j in range(POSITION_SLOTS):
            p = positions[j]
            if p[0] == asset_id:
                self.slot, self.bal = j, p[1]
                break

    def check_balance(self, asset_id: int, b: int) -> None:
        """The errors ``_set_balance`` would raise for balance b."""
        if not -_BALANCE_LIMIT <= b < _BALANCE_LIMIT:
            raise E.InvalidRequest("balance out of range")
        if self.slot is None and b and _free_slot(self.positions) is None:
            raise E.NoPositionSlot(f"no free position slot for asset {asset_id}")

    def set_balance(self, asset_id: int, b: int, snap: int, v: int, r: int) -> None:
        """``_set_balance`` (checked before), and the new value and risk."""
        j = self.slot
        if j is None:
            if b:
                j = _free_slot(self.positions)
                self.positions[j] = (asset_id, b, snap)
        else:
            self.positions[j] = (asset_id, b, snap) if b else EMPTY_SLOT
        self.slot = j if b else None
        self.bal, self.v, self.r = b, v, r

    def fill_order(self, order_id: int, q: int) -> None:
        """Order slot ``order_id mod 256`` := (id, filled + q), filled reset for a new id."""
        slot = order_id % ORDER_SLOTS
        if self.orders is None:
            self.orders = {}
        sid, filled = self.orders.get(slot) or self.src.orders.get(slot, (0, 0))
        self.orders[slot] = (order_id, (filled if sid == order_id else 0) + q)

    def account(self) -> Account:
        src = self.src
        orders = dict(src.orders)
        if self.orders:
            orders.update(self.orders)
        return Account(src.pk, src.nonce, self.coll, self.positions, orders)


def _free_slot(positions: list[tuple[int, int, int]]) -> int | None:
    """``Account.slot_of(0)`` on a positions list."""
    for j, (a, _, _) in enumerate(positions):
        if a == 0:
            return j
    return None


def _balance_in(positions: list[tuple[int, int, int]], asset_id: int) -> int:
    """``Account.balance`` on a positions list."""
    for a, b, _ in positions:
        if a == asset_id:
            return b
    return 0


def _verify_signature(req: Request, pk: tuple[int, int], domain: Domain) -> bool:
    """The default verifier (``submit_many`` checks a group's signatures with it in one batch:
    ``rollup.transactions.verify_requests``)."""
    return req.verify(pk, domain)


def tune_gc() -> None:
    """Collector settings for a long-running sequencer process: what is alive now (the state,
    loaded or rebuilt) is frozen out of the full collections, which would otherwise walk every
    account and order on each pass though the state holds no reference cycles; and the young
    generation is collected every 50,000 allocations instead of 700 (a receipt's objects are
    mostly freed by reference counting long before). Measured on the engine benchmark: 54k ->
    62k orders/s for the freeze, 62k -> 72k for the threshold."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class Sequencer:
    def __init__(self, state: State, domain: Domain, journal=None,
                 verify: Callable[[Request, tuple[int, int], Domain], bool] | None = None) -> None:
        self.state = state
        self.domain = domain
        self.journal = journal
        self._verify = verify or _verify_signature
        self.core = C.Core()  # the books' arrays and the compiled matcher's account mirror
        self.books: dict[int, OrderBook] = {}
        self.live: dict[tuple[int, int], tuple[int, int]] = {}  # (account, slot) -> (asset, id)
        self.seen_orders: set[tuple[int, int]] = set()
        # the signed orders resting in the books: a fill's batch slot proves both signatures
        self.resting: dict[tuple[int, int], Order] = {}
        self.seq = 0
        self.records: list[bytes] = []  # public data of the applied, not yet batched txs
        self.defer_root = False  # when True, commits queue leaves and ``flush`` hashes them
        # resting-order totals (what the resting-order margin rule counts) live in the core's
        # arrays; these are the exact ones of accounts whose totals left the arrays' range
        self._wide_totals: dict[int, dict[int, list[int]]] = {}
        self.reference_matching = False  # tests: match with ``_order_reference``
        self.use_core = True  # ``submit_many`` matches runs of orders in the compiled core
        # orders the core applied, and orders it handed back to the Python path
        self.core_stats = {"matched": 0, "handed_back": 0}
        self._group: list[tuple] | None = None  # rows of a group commit: (seq, request, fills)
        self._sums: dict[int, tuple] = {}  # account -> _summary (a cache)
        self.failed: str | None = None  # why the sequencer stopped (journal behind memory)
        self.exodus: str | None = None  # set once L1 is in exodus: every request is refused

    # --- snapshots (the tables: ``rollup.engine.snapshot``; the file and the policy:
    # ``rollup.durability``) ---------------------------------------------------------------------

    def to_snapshot(self) -> Snapshot:
        """What the journal rows up to ``seq`` determine (state, books, order ids, records)."""
        return snapshot.export(self)

    @classmethod
    def from_snapshot(cls, snap: Snapshot, domain: Domain | None = None,
                      account_depth: int | None = None, journal=None,
                      verify: Callable[[Request, tuple[int, int], Domain], bool] | None = None
                      ) -> Sequencer:
        """The sequencer of ``snap``; SnapshotError if it cannot be used (or, when given, is of
        another domain or tree depth)."""
        return snapshot.restore(lambda st, d: cls(st, d, journal=journal, verify=verify), snap,
                                domain=domain, account_depth=account_depth)

    def clone(self) -> Sequencer:
        """An independent copy (no journal; ``defer_root`` kept, other modes as built)."""
        return snapshot.clone(self, lambda st, d: type(self)(st, d, verify=self._verify))

    @property
    def snapshot_every(self) -> int | None:
        """The journal's snapshot interval (its ``SnapshotPolicy``); None without a journal."""
        return self.journal.snapshot_every if self.journal is not None else None

    @snapshot_every.setter
    def snapshot_every(self, n: int) -> None:
        if self.journal is None:
            raise ValueError("snapshots need a journal")
        self.journal.snapshot_every = n

    @property
    def snapshot_error(self) -> str | None:
        """Why the last snapshot failed (None after a success)."""
        return self.journal.policy.error if self.journal is not None else None

    # --- entry points ---------------------------------------------------------------------------

    def submit(self, req: Request, pre: tuple[tuple[int, int], bool] | None = None) -> Receipt:
        """Verify, validate, journal and apply one request (or raise a typed error, unchanged).
        ``pre``: ``preverify``'s answer for it, used if the signer key is still the one it was
        checked against (else the signature is verified now)."""
        if self._needs_signature(req):
            pk = self._signer_key(req)
            good = pre[1] if pre is not None and pre[0] == pk else self._verify(req, pk,
                                                                                 self.domain)
            _check(good, E.BadSignature, f"{type(req).__name__} signature does not verify")
        return self.apply_verified(req)

    def preverify(self, reqs: Sequence[Request]) -> list[tuple[tuple[int, int], bool] | None]:
        """Per request, (its signer key as of now, whether its signature verifies under it), all
        from one batch (``verify_requests``: the same answers as ``Request.verify``), or None
        where the answer is left to ``submit`` (unsigned, a key not known yet, a malformed
        signature, a verifier other than the default). ``submit`` / ``submit_many`` use an
        answer only while the signer key is the one it was checked against (a deposit or a key
        change in between can change it). Reads only account keys and the oracle key, which no
        request edits in place, so a thread other than the writer may call it ahead of the
        apply (the compiled kernels release the GIL)."""
        out: list[tuple[tuple[int, int], bool] | None] = [None] * len(reqs)
        if self._verify is not _verify_signature:
            return out
        from rollup.transactions import verify_requests

        idx, keys = [], []
        for i, req in enumerate(reqs):
            if self._needs_signature(req):
                try:
                    keys.append(self._signer_key(req))
                except Exception:  # raised again by ``submit`` at the request's turn
                    continue
                idx.append(i)
        try:
            ok = verify_requests([reqs[i] for i in idx], keys, self.domain)
        except (TypeError, ValueError):  # ``submit`` raises it at the request's turn
            return out
        for i, pk, v in zip(idx, keys, ok, strict=True):
            out[i] = (pk, v)
        return out

    def submit_many(self, reqs: Sequence[Request], *, verified: bool = False,
                    group_root: bool = False,
                    pre: Sequence[tuple[tuple[int, int], bool] | None] | None = None
                    ) -> list[Receipt | E.EngineError]:
        """``submit`` for several requests in order, journaled together (group commit): one
        SQLite transaction, one fsync for the group, and the results are returned (the requests
        acknowledged) only once it is on disk. Each result is the request's receipt, or the
        typed error that rejected it (a rejected request changes nothing, as with ``submit``).
        ``verified``: the signatures were checked already (``apply_verified`` for each).
        ``group_root``: the tree is hashed once for the group (the changed leaves batched, a node
        shared by several requests hashed once) and every receipt of the group carries the root
        after the group, instead of a root after each request (with ``defer_root`` off, the
        roots after each request cost one tree path per changed account each).
        Signatures (unless ``verified``): ``pre`` (``preverify``'s answers, e.g. computed by
        another thread) or else one ``preverify`` of the group, each answer used at the
        request's turn only if its signer key is still the one it was checked against.

        If the group's journal write fails, JournalError is raised and the sequencer refuses
        further requests: its memory holds requests the journal does not, so it must be rebuilt
        with ``recover`` (which gives the state as of the last durable group)."""
        self._check_usable()
        out: list[Receipt | E.EngineError] = []
        reqs = list(reqs)
        if verified:
            pre = [None] * len(reqs)
        elif pre is None:
            pre = self.preverify(reqs)
        elif len(pre) != len(reqs):
            raise ValueError("submit_many: one preverify answer per request")

        self._group = []
        defer = self.defer_root
        if group_root:
            self.defer_root = True
        fast = self.use_core and not self.reference_matching and self.defer_root
        try:
            i, n = 0, len(reqs)
            while i < n:
                if fast and type(reqs[i]) is Order:
                    j = self._core_run(reqs, pre, i, out, verified)
                    if j > i:
                        i = j
                        continue
                req, p = reqs[i], pre[i]
                i += 1
                try:
                    out.append(self.apply_verified(req) if verified else self.submit(req, p))
                except E.EngineError as exc:
                    out.append(exc)
        finally:
            self.defer_root = defer
            rows, self._group = self._group, None
            if rows:
                try:
                    self.journal.append_many(rows)
                except E.JournalError as exc:
                    self.failed = f"group journal write failed: {exc.reason}"
                    raise
        if group_root and not defer:
            root = self.state.flush()
            for r in out:
                if isinstance(r, Receipt):
                    r.root = root
        self._maybe_snapshot()
        return out

    def apply_verified(self, req: Request) -> Receipt:
        """``submit`` without the signature check: for journal replay, and for callers that
        verified the signature already (e.g. a verifier pool in front of the sequencer)."""
        if self.failed or self.exodus:
            self._check_usable()
        handler = self._handlers[type(req)]
        state = self.state
        core = self.core
        if core.meta[C.M_NPEND]:  # handles freed by earlier requests become reusable
            C.release(core.free, core.pend, core.meta)
        state.begin()
        try:
            receipt, book_ops = handler(self, req)
            if self.journal is not None:
                if self._group is not None:
                    self._group.append((self.seq + 1, req, receipt.fills))
                else:
                    self.journal.append(self.seq + 1, req, receipt.fills)
        except BaseException:
            state.rollback()
            raise
        self.seq += 1
        receipt.seq = self.seq
        receipt.root = state.commit(defer=self.defer_root)
        for op in book_ops:
            op()
        self.records.extend(receipt.records)
        if self.snapshot_every and self._group is None:
            self._maybe_snapshot()
        return receipt

    # --- runs of orders in the compiled core ----------------------------------------------------

    _RUN = 4096  # orders per kernel call at most

    def _core_run(self, reqs: list, pre: list, i: int, out: list, verified: bool) -> int:
        """Apply the run of orders starting at ``reqs[i]`` through the compiled core, appending
        their results to ``out``; returns the index after the run (``i`` when ``reqs[i]`` is not
        for the core: the caller applies it alone). A run is a sequence of orders whose checks
        that need Python objects pass now (account, signature, order id, slot) and that cannot
        interfere with each other's (no (account, order slot) twice); the kernel checks the
        rest and hands back (to ``apply_verified``) every order it cannot decide exactly as
        ``_order`` would, including every rejection."""
        st = self.state
        core = self.core
        core.sync(st)
        accounts = st.accounts
        seen, live = self.seen_orders, self.live
        row_loaded = core.row_loaded
        index = core.index
        run: list[Order] = []
        rows: list[int] = []
        slots: set[tuple[int, int]] = set()
        n = min(len(reqs), i + self._RUN)
        j = i
        while j < n:
            req = reqs[j]
            if type(req) is not Order:
                break
            a = req.account
            acc = accounts.get(a)
            if acc is None or a == FEE_ACCOUNT:  # ``_order`` rejects it
                break
            if not verified:
                p = pre[j]
                if p is not None and p[0] == acc.pk:
                    if not p[1]:
                        break  # ``submit`` rejects it at its turn
                else:  # no answer for this key: verify now, as ``submit`` would
                    try:
                        if not self._verify(req, acc.pk, self.domain):
                            break
                    except Exception:  # raised again by ``submit`` at the request's turn
                        break
            oid = req.order_id
            if type(oid) is not int or oid <= 0:
                break
            key = (a, oid % ORDER_SLOTS)
            if key in slots or key in live or (a, oid) in seen:
                break
            stored = acc.orders.get(key[1])
            if stored is not None and oid <= stored[0]:
                break
            slots.add(key)
            run.append(req)
            r = index.get(a)
            rows.append(r if r is not None else row_loaded(a, accounts))
            j += 1
        if not run:
            return i
        fi, fu_ = list(map(_Q_INT, run)), list(map(_Q_UINT, run))
        m = len(run)
        qi = np.empty((m, C.N_Q), np.int64)
        try:
            if {type(x) for t in fi for x in t} | {type(x) for t in fu_ for x in t} != {int}:
                raise TypeError
            qi[:, C.Q_ACCT:] = fi
            qu = np.array(fu_, np.uint64)
        except (TypeError, OverflowError, ValueError):
            # a field the arrays cannot hold: the run stops before the first such order (which
            # the Python path then decides on its own)
            cut = next(k for k, (a, b) in enumerate(zip(fi, fu_, strict=True))
                       if not all(type(x) is int and -_I64 <= x < _I64 for x in a)
                       or not all(type(x) is int and 0 <= x < _U64 for x in b))
            if cut == 0:
                return i
            del run[cut:], rows[cut:], fi[cut:], fu_[cut:]
            m = cut
            qi = np.empty((m, C.N_Q), np.int64)
            qi[:, C.Q_ACCT:] = fi
            qu = np.array(fu_, np.uint64)
        qi[:, C.Q_ROW] = rows
        res = np.zeros((m, C.N_R), np.int64)
        start = 0
        while start < m:
            core.reserve(m - start)
            cap = 4 * (m - start) + 64
            fo = np.zeros((cap, C.N_FO), np.int64)
            fu = np.zeros((cap, 2), np.uint64)
            do = np.zeros((cap, C.N_DO), np.int64)
            du = np.zeros((cap, 2), np.uint64)
            tr = np.zeros(2 * cap, np.int64)
            counts = np.zeros(3, np.int64)
            core.g[C.G_RUN] += 1
            k, how = C.match_run(core.oi, core.ou, core.free, core.pend, core.meta, core.lp,
                                 core.lh, core.lt, core.ln, core.ai, core.pa, core.pb, core.ps,
                                 core.rt, core.asi, core.asu, core.g, core.gu, core.rw_stamp,
                                 core.rw_idx, qi, qu, start, res, fo, fu, do, du, tr, counts)
            self._core_results(run, start, k, res, fo, fu, do, du, tr, counts, out)
            self.core_stats["matched"] += k - start
            if how == C.DONE:
                break
            if how == C.FULL and k > start:
                start = k
                continue
            # BAIL (or one order needing more than a call's buffers): the Python path
            self.core_stats["handed_back"] += 1
            try:
                out.append(self.apply_verified(run[k]))
            except E.EngineError as exc:
                out.append(exc)
            start = k + 1
            if start < m:
                core.sync(st)
        return i + m

    def _core_results(self, run, start, stop, res, fo, fu, do, du, tr, counts, out) -> None:
        """Receipts, records, journal rows, book and order-slot bookkeeping and the written
        accounts for orders ``start..stop`` of a kernel call (what ``apply_verified`` and
        ``_apply_book`` do for one order)."""
        if stop <= start:
            return
        st = self.state
        core = self.core
        nf, nd, nt = (int(x) for x in counts)
        fol, ful = fo[:nf].tolist(), fu[:nf].tolist()
        dol, dul = do[:nd].tolist(), du[:nd].tolist()
        resl = res[start:stop].tolist()
        group = self._group if self.journal is not None else None
        live, resting, seen = self.live, self.resting, self.seen_orders
        wide = self._wide_totals
        totals_add = self._totals_add
        records_all = self.records
        # (account, order id) -> size filled in this call: an order slot holds (id, filled),
        # filled reset for a new id; within a run all fills written to one (account, slot) are
        # of one order (``_core_run`` admits no order whose slot is live or used in the run)
        filled_in: dict[tuple[int, int], int] = {}
        accounts = st.accounts
        why_text = _WHY
        notes = _NOTES
        seq = self.seq
        books = self.books
        last_aid, bh = None, None
        for k in range(start, stop):
            req = run[k]
            f0, nfk, d0, ndk, rest, note, hr, filled = resl[k - start]
            taker, aid, toid = req.account, req.asset, req.order_id
            if aid != last_aid:
                book = books.get(aid)
                if book is None:
                    book = books[aid] = OrderBook(aid, core)
                last_aid, bh = aid, book._h
            dropped = []
            if ndk:
                for x in range(d0, d0 + ndk):
                    _, why, mk, rem, mside, mflags = dol[x]
                    moid, mprice = dul[x]
                    dropped.append((mk, moid, why_text[why]))
                    if mk in wide and not mflags & REDUCE_ONLY:  # (the kernel did the others)
                        totals_add(mk, aid, mside, mprice, -rem)
                    live.pop((mk, moid % ORDER_SLOTS), None)
                    resting.pop((mk, moid), None)
                    bh.pop((mk, moid), None)
            fills, records = [], []
            if nfk:
                side = req.side
                mside = SELL if side == BUY else BUY
                for x in range(f0, f0 + nfk):
                    _, q, mfee, tfee, mk, mflags, done = fol[x]
                    moid, price = ful[x]
                    fills.append(Fill(mk, taker, moid, toid, aid, q, price, side, mfee, tfee))
                    if side == BUY:
                        records.append(_trade_record(taker, mk, aid, q, price, toid, moid, tfee,
                                                     mfee))
                    else:
                        records.append(_trade_record(mk, taker, aid, q, price, moid, toid, mfee,
                                                     tfee))
                    if mk in wide and not mflags & REDUCE_ONLY:
                        totals_add(mk, aid, mside, price, -q)
                    key = (mk, moid)
                    if done:
                        live.pop((mk, moid % ORDER_SLOTS), None)
                        resting.pop(key, None)
                        bh.pop(key, None)
                    filled_in[key] = filled_in.get(key, 0) + q
                records_all.extend(records)
            key = (taker, toid)
            if filled:
                filled_in[key] = filled_in.get(key, 0) + filled
            seen.add(key)
            if rest:
                bh[key] = hr  # (the kernel counted it: the taker's row is not wide)
                live[(taker, toid % ORDER_SLOTS)] = (aid, toid)
                resting[key] = req
            seq += 1
            if group is not None:
                group.append((seq, req, fills))
            out.append(Receipt(seq, None, records, fills, dropped, rest, notes[note]))
        self.seq = seq
        overlay: dict[int, dict[int, tuple[int, int]]] = {}
        for (acct, oid), q in filled_in.items():
            ov = overlay.get(acct)
            if ov is None:
                ov = overlay[acct] = {}
            slot = oid % ORDER_SLOTS
            cur = accounts[acct].orders.get(slot, (0, 0))
            ov[slot] = (oid, (cur[1] if cur[0] == oid else 0) + q)
        if nt:
            rows = tr[:nt]
            ids = core.ai[rows, C.A_ID].tolist()
            colls = core.ai[rows, C.A_COLL].tolist()
            pas, pbs, pss = core.pa[rows].tolist(), core.pb[rows].tolist(), core.ps[rows].tolist()
            st.begin()
            for x, i in enumerate(ids):
                src = accounts[i]
                orders = src.orders
                orders = dict(orders)
                ov = overlay.get(i)
                if ov:
                    orders.update(ov)
                acc = Account(src.pk, src.nonce, colls[x],
                              list(zip(pas[x], pbs[x], pss[x], strict=True)), orders)
                st.put_account(i, acc)
            st.commit(defer=True)
            core.committed(ids, accounts)

    def enter_exodus(self, why: str) -> None:
        """L1 switched to exodus: from now on every request is refused with ExodusActive (the
        state stays readable; traders leave with exit proofs against the last finalized root)."""
        self.exodus = why

    def _check_usable(self) -> None:
        if self.exodus:
            raise E.ExodusActive(f"the rollup is in exodus ({self.exodus}): no request is "
                                 "taken; exit with a proof against the last finalized root")
        if self.failed:
            raise E.JournalError(f"sequencer stopped ({self.failed}); recover it from its "
                                 "journal")

    def _maybe_snapshot(self) -> None:
        """A snapshot if the journal's policy says one is due (``Journal.maybe_snapshot``)."""
        if self.journal is not None:
            self.journal.maybe_snapshot(self)

    def flush(self) -> int:
        return self.state.flush()

    def _needs_signature(self, req: Request) -> bool:
        """Signed types need a signature; an oracle-key change does too unless no key is
        registered yet (the first key, at genesis)."""
        if type(req) is SetOracleKey:
            return self.state.oracle_pk != (0, 0)
        return req.SIGNED

    def _signer_key(self, req: Request) -> tuple[int, int]:
        if isinstance(req, OracleUpdate | FundingTick | SettlementPrice | SetOracleKey):
            _check(self.state.oracle_pk != (0, 0), E.BadOracle, "no oracle key registered")
            return self.state.oracle_pk
        who = {Transfer: "sender", Liquidation: "liquidator"}.get(type(req), "account")
        return self.state.account(getattr(req, who)).pk

    def book(self, asset: int) -> OrderBook:
        b = self.books.get(asset)
        if b is None:
            b = self.books[asset] = OrderBook(asset, self.core)
        return b

    # --- helpers --------------------------------------------------------------------------------

    def _asset(self, asset_id: int) -> Asset:
        a = self.state.assets.get(asset_id)
        _check(a is not None, E.UnknownMarket, f"asset {asset_id} is not listed")
        return a

    def _expiry(self, expiry: int) -> None:
        _check(expiry >= self.state.time, E.Expired,
               f"expired at {expiry}, state time is {self.state.time}")

    def _nonce(self, acc: Account, nonce: int) -> None:
        _check(nonce == acc.nonce, E.StaleNonce, f"nonce {nonce}, account expects {acc.nonce}")

    def _working(self, i: int) -> Account:
        acc = self.state.account(i).copy()
        settle_funding(self.state, acc)
        return acc

    def _funding(self, asset: Asset) -> int:
        return self.state.oracle[asset.asset_id].funding_index

    # --- collateral -----------------------------------------------------------------------------

    def _deposit(self, req: Deposit):
        _check(fits_unsigned(req.amount, AMOUNT_BITS), E.InvalidRequest, "amount out of range")
        st = self.state
        existing = st.accounts.get(req.account)
        if existing is None:
            _check(public_key_is_safe(req.pk), E.UnsafeKey, "key off the curve or small order")
            acc = st.create_account(req.account, tuple(req.pk))
        else:
            _check(tuple(existing.pk) == tuple(req.pk), E.AccountExists,
                   f"account {req.account} holds another key")
            acc = st.edit_account(req.account)
        acc.collateral += req.amount
        _check_collateral(acc)
        rec = _record(T_DEPOSIT, account=req.account,
                            l2_key=int.from_bytes(pack_point(req.pk), "big"), amount=req.amount)
        return Receipt(0, 0, [rec]), []

    def _debit(self, i: int, amount: int) -> Account:
        """Working copy of account i after paying ``amount`` out (collateral and margin checked)."""
        _check(0 < amount and fits_unsigned(amount, AMOUNT_BITS), E.InvalidRequest,
               "amount must be positive and fit 64 bits")
        acc = self._working(i)
        equity = account_value(self.state, acc)
        _check(amount <= equity, E.InsufficientCollateral,
               f"account {i} is worth {equity}, asked {amount}")
        acc.collateral -= amount
        _check(is_healthy(self.state, acc), E.InsufficientMargin,
               f"account {i} would be under initial margin")
        return acc

    def _withdrawal(self, req: Withdrawal):
        acc = self.state.account(req.account)
        self._nonce(acc, req.nonce)
        self._expiry(req.expiry)
        _check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
        new = self._debit(req.account, req.amount)
        new.nonce += 1
        self.state.put_account(req.account, new)
        rec = _record(T_WITHDRAWAL, account=req.account, amount=req.amount, to=req.to,
                            nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    def _forced_withdrawal(self, req: ForcedWithdrawal):
        # An L1 queue entry is always consumed: when it cannot be paid, it publishes paid = 0.
        paid = 0
        try:
            _check(fits_unsigned(req.to, 160), E.InvalidRequest, "L1 address out of range")
            _check(req.asset == 1, E.InvalidRequest, "the state holds the collateral token only")
            acc = self.state.accounts.get(req.account)
            _check(acc is not None and req.l2_key == int.from_bytes(pack_point(acc.pk), "big"),
                   E.InvalidRequest, "not signed by the account's key")
            new = self._debit(req.account, req.amount)
            self.state.put_account(req.account, new)
            paid = req.amount
        except E.EngineError as exc:
            note = f"not paid: {exc.reason}"
        else:
            note = "paid"
        rec = _record(T_FORCED_WITHDRAWAL, account=req.account,
                            requested=min(req.amount, (1 << 64) - 1), paid=paid,
                            to=req.to if fits_unsigned(req.to, 160) else 0)
        return Receipt(0, 0, [rec], note=note), []

    def _refund(self, req: Refund):
        # An L1 deposit the state cannot take: consumed, paid back on L1, the state unchanged.
        _check(fits_unsigned(req.amount, AMOUNT_BITS) and fits_unsigned(req.to, 160)
               and req.asset in (0, 1), E.InvalidRequest, "not a queue entry")
        rec = _record(T_REFUND, account=req.account, asset=req.asset, to=req.to,
                            amount=req.amount)
        return Receipt(0, 0, [rec], note="refunded on L1"), []

    def _transfer(self, req: Transfer):
        acc = self.state.account(req.sender)
        self._nonce(acc, req.nonce)
        self._expiry(req.expiry)
        _check(req.sender != req.receiver, E.InvalidRequest, "transfer to self")
        self.state.account(req.receiver)
        new = self._debit(req.sender, req.amount)
        new.nonce += 1
        dst = self._working(req.receiver)
        dst.collateral += req.amount
        _check_collateral(dst)
        self.state.put_account(req.sender, new)
        self.state.put_account(req.receiver, dst)
        rec = _record(T_TRANSFER, sender=req.sender, receiver=req.receiver,
                            amount=req.amount, nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    # --- orders ---------------------------------------------------------------------------------

    def _validate_order(self, req: Order) -> Asset:
        st = self.state
        acc = st.accounts.get(req.account)
        if acc is None:
            st.account(req.account)  # raises UnknownAccount
        if req.account == FEE_ACCOUNT:
            raise E.InvalidRequest("the fee account (0) holds no positions: it does not trade")
        asset = st.assets.get(req.asset)
        if asset is None:
            raise E.UnknownMarket(f"asset {req.asset} is not listed")
        if req.side not in (BUY, SELL):
            raise E.InvalidRequest("side must be 0 (buy) or 1 (sell)")
        if not 0 < req.size < _BALANCE_LIMIT:
            raise E.InvalidRequest("bad size")
        if not 0 < req.price < _PRICE_LIMIT:
            raise E.InvalidRequest("bad price")
        if not 0 < req.order_id < _ORDER_ID_LIMIT:
            raise E.InvalidRequest("order id must be in 1..2**64-1")
        flags = req.flags
        if not 0 <= flags < 16:
            raise E.InvalidRequest("unknown flags")
        if flags & POST_ONLY and flags & (IOC | MARKET):
            raise E.InvalidRequest("post-only cannot be IOC or market")
        if req.expiry < st.time:
            self._expiry(req.expiry)
        if req.expiry >= _TIME_LIMIT:
            raise E.InvalidRequest("expiry must be a 64-bit time")
        if asset.kind != KIND_PERP and st.time >= asset.expiry:
            raise E.Expired(f"series {asset.asset_id} has expired")
        if not st.oracle[asset.asset_id].price > 0:
            raise E.UnknownMarket(f"asset {asset.asset_id} has no oracle price yet")
        slot = req.order_id % ORDER_SLOTS
        stored = acc.orders.get(slot)
        if ((req.account, req.order_id) in self.seen_orders
                or (stored is not None and req.order_id <= stored[0])):
            raise E.OrderIdReused(f"order id {req.order_id} already used")
        if (req.account, slot) in self.live:
            raise E.OrderIdReused(f"order slot {slot} holds a resting order")
        return asset

    @staticmethod
    def _fee(notional: int, ppm: int) -> int:
        return notional * ppm // RISK_SCALE

    def _summary(self, i: int) -> tuple:
        """(account, oracle version, registry version, raw collateral, collateral with funding
        settled, positions with funding settled, value, initial risk) of account i, cached while
        the account object, its collateral and the oracle and registry tables are unchanged
        (committed accounts are never edited in place: a transaction edits a copy)."""
        st = self.state
        acc = st.accounts[i]
        oracle, assets = st.oracle, st.assets
        e = self._sums.get(i)
        if (e is not None and e[0] is acc and e[1] == oracle.version
                and e[2] == assets.version and e[3] == acc.collateral):
            return e
        positions = list(acc.positions)
        coll = acc.collateral
        v = r = 0
        for j in range(POSITION_SLOTS):
            a, b, snap = positions[j]
            if not a:
                continue
            asset, o = assets[a], oracle[a]
            p = o.price
            if asset.kind == KIND_PERP:
                f = o.funding_index
                if f != snap:
                    coll -= b * (f - snap)
                    positions[j] = (a, b, f)
            elif b < 0:
                r -= b * oracle[asset.underlying].price * asset.short_initial
            v += b * p
            r += abs(b) * p * asset.risk_initial
        e = (acc, oracle.version, assets.version, acc.collateral, coll, tuple(positions),
             v + coll, r)
        self._sums[i] = e
        return e

    def _order(self, req: Order):
        """Match an order against the book: the plan is built on per-account working copies
        with each fill's margin checked on (value, risk) integers updated incrementally (only the
        traded asset's term changes), so a fill copies no account. Same decisions, errors and
        results as ``_order_reference`` (the straightforward version, kept for the tests)."""
        if self.reference_matching:
            return self._order_reference(req)
        st = self.state
        asset = self._validate_order(req)
        aid, taker, side, flags = req.asset, req.account, req.side, req.flags
        book = self.books.get(aid)
        if book is None:
            book = OrderBook(aid, self.core)  # registered when the request is applied
        size = req.size
        if flags & REDUCE_ONLY:
            position = st.accounts[taker].balance(aid)
            room = -position if side == BUY else position
            _check(room > 0, E.ReduceOnlyViolation, "reduce-only order would not reduce")
            size = min(size, room)
        if flags & POST_ONLY:
            _check(not book.crosses(side, req.price), E.PostOnlyWouldCross,
                   "post-only order would take liquidity")

        o = st.oracle[aid]
        mark = o.price
        snap = o.funding_index if asset.kind == KIND_PERP else 0
        # position_risk(st, aid, b) = b * long_rate for b >= 0, -b * short_rate for b < 0
        long_rate = mark * asset.risk_initial
        short_rate = long_rate + (st.oracle[asset.underlying].price * asset.short_initial
                                  if asset.kind != KIND_PERP else 0)
        summary = self._summary
        work: dict[int, _Work] = {}
        fills: list[Fill] = []
        records: list[bytes] = []
        plan: list[tuple[RestingOrder, int]] = []
        dropped: list[tuple[RestingOrder, str]] = []
        remaining = size
        note = ""
        time_now = st.time
        series_over = asset.kind != KIND_PERP and time_now >= asset.expiry
        maker_ppm, taker_ppm = asset.maker_fee, asset.taker_fee
        wt = None
        touched: set[int] = set()  # accounts a fill changed (only those are written)
        for m in book.makers(side, req.price):
            if remaining == 0:
                break
            if m.expiry < time_now or series_over:
                dropped.append((m, "expired"))
                continue
            mk = m.account
            if mk == taker:
                dropped.append((m, "self-trade prevention: resting order cancelled"))
                continue
            if wt is None:
                wt = work[taker] = _Work(summary(taker), aid)
            wm = work.get(mk)
            if wm is None:
                wm = work[mk] = _Work(summary(mk), aid)
            q = m.remaining
            if remaining < q:
                q = remaining
            if m.flags & REDUCE_ONLY:
                mpos = wm.bal
                q = min(q, mpos if m.side == SELL else -mpos)
                if q <= 0:
                    dropped.append((m, "reduce-only order would not reduce"))
                    continue
            price = m.price
            notional = q * price
            maker_fee = notional * maker_ppm // RISK_SCALE
            taker_fee = notional * taker_ppm // RISK_SCALE
            fees = maker_fee + taker_fee
            wf = None
            if fees:
                _check(FEE_ACCOUNT in st.accounts, E.InvalidRequest, "no fee account")
                if FEE_ACCOUNT != taker and FEE_ACCOUNT != mk:
                    wf = work.get(FEE_ACCOUNT)
                    if wf is None:
                        wf = work[FEE_ACCOUNT] = _Work(summary(FEE_ACCOUNT), aid)
            if side == BUY:
                nt, nm = wt.bal + q, wm.bal - q
                wt.check_balance(aid, nt)  # the buyer's, then the seller's
                wm.check_balance(aid, nm)
                dt, dm = -notional - taker_fee, notional - maker_fee
            else:
                nt, nm = wt.bal - q, wm.bal + q
                wm.check_balance(aid, nm)
                wt.check_balance(aid, nt)
                dt, dm = notional - taker_fee, -notional - maker_fee
            if fees:
                if FEE_ACCOUNT == taker:
                    dt += fees
                elif FEE_ACCOUNT == mk:
                    dm += fees
                elif not -_COLLATERAL_LIMIT <= wf.coll + fees < _COLLATERAL_LIMIT:
                    raise E.InvalidRequest("collateral out of range")
            if not (-_COLLATERAL_LIMIT <= wt.coll + dt < _COLLATERAL_LIMIT
                    and -_COLLATERAL_LIMIT <= wm.coll + dm < _COLLATERAL_LIMIT):
                raise E.InvalidRequest("collateral out of range")
            b0 = wm.bal
            vm = wm.v + dm + (nm - b0) * mark
            rm = (wm.r - (b0 * long_rate if b0 >= 0 else -b0 * short_rate)
                  + (nm * long_rate if nm >= 0 else -nm * short_rate))
            # margin is checked fill by fill, against the account just before the fill (the
            # rule the batch circuit proves per slot): allowed(v0, r0, v1, r1) inline
            ex1 = vm * RISK_SCALE - rm
            if not (ex1 >= 0 or (rm < wm.r and ex1 >= wm.v * RISK_SCALE - wm.r)):
                dropped.append((m, "maker under initial margin"))
                continue
            b0 = wt.bal
            vt = wt.v + dt + (nt - b0) * mark
            rt = (wt.r - (b0 * long_rate if b0 >= 0 else -b0 * short_rate)
                  + (nt * long_rate if nt >= 0 else -nt * short_rate))
            ex1 = vt * RISK_SCALE - rt
            if not (ex1 >= 0 or (rt < wt.r and ex1 >= wt.v * RISK_SCALE - wt.r)):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {taker} would be under initial margin")
                note = "stopped: further fills would breach initial margin"
                break
            wt.coll += dt
            wm.coll += dm
            if wf is not None:
                wf.coll += fees
                wf.v += fees
                touched.add(FEE_ACCOUNT)
            touched.add(taker)
            touched.add(mk)
            wm.set_balance(aid, nm, snap, vm, rm)
            wt.set_balance(aid, nt, snap, vt, rt)
            # an order slot holds (id, filled): a fill adds to it while the id is the same
            wm.fill_order(m.order_id, q)
            wt.fill_order(req.order_id, q)
            fills.append(Fill(mk, taker, m.order_id, req.order_id, aid, q, price, side,
                              maker_fee, taker_fee))
            if side == BUY:
                records.append(_trade_record(taker, mk, aid, q, price, req.order_id,
                                             m.order_id, taker_fee, maker_fee))
            else:
                records.append(_trade_record(mk, taker, aid, q, price, m.order_id,
                                             req.order_id, maker_fee, taker_fee))
            plan.append((m, q))
            remaining -= q

        if flags & (IOC | MARKET):
            _check(bool(fills), E.NoLiquidity, "nothing to match within the limit price")
            rest = 0
        else:
            rest = 0 if note else remaining
        if rest and not flags & REDUCE_ONLY:
            # a resting order must be affordable if it fills entirely at its limit price, and so
            # must the account's other resting orders (each asset at its worse side)
            if wt is None:
                wt = _Work(summary(taker), aid)  # read only: nothing traded
            signed_rest = rest if side == BUY else -rest
            b0 = wt.bal
            hb = b0 + signed_rest
            wt.check_balance(aid, hb)
            vh = wt.v - signed_rest * req.price + signed_rest * mark
            rh = (wt.r - (b0 * long_rate if b0 >= 0 else -b0 * short_rate)
                  + (hb * long_rate if hb >= 0 else -hb * short_rate))
            dv, dr = self._resting_worst(taker, wt.positions, aid, hb)
            if not allowed(wt.v0, wt.r0, vh + dv, rh + dr):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {taker}: resting order would breach initial margin")
                rest, note = 0, "remainder cancelled: resting it would breach initial margin"

        if touched:
            ov, av, sums = st.oracle.version, st.assets.version, self._sums
            for i in sorted(touched):
                w = work[i]
                acc = w.account()
                st.put_account(i, acc)
                # what _summary would compute for it: positions and collateral are settled
                sums[i] = (acc, ov, av, acc.collateral, acc.collateral, tuple(acc.positions),
                           w.v, w.r)
        receipt = Receipt(0, 0, records, fills,
                          [(m.account, m.order_id, why) for m, why in dropped] if dropped else [],
                          rest, note)
        return receipt, [lambda: self._apply_book(req, book, plan, dropped, rest)]

    def _apply_book(self, req: Order, book: OrderBook, plan: list[tuple[RestingOrder, int]],
                    dropped: list[tuple[RestingOrder, str]], rest: int) -> None:
        """The book changes of a matched order, once it is committed."""
        self.books.setdefault(req.asset, book)
        for m, _ in dropped:
            self._unrest(book, m)
        for m, q in plan:
            if m.live:
                self._resting_add(m, -q, book.asset)
                book.fill(m, q)
                if not m.live:
                    self.live.pop((m.account, m.order_id % ORDER_SLOTS), None)
                    self.resting.pop((m.account, m.order_id), None)
        self.seen_orders.add((req.account, req.order_id))
        if rest:
            m = book.add(req.account, req.order_id, req.side, req.price, req.size, rest,
                         req.expiry, req.flags,
                         row=self.core.row_loaded(req.account, self.state.accounts))
            self._resting_add(m, rest, book.asset)
            self.live[(req.account, req.order_id % ORDER_SLOTS)] = (req.asset, req.order_id)
            self.resting[(req.account, req.order_id)] = req

    def _order_result(self, req: Order, book: OrderBook, fills: list[Fill],
                      dropped: list[tuple[RestingOrder, str]], rest: int, note: str,
                      taker_slot: int):
        """The receipt and book changes of ``_order_reference``'s plan."""
        records = []
        for f in fills:
            if f.taker_side == BUY:
                records.append(_trade_record(f.taker, f.maker, f.asset, f.size, f.price,
                                             f.taker_order, f.maker_order, f.taker_fee,
                                             f.maker_fee))
            else:
                records.append(_trade_record(f.maker, f.taker, f.asset, f.size, f.price,
                                             f.maker_order, f.taker_order, f.maker_fee,
                                             f.taker_fee))
        plan = [(book.get(f.maker, f.maker_order), f.size) for f in fills]
        receipt = Receipt(0, 0, records, fills,
                          [(m.account, m.order_id, why) for m, why in dropped], rest, note)
        return receipt, [lambda: self._apply_book(req, book, plan, dropped, rest)]

    # resting orders' margin: per account and asset, the total size and notional (at the limit
    # prices) resting on each side; reduce-only orders (which can only shrink a position) aside

    @property
    def resting_totals(self) -> dict[int, dict[int, list[int]]]:
        """account -> asset -> [bid size, bid notional, ask size, ask notional] of its resting
        orders (reduce-only ones aside), for accounts with any."""
        out = self.core.all_totals()
        out.update({i: per for i, per in self._wide_totals.items() if per})
        return out

    def _totals(self, i: int) -> dict[int, list[int]]:
        wide = self._wide_totals.get(i)
        return wide if wide is not None else self.core.totals_of(i)

    def _resting_add(self, m: RestingOrder, qty: int, asset_id: int) -> None:
        """Count ``qty`` more (or fewer, if negative) of resting order m, in ``asset_id``."""
        if m.flags & REDUCE_ONLY:
            return
        self._totals_add(m.account, asset_id, m.side, m.price, qty)

    def _totals_add(self, account: int, asset_id: int, side: int, price: int, qty: int) -> None:
        per = self._wide_totals.get(account)
        if per is None:
            if self.core.rt_add(account, asset_id, side, price, qty, self.state.accounts):
                return
            # the arrays cannot hold it: this account's totals are kept here from now on
            per = self._wide_totals[account] = self.core.totals_of(account)
        agg = per.get(asset_id)
        if agg is None:
            agg = per[asset_id] = [0, 0, 0, 0]
        k = 0 if side == BUY else 2
        agg[k] += qty
        agg[k + 1] += qty * price
        if not (agg[0] or agg[2]):
            del per[asset_id]

    def _resting_worst(self, i: int, positions: list[tuple[int, int, int]], asset_id: int,
                       balance: int) -> tuple[int, int]:
        """(value change, risk change) of account i's resting orders in the worst case: for each
        asset the side (all bids fill, all asks fill, or none) that leaves the least excess, each
        order filling at its limit price; ``positions`` holds the balances, except ``balance`` for
        ``asset_id``."""
        per = self._totals(i)
        if not per:
            return 0, 0
        assets, oracle = self.state.assets, self.state.oracle
        dv_total = dr_total = 0
        for a, (bq, bn, aq, an) in per.items():
            b = balance if a == asset_id else _balance_in(positions, a)
            asset = assets[a]
            price = oracle[a].price
            long_rate = price * asset.risk_initial  # position_risk(b) = b * long_rate, b >= 0
            short_rate = long_rate + (oracle[asset.underlying].price * asset.short_initial
                                      if asset.kind != KIND_PERP else 0)
            r_b = b * long_rate if b >= 0 else -b * short_rate
            best_ex = best_dv = best_dr = 0  # nothing fills
            for q, n in ((bq, bn), (-aq, -an)):
                if q:
                    dv = q * price - n
                    x = b + q
                    dr = (x * long_rate if x >= 0 else -x * short_rate) - r_b
                    ex = dv * RISK_SCALE - dr
                    if (ex, dv, dr) < (best_ex, best_dv, best_dr):
                        best_ex, best_dv, best_dr = ex, dv, dr
            dv_total += best_dv
            dr_total += best_dr
        return dv_total, dr_total

    def _order_reference(self, req: Order):
        """The matching step written directly on account copies (one copy per account per fill
        attempt, full margin recomputation): the reference ``_order`` is tested against."""
        st = self.state
        asset = self._validate_order(req)
        book = self.books.get(req.asset)
        if book is None:
            book = OrderBook(req.asset, self.core)  # registered when the request is applied
        size = req.size
        position = st.account(req.account).balance(req.asset)
        if req.flags & REDUCE_ONLY:
            room = -position if req.side == BUY else position
            _check(room > 0, E.ReduceOnlyViolation, "reduce-only order would not reduce")
            size = min(size, room)
        if req.flags & POST_ONLY:
            _check(not book.crosses(req.side, req.price), E.PostOnlyWouldCross,
                   "post-only order would take liquidity")
        immediate = bool(req.flags & (IOC | MARKET))

        originals: dict[int, Account] = {}
        work: dict[int, Account] = {}

        def get(i: int) -> Account:
            if i not in work:
                originals[i] = st.account(i)
                work[i] = self._working(i)
            return work[i]

        touched: set[int] = set()
        fills: list[Fill] = []
        dropped: list[tuple[RestingOrder, str]] = []
        remaining = size
        note = ""
        taker_slot = req.order_id % ORDER_SLOTS
        for m in book.makers(req.side, req.price):
            if remaining == 0:
                break
            if m.expiry < st.time or (asset.is_option and st.time >= asset.expiry):
                dropped.append((m, "expired"))
                continue
            if m.account == req.account:
                dropped.append((m, "self-trade prevention: resting order cancelled"))
                continue
            q = min(remaining, m.remaining)
            if m.flags & REDUCE_ONLY:
                mpos = get(m.account).balance(req.asset)
                q = min(q, mpos if m.side == SELL else -mpos)
                if q <= 0:
                    dropped.append((m, "reduce-only order would not reduce"))
                    continue
            buyer, seller = (req.account, m.account) if req.side == BUY else (m.account,
                                                                               req.account)
            notional = q * m.price
            maker_fee = self._fee(notional, asset.maker_fee)
            taker_fee = self._fee(notional, asset.taker_fee)
            fees = maker_fee + taker_fee
            ids = {buyer, seller}
            if fees:
                _check(FEE_ACCOUNT in st.accounts, E.InvalidRequest, "no fee account")
                ids.add(FEE_ACCOUNT)
            cand = {i: get(i).copy() for i in ids}
            b, s = cand[buyer], cand[seller]
            funding = self._funding(asset)
            _set_balance(b, asset, b.balance(req.asset) + q, funding)
            _set_balance(s, asset, s.balance(req.asset) - q, funding)
            b.collateral -= notional
            s.collateral += notional
            cand[req.account].collateral -= taker_fee
            cand[m.account].collateral -= maker_fee
            if fees:
                cand[FEE_ACCOUNT].collateral += fees
            # an order slot holds (id, filled): a fill adds to it while the id is the same
            for i, oid in ((m.account, m.order_id), (req.account, req.order_id)):
                sid, filled = cand[i].orders.get(oid % ORDER_SLOTS, (0, 0))
                cand[i].orders[oid % ORDER_SLOTS] = (oid, (filled if sid == oid else 0) + q)
            for acc in cand.values():
                _check_collateral(acc)
            # margin is checked fill by fill, against the account just before the fill (the
            # rule the batch circuit proves per slot)
            if not trade_allowed(st, get(m.account), cand[m.account]):
                dropped.append((m, "maker under initial margin"))
                continue
            if not trade_allowed(st, get(req.account), cand[req.account]):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {req.account} would be under initial margin")
                note = "stopped: further fills would breach initial margin"
                break
            work.update(cand)
            touched.update(cand)
            fills.append(Fill(m.account, req.account, m.order_id, req.order_id, req.asset, q,
                              m.price, req.side, maker_fee, taker_fee))
            remaining -= q

        if immediate:
            _check(bool(fills), E.NoLiquidity, "nothing to match within the limit price")
            rest = 0
        else:
            rest = 0 if note else remaining
        if rest and not req.flags & REDUCE_ONLY:
            # a resting order must be affordable if it fills entirely at its limit price, and so
            # must the account's other resting orders (each asset at its worse side)
            before = originals.get(req.account) or st.account(req.account)
            hyp = (work.get(req.account) or self._working(req.account)).copy()
            signed_rest = rest if req.side == BUY else -rest
            _set_balance(hyp, asset, hyp.balance(req.asset) + signed_rest, self._funding(asset))
            hyp.collateral -= signed_rest * req.price
            dv, dr = self._resting_worst(req.account, hyp.positions, req.asset,
                                         hyp.balance(req.asset))
            v0, r0 = value_and_risk(st, before)
            v1, r1 = value_and_risk(st, hyp)
            if not allowed(v0, r0, v1 + dv, r1 + dr):
                _check(bool(fills), E.InsufficientMargin,
                       f"account {req.account}: resting order would breach initial margin")
                rest, note = 0, "remainder cancelled: resting it would breach initial margin"

        for i in sorted(touched):
            st.put_account(i, work[i])
        return self._order_result(req, book, fills, dropped, rest, note, taker_slot)

    def _unrest(self, book: OrderBook, m: RestingOrder) -> None:
        if m.live:
            self._resting_add(m, -m.remaining, book.asset)
        book.remove(m)
        self.live.pop((m.account, m.order_id % ORDER_SLOTS), None)
        self.resting.pop((m.account, m.order_id), None)

    def _cancel(self, req: Cancel):
        self.state.account(req.account)
        book = self.books.get(req.asset)
        m = book.get(req.account, req.order_id) if book is not None else None
        _check(m is not None, E.UnknownOrder, f"order {req.order_id} is not resting")
        return Receipt(0, 0, note="cancelled"), [lambda: self._unrest(book, m)]

    # --- oracle ---------------------------------------------------------------------------------

    def _oracle_time(self, t: int) -> None:
        _check(fits_unsigned(t, TIME_BITS) and t >= self.state.time, E.BadOracle,
               f"oracle time {t} is before state time {self.state.time}")
        self.state.set_time(t)

    def _oracle_update(self, req: OracleUpdate):
        self._asset(req.asset)
        _check(0 < req.price and fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
        self._oracle_time(req.time)
        old = self.state.oracle[req.asset]
        self.state.set_oracle(req.asset, OracleEntry(req.price, old.funding_index,
                                                     old.settlement_price, old.settled))
        rec = _record(T_ORACLE, asset=req.asset, price=req.price, time=req.time)
        return Receipt(0, 0, [rec]), []

    def _funding_tick(self, req: FundingTick):
        asset = self._asset(req.asset)
        _check(asset.kind == KIND_PERP, E.UnknownMarket, "funding applies to perpetuals only")
        _check(fits(req.index, FUNDING_BITS), E.BadOracle, "funding index out of range")
        self._oracle_time(req.time)
        old = self.state.oracle[req.asset]
        self.state.set_oracle(req.asset, OracleEntry(old.price, req.index, 0, 0))
        rec = _record(T_FUNDING, asset=req.asset, index=req.index, time=req.time)
        return Receipt(0, 0, [rec]), []

    def _settlement_price(self, req: SettlementPrice):
        asset = self._asset(req.asset)
        _check(asset.is_option, E.UnknownMarket, "settlement applies to option series only")
        _check(fits_unsigned(req.price, PRICE_BITS), E.BadOracle, "bad price")
        self._oracle_time(req.time)
        _check(req.time >= asset.expiry, E.NotSettleable, "series has not expired")
        old = self.state.oracle[req.asset]
        _check(not old.settled, E.BadOracle, "series already settled")
        self.state.set_oracle(req.asset, OracleEntry(old.price, 0, req.price, 1))
        rec = _record(T_SETTLEMENT_PRICE, asset=req.asset, price=req.price, time=req.time)
        return Receipt(0, 0, [rec]), []

    # --- liquidation and settlement -------------------------------------------------------------

    def _liquidation(self, req: Liquidation):
        st = self.state
        lq = st.account(req.liquidator)
        self._nonce(lq, req.nonce)
        self._expiry(req.expiry)
        _check(req.liquidator != req.liquidated, E.InvalidRequest, "self-liquidation")
        _check(req.liquidator != FEE_ACCOUNT, E.InvalidRequest,
               "the fee account (0) holds no positions: it does not liquidate")
        asset = self._asset(req.asset)
        victim_before = st.account(req.liquidated)
        _check(is_liquidatable(st, victim_before), E.NotLiquidatable,
               f"account {req.liquidated} is above maintenance margin")
        b = victim_before.balance(req.asset)
        _check(b != 0, E.NotLiquidatable, "no position in that asset")
        _check(0 < req.size <= abs(b), E.InvalidRequest, "size must be in 1..|position|")
        delta = req.size if b > 0 else -req.size  # balance moving from victim to liquidator
        price = st.oracle[req.asset].price
        notional = req.size * price
        penalty = self._fee(notional, asset.liquidation_fee)
        victim, liq = self._working(req.liquidated), self._working(req.liquidator)
        funding = self._funding(asset)
        _set_balance(victim, asset, b - delta, funding)
        _set_balance(liq, asset, liq.balance(req.asset) + delta, funding)
        victim.collateral += delta * price - penalty
        liq.collateral += -delta * price + penalty
        liq.nonce += 1
        _check_collateral(victim)
        _check_collateral(liq)
        _check(excess(st, victim, maintenance=True) > excess(st, victim_before, maintenance=True),
               E.NotLiquidatable, "liquidation would not improve the account")
        _check(trade_allowed(st, lq, liq), E.InsufficientMargin,
               f"liquidator {req.liquidator} would be under initial margin")
        st.put_account(req.liquidated, victim)
        st.put_account(req.liquidator, liq)
        rec = _record(T_LIQUIDATION, liquidator=req.liquidator, liquidated=req.liquidated,
                            asset=req.asset, size=delta, price=price, penalty=penalty,
                            nonce=req.nonce)
        return Receipt(0, 0, [rec]), []

    def _expiry_settlement(self, req: ExpirySettlement):
        st = self.state
        asset = self._asset(req.asset)
        _check(asset.is_option, E.UnknownMarket, "not an option series")
        o = st.oracle[req.asset]
        _check(bool(o.settled), E.NotSettleable, "series has no settlement price yet")
        b = st.account(req.account).balance(req.asset)
        _check(b != 0, E.NotSettleable, "no position in that series")
        s, k = o.settlement_price, asset.strike
        intrinsic = max(s - k, 0) if asset.kind == KIND_CALL else max(k - s, 0)
        acc = self._working(req.account)
        acc.collateral += b * intrinsic
        _set_balance(acc, asset, 0, 0)
        _check_collateral(acc)
        st.put_account(req.account, acc)
        rec = _record(T_EXPIRY_SETTLEMENT, account=req.account, asset=req.asset,
                            payout=b * intrinsic)
        return Receipt(0, 0, [rec]), []

    # --- operator -------------------------------------------------------------------------------

    def _list_asset(self, req: ListAsset):
        _check(req.asset not in self.state.assets, E.InvalidRequest, "asset already listed")
        _check(all(fits_unsigned(x, 64) for x in (req.underlying, req.strike, req.expiry)),
               E.InvalidRequest, "underlying, strike and expiry must be 64-bit unsigned")
        if req.kind == KIND_PERP:
            # the registry's rule (and the batch circuit's): a perpetual has no underlying
            _check(req.underlying == 0, E.InvalidRequest, "a perpetual has no underlying")
        else:
            u = self._asset(req.underlying)
            _check(u.kind == KIND_PERP, E.UnknownMarket, "underlying must be a perpetual")
            _check(req.expiry > self.state.time, E.Expired, "series expiry in the past")
        ppm = (req.risk_initial, req.risk_maintenance, req.short_initial, req.short_maintenance,
               req.maker_fee, req.taker_fee, req.liquidation_fee)
        _check(all(0 <= x < 1 << 32 for x in ppm), E.InvalidRequest, "factors out of range")
        _check(req.risk_maintenance <= req.risk_initial
               and req.short_maintenance <= req.short_initial, E.InvalidRequest,
               "maintenance factors must not exceed initial ones")
        asset = Asset(req.asset, req.kind, req.risk_initial, req.risk_maintenance,
                      req.underlying, req.strike, req.expiry, req.short_initial,
                      req.short_maintenance, req.maker_fee, req.taker_fee, req.liquidation_fee)
        try:
            self.state.add_asset(asset)
        except ValueError as exc:
            raise E.InvalidRequest(str(exc)) from None
        rec = _record(T_LIST_ASSET, asset=req.asset, kind=req.kind,
                            underlying=req.underlying, strike=req.strike, expiry=req.expiry,
                            risk_initial=req.risk_initial, risk_maintenance=req.risk_maintenance,
                            short_initial=req.short_initial,
                            short_maintenance=req.short_maintenance, maker_fee=req.maker_fee,
                            taker_fee=req.taker_fee, liquidation_fee=req.liquidation_fee)
        return Receipt(0, 0, [rec]), []

    def _set_oracle_key(self, req: SetOracleKey):
        _check(public_key_is_safe(req.pk), E.UnsafeKey, "oracle key off curve or small order")
        self.state.set_oracle_key(tuple(req.pk))
        rec = _record(T_SET_ORACLE_KEY, key=int.from_bytes(pack_point(req.pk), "big"))
        return Receipt(0, 0, [rec]), []

    _handlers = {
        Deposit: _deposit, Withdrawal: _withdrawal, ForcedWithdrawal: _forced_withdrawal,
        Refund: _refund,
        Transfer: _transfer, Order: _order, Cancel: _cancel, OracleUpdate: _oracle_update,
        FundingTick: _funding_tick, SettlementPrice: _settlement_price,
        Liquidation: _liquidation, ExpirySettlement: _expiry_settlement,
        ListAsset: _list_asset, SetOracleKey: _set_oracle_key,
    }
