"""Order status by (account, order id), from the receipts the service hands out.

``OrderHistory`` follows every accepted request's receipt on the sequencer thread: an order's
own fills and whether it rested, the fills that later requests took from it as a maker,
cancels, and orders the engine dropped while matching. It keeps the newest ``limit`` orders
(bounded memory; rebuilt from the stored receipts on start). The engine's book stays the
authority on what is open: ``status`` asks it first, and the history adds what the book does
not keep (filled size and price, reasons, times).
"""

from __future__ import annotations

from collections import OrderedDict

from rollup.api import types as W
from rollup.transactions import Cancel, Order, Request


class _Order:
    __slots__ = ("asset", "side", "price", "size", "filled", "notional", "seq", "status",
                 "reason", "created_us", "updated_us", "engine_time")

    def __init__(self, req: Order, r: W.Receipt) -> None:
        self.asset, self.side, self.price, self.size = req.asset, req.side, req.price, req.size
        self.filled = self.notional = 0
        self.seq = r.seq
        self.status, self.reason = "open", None
        self.created_us = self.updated_us = r.received_us
        self.engine_time = r.engine_time


class OrderHistory:
    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._orders: OrderedDict[tuple[int, int], _Order] = OrderedDict()

    def observe(self, req: Request, r: W.Receipt) -> None:
        """One accepted request's receipt (in journal order)."""
        orders = self._orders
        if type(req) is Order:
            o = _Order(req, r)
            key = (req.account, req.order_id)
            orders.pop(key, None)
            orders[key] = o
            for f in r.fills:
                o.filled += f.size
                o.notional += f.size * f.price
            if r.resting is None:
                done = o.filled >= o.size
                o.status = "filled" if done else "cancelled"
                o.reason = None if done else "not resting (IOC, market or no liquidity left)"
            if len(orders) > self.limit:
                orders.popitem(last=False)
        else:
            for f in r.fills:  # maker fills of resting orders (a liquidation's are none)
                self._fill(f.maker, f.maker_order, f.size, f.price, r)
            if type(req) is Cancel:
                self._close(req.account, req.order_id, "cancelled", r)
        if type(req) is Order:
            for f in r.fills:
                self._fill(f.maker, f.maker_order, f.size, f.price, r)
        for d in r.dropped:
            self._close(d.account, d.order_id, d.reason, r)

    def _fill(self, account: int, oid: int, size: int, price: int, r: W.Receipt) -> None:
        o = self._orders.get((account, oid))
        if o is None:
            return
        o.filled += size
        o.notional += size * price
        o.updated_us, o.engine_time = r.received_us, r.engine_time
        if o.filled >= o.size:
            o.status = "filled"

    def _close(self, account: int, oid: int, reason: str, r: W.Receipt) -> None:
        o = self._orders.get((account, oid))
        if o is None or o.status != "open":
            return
        o.status, o.reason = "cancelled", reason
        o.updated_us, o.engine_time = r.received_us, r.engine_time

    def status(self, account: int, oid: int, open_orders) -> W.OrderStatus:
        """The order's status; ``open_orders``: the engine's open orders of the account."""
        o = self._orders.get((account, oid))
        live = next((x for x in open_orders if x.order_id == oid), None)
        out = W.OrderStatus(account, oid, "unknown")
        if live is not None:
            out.status, out.asset, out.price, out.size = "open", live.asset, live.price, live.size
            out.side = "buy" if live.side == 0 else "sell"
            out.remaining = live.remaining
            out.filled = live.size - live.remaining
        if o is not None:
            if live is None:
                out.status = o.status if o.status != "open" else "cancelled"
                out.reason = o.reason if o.status != "open" else "no longer resting"
                out.asset, out.price, out.size = o.asset, o.price, o.size
                out.side = "buy" if o.side == 0 else "sell"
                out.filled = min(o.filled, o.size)
            out.seq, out.created_us = o.seq, o.created_us
            out.updated_us, out.engine_time = o.updated_us, o.engine_time
            if o.filled:
                out.average_price = o.notional // o.filled
        return out
