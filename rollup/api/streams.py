"""What the WebSocket endpoint streams, fed by the engine's writer thread once a group of requests
is durable (journaled): nothing is streamed that a restart could take back.

Channels (``name`` + integer ``key``): ``book`` (asset), ``trades`` (asset), ``oracle`` (0),
and, for an authenticated session of that account only, ``orders`` and ``fills`` (account).
Every message of a subscription carries ``seq``: 1, 2, 3 ... per subscription, so a gap means
the client lost messages and must subscribe again. ``book`` starts with a snapshot of every price
level, then sends deltas ``[side, price, size, orders]`` (size 0: the level is gone): the snapshot
with the deltas applied in order is the book, exactly. A group's messages reach each socket's
loop in one hand-off, in order; an event's fields are encoded once for all its subscribers. A
subscriber whose queue is full is dropped with a ``Lagged`` message instead of slowing the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

PUBLIC = ("book", "trades", "oracle")
PRIVATE = ("orders", "fills")
QUEUE = 10_000  # messages a subscriber may have unread before it is dropped

Levels = dict[tuple[str, int], tuple[int, int]]  # (side, price) -> (size, orders)


def level_map(book: dict) -> Levels:
    """The levels of a book answer ({"bids": [...], "asks": [...]}) keyed by (side, price)."""
    return {(side, lv["price"]): (lv["size"], lv["orders"])
            for side, rows in (("bid", book["bids"]), ("ask", book["asks"])) for lv in rows}


def diff(old: Levels, new: Levels) -> list[list]:
    """The changes taking ``old`` to ``new``: [side, price, size, orders], size 0 for a removal."""
    out = [[s, p, *new[(s, p)]] for (s, p) in new if old.get((s, p)) != new[(s, p)]]
    out += [[s, p, 0, 0] for (s, p) in old if (s, p) not in new]
    return sorted(out, key=lambda c: (c[0], c[1]))


class Body:
    """One event's fields (never ``channel``, ``key`` or ``seq``: the frame's own), shared by
    every subscriber it goes to: JSON-encoded once, on the first socket's loop that sends it
    (not on the writer thread)."""

    __slots__ = ("fields", "_json")

    def __init__(self, fields: dict) -> None:
        self.fields, self._json = fields, None

    def json(self) -> bytes:
        if self._json is None:
            self._json = msgspec.json.encode(self.fields)
        return self._json


# a channel message in an outbox: (channel, key, seq, body), encoded by ``encode``
Message = tuple[str, int, int, Body]


def encode(msg: Message | dict) -> bytes:
    """The frame of an outbox item: a channel message is ``{"channel", "key", "seq"}`` followed
    by its body's fields (spliced into the shared encoding); anything else is encoded as is."""
    if type(msg) is not tuple:
        return msgspec.json.encode(msg)
    name, key, seq, body = msg
    rest = body.json()  # b"{...}"
    head = b'{"channel":"%s","key":%d,"seq":%d' % (name.encode(), key, seq)
    return head + (b"," + rest[1:] if len(rest) > 2 else b"}")


def as_dict(msg: Message | dict) -> dict:
    """An outbox item as the client will decode it."""
    return msgspec.json.decode(encode(msg))


class Subscriber:
    """One WebSocket's outbox: ``push`` from any thread, ``next`` awaited on the socket's loop."""

    _ids = itertools.count(1)

    def __init__(self, loop: asyncio.AbstractEventLoop, account: int | None = None,
                 limit: int | None = None) -> None:
        self.id = next(self._ids)
        self.loop, self.account = loop, account
        self.queue: asyncio.Queue = asyncio.Queue(limit or QUEUE)
        self.closed = False
        self.session = None  # the session of the last auth (rollup.api.sessions.Session)
        # cancel-on-disconnect: (account, until: the arming session's expiry), or None
        self.cancel_on_disconnect: tuple[int, int] | None = None

    def push(self, msg: dict) -> None:
        if not self.closed:
            self.loop.call_soon_threadsafe(self._put, msg)

    def _put(self, msg: Message | dict) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.closed = True
            self.queue = asyncio.Queue(1)  # the unread backlog goes; the socket gets the reason
            self.queue.put_nowait({"type": "error", "code": "Lagged",
                                   "message": "too many unread messages: subscribe again"})

    def _put_all(self, msgs: list[Message]) -> None:
        for m in msgs:
            self._put(m)

    async def next(self) -> Message | dict:
        return await self.queue.get()


def _deliver(batch: list[tuple[Subscriber, list[Message]]]) -> None:
    """On a socket loop: one group's messages into their outboxes, in order."""
    for who, msgs in batch:
        who._put_all(msgs)


@dataclass
class _Sub:
    who: Subscriber
    seq: int = 0


@dataclass
class _Channel:
    subs: dict[int, _Sub] = field(default_factory=dict)  # subscriber id -> its counter
    levels: Levels | None = None  # book channels: the levels last streamed


class Hub:
    """Subscriptions and the fan-out. ``book_of(asset)`` (a book answer, all levels) is called on
    the writer thread, as ``after_group`` and ``subscribe`` are: snapshots and deltas are cut
    at the same points of the request stream."""

    def __init__(self, book_of: Callable[[int], dict]) -> None:
        self.book_of = book_of
        self.channels: dict[tuple[str, int], _Channel] = {}
        self.lock = threading.Lock()  # subscribe/unsubscribe from socket threads, fan-out here
        self._out: dict[int, tuple[Subscriber, list[Message]]] = {}  # a group's, per subscriber

    # --- subscriptions (call on the writer thread: see the class docstring) ---------------------
    def subscribe(self, who: Subscriber, name: str, key: int) -> None:
        if name in PRIVATE and who.account != key:
            raise PermissionError(f"{name}:{key} needs a session of account {key}")
        if name not in PUBLIC + PRIVATE:
            raise KeyError(f"no channel {name!r}; channels: {', '.join(PUBLIC + PRIVATE)}")
        with self.lock:
            ch = self.channels.setdefault((name, key), _Channel())
            sub = ch.subs[who.id] = _Sub(who)
            if name == "book":
                book = self.book_of(key)  # UnknownMarket propagates: nothing subscribed
                ch.levels = level_map(book)
                sub.seq = 1
                who.push({"channel": "book", "key": key, "type": "snapshot", "seq": 1,
                          "bids": book["bids"], "asks": book["asks"], "time": book["time"]})
        return None

    def unsubscribe(self, who: Subscriber, name: str | None = None, key: int | None = None) -> int:
        """Drops ``who`` from one channel, or from all (``name`` None); returns how many."""
        n = 0
        with self.lock:
            for ck in list(self.channels):
                if name is None or ck == (name, key):
                    ch = self.channels[ck]
                    n += ch.subs.pop(who.id, None) is not None
                    if not ch.subs:
                        del self.channels[ck]
        return n

    # --- fan-out (the writer thread, after the group is durable) --------------------------------
    def _send(self, name: str, key: int, fields: dict) -> None:
        ch = self.channels.get((name, key))
        if ch is None:
            return
        body = Body(fields)
        for sub in list(ch.subs.values()):
            if sub.who.closed:
                ch.subs.pop(sub.who.id, None)
                if not ch.subs:
                    del self.channels[(name, key)]
                continue
            sub.seq += 1
            self._out.setdefault(sub.who.id, (sub.who, []))[1].append((name, key, sub.seq, body))

    def after_group(self, events: list[dict]) -> None:
        """``events``: per accepted request, ``{"request": <its fields and "type">, "receipt":
        <receipt JSON>, "time": <engine time>, "received_us": <wall clock>}`` in journal order.
        Each socket loop gets the group's messages in one hand-off."""
        with self.lock:
            if not self.channels:
                return
            for ev in events:
                self._fan_out(ev)
            for (name, key), ch in list(self.channels.items()):
                if name == "book" and ch.subs:
                    new = level_map(self.book_of(key))
                    changes = diff(ch.levels or {}, new)
                    ch.levels = new
                    if changes:
                        self._send("book", key, {"type": "delta", "changes": changes})
            out, self._out = self._out, {}
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for who, msgs in out.values():
            by_loop.setdefault(who.loop, []).append((who, msgs))
        for loop, batch in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, batch)
            except RuntimeError:  # that loop has stopped (the server is shutting down)
                pass

    def _fan_out(self, ev: dict) -> None:
        req, rec = ev["request"], ev["receipt"]
        stamp = {"time": ev.get("time"), "received_us": ev.get("received_us")}
        for f in rec.get("fills", ()):
            if "seq" in f:  # the fill's journal number; ``seq`` is the subscription's counter
                f = {**f, "journal_seq": f["seq"]}
                del f["seq"]
            self._send("trades", f["asset"], {"type": "trade", **f, **stamp})
            for who in {f["maker"], f["taker"]}:
                self._send("fills", who, {"type": "fill", **f, **stamp})
        t = req.get("type")
        if t in (8, "oracle"):
            self._send("oracle", 0, {"type": "price", "asset": req["asset"],
                                     "price": req["price"], **stamp})
        account = req.get("account")
        if t in (4, "order") and account is not None:
            self._send("orders", account, {
                "type": "order", "asset": req["asset"], "order_id": req["order_id"],
                "side": req["side"], "price": req["price"], "size": req["size"],
                "filled": sum(f["size"] for f in rec.get("fills", ())),
                "resting": (rec.get("resting") or {}).get("remaining", 0), **stamp})
            for f in rec.get("fills", ()):
                if f["maker"] != account:
                    self._send("orders", f["maker"], {
                        "type": "maker_fill", "asset": f["asset"], "order_id": f["maker_order"],
                        "size": f["size"], "price": f["price"], "fill_id": f["id"], **stamp})
        elif t in (6, "cancel") and account is not None:
            self._send("orders", account, {"type": "cancelled", "asset": req["asset"],
                                           "order_id": req["order_id"], **stamp})
        for d in rec.get("dropped", ()):
            self._send("orders", d["account"], {"type": "dropped", "order_id": d["order_id"],
                                                "reason": d["reason"], **stamp})
