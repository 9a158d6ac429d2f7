"""One limit order book per asset: price-time priority.

Each side keeps a dict price -> FIFO of resting orders and a heap of its prices (best first;
an emptied level is dropped lazily when it reaches the top). Matching is planned by walking the
book without changing it (``makers``), so the sequencer can validate every fill against the
state first and then apply the plan (``fill`` / ``remove`` / ``add``), or drop it on rejection.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from rollup.transactions import BUY, SELL


@dataclass(eq=False)
class RestingOrder:
    seq: int  # arrival number: time priority
    account: int
    order_id: int
    side: int
    price: int
    size: int  # signed size of the order
    remaining: int
    expiry: int
    flags: int
    live: bool = True


class Side:
    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, deque[RestingOrder]] = {}
        self._heap: list[int] = []  # -price for bids, price for asks

    def _key(self, price: int) -> int:
        return -price if self.is_bid else price

    def add(self, order: RestingOrder) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            heapq.heappush(self._heap, self._key(order.price))
        level.append(order)

    def _clean_top(self) -> None:
        while self._heap:
            price = abs(self._heap[0])
            level = self.levels.get(price)
            while level and not level[0].live:
                level.popleft()
            if level:
                return
            self.levels.pop(price, None)
            heapq.heappop(self._heap)

    def best_price(self) -> int | None:
        self._clean_top()
        return abs(self._heap[0]) if self._heap else None

    def iter_orders(self) -> Iterator[RestingOrder]:
        """Live orders in priority order (walks a sorted copy of the price keys)."""
        self._clean_top()
        if not self._heap:
            return
        top = self._heap[0]
        for o in self.levels[abs(top)]:
            if o.live:
                yield o
        # deeper levels are sorted only when the best level did not suffice
        for key in sorted(k for k in self._heap if k != top):
            level = self.levels.get(abs(key))
            if level:
                for o in level:
                    if o.live:
                        yield o

    def __len__(self) -> int:
        return sum(1 for lvl in self.levels.values() for o in lvl if o.live)


class OrderBook:
    def __init__(self, asset: int) -> None:
        self.asset = asset
        self.bids = Side(True)
        self.asks = Side(False)
        self.by_key: dict[tuple[int, int], RestingOrder] = {}  # (account, order_id)
        self._seq = 0

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
        s._clean_top()
        heap = s._heap
        if not heap:
            return
        bound = limit if side == BUY else -limit  # a level may match while its key <= bound
        top = heap[0]
        if top > bound:
            return
        for o in s.levels[abs(top)]:
            if o.live:
                yield o
        # deeper levels are sorted only when the best level did not suffice
        for key in sorted(k for k in heap if k != top and k <= bound):
            level = s.levels.get(abs(key))
            if level:
                for o in level:
                    if o.live:
                        yield o

    def add(self, account: int, order_id: int, side: int, price: int, size: int,
            remaining: int, expiry: int, flags: int) -> RestingOrder:
        self._seq += 1
        o = RestingOrder(self._seq, account, order_id, side, price, size, remaining, expiry,
                         flags)
        self.side(side).add(o)
        self.by_key[(account, order_id)] = o
        return o

    def fill(self, order: RestingOrder, qty: int) -> None:
        order.remaining -= qty
        if order.remaining == 0:
            self.remove(order)

    def remove(self, order: RestingOrder) -> None:
        order.live = False
        self.by_key.pop((order.account, order.order_id), None)

    def get(self, account: int, order_id: int) -> RestingOrder | None:
        return self.by_key.get((account, order_id))

    def __len__(self) -> int:
        return len(self.by_key)
