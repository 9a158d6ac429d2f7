"""The stream hub without a socket: snapshot + deltas reproduce a book through random changes,
sequence numbers count per subscription, private channels need the account's session, a full
outbox drops the subscriber with a reason (and stalls no one else), and fills reach both sides."""

from __future__ import annotations

import asyncio
import random

import pytest

from rollup.api.streams import Hub, Subscriber, as_dict, diff, level_map


def drain(loop, sub) -> list[dict]:
    loop.run_until_complete(asyncio.sleep(0))
    out = []
    while not sub.queue.empty():
        out.append(as_dict(sub.queue.get_nowait()))  # as the socket sends it
    return out


def apply(book: dict, changes: list) -> dict:
    levels = {(s, p): (z, o) for s, rows in (("bid", book["bids"]), ("ask", book["asks"]))
              for p, z, o in ((r["price"], r["size"], r["orders"]) for r in rows)}
    for s, p, z, o in changes:
        if z == 0:
            levels.pop((s, p))
        else:
            levels[(s, p)] = (z, o)
    return levels


class Books:
    def __init__(self) -> None:
        self.levels = {1: {}}

    def book_of(self, asset: int) -> dict:
        if asset not in self.levels:
            raise KeyError("UnknownMarket")
        lv = self.levels[asset]
        rows = {s: sorted(({"price": p, "size": z, "orders": o} for (ss, p), (z, o) in lv.items()
                           if ss == s), key=lambda r: r["price"], reverse=s == "bid")
                for s in ("bid", "ask")}
        return {"bids": rows["bid"], "asks": rows["ask"], "time": 0}


def test_snapshot_and_deltas_reproduce_the_book():
    rng = random.Random(7)
    books = Books()
    hub = Hub(books.book_of)
    loop = asyncio.new_event_loop()
    for _ in range(5):
        books.levels[1][("bid", rng.randrange(90, 100))] = (rng.randrange(1, 9), 1)
    early, late = Subscriber(loop), Subscriber(loop)
    hub.subscribe(early, "book", 1)
    views = {}
    for step in range(60):
        if step == 20:
            hub.subscribe(late, "book", 1)
        for _ in range(rng.randrange(0, 4)):  # the engine changes some levels
            key = (rng.choice(["bid", "ask"]), rng.randrange(90, 110))
            if key in books.levels[1] and rng.random() < 0.4:
                del books.levels[1][key]
            else:
                books.levels[1][key] = (rng.randrange(1, 50), rng.randrange(1, 4))
        hub.after_group([])
        for sub in (early, late):
            for m in drain(loop, sub):
                if m["type"] == "snapshot":
                    views[sub.id] = apply(m, [])
                    last = m["seq"]
                else:
                    assert m["seq"] == views.setdefault(("seq", sub.id), last) + 1  # no gaps
                    views[("seq", sub.id)] = m["seq"]
                    b = {"bids": [], "asks": []}
                    views[sub.id] = apply(b, [[s, p, *views[sub.id][(s, p)]]
                                              for (s, p) in views[sub.id]] + m["changes"])
            if sub.id in views:
                assert views[sub.id] == books.levels[1], step
    assert late.id in views
    loop.close()


def test_diff_is_exact_both_ways():
    old = {("bid", 1): (2, 1), ("ask", 5): (1, 1)}
    new = {("bid", 1): (3, 2), ("bid", 2): (1, 1)}
    assert diff(old, new) == [["ask", 5, 0, 0], ["bid", 1, 3, 2], ["bid", 2, 1, 1]]
    assert diff(new, new) == []
    assert level_map({"bids": [{"price": 1, "size": 3, "orders": 2}], "asks": []}) == {
        ("bid", 1): (3, 2)}


def fill(i, maker, taker, asset=1):
    return {"id": i, "asset": asset, "price": 100, "size": 2, "maker": maker, "taker": taker,
            "maker_order": 5, "taker_order": 6}


def test_private_channels_need_the_accounts_session_and_fills_reach_both_sides():
    hub = Hub(Books().book_of)
    loop = asyncio.new_event_loop()
    anon, seven, eight = Subscriber(loop), Subscriber(loop, account=7), Subscriber(loop, account=8)
    with pytest.raises(PermissionError):
        hub.subscribe(anon, "orders", 7)
    with pytest.raises(PermissionError):
        hub.subscribe(eight, "fills", 7)
    with pytest.raises(KeyError):
        hub.subscribe(anon, "gossip", 0)
    hub.subscribe(seven, "fills", 7)
    hub.subscribe(seven, "orders", 7)
    hub.subscribe(eight, "orders", 8)
    hub.subscribe(anon, "trades", 1)
    order = {"type": 4, "account": 8, "asset": 1, "side": 0, "size": 2, "price": 100,
             "order_id": 6}
    hub.after_group([{"request": order, "receipt": {"fills": [fill(1, 7, 8)], "resting": None},
                      "time": 50, "received_us": 123}])
    got7, got8, trades = drain(loop, seven), drain(loop, eight), drain(loop, anon)
    assert [(m["channel"], m["type"], m["seq"]) for m in got7] == [
        ("fills", "fill", 1), ("orders", "maker_fill", 1)]
    assert [(m["type"], m["filled"], m["resting"]) for m in got8] == [("order", 2, 0)]
    assert [(m["type"], m["id"], m["time"], m["received_us"]) for m in trades] == [
        ("trade", 1, 50, 123)]
    assert hub.unsubscribe(seven) == 2 and hub.unsubscribe(seven) == 0
    hub.after_group([{"request": order, "receipt": {"fills": [fill(2, 7, 8)]}}])
    assert drain(loop, seven) == []
    loop.close()


def test_a_full_outbox_drops_the_subscriber_with_a_reason():
    hub = Hub(Books().book_of)
    loop = asyncio.new_event_loop()
    slow = Subscriber(loop, limit=3)
    hub.subscribe(slow, "trades", 1)
    for i in range(5):
        hub.after_group([{"request": {"type": 4}, "receipt": {"fills": [fill(i, 1, 2)]}}])
    got = drain(loop, slow)
    assert got == [{"type": "error", "code": "Lagged",
                    "message": "too many unread messages: subscribe again"}]
    hub.after_group([{"request": {"type": 4}, "receipt": {"fills": [fill(9, 1, 2)]}}])
    assert drain(loop, slow) == [] and not hub.channels  # gone from the channel too
    loop.close()


def test_a_slow_subscriber_stalls_neither_the_engine_nor_the_others():
    """The writer's fan-out only queues (it never waits on a socket); a subscriber that stops
    reading fills its own bounded outbox and is dropped with ``Lagged``, while another on the
    same channel gets every message, in order, on a loop that keeps running."""
    hub = Hub(Books().book_of)
    loop = asyncio.new_event_loop()
    slow, fast = Subscriber(loop, limit=5), Subscriber(loop, limit=5)
    hub.subscribe(slow, "trades", 1)
    hub.subscribe(fast, "trades", 1)
    got = []
    for i in range(40):  # each group delivered while only ``fast`` reads
        hub.after_group([{"request": {"type": 4}, "receipt": {"fills": [fill(i, 1, 2)]}}])
        got += drain(loop, fast)
    assert [m["seq"] for m in got] == list(range(1, 41))
    assert [m["id"] for m in got] == list(range(40))
    assert slow.closed and drain(loop, slow) == [{
        "type": "error", "code": "Lagged", "message": "too many unread messages: subscribe again"}]
    assert list(hub.channels[("trades", 1)].subs) == [fast.id]  # the slow one is gone
    loop.close()

