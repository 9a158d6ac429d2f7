"""One limit order book per asset: price-time priority.

The orders live in the arrays of a ``rollup.engine.core.Core`` (shared by all the books of a
sequencer, so the compiled kernel can match a run of orders against them); an ``OrderBook`` is
the view of one asset, and a ``RestingOrder`` the view of one order. Matching is planned by
walking the book without changing it (``makers``), so the matcher can validate every fill
against the state first and then apply the plan (``fill`` / ``remove`` / ``add``), or drop it on
rejection. While ``core.undo`` is a list, each change logs its inverse there (an atomic
group's rollback: ``rollup.engine.groups``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rollup.engine import core as C
from rollup.engine import kernel as K
from rollup.transactions import BUY, SELL


class RestingOrder:
    """A resting order: its fixed fields, and ``remaining`` / ``live`` read from the book."""

    __slots__ = ("_core", "_h", "_gen", "seq", "account", "order_id", "side", "price", "size",
                 "expiry", "flags")

    def __init__(self, core: C.Core, h: int) -> None:
        i = core.oi[h].tolist()
        u = core.ou[h].tolist()
        self._core, self._h, self._gen = core, h, i[C.O_GEN]
        self.seq, self.account, self.side = i[C.O_SEQ], i[C.O_ACCT], i[C.O_SIDE]
        self.size, self.flags = i[C.O_SIZE], i[C.O_FLAGS]
        self.order_id, self.price, self.expiry = u[C.U_OID], u[C.U_PRICE], u[C.U_EXP]

    def _mine(self) -> bool:
        return int(self._core.oi[self._h, C.O_GEN]) == self._gen

    @property
    def live(self) -> bool:
        return self._mine() and bool(self._core.oi[self._h, C.O_LIVE])

    @property
    def remaining(self) -> int:
        return int(self._core.oi[self._h, C.O_REM]) if self._mine() else 0

    def __repr__(self) -> str:
        return (f"RestingOrder(account={self.account}, order_id={self.order_id}, "
                f"side={self.side}, price={self.price}, remaining={self.remaining}, "
                f"live={self.live})")


class Side:
    """One side of a book (read only)."""

    def __init__(self, book: OrderBook, side: int) -> None:
        self.book, self.side = book, side
        self.is_bid = side == BUY

    def _row(self) -> int:
        return self.book.asset * 2 + self.side

    def handles(self) -> list[int]:
        core = self.book.core
        if self.book.asset >= core.n_assets:
            return []
        r = self._row()
        out = np.empty(int(core.meta[C.M_USED]) + 1, np.int64)  # more than any side holds
        n = C.side_handles(core.oi, core.lh, core.ln, r, out)
        return out[:n].tolist()

    def walk(self, bound: int | None = None) -> Iterator[int]:
        """Handles in priority order, lazily, over levels priced at or better than ``bound``
        (an incoming order's limit). Must not be interleaved with changes to the book."""
        core = self.book.core
        if self.book.asset >= core.n_assets:
            return
        r = self._row()
        lp, lh, oi = core.lp, core.lh, core.oi
        for li in range(int(core.ln[r]) - 1, -1, -1):
            if bound is not None:
                price = lp[r, li].item()
                if (price < bound) if self.is_bid else (price > bound):
                    return
            h = lh[r, li].item()
            while h >= 0:
                yield h
                h = oi[h, C.O_NEXT].item()

    def best_price(self) -> int | None:
        core = self.book.core
        if self.book.asset >= core.n_assets:
            return None
        r = self._row()
        n = int(core.ln[r])
        return int(core.lp[r, n - 1]) if n else None

    def iter_orders(self) -> Iterator[RestingOrder]:
        """Live orders in priority order."""
        core = self.book.core
        for h in self.walk():
            yield RestingOrder(core, h)

    @property
    def levels(self) -> dict[int, list[RestingOrder]]:
        """price -> its orders in time order."""
        out: dict[int, list[RestingOrder]] = {}
        for o in self.iter_orders():
            out.setdefault(o.price, []).append(o)
        return out

    def __len__(self) -> int:
        return len(self.handles())


class OrderBook:
    def __init__(self, asset: int, core: C.Core | None = None) -> None:
        self.asset = asset
        self.core = core if core is not None else C.Core()
        self.core.ensure_asset(asset)
        self._h: dict[tuple[int, int], int] = {}  # (account, order_id) -> handle
        self.bids = Side(self, BUY)
        self.asks = Side(self, SELL)

    def side(self, side: int) -> Side:
        return self.bids if side == BUY else self.asks

    def crosses(self, side: int, price: int) -> bool:
        """Would an order of this side and limit price take liquidity now?"""
        best = self.side(SELL if side == BUY else BUY).best_price()
        if best is None:
            return False
        return price >= best if side == BUY else price <= best

    def makers(self, side: int, limit: int) -> Iterator[RestingOrder]:
        """Resting orders an incoming order of ``side`` with this limit may match, best first.
        Must not be interleaved with changes to the book."""
        s = self.asks if side == BUY else self.bids
        core = self.core
        for h in s.walk(limit):
            yield RestingOrder(core, h)

    def add(self, account: int, order_id: int, side: int, price: int, size: int,
            remaining: int, expiry: int, flags: int, *, row: int) -> RestingOrder:
        """Rest an order; ``row``: its account's row in the core's mirror (the sequencer's)."""
        core = self.core
        core.reserve(1, self.asset * 2 + side)
        h = C.book_add(core.oi, core.ou, core.free, core.meta, core.lp, core.lh, core.lt,
                       core.ln, self.asset, side, account, row, np.uint64(order_id),
                       np.uint64(price), size, remaining, np.uint64(expiry), flags)
        self._h[(account, order_id)] = h
        if core.undo is not None:
            core.undo.append((self._unadd, (account, order_id)))
        return RestingOrder(core, h)

    def fill(self, order: RestingOrder, qty: int) -> None:
        core = self.core
        if core.undo is not None:
            core.undo.append((self._unfill, (order.account, order.order_id, qty)))
        core.oi[order._h, C.O_REM] -= qty
        if core.oi[order._h, C.O_REM] == 0:
            self.remove(order)

    def remove(self, order: RestingOrder) -> None:
        if not order.live:
            return
        core = self.core
        h = order._h
        if core.undo is not None:
            nh = int(core.oi[h, C.O_NEXT])  # its successor in the level, found again by key
            after = None if nh < 0 else (int(core.oi[nh, C.O_ACCT]), int(core.ou[nh, C.U_OID]))
            core.undo.append((self._unremove, (
                order.account, order.order_id, order.side, int(core.oi[h, C.O_ROW]),
                order.price, order.size, int(core.oi[h, C.O_REM]), order.expiry, order.flags,
                order.seq, after)))
        C.book_remove(core.oi, core.ou, core.pend, core.meta, core.lp, core.lh, core.lt,
                      core.ln, h)
        self._h.pop((order.account, order.order_id), None)

    # the inverses of add, fill and remove, logged in ``core.undo`` while it is a list (an
    # atomic group: ``rollup.engine.groups``) and run newest first

    def _unadd(self, account: int, order_id: int) -> None:
        core = self.core
        C.book_remove(core.oi, core.ou, core.pend, core.meta, core.lp, core.lh, core.lt,
                      core.ln, self._h.pop((account, order_id)))

    def _unfill(self, account: int, order_id: int, qty: int) -> None:
        self.core.oi[self._h[(account, order_id)], C.O_REM] += qty

    def _unremove(self, account: int, order_id: int, side: int, row: int, price: int,
                  size: int, remaining: int, expiry: int, flags: int, stamp: int,
                  after: tuple[int, int] | None) -> None:
        core = self.core
        core.reserve(1, self.asset * 2 + side)
        # the successor is live again (inverses run newest first), perhaps under a new handle
        before = -1 if after is None else self._h[after]
        self._h[(account, order_id)] = C.book_insert(
            core.oi, core.ou, core.free, core.meta, core.lp, core.lh, core.lt, core.ln,
            self.asset, side, account, row, np.uint64(order_id), np.uint64(price), size,
            remaining, np.uint64(expiry), flags, stamp, before)

    def get(self, account: int, order_id: int) -> RestingOrder | None:
        h = self._h.get((account, order_id))
        return None if h is None else RestingOrder(self.core, h)

    @property
    def by_key(self) -> dict[tuple[int, int], RestingOrder]:
        return {k: RestingOrder(self.core, h) for k, h in self._h.items()}

    def __len__(self) -> int:
        return len(self._h)



def warm_up() -> None:
    """Load (or compile) the matching kernels now rather than in the first request."""
    book = OrderBook(1)
    core = book.core
    book.remove(book.add(1, 1, C.BUY, 1, 1, 1, 0, 0, row=0))
    C.release(core.free, core.pend, core.meta)
    list(book.bids.handles())
    K.match_run(K.books_of(core), K.mirror_of(core), K.assets_of(core),
                np.zeros((0, K.N_Q), np.int64), np.zeros((0, 3), np.uint64), 0,
                K.outputs(np.zeros((0, K.N_R), np.int64), 1))
