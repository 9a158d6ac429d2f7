"""Order status by (account, order id), fill and event timestamps, and every answer checked
against its schema in the served OpenAPI document."""

from __future__ import annotations

import time

import jsonschema

from rollup.transactions import BUY, IOC, SELL, Cancel, Order
from tests.support.operator import DOMAIN, PERP, PRICE, trader

FAR = 10**9


def order(i, side, size, price, oid, flags=0):
    return Order(i, PERP, side, size, price, oid, FAR, flags).signed(trader(i), DOMAIN)


def test_order_status_through_its_life_and_a_restart(served):
    c = served.client
    t0 = time.time_ns() // 1000
    assert c.get("/v1/orders/1/5")["status"] == "unknown"
    st, r = c.post(order(1, SELL, 3, PRICE + 10, 5))
    assert st == 200
    o = c.get("/v1/orders/1/5")
    assert (o["status"], o["size"], o["filled"], o["remaining"], o["side"], o["price"]) == (
        "open", 3, 0, 3, "sell", PRICE + 10)
    assert o["seq"] == r["seq"] and t0 <= o["created_us"] == r["received_us"]
    assert o["engine_time"] == r["engine_time"] == 1  # the oracle's time (the fixture's)
    st, taker = c.post(order(2, BUY, 2, PRICE + 10, 9))
    f = taker["fills"][0]
    assert (f["engine_time"], f["received_us"]) == (1, taker["received_us"])
    assert c.get("/v1/fills")["fills"][-1] == f  # the fill history carries the same times
    o = c.get("/v1/orders/1/5")
    assert (o["status"], o["filled"], o["remaining"], o["average_price"]) == (
        "open", 2, 1, PRICE + 10)
    assert o["updated_us"] == taker["received_us"] >= o["created_us"]
    t = c.get("/v1/orders/2/9")
    assert (t["status"], t["filled"], t["remaining"]) == ("filled", 2, 0)
    # an IOC that finds nothing more; then the rest of the maker cancelled
    st, r = c.post(order(3, BUY, 5, PRICE + 10, 4, IOC))
    assert st == 200
    o3 = c.get("/v1/orders/3/4")
    assert (o3["status"], o3["filled"]) == ("cancelled", 1) and o3["reason"]
    assert c.get("/v1/orders/1/5")["status"] == "filled"
    c.post(order(1, SELL, 4, PRICE + 50, 6))
    st, r = c.post(Cancel(1, PERP, 6).signed(trader(1), DOMAIN))
    assert st == 200
    o6 = c.get("/v1/orders/1/6")
    assert (o6["status"], o6["filled"], o6["reason"]) == ("cancelled", 0, "cancelled")
    assert o6["updated_us"] == r["received_us"]
    want = {k: c.get(f"/v1/orders/{k}") for k in ("1/5", "2/9", "3/4", "1/6", "4/1")}
    served.restart()
    assert {k: served.client.get(f"/v1/orders/{k}") for k in want} == want
    for path, code in [("/v1/orders/1/x", 404), ("/v1/orders/1", 404)]:
        st, r = served.client.call("GET", path)
        assert (st, r["error"]["code"]) == (code, "NotFound")


def test_real_answers_validate_against_the_served_schemas(served):
    c = served.client
    doc = c.get("/openapi.json")

    def check(path: str, method: str, status: int, value) -> None:
        op = doc["paths"][path][method]
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(
            value)

    st, r = c.post(order(1, SELL, 3, PRICE + 10, 11))
    check("/v1/requests", "post", 200, r)
    st, r = c.post(order(2, BUY, 1, PRICE + 10, 11))
    assert r["fills"]
    check("/v1/requests", "post", 200, r)
    st, r = c.post(order(2, BUY, 1, PRICE + 10, 11, 1))  # the id again: 409
    check("/v1/requests", "post", 409, r)
    st, r = c.call("POST", "/v1/requests", b"{")
    check("/v1/requests", "post", 400, r)
    import json

    st, r = c.call("POST", "/v1/requests/batch", json.dumps(
        [order(3, BUY, 1, PRICE - 100, 1).to_json(), {"type": "order"},
         order(3, BUY, 1, PRICE - 100, 1).to_json()]).encode())
    assert [x["status"] for x in r] == [200, 400, 200]
    check("/v1/requests/batch", "post", 200, r)
    check("/v1/status", "get", 200, c.get("/v1/status"))
    check("/v1/accounts/{id}", "get", 200, c.get("/v1/accounts/1"))
    check("/v1/books/{asset}", "get", 200, c.get(f"/v1/books/{PERP}"))
    check("/v1/fills", "get", 200, c.get("/v1/fills"))
    for k in ("1/11", "2/11", "9/9"):
        check("/v1/orders/{account}/{order_id}", "get", 200, c.get(f"/v1/orders/{k}"))
    st, r = c.call("GET", "/v1/accounts/77")
    check("/v1/accounts/{id}", "get", 404, r)
    st, r = c.call("POST", "/v1/admin", b"{}")
    check("/v1/admin", "post", 401, r)
    # and a wrong answer would not pass
    bad = c.get("/v1/status")
    del bad["root"]
    try:
        check("/v1/status", "get", 200, bad)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a status without its root validated")
