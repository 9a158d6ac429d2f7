"""A WebSocket client that stops reading, seen from a raw socket against the served API: once
a frame cannot be written to it for the server's ``ws_send_timeout`` it is reset (not left to
uvicorn's 40 s ping timeout), its subscriptions are removed and its cancel-on-disconnect fires,
while a reading subscriber of the same busy channel misses nothing."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from rollup.client import Client as SdkClient
from rollup.transactions import SELL, Cancel, OracleUpdate, Order
from tests.rollup.api.conftest import Served
from tests.support.operator import DOMAIN, ORACLE, PERP, PRICE, trader
from tests.support.rawws import frame, raw_ws

SEND_TIMEOUT = 0.5  # the server's ws_send_timeout here (5 s by default)
SEND_BUFFER = 16 * 1024  # its ws_send_buffer (256 KiB by default)
DEADLINE = 15.0  # load start -> reset; uvicorn's ping timeout alone would take 40 s
FAR = 10**9


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "api", server_kw={"ws_send_timeout": SEND_TIMEOUT,
                                               "ws_send_buffer": SEND_BUFFER}).start()
    assert s.client.post(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))[0] == 200
    yield s
    s.stop()


def read_to_end(sock: socket.socket, timeout: float) -> str:
    """How the connection ends once the client reads: "reset", "closed" or "open"."""
    sock.settimeout(timeout)
    try:
        while sock.recv(1 << 16):
            pass
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "open"
    return "closed"


def test_a_client_that_never_reads_is_reset_and_its_orders_dropped(served, caplog):
    svc, url = served.svc, served.server.url
    # the book moves with requests whose signatures are not checked: the test is of the socket
    svc.call(lambda s: setattr(s.seq, "_verify", lambda req, pk, dom: True))
    with SdkClient(url, key=trader(3), account=3) as c3:
        c3.order(PERP, SELL, 1, PRICE + 50_000, order_id=1)
        raw = raw_ws(url, rcvbuf=4096)
        for m in ({"op": "auth", "token": c3.login(cancel=True)},
                  {"op": "cancel_on_disconnect", "enabled": True},
                  {"op": "subscribe", "channel": "book", "key": PERP}):
            raw.sendall(frame(m))
        reader = c3.stream()
        reader.subscribe("orders", 3)
        reader.subscribe("book", PERP)
        seen: list[dict] = []
        dropped_at: list[float] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                try:
                    m = reader.recv(timeout=0.2)
                except TimeoutError:
                    continue
                seen.append(m)
                if m.get("type") == "dropped" and not dropped_at:
                    dropped_at.append(time.monotonic())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        # the load: 500 sells at distinct prices, then their cancels, over and over; every
        # group is a book delta of 500 levels (~15 kB) to each book subscriber
        sig = [[1, 1], 1]
        start, oid, rounds = time.monotonic(), 100, 0
        while not dropped_at and time.monotonic() - start < DEADLINE:
            ids = range(oid, oid + 500)
            oid += 500
            for reqs in ([Order(1, PERP, SELL, 1, PRICE + 1_000 + k - oid, k, FAR) for k in ids],
                         [Cancel(1, PERP, k) for k in ids]):
                body = json.dumps([{**r.to_json(), "sig": sig} for r in reqs]).encode()
                status, out = served.client.call("POST", "/v1/requests/batch", body)
                assert status == 200 and {x["status"] for x in out} == {200}, out
            rounds += 1
        took = time.monotonic() - start
        assert dropped_at, f"not reset within {DEADLINE} s ({rounds} rounds of load)"
        # the reader goes on getting the busy channel, without a gap
        more = len(seen)
        served.client.call("POST", "/v1/requests/batch", json.dumps(
            [{**Order(1, PERP, SELL, 1, PRICE + 900, oid, FAR).to_json(), "sig": sig}]).encode())
        deadline = time.monotonic() + 10
        while len(seen) == more and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        t.join(5)
        reader.close()
    book = [m for m in seen if m.get("channel") == "book" and "seq" in m]
    assert len(seen) > more and book[-1]["seq"] > 1
    assert [m["seq"] for m in book] == list(range(1, len(book) + 1))
    assert any(m.get("type") == "dropped" and m.get("order_id") == 1 for m in seen)
    assert c3_orders(served) == []
    # the raw connection was reset, and is no subscriber any more
    assert read_to_end(raw, 5) == "reset"
    raw.close()
    assert svc.hub.channels == {}  # the reader unsubscribed by closing, the raw one by reset
    assert took < DEADLINE
    resets = [r.getMessage() for r in caplog.records if "reset" in r.getMessage()]
    assert len(resets) == 1 and f"for {SEND_TIMEOUT:.1f} s" in resets[0], resets


def c3_orders(served) -> list[int]:
    return [o["order_id"] for o in served.svc.call(lambda s: s.account_view(3)).open_orders]
