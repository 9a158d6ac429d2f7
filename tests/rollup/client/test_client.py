"""The client library against `rollup sequencer run` in a child process: signing for the
server's domain, receipts and views, typed errors (the engine's own classes), batches, retries of
the same bytes after a transport failure, and the asyncio twin."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from rollup import errors as E
from rollup.client import ApiError, AsyncClient, BadRequest, Client, Unavailable
from rollup.transactions import BUY, SELL, Domain, Order
from tests.support.operator import DOMAIN, PERP, PRICE, trader

FAR = 10**9


def test_orders_fill_and_show_in_the_views(server):
    with Client(server.url, key=trader(1), account=1) as a, \
            Client(server.url, key=trader(2), account=2) as b:
        assert a.domain == DOMAIN  # read from /v1/status, then used to sign
        since = a.fills()["next"]
        r = a.order(PERP, SELL, 3, PRICE + 10, order_id=11)
        assert r["resting"]["remaining"] == 3 and r["fills"] == []
        assert a.book(PERP)["asks"][0] == {"price": PRICE + 10, "size": 3, "orders": 1}
        assert [o["order_id"] for o in a.account_state()["open_orders"]] == [11]
        r = b.order(PERP, BUY, 2, PRICE + 20, order_id=21)
        assert [(f["maker"], f["taker"], f["size"]) for f in r["fills"]] == [(1, 2, 2)]
        fills = a.fills(since=since, account=1)["fills"]
        assert [(f["maker_order"], f["taker_order"]) for f in fills] == [(11, 21)]
        assert a.cancel(PERP, 11)["accepted"]
        assert a.account_state()["open_orders"] == []


def test_rejections_raise_the_engines_typed_errors(server):
    with Client(server.url, key=trader(3), account=3) as c:
        with pytest.raises(E.UnknownOrder) as exc:
            c.cancel(PERP, 987_654)
        assert exc.value.status == 404
        with pytest.raises(E.UnknownMarket):
            c.order(77, BUY, 1, PRICE)
        # signed with another account's key: the server checks it, the client raises its class
        forged = Order(3, PERP, BUY, 1, PRICE - 5_000, 31, FAR).signed(trader(4), DOMAIN)
        with pytest.raises(E.BadSignature):
            c.submit(forged)
        with pytest.raises(BadRequest) as bad:
            c._call("POST", "/v1/requests", b'{"type": "order", "account": "x"}')
        assert bad.value.status == 400 and "account" in bad.value.message
        with pytest.raises(ValueError, match="no key"):
            Client(server.url, account=3).order(PERP, BUY, 1, PRICE)


def test_batch_answers_each_item(server):
    with Client(server.url, key=trader(3), account=3) as c:
        good = Order(3, PERP, BUY, 1, PRICE - 9_000, 41, FAR)
        unknown_market = Order(3, 99, BUY, 1, PRICE, 42, FAR)
        out = c.submit_batch([good, unknown_market])
        assert out[0]["accepted"] and out[0]["resting"]["order_id"] == 41
        assert isinstance(out[1], E.UnknownMarket)


def test_a_wrong_domain_is_refused_before_signing(server):
    other = Domain(DOMAIN.chain_id + 1, DOMAIN.rollup_address)
    with Client(server.url, key=trader(3), account=3, expect_domain=other) as c:
        with pytest.raises(ApiError, match="WrongDomain"):
            c.order(PERP, BUY, 1, PRICE)


class FlakyTransport(httpx.HTTPTransport):
    """Fails the first `fail` sends before they reach the server; records every body sent."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail, self.bodies = fail, []

    def handle_request(self, request):
        if request.method == "POST":
            self.bodies.append(request.read())
            if self.fail:
                self.fail -= 1
                raise httpx.ConnectError("connection refused (test)")
        return super().handle_request(request)


def test_a_transport_failure_is_retried_with_the_same_bytes(server):
    flaky = FlakyTransport(fail=2)
    with Client(server.url, key=trader(4), account=4, transport=flaky, backoff=0) as c:
        r = c.order(PERP, BUY, 1, PRICE - 9_000, order_id=51)
        assert r["accepted"] and len(flaky.bodies) == 3 and len(set(flaky.bodies)) == 1


def test_an_unreachable_server_is_unavailable_after_the_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with Client(f"http://127.0.0.1:{port}", retries=2, backoff=0) as c:
        with pytest.raises(Unavailable, match="Unreachable"):
            c.status()


def test_async_client_does_the_same(server):
    async def flow():
        async with AsyncClient(server.url, key=trader(4), account=4) as c:
            assert await c.domain() == DOMAIN
            r = await c.order(PERP, SELL, 2, PRICE + 9_000, order_id=61)
            assert r["resting"]["remaining"] == 2
            book = await c.book(PERP)
            assert {"price": PRICE + 9_000, "size": 2, "orders": 1} in book["asks"]
            with pytest.raises(E.UnknownOrder):
                await c.cancel(PERP, 999_999)
            return (await c.cancel(PERP, 61))["accepted"]

    assert asyncio.run(flow())
