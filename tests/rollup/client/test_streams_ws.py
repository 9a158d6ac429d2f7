"""/v1/ws against `rollup sequencer run` in a child process: a book mirrored from its snapshot
and deltas equals the REST book after random orders and cancels; a lost message is detected and
a resync restores the book; private channels need the account's session; trades and the
account's order events arrive after the ack, with timestamps."""

from __future__ import annotations

import random

import pytest

from rollup.client import ApiError, BookMirror, Client, Gap, Stream
from rollup.transactions import BUY, SELL
from tests.support.operator import PERP, PRICE, trader


def drain_book(stream: Stream, mirror: BookMirror, until_seq_of=None, rounds: int = 200):
    """Apply book messages until none arrives for a moment."""
    got = []
    for _ in range(rounds):
        try:
            m = stream.recv(timeout=0.5)
        except TimeoutError:
            return got
        got.append(m)
        mirror.apply(m)
    return got


def rest_levels(c: Client) -> dict:
    b = c.book(PERP, depth=1000)
    return {"bids": b["bids"], "asks": b["asks"]}


def test_book_mirror_equals_the_rest_book_and_resyncs_after_a_gap(server):
    rng = random.Random(3)
    with Client(server.url, key=trader(3), account=3) as c3, \
            Client(server.url, key=trader(4), account=4) as c4, Stream(server.url) as s:
        s.subscribe("book", PERP)
        mirror = BookMirror(PERP)
        drain_book(s, mirror)
        assert mirror.ready and mirror.as_book() == rest_levels(c3)
        live = []
        for _ in range(25):
            who = rng.choice([c3, c4])
            if live and rng.random() < 0.3:
                c, oid = live.pop(rng.randrange(len(live)))
                c.cancel(PERP, oid)
                continue
            side = rng.choice([BUY, SELL])
            px = PRICE + rng.randrange(-3_000, 3_000, 500) + (-9_000 if side == BUY else 9_000)
            r = who.order(PERP, side, rng.randrange(1, 4), px)
            if r["resting"]:
                live.append((who, r["resting"]["order_id"]))
        drain_book(s, mirror)
        assert mirror.as_book() == rest_levels(c3)
        # a lost delta: the mirror notices the gap, a resync brings a new snapshot
        c4.order(PERP, BUY, 1, PRICE - 20_000)
        lost = s.recv()
        assert lost["type"] == "delta"
        c4.order(PERP, BUY, 2, PRICE - 20_500)
        with pytest.raises(Gap):
            while True:
                mirror.apply(s.recv())
        s.resync("book", PERP)
        drain_book(s, mirror)
        assert mirror.ready and mirror.as_book() == rest_levels(c3)
        for c, oid in live:
            c.cancel(PERP, oid)


def test_private_channels_need_a_session_and_carry_the_accounts_events(server):
    with Client(server.url, key=trader(1), account=1) as c1, \
            Client(server.url, key=trader(2), account=2) as c2:
        with Stream(server.url) as anon:
            anon.subscribe("orders", 1)
            err = anon.recv()
            assert (err["type"], err["code"]) == ("error", "Forbidden")
        with pytest.raises(ApiError, match="Unauthorized"):
            Stream(server.url, token="not-a-token")
        with c1.stream() as s1, c2.stream() as s2:
            with pytest.raises(ApiError, match="Forbidden"):
                s2.subscribe("orders", 1)  # another account's channel
                s2._expect("subscribed")
            s1.subscribe("orders", 1)
            s1._expect("subscribed")
            s1.subscribe("trades", PERP)
            s1._expect("subscribed")
            maker = c1.order(PERP, SELL, 2, PRICE + 30_000)
            oid = maker["resting"]["order_id"]
            taker = c2.order(PERP, BUY, 2, PRICE + 30_000)
            assert taker["fills"]
            events = [s1.recv() for _ in range(3)]
            kinds = sorted((e["channel"], e["type"]) for e in events)
            assert kinds == [("orders", "maker_fill"), ("orders", "order"), ("trades", "trade")]
            fill = next(e for e in events if e["type"] == "maker_fill")
            assert fill["order_id"] == oid and fill["size"] == 2
            assert all(e["received_us"] and e["time"] is not None for e in events)
            assert [e["seq"] for e in events if e["channel"] == "orders"] == [1, 2]
