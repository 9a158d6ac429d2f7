"""Order and cancel handlers, and what a matched order does to the books once it is committed.

``place`` hands an order to the sequencer's matcher, chosen when the sequencer is built
(``rollup.engine.matching.PythonMatcher``, ``rollup.engine.runs.CompiledMatcher``): it matches
on working copies, writes the accounts into the open transaction and returns the receipt with
the book changes (``apply_book``), run after the commit. Every ``Matcher`` takes the same
decisions with the same errors and results (``docs/engine.md``: price-time priority at the
maker's price, self-trade prevention, margin fill by fill, resting-order margin).
Bookkeeping kept beside the books: ``live`` ((account, order slot) -> (asset, order id) of
resting orders), ``resting`` (their signed orders), ``seen_orders`` (every (account, order id)
accepted) and the resting totals (``rollup.margin.resting``); during an atomic group each change
to them is first noted in ``seq._undo`` (``rollup.engine.groups``). Cancels (``Cancel``, the
signed ``CancelAll``, the operator's ``DropOrders``) change the books, never the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rollup import errors as E
from rollup.engine.checks import check, not_expired
from rollup.engine.orderbook import OrderBook, RestingOrder
from rollup.engine.receipts import Receipt
from rollup.margin import resting as R
from rollup.margin.risk import has_rows
from rollup.state.encoding import (
    BALANCE_BITS,
    KIND_PERP,
    ORDER_ID_BITS,
    ORDER_TREE_DEPTH,
    PRICE_BITS,
    TIME_BITS,
)
from rollup.state.state import FEE_ACCOUNT, Asset
from rollup.transactions import (
    BUY,
    IOC,
    MARKET,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    Cancel,
    CancelAll,
    DropOrders,
    Order,
)

ORDER_SLOTS = 1 << ORDER_TREE_DEPTH
BALANCE_LIMIT = 1 << (BALANCE_BITS - 1)  # signed: -limit <= b < limit
_PRICE_LIMIT = 1 << PRICE_BITS
_ORDER_ID_LIMIT = 1 << ORDER_ID_BITS
_TIME_LIMIT = 1 << TIME_BITS
CANCEL_ALL_TTL = 86_400  # seconds: how far ahead a cancel-all may expire (what it is kept for)

BookOps = list[Callable[[], None]]


class LiveOrders(dict):
    """``live``: (account, order slot) -> (asset, order id) of the resting orders, with each
    account's slots kept beside it (``slots_of``), so a cancel-all or an account's view reads
    that account's orders only, never the venue's."""

    __slots__ = ("_by",)

    def __init__(self, items=()) -> None:
        super().__init__(items)
        self._by: dict[int, set[int]] = {}
        for account, slot in dict.keys(self):
            self._by.setdefault(account, set()).add(slot)

    def slots_of(self, account: int) -> frozenset[int] | set[int]:
        return self._by.get(account, frozenset())

    def __setitem__(self, key: tuple[int, int], value: tuple[int, int]) -> None:
        if not dict.__contains__(self, key):
            by = self._by.get(key[0])
            if by is None:
                by = self._by[key[0]] = set()
            by.add(key[1])
        dict.__setitem__(self, key, value)

    def _forget(self, key: tuple[int, int]) -> None:
        by = self._by[key[0]]
        by.discard(key[1])
        if not by:
            del self._by[key[0]]

    def __delitem__(self, key: tuple[int, int]) -> None:
        dict.__delitem__(self, key)
        self._forget(key)

    def pop(self, key, *default):
        if dict.__contains__(self, key):
            self._forget(key)
        return dict.pop(self, key, *default)

    def setdefault(self, key, default=None):
        if not dict.__contains__(self, key):
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args, **kw) -> None:
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def popitem(self):
        key, value = dict.popitem(self)
        self._forget(key)
        return key, value

    def clear(self) -> None:
        dict.clear(self)
        self._by.clear()

    def copy(self) -> LiveOrders:
        return LiveOrders(self)


class Matcher(Protocol):
    """How orders are matched (one implementation per class, chosen at construction)."""

    stats: dict[str, int]  # orders run through a compiled kernel, and those it handed back

    def order(self, seq, req: Order) -> tuple[Receipt, BookOps]:
        """Match one order (validated here): its receipt and the book changes to apply after
        the commit, or the typed error with nothing changed."""

    def run(self, seq, reqs: list, pre: list, i: int, out: list, verified: bool) -> int:
        """Apply the run of orders that starts at ``reqs[i]`` (results appended to ``out``,
        journaled and committed with deferred roots); the index after it (``i``: none)."""


def validate(seq, req: Order) -> Asset:
    """The order's asset, once the order is well formed, its account may trade, its market is
    open and its order id and slot are free; else the typed error."""
    st = seq.state
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
    if not 0 < req.size < BALANCE_LIMIT:
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
        not_expired(st, req.expiry)
    if req.expiry >= _TIME_LIMIT:
        raise E.InvalidRequest("expiry must be a 64-bit time")
    if asset.kind != KIND_PERP and st.time >= asset.expiry:
        raise E.Expired(f"series {asset.asset_id} has expired")
    if not st.oracle[asset.asset_id].price > 0:
        raise E.UnknownMarket(f"asset {asset.asset_id} has no oracle price yet")
    if not has_rows(st, asset.asset_id):
        raise E.UnknownMarket(f"asset {asset.asset_id} has no scenario rows yet")
    slot = req.order_id % ORDER_SLOTS
    stored = acc.orders.get(slot)
    if ((req.account, req.order_id) in seq.seen_orders
            or (stored is not None and req.order_id <= stored[0])):
        raise E.OrderIdReused(f"order id {req.order_id} already used")
    if (req.account, slot) in seq.live:
        raise E.OrderIdReused(f"order slot {slot} holds a resting order")
    return asset


def place(seq, req: Order) -> tuple[Receipt, BookOps]:
    return seq.matcher.order(seq, req)


def cancel(seq, req: Cancel) -> tuple[Receipt, BookOps]:
    seq.state.account(req.account)
    book = seq.books.get(req.asset)
    m = book.get(req.account, req.order_id) if book is not None else None
    check(m is not None, E.UnknownOrder, f"order {req.order_id} is not resting")
    return Receipt(0, 0, note="cancelled"), [lambda: unrest(seq, book, m)]


def _bounded_cancel(seq, account: int, asset: int, up_to: int, why: str,
                    signed: tuple | None = None) -> tuple[Receipt, BookOps]:
    """Every resting order of ``account`` in market ``asset`` (0: all) with an id <= ``up_to``,
    in id order: the receipt lists them (``dropped``, with ``why``). ``signed``: a cancel-all's
    key (account, asset, up_to, expiry), checked (expiry, replay) and remembered when applied."""
    seq.state.account(account)
    if asset != 0 and asset not in seq.state.assets:
        raise E.UnknownMarket(f"asset {asset} is not listed")
    if not 0 < up_to < _ORDER_ID_LIMIT:
        raise E.InvalidRequest("up_to_order_id must be in 1..2**64-1")
    if signed is not None:
        expiry = signed[3]
        if not 0 <= expiry < _TIME_LIMIT:
            raise E.InvalidRequest("expiry must be a 64-bit time")
        not_expired(seq.state, expiry)
        if expiry > seq.state.time + CANCEL_ALL_TTL:
            raise E.InvalidRequest(f"a cancel-all expires at most {CANCEL_ALL_TTL} s after the "
                                   f"state's time ({seq.state.time})")
        if signed in seq.cancel_alls:
            raise E.Replayed(f"this cancel-all (account {account}, asset {asset}, up to order "
                             f"{up_to}, expiry {expiry}) was applied already")
    live = seq.live
    mine = [live[(account, k)] for k in live.slots_of(account)]
    hits = sorted((oid, a) for a, oid in mine if oid <= up_to and asset in (0, a))
    found = [(seq.books[a], seq.books[a].get(account, oid)) for oid, a in hits]

    def apply() -> None:
        for book, m in found:
            unrest(seq, book, m)
        if signed is not None:
            spend_cancel_all(seq, signed)

    return (Receipt(0, 0, dropped=[(account, oid, why) for oid, _ in hits],
                    note=f"cancelled {len(hits)}"), [apply] if hits or signed else [])


def cancel_all(seq, req: CancelAll) -> tuple[Receipt, BookOps]:
    """A signed cancel-all, taken once: its signed fields are remembered until its expiry
    (at most ``CANCEL_ALL_TTL`` after the state's time), so a replayed signature is refused
    (``Replayed``) rather than cancelling orders placed since with smaller ids."""
    return _bounded_cancel(seq, req.account, req.asset, req.up_to_order_id, "cancelled",
                           (req.account, req.asset, req.up_to_order_id, req.expiry))


def drop_orders(seq, req: DropOrders) -> tuple[Receipt, BookOps]:
    return _bounded_cancel(seq, req.account, req.asset, req.up_to_order_id,
                           "dropped by the operator")


def spend_cancel_all(seq, key: tuple) -> None:
    """Remember cancel-all ``key`` (account, asset, up_to_order_id, expiry); forget expired
    ones now and then (each is refused as Expired anyway, so forgetting changes no answer)."""
    spent = seq.cancel_alls
    if seq._undo is not None:
        seq._undo.spent.append(key)
    spent[key] = None
    if len(spent) > seq._cancel_alls_prune_at:
        now = seq.state.time
        for k in [k for k in spent if k[3] < now]:
            del spent[k]
        seq._cancel_alls_prune_at = max(1024, 2 * len(spent))


def apply_book(seq, req: Order, book: OrderBook, plan: list[tuple[RestingOrder, int]],
               dropped: list[tuple[RestingOrder, str]], rest: int) -> None:
    """The book changes of a matched order: makers dropped, makers filled (``plan``: (maker,
    size)), the remainder ``rest`` resting."""
    seq.books.setdefault(req.asset, book)
    live, resting = seq.live, seq.resting
    undo = seq._undo
    for m, _ in dropped:
        unrest(seq, book, m)
    for m, q in plan:
        if m.live:
            resting_add(seq, m, -q, book.asset)
            book.fill(m, q)
            if not m.live:
                if undo is not None:
                    undo.order(m.account, m.order_id)
                live.pop((m.account, m.order_id % ORDER_SLOTS), None)
                resting.pop((m.account, m.order_id), None)
    if undo is not None:
        undo.order(req.account, req.order_id)
    seq.seen_orders.add((req.account, req.order_id))
    if rest:
        m = book.add(req.account, req.order_id, req.side, req.price, req.size, rest,
                     req.expiry, req.flags,
                     row=seq.core.row_loaded(req.account, seq.state.accounts))
        resting_add(seq, m, rest, book.asset)
        live[(req.account, req.order_id % ORDER_SLOTS)] = (req.asset, req.order_id)
        resting[(req.account, req.order_id)] = req


def unrest(seq, book: OrderBook, m: RestingOrder) -> None:
    """Take a resting order out of its book and the bookkeeping."""
    if m.live:
        resting_add(seq, m, -m.remaining, book.asset)
    book.remove(m)
    if seq._undo is not None:
        seq._undo.order(m.account, m.order_id)
    seq.live.pop((m.account, m.order_id % ORDER_SLOTS), None)
    seq.resting.pop((m.account, m.order_id), None)


def resting_add(seq, m: RestingOrder, qty: int, asset_id: int) -> None:
    """Count ``qty`` more (or fewer, if negative) of resting order m in its account's totals."""
    if m.flags & REDUCE_ONLY:
        return
    if seq._undo is not None:
        seq._undo.totals(m.account)
    R.add(seq.core, seq._wide_totals, m.account, asset_id, m.side, m.price, qty,
          seq.state.accounts)
