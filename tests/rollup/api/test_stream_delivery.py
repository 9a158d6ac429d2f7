"""What a WebSocket subscriber is told, against the journal: an account's events only once their
request's journal commit returned (a held commit holds the event too), none for a rejected
request (its sequence numbers run on without a gap), and the maker's fill together with the
public trade for the fill the taker's receipt names, each counted by its subscription's ``seq``
(the fill's journal number is ``journal_seq``)."""

from __future__ import annotations

import threading

import pytest

from rollup.client import Client
from rollup.transactions import BUY, SELL, Order
from tests.rollup.api.test_ack_durability import FAR, gate, post_in_thread
from tests.support.operator import DOMAIN, PERP, PRICE, trader


def order(i, side, size, price, oid):
    return Order(i, PERP, side, size, price, oid, FAR).signed(trader(i), DOMAIN)


@pytest.fixture
def maker_stream(served):
    with Client(served.server.url, key=trader(1), account=1) as c1:
        s = c1.stream()
        s.subscribe("orders", 1)
        s._expect("subscribed")
        yield s
        s.close()


def quiet(stream, seconds: float = 0.3) -> bool:
    """Nothing arrives for ``seconds``."""
    try:
        m = stream.recv(timeout=seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message {m}")


def test_no_event_before_the_journal_commit_returns(served, maker_stream):
    g = gate(served)
    g.hold = threading.Event()
    t, out = post_in_thread(served, order(1, SELL, 3, PRICE, 1))
    assert g.entered.wait(30)
    assert quiet(maker_stream)  # journaled but not committed: no event, no answer
    assert t.is_alive() and not out
    g.hold.set()
    t.join(30)
    (st, r), = out
    assert st == 200
    m = maker_stream.recv()
    assert (m["channel"], m["type"], m["order_id"], m["seq"]) == ("orders", "order", 1, 1)
    assert m["resting"] == 3 and m["received_us"] == r["received_us"]


def test_no_event_for_a_rejected_request(served, maker_stream):
    c = served.client
    st, r = c.post(order(1, SELL, 3, PRICE, 1))
    assert st == 200
    assert maker_stream.recv()["seq"] == 1
    # the same order id for another order (409), and a margin the account cannot cover (422)
    st, r = c.post(order(1, SELL, 5, PRICE, 1))
    assert (st, r["error"]["code"]) == (409, "OrderIdReused"), r
    st, r = c.post(order(1, SELL, 10**12, PRICE, 2))
    assert st == 422, r
    assert quiet(maker_stream)
    st, r = c.post(order(1, SELL, 2, PRICE + 500, 3))
    assert st == 200
    m = maker_stream.recv()
    assert (m["type"], m["order_id"], m["seq"]) == ("order", 3, 2)  # no gap, no rejected id


def test_a_fill_reaches_the_maker_and_the_tape_with_the_receipts_fill_id(served):
    with Client(served.server.url, key=trader(1), account=1) as c1, \
            Client(served.server.url) as anon:
        s, tape = c1.stream(), anon.stream()
        for ch in ("fills", "orders"):
            s.subscribe(ch, 1)
            s._expect("subscribed")
        tape.subscribe("trades", PERP)
        tape._expect("subscribed")
        c = served.client
        assert c.post(order(1, SELL, 3, PRICE, 1))[0] == 200
        st, r = c.post(order(2, BUY, 2, PRICE, 1))
        assert st == 200 and len(r["fills"]) == 1
        fid = r["fills"][0]["id"]
        mine = [s.recv() for _ in range(3)]  # its order, then the maker_fill and the fill
        assert sorted((m["channel"], m["type"]) for m in mine) == [
            ("fills", "fill"), ("orders", "maker_fill"), ("orders", "order")]
        assert {m.get("fill_id", m.get("id")) for m in mine if m["type"] != "order"} == {fid}
        f = next(m for m in mine if m["channel"] == "fills")
        # ``seq`` counts the subscription's messages; the fill's journal number is apart
        assert (f["seq"], f["journal_seq"]) == (1, r["seq"])
        t = tape.recv()
        assert (t["type"], t["id"], t["maker"], t["taker"], t["seq"], t["journal_seq"]) == (
            "trade", fid, 1, 2, 1, r["seq"])
        s.close()
        tape.close()
