"""Trading controls over HTTP and WebSocket: cancel-all, atomic groups (amend, mass quote) with
their all-or-nothing answers and error bodies, and cancel-on-disconnect; each through the client
library against a served API, with the raw answers checked where their shape matters."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from rollup import errors as E
from rollup.api.app import ROUTES
from rollup.api.openapi import spec
from rollup.api.ws import MAX_ARMED
from rollup.client import ApiError, AsyncClient, Stream
from rollup.client import Client as SdkClient
from rollup.engine.groups import MAX_GROUP
from rollup.transactions import (
    BUY,
    SELL,
    Cancel,
    CancelAll,
    DropOrders,
    OracleUpdate,
    Order,
)
from tests.rollup.api.conftest import Served
from tests.support.operator import (
    DOMAIN,
    ORACLE,
    PERP,
    PRICE,
    Client,
    trader,
    wait_until,
)

FAR = 10**9


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("controls")).start()
    status, r = s.client.post(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))
    assert status == 200, r
    yield s.server, s.client, s.svc
    s.stop()


def resting(c: SdkClient) -> list[int]:
    return sorted(o["order_id"] for o in c.account_state()["open_orders"])


def post_group(raw: Client, reqs) -> tuple[int, object]:
    return raw.call("POST", "/v1/groups", json.dumps(
        [r.to_json() if hasattr(r, "to_json") else r for r in reqs]).encode())


def test_cancel_all_through_the_client(api):
    server, raw, _ = api
    with SdkClient(server.url, key=trader(1), account=1) as c:
        for oid, px in ((101, 5_000), (102, 6_000), (103, 7_000)):
            c.order(PERP, SELL, 1, PRICE + px, order_id=oid)
        r = c.cancel_all(PERP)
        assert r["type"] == "CancelAll" and r["note"] == "cancelled 3"
        assert [(d["order_id"], d["reason"]) for d in r["dropped"]] == [
            (101, "cancelled"), (102, "cancelled"), (103, "cancelled")]
        assert resting(c) == []
        # a bound: only the orders up to it
        for oid in (201, 202):
            c.order(PERP, SELL, 1, PRICE + 5_000, order_id=oid)
        assert c.cancel_all(up_to_order_id=201)["note"] == "cancelled 1"
        assert resting(c) == [202]
        # an expiry more than a day past the engine's time is refused, nothing changed
        with pytest.raises(E.InvalidRequest) as exc:
            c.cancel_all(expiry=10**6)
        assert exc.value.status == 422 and resting(c) == [202]
        c.cancel_all()
        assert resting(c) == []


def test_amend_and_mass_quote_are_all_or_nothing(api):
    server, raw, _ = api
    with SdkClient(server.url, key=trader(2), account=2) as c:
        c.order(PERP, BUY, 2, PRICE - 5_000, order_id=301)
        got = c.amend(PERP, 301, BUY, 3, PRICE - 4_000, new_order_id=302)
        assert [r["type"] for r in got] == ["Cancel", "Order"]
        assert got[0]["root"] == got[1]["root"] and got[1]["resting"]["order_id"] == 302
        assert resting(c) == [302]
        # an amend of an order that is not resting: 404 as the cancel alone, nothing placed
        with pytest.raises(E.GroupRejected) as exc:
            c.amend(PERP, 999, BUY, 1, PRICE - 4_500, new_order_id=303)
        e = exc.value
        assert (e.index, type(e.error), e.status) == (0, E.UnknownOrder, 404)
        assert resting(c) == [302]
        quotes = [(BUY, 1, PRICE - 3_000 - k) for k in range(3)] + [
            (SELL, 1, PRICE + 3_000 + k) for k in range(3)]
        got = c.mass_quote(PERP, quotes)
        assert got[0]["type"] == "CancelAll" and [d["order_id"] for d in got[0]["dropped"]] == [
            302]
        first = [r["resting"]["order_id"] for r in got[1:]]
        assert len(first) == 6 and resting(c) == sorted(first)
        # a quote that would cross (post-only) rejects the whole replacement: the old quotes
        # rest, untouched
        with SdkClient(server.url, key=trader(3), account=3) as other:
            other.order(PERP, SELL, 5, PRICE + 100, order_id=401)
            with pytest.raises(E.GroupRejected) as exc:
                c.mass_quote(PERP, [(BUY, 1, PRICE - 2_000), (BUY, 1, PRICE + 200)])
            assert (exc.value.index, type(exc.value.error)) == (2, E.PostOnlyWouldCross)
            assert resting(c) == sorted(first)
            other.cancel(PERP, 401)
        c.cancel_all()


def test_group_answers_and_error_bodies(api):
    server, raw, svc = api
    o = [Order(4, PERP, BUY, 1, PRICE - 8_000 - k, 500 + k, FAR).signed(trader(4), DOMAIN)
         for k in range(3)]
    st, r = post_group(raw, o[:2])
    assert st == 200 and [x["resting"]["order_id"] for x in r] == [500, 501]
    schema = raw.get("/openapi.json")["components"]["schemas"]
    assert all(set(schema["Receipt"]["required"]) <= set(x) for x in r)
    # the same group again: its stored receipts, nothing journaled twice
    n = raw.get("/v1/status")["seq"]
    st2, r2 = post_group(raw, o[:2])
    assert (st2, r2) == (200, r) and raw.get("/v1/status")["seq"] == n
    # a forged item: the whole group is refused with the item's status and code
    forged = Order(4, PERP, BUY, 1, PRICE - 9_000, 510, FAR).signed(trader(1), DOMAIN)
    st, r = post_group(raw, [o[2], forged])
    assert st == 403 and r["error"]["code"] == "GroupRejected"
    assert (r["error"]["index"], r["error"]["cause"]) == (1, "BadSignature")
    assert set(schema["Error"]["required"]) <= set(r)
    # the operator's DropOrders cannot come in through a group (or anywhere public)
    st, r = post_group(raw, [o[2], {"type": 17, "account": 1}])
    assert st == 400 and r["error"]["code"] == "UnsignedType" and r["error"]["index"] == 1
    # another account's request inside a group, a type that is not groupable, no items
    other = Cancel(1, PERP, 5).signed(trader(1), DOMAIN)
    st, r = post_group(raw, [o[2], other])
    assert (st, r["error"]["cause"], r["error"]["index"]) == (422, "InvalidRequest", 1)
    st, r = post_group(raw, [])
    assert (st, r["error"]["cause"]) == (422, "InvalidRequest")
    st, r = raw.call("POST", "/v1/groups", b"[" + b",".join([b"{}"] * (MAX_GROUP + 1)) + b"]")
    assert st == 413 and r["error"]["code"] in ("BatchTooLarge", "BodyTooLarge")
    assert raw.get("/v1/status")["seq"] == n
    # a cancel-all taken once: a fresh message for the same bound is a new one
    ca = CancelAll(4, 0, 505, 3_000).signed(trader(4), DOMAIN)
    st, r = raw.post(ca)
    assert st == 200 and [d["order_id"] for d in r["dropped"]] == [500, 501]
    st, r = raw.post(ca)  # within the idempotency window: its receipt again
    assert st == 200 and [d["order_id"] for d in r["dropped"]] == [500, 501]
    with pytest.raises(E.Replayed):  # past the window, the engine still refuses it
        svc.call(lambda s: s.seq.submit(ca, public=True))
    st, r = raw.post(DropOrders(4))
    assert st == 400 and r["error"]["code"] == "UnsignedType"


def test_openapi_names_the_group_route(api):
    _, raw, _ = api
    doc = raw.get("/openapi.json")
    assert doc == spec(ROUTES)
    op = doc["paths"]["/v1/groups"]["post"]
    assert op["operationId"] == "submitGroup" and {"200", "400", "409", "413", "422"} <= set(
        op["responses"])
    assert {"index", "cause"} <= set(doc["components"]["schemas"]["ErrorBody"]["properties"])
    assert "CancelAll" in doc["components"]["schemas"]


def test_cancel_on_disconnect(api):
    """Armed on a stream authenticated by a cancel-scoped session, the account's resting orders
    are dropped when the connection closes (and only then; another account's stay); disarmed,
    they rest on. A read-only session cannot arm it; closing with nothing resting writes
    nothing; at most MAX_ARMED connections of an account arm it."""
    server, raw, _ = api
    with SdkClient(server.url, key=trader(3), account=3) as c3, \
            SdkClient(server.url, key=trader(1), account=1) as c1:
        c1.order(PERP, SELL, 1, PRICE + 9_000, order_id=601)
        with Stream(server.url) as anon:
            with pytest.raises(ApiError, match="Unauthorized"):
                anon.cancel_on_disconnect()
        with c3.stream() as reader:  # a read session: may not cancel the account's orders
            with pytest.raises(ApiError, match="Unauthorized"):
                reader.cancel_on_disconnect()
        s = c3.stream(cancel_on_disconnect=True)
        s.subscribe("book", PERP)
        c3.order(PERP, SELL, 1, PRICE + 8_000, order_id=602)
        c3.order(PERP, SELL, 1, PRICE + 8_100, order_id=603)
        assert s.recv()["channel"] == "book"  # the subscription's messages are kept
        assert resting(c3) == [602, 603]
        s.close()
        wait_until(lambda: resting(c3) == [], timeout=10)
        assert 601 in resting(c1)
        # nothing resting: a close writes no journal row
        n = raw.get("/v1/status")["seq"]
        for _ in range(3):
            c3.stream(cancel_on_disconnect=True).close()
        time.sleep(0.5)
        assert raw.get("/v1/status")["seq"] == n
        # switched off again: the orders outlive the connection
        s = c3.stream(cancel_on_disconnect=True)
        s.cancel_on_disconnect(False)
        c3.order(PERP, SELL, 1, PRICE + 8_000, order_id=604)
        s.close()
        with pytest.raises(AssertionError):
            wait_until(lambda: resting(c3) == [], timeout=1)
        assert resting(c3) == [604]
        # a bounded number of armed connections per account
        armed = [c3.stream(cancel_on_disconnect=True) for _ in range(MAX_ARMED)]
        with c3.stream() as extra:
            extra.send({"op": "auth", "token": c3.login(cancel=True)})
            with pytest.raises(ApiError, match="TooManyConnections"):
                extra.cancel_on_disconnect()
        for a in armed:
            a.close()
        wait_until(lambda: resting(c3) == [], timeout=10)
        c1.cancel_all()


def test_the_async_client_has_the_same_controls(api):
    server, _, _ = api

    async def go():
        async with AsyncClient(server.url, key=trader(4), account=4) as c:
            await c.order(PERP, BUY, 1, PRICE - 7_000, order_id=701)
            got = await c.amend(PERP, 701, BUY, 2, PRICE - 6_900, new_order_id=702)
            assert [r["type"] for r in got] == ["Cancel", "Order"]
            got = await c.mass_quote(PERP, [(BUY, 1, PRICE - 6_000), (SELL, 1, PRICE + 6_000)])
            assert [d["order_id"] for d in got[0]["dropped"]] == [702]
            ids = sorted(r["resting"]["order_id"] for r in got[1:])
            assert sorted(o["order_id"] for o in (await c.account_state())["open_orders"]) == ids
            with pytest.raises(E.GroupRejected) as exc:
                await c.amend(PERP, 9_999, BUY, 1, PRICE - 6_500)
            assert (exc.value.index, type(exc.value.error)) == (0, E.UnknownOrder)
            r = await c.cancel_all()
            assert sorted(d["order_id"] for d in r["dropped"]) == ids
            assert (await c.account_state())["open_orders"] == []

    asyncio.run(go())
