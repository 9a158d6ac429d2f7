"""The sequencer's HTTP/JSON API in this process: receipts, views, typed rejections, malformed
input, and the OpenAPI description against the routes served."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from rollup.api import codec
from rollup.api.app import ROUTES
from rollup.api.openapi import spec
from rollup.api.server import ApiServer
from rollup.api.service import SequencerService
from rollup.config import load
from rollup.keys import SCHEME, compress, public_json
from rollup.transactions import (
    BUY,
    POST_ONLY,
    SELL,
    Cancel,
    Deposit,
    OracleUpdate,
    Order,
    SetOracleKey,
    Transfer,
    Withdrawal,
)
from tests.support.operator import (
    DOMAIN,
    ORACLE,
    PERP,
    PRICE,
    Client,
    body,
    pk,
    trader,
    write_config,
)

FAR = 10**9


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp("api"), n_traders=4)
    svc = SequencerService(load(path), log=lambda m: None).start()
    server = ApiServer(svc, "127.0.0.1", 0, max_body=8192)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    client = Client(server.url)
    status, r = client.post(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))
    assert status == 200, r
    yield server, client
    client.close()
    server.shutdown()
    server.server_close()
    svc.close()


def order(i, side, size, price, oid, flags=0):
    return Order(i, PERP, side, size, price, oid, FAR, flags).signed(trader(i), DOMAIN)


def test_order_flow_receipts_views_and_fills(api):
    server, c = api
    since = c.get("/v1/fills")["next"]
    s, r = c.post(order(1, SELL, 3, PRICE + 10, 1))
    assert s == 200 and r["accepted"] and r["fills"] == []
    assert r["resting"] == {"asset": PERP, "order_id": 1, "side": "sell", "price": PRICE + 10,
                            "remaining": 3}
    book = c.get(f"/v1/books/{PERP}")
    assert book["asks"] == [{"price": PRICE + 10, "size": 3, "orders": 1}] and book["bids"] == []
    assert c.get("/v1/accounts/1")["open_orders"][0]["order_id"] == 1
    s, r = c.post(order(2, BUY, 2, PRICE + 20, 1))
    assert s == 200 and r["resting"] is None and len(r["fills"]) == 1
    f = r["fills"][0]
    assert (f["maker"], f["taker"], f["size"], f["price"], f["taker_side"]) == (
        1, 2, 2, PRICE + 10, "buy")
    assert r["root"] == c.get("/v1/status")["root"] and r["public_data"]
    a2 = c.get("/v1/accounts/2")
    assert a2["positions"] == [{"asset": PERP, "balance": 2, "funding_snapshot": 0}]
    assert a2["margin"]["healthy"] and not a2["margin"]["liquidatable"]
    assert a2["public_key"]["compressed"] == compress(pk(trader(2)))
    fills = c.get(f"/v1/fills?since={since}")
    assert [x["id"] for x in fills["fills"]] == [f["id"]] and fills["next"] == f["id"]
    assert c.get(f"/v1/fills?since={since}&account=3")["fills"] == []
    assert c.get(f"/v1/fills?since={fills['next']}")["fills"] == []
    # the rest of account 1's order, then cancelled
    assert c.get(f"/v1/books/{PERP}?depth=1")["asks"][0]["size"] == 1
    s, r = c.post(Cancel(1, PERP, 1).signed(trader(1), DOMAIN))
    assert s == 200 and r["note"] == "cancelled"
    assert c.get(f"/v1/books/{PERP}")["asks"] == []


def test_typed_rejections(api):
    server, c = api
    before = c.get("/v1/status")
    cases = [
        (Transfer(3, 4, 5, 0, FAR).signed(trader(4), DOMAIN), 403, "BadSignature"),
        (Transfer(3, 4, 5, 7, FAR).signed(trader(3), DOMAIN), 409, "StaleNonce"),
        (Transfer(3, 4, 10**15, 0, FAR).signed(trader(3), DOMAIN), 422,
         "InsufficientCollateral"),
        (Transfer(3, 9, 5, 0, FAR).signed(trader(3), DOMAIN), 404, "UnknownAccount"),
        (Transfer(3, 4, 5, 0, 0).signed(trader(3), DOMAIN), 422, "Expired"),
        (Cancel(3, PERP, 99).signed(trader(3), DOMAIN), 404, "UnknownOrder"),
        (Order(3, 7, BUY, 1, PRICE, 5, FAR).signed(trader(3), DOMAIN), 404, "UnknownMarket"),
        (Withdrawal(3, 5, 1 << 170, 0, FAR).signed(trader(3), DOMAIN), 422, "InvalidRequest"),
    ]
    for req, status, code in cases:
        s, r = c.post(req)
        assert (s, r["error"]["code"]) == (status, code), r
        assert r["error"]["message"]
    s, r = c.post(order(3, BUY, 1, PRICE - 500, 11, POST_ONLY))
    assert s == 200
    s, r = c.post(order(3, BUY, 1, PRICE - 500, 11))
    assert (s, r["error"]["code"]) == (409, "OrderIdReused")
    s, r = c.post(Cancel(3, PERP, 11).signed(trader(3), DOMAIN))
    assert s == 200
    after = c.get("/v1/status")
    assert after["rejected"] == before["rejected"] + len(cases) + 1
    assert after["seq"] == before["seq"] + 2  # the order and its cancel only


def test_malformed_input_is_rejected_and_the_server_stays_up(api):
    server, c = api
    ok = Transfer(4, 3, 1, 0, FAR).signed(trader(4), DOMAIN)
    good = json.loads(body(ok))
    bad_bodies = [
        (b"{not json", "MalformedJSON"),
        (b"\xff\xfe", "MalformedJSON"),
        # deep nesting under the size bound: valid JSON, but not a request (the typed decoder
        # stops at the first value of the wrong shape, however deep the rest goes)
        (b"[" * 2000 + b"]" * 2000, "MalformedRequest"),
        (b'{"a": "[[[[", "b": ' + b"[" * 40 + b"]" * 40 + b"}", "MalformedRequest"),
        (b"[" * 8000, "MalformedRequest"),
        # skipped while looking for the type: past the decoder's recursion limit
        (b'{"type": "order", "account": ' + b"[" * 4000 + b"}", "MalformedJSON"),
        # an int past Python's digit limit (a library in the process may have lifted it)
        (b"1" * 4400, ("MalformedJSON", "MalformedRequest")),
        (b"[]", "MalformedRequest"),
        (json.dumps({**good, "type": 99}).encode(), "UnknownType"),
        (json.dumps(Deposit(4, pk(trader(4)), 10**9).to_json()).encode(), "UnsignedType"),
        (json.dumps({k: v for k, v in good.items() if k != "sig"}).encode(),
         "MissingSignature"),
        (json.dumps({**good, "amount": "lots"}).encode(), "MalformedRequest"),
        (json.dumps({**good, "amount": 1.5}).encode(), "MalformedRequest"),
        (json.dumps({**good, "amount": True}).encode(), "MalformedRequest"),
        (json.dumps({**good, "amount": 1 << 300}).encode(), "MalformedRequest"),
        (json.dumps({**good, "extra": 1}).encode(), "MalformedRequest"),
        (json.dumps({**good, "sig": [1, 2, 3]}).encode(), "MalformedRequest"),
        (json.dumps({**good, "sig": [[1, "x"], 2]}).encode(), "MalformedRequest"),
    ]
    for data, code in bad_bodies:
        s, r = c.call("POST", "/v1/requests", data)
        assert s == 400 and r["error"]["code"] in (code if isinstance(code, tuple) else (code,)), (
            data[:40], r)
    s, r = c.call("POST", "/v1/requests", b"x" * 9000)
    assert (s, r["error"]["code"]) == (413, "BodyTooLarge")
    # integers as strings (decimal, hex) are the same request
    s, r = c.call("POST", "/v1/requests", json.dumps(
        {**good, "type": "transfer", "amount": "0x1", "sig": [[str(good["sig"][0][0]),
                                                               hex(good["sig"][0][1])],
                                                              str(good["sig"][1])]}).encode())
    assert s == 200, r
    for method, path, status in [("GET", "/v1/nothing", 404), ("PUT", "/v1/requests", 405),
                                 ("GET", "/v1/requests", 405), ("GET", "/v1/accounts/x", 404),
                                 ("GET", "/v1/accounts/12", 401),  # no session
                                 ("GET", "/v1/books/1?depth=0", 400),
                                 ("GET", "/v1/fills?since=-1", 400)]:
        s, r = Client(server.url).call(method, path)
        assert s == status and "error" in r, (method, path, s, r)
    # raw sockets: no Content-Length, a broken request line, a client that leaves mid-body
    host, port = server.server_address[:2]
    for raw, expect in [
            # no Content-Length: no body (bytes after the headers would be the next request)
            (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 411"),
            (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n\r\n{}", b"HTTP/1.1 4"),
            (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n",
             b"HTTP/1.1 400"),
            # an unknown HTTP version: the parser (httptools) refuses it as a bad request
            (b"GET /v1/status HTTP/9.9\r\n\r\n", b"HTTP/1.1 400"),
            (b"GARBAGE\r\n\r\n", b"HTTP/1.1 400"),
            (b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", b"")]:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            reply = b"".join(iter(lambda: sock.recv(65536), b""))
        assert reply.startswith(expect), (raw, reply)
    assert c.get("/v1/status")["root"].startswith("0x")  # still serving


def test_openapi_describes_exactly_the_routes_served(api):
    server, c = api
    doc = c.get("/openapi.json")
    assert doc == spec(ROUTES) and doc["openapi"].startswith("3.1")
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {(ep.method, ep.path) for ep in ROUTES}
    assert described == served
    # every described route answers (a 404 here would be NotFound for the route itself)
    for m, p in sorted(described):
        path = p
        for name in ("{id}", "{asset}", "{account}", "{order_id}"):
            path = path.replace(name, "1")
        st, r = Client(server.url).call(m, path, b"{}" if m == "POST" else None)
        private = p in ("/v1/accounts/{id}", "/v1/orders/{account}/{order_id}")
        # its own answer: no token (the operator's or an account's session)
        want = (401,) if p == "/v1/admin" or private else (200, 400)
        assert st in want, (m, p, st, r)
    for m, p in [("GET", "/v1/account/1"), ("GET", "/v1/status/"), ("POST", "/v1/fills")]:
        st, r = Client(server.url).call(m, p, b"{}" if m == "POST" else None)
        assert st in (404, 405) and r["error"]["code"] in ("NotFound", "MethodNotAllowed")
    # every $ref resolves, every operation has a 200 answer and an operationId
    schemas = doc["components"]["schemas"]

    def refs(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(x, list):
            for v in x:
                yield from refs(v)

    for r in refs(doc):
        assert r.startswith("#/components/schemas/") and r.split("/")[-1] in schemas, r
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(ROUTES)
    assert all("200" in op["responses"] for ops in doc["paths"].values() for op in ops.values())
    # each request schema names exactly the fields of its request class
    import dataclasses

    from rollup.api import types as W

    for wire in W.SIGNED_TYPES + W.ADMIN_TYPES:
        cls = wire.REQUEST
        sch = schemas[cls.__name__]
        assert set(sch["properties"]) == {"type"} | {f.name for f in dataclasses.fields(cls)}
        assert set(sch["properties"]["type"]["enum"]) == {cls.TYPE, W.type_names(wire)[1]}
    # the answers carry the fields the schemas require
    status = c.get("/v1/status")
    assert set(schemas["Status"]["required"]) <= set(status)
    assert set(schemas["Account"]["required"]) <= set(c.get("/v1/accounts/1"))
    assert set(schemas["Book"]["required"]) <= set(c.get(f"/v1/books/{PERP}"))
    assert set(schemas["Fills"]["required"]) <= set(c.get("/v1/fills"))
    s, r = c.post(Transfer(2, 1, 1, 0, FAR).signed(trader(2), DOMAIN))
    assert s == 200 and set(schemas["Receipt"]["required"]) <= set(r)
    s, r = c.call("POST", "/v1/requests", b"{")
    assert set(schemas["Error"]["required"]) <= set(r)


def post_batch(c, items) -> tuple[int, object]:
    data = items if isinstance(items, bytes) else json.dumps(
        [x.to_json() if hasattr(x, "to_json") else x for x in items]).encode()
    return c.call("POST", "/v1/requests/batch", data)


def test_batch_applies_in_order_in_one_group(api):
    server, c = api
    before = c.get("/v1/status")
    groups = before["group_commits"]["groups"]
    batch = [order(1, SELL, 2, PRICE + 30, 101), order(1, SELL, 2, PRICE + 40, 102),
             order(2, BUY, 3, PRICE + 40, 101),  # takes 2 at +30, then 1 at +40
             Cancel(1, PERP, 102).signed(trader(1), DOMAIN)]
    s, r = post_batch(c, batch)
    assert s == 200 and [x["index"] for x in r] == [0, 1, 2, 3], r
    assert all(x["status"] == 200 and x["accepted"] for x in r)
    assert [x["seq"] for x in r] == list(range(before["seq"] + 1, before["seq"] + 5))
    assert [(f["price"], f["size"]) for f in r[2]["fills"]] == [(PRICE + 30, 2), (PRICE + 40, 1)]
    assert r[3]["note"] == "cancelled" and r[3]["root"] == c.get("/v1/status")["root"]
    after = c.get("/v1/status")
    assert after["group_commits"]["groups"] == groups + 1
    assert after["accepted"] == before["accepted"] + 4
    assert c.get(f"/v1/books/{PERP}")["asks"] == []
    schemas = c.get("/openapi.json")["components"]["schemas"]
    assert all(set(schemas["Receipt"]["required"]) <= set(x) for x in r)
    assert post_batch(c, []) == (200, [])


def test_batch_answers_each_item_as_the_single_endpoint_would(api):
    server, c = api
    before = c.get("/v1/status")
    nonce = c.get("/v1/accounts/3")["nonce"]
    good = Transfer(3, 4, 7, nonce, FAR).signed(trader(3), DOMAIN)
    colliding = Transfer(3, 4, 8, nonce, FAR).signed(trader(3), DOMAIN)
    items = [
        order(3, BUY, 1, PRICE - 700, 201, POST_ONLY),
        {**good.to_json(), "amount": "lots"},  # malformed: answered in its place, not sent
        Transfer(3, 4, 5, nonce, FAR).signed(trader(4), DOMAIN),  # forged
        good,
        colliding,  # another request with the same nonce: its nonce is used now
        order(3, BUY, 1, PRICE - 700, 201),  # order id reused
        Deposit(3, pk(trader(3)), 10**9),  # unsigned type: from the L1 queue only
        "not an object",
        Cancel(3, PERP, 201).signed(trader(3), DOMAIN),
        good,  # the same signed request again: its receipt again, not applied twice
    ]
    s, r = post_batch(c, items)
    assert s == 200 and [x["index"] for x in r] == list(range(len(items)))
    got = [(x["status"], x["error"]["code"] if "error" in x else x["type"]) for x in r]
    assert got == [(200, "Order"), (400, "MalformedRequest"), (403, "BadSignature"),
                   (200, "Transfer"), (409, "StaleNonce"), (409, "OrderIdReused"),
                   (400, "UnsignedType"), (400, "MalformedRequest"), (200, "Cancel"),
                   (200, "Transfer")]
    assert {**r[9], "index": 3} == r[3]
    # the single endpoint gives the same answer to the same rejected request
    s1, r1 = c.post(colliding)
    assert (s1, r1) == (409, {"error": r[4]["error"]})
    assert all(x["error"]["message"] for x in r if "error" in x)
    after = c.get("/v1/status")
    assert after["seq"] == before["seq"] + 3
    assert after["rejected"] == before["rejected"] + 3 + 1  # malformed items never reach it
    assert [x["seq"] for x in r if x["status"] == 200] == [before["seq"] + k
                                                          for k in (1, 2, 3, 2)]


def test_batch_limits_and_malformed_bodies(api):
    server, c = api
    seq = c.get("/v1/status")["seq"]
    one = order(4, BUY, 1, PRICE - 800, 301, POST_ONLY).to_json()
    s, r = post_batch(c, [one] * (codec.MAX_BATCH + 1))
    assert (s, r["error"]["code"]) == (413, "BatchTooLarge") and str(codec.MAX_BATCH) in (
        r["error"]["message"])
    # nested past any recursion limit in use (py_ecc, imported by other tests, lifts it to
    # 100,000): the decoder's RecursionError, never the interpreter's stack
    for data, code in [(b"{not json", "MalformedJSON"), (b"[" * 200_000 + b"]" * 200_000,
                                                          "MalformedJSON"),
                       (json.dumps(one).encode(), "MalformedRequest"), (b"7", "MalformedRequest"),
                       (b'"[]"', "MalformedRequest")]:
        s, r = post_batch(c, data)
        assert (s, r["error"]["code"]) == (400, code), (data[:30], r)
    s, r = post_batch(c, b"[" + b" " * server.max_batch_body + b"]")
    assert (s, r["error"]["code"]) == (413, "BodyTooLarge")
    assert c.get("/v1/status")["seq"] == seq  # nothing applied
    # a full batch fits the batch body limit (the single endpoint's limit is far smaller)
    s, r = post_batch(c, [one] + [{**one, "order_id": 1000 + k}
                                  for k in range(codec.MAX_BATCH - 1)])
    assert s == 200 and len(r) == codec.MAX_BATCH
    assert r[0]["status"] == 200 and {x["status"] for x in r[1:]} == {403}  # one signature
    assert c.get("/v1/status")["seq"] == seq + 1


def test_genesis_cut_short_is_completed_on_start(tmp_path):
    from rollup.durability.journal import Journal
    from rollup.engine.sequencer import Sequencer
    from rollup.recovery.genesis import genesis_requests
    from rollup.state.state import State

    cfg = load(write_config(tmp_path / "a", n_traders=2))
    reqs = genesis_requests(cfg)
    clean = Sequencer(State(cfg.tree_depth), cfg.domain())
    for r in reqs:
        clean.apply_verified(r)
    cfg.data.mkdir(parents=True)
    seq = Sequencer(State(cfg.tree_depth), cfg.domain(), journal=Journal(cfg.journal_path))
    for r in reqs[:2]:  # the process died here, before the rest and before genesis.json
        seq.apply_verified(r)
    seq.journal.close()
    svc = SequencerService(cfg, log=lambda m: None).start()
    try:
        st = svc.status()
    finally:
        svc.close()
    assert (st["seq"], st["genesis_seq"]) == (len(reqs), len(reqs))
    assert int(st["root"], 16) == clean.state.root
    assert json.loads((cfg.data / "genesis.json").read_text())["seq"] == len(reqs)


NEW_ORACLE = b"api-rotated-oracle".ljust(32, b"\0")


def test_operator_endpoint_lists_assets_and_rotates_the_oracle_key(api):
    """POST /v1/admin takes the operator's ListAsset / SetOracleKey with the service's bearer
    token (DATA/admin.token, 0600) and nothing without it; the trader endpoint refuses them."""
    import os
    import stat

    from click.testing import CliRunner

    from rollup.api.service import admin_token_file
    from rollup.cli import cli as main

    server, c = api
    svc = server.service
    path = admin_token_file(svc.cfg)
    token = path.read_text().strip()
    assert token == svc.admin_token and len(token) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    series = {"type": "list_asset", "asset": 5, "kind": 2, "underlying": PERP, "strike": PRICE,
              "expiry": FAR, "risk_initial": 100_000, "risk_maintenance": 50_000,
              "short_initial": 100_000, "short_maintenance": 60_000}
    data = json.dumps(series).encode()
    before = c.get("/v1/status")
    for headers in ({}, {"Authorization": "Bearer " + "0" * 64}, {"Authorization": token}):
        st, r = Client(server.url).call("POST", "/v1/admin", data, headers)
        assert st == 401 and r["error"]["code"] == "Unauthorized", headers
    st, r = Client(server.url).call("POST", "/v1/requests", data)
    assert st == 400 and r["error"]["code"] == "UnknownType"
    st, r = Client(server.url).call("POST", "/v1/requests", json.dumps({**series, "type": 13})
                                    .encode())
    assert st == 400 and r["error"]["code"] == "UnsignedType"
    assert c.get("/v1/status")["seq"] == before["seq"]  # nothing journaled
    auth = {"Authorization": f"Bearer {token}"}
    # what no batch could prove is refused before it is journaled: an id outside the batch
    # circuit's asset table, a perpetual naming an underlying
    for bad in ({**series, "asset": svc.cfg.batch_assets}, {**series, "kind": 1}):
        st, r = Client(server.url).call("POST", "/v1/admin", json.dumps(bad).encode(), auth)
        assert st == 422 and r["error"]["code"] == "InvalidRequest", (bad, r)
    # a second perpetual: the circuit's scenario margin takes [batch] underlyings = 1
    perp = {**series, "kind": 1, "underlying": 0, "strike": 0, "expiry": 0}
    st, r = Client(server.url).call("POST", "/v1/admin", json.dumps(perp).encode(), auth)
    assert st == 422 and "[batch] underlyings" in r["error"]["message"], r
    assert c.get("/v1/status")["seq"] == before["seq"]
    assert c.get("/v1/status")["batch"]["underlyings"] == svc.cfg.batch_underlyings == 1
    st, r = Client(server.url).call("POST", "/v1/admin", data, auth)
    assert st == 200 and r["accepted"] and r["public_data"], r
    assert 5 in c.get("/v1/status")["assets"]
    st, r = Client(server.url).call("POST", "/v1/admin", data, auth)  # listed already
    assert st == 422 and r["error"]["code"] == "InvalidRequest"
    # a trader endpoint request of the operator's kind is still refused; signed types here too
    st, r = Client(server.url).call("POST", "/v1/admin", body(
        OracleUpdate(PERP, PRICE, 2).signed(ORACLE, DOMAIN)), auth)
    assert st == 400 and r["error"]["code"] == "SignedType"

    # the oracle key: a change not signed by the current key is refused (the operator cannot
    # replace the oracle), then rotated through the CLI with the current key's signature, after
    # which old signatures fail and new ones pass
    runner = CliRunner()
    for sig in (None, SetOracleKey(pk(NEW_ORACLE)).signed(NEW_ORACLE, DOMAIN).sig):
        st, r = Client(server.url).call("POST", "/v1/admin", json.dumps(
            {"type": "set_oracle_key", "pk": compress(pk(NEW_ORACLE)),
             "sig": sig and [[str(sig[0][0]), str(sig[0][1])], str(sig[1])]}).encode(), auth)
        assert st == 403 and r["error"]["code"] == "BadSignature", r
    res = runner.invoke(main, ["sequencer", "set-oracle-key", "--config", str(svc.cfg.path),
                               "--url", server.url, "--key", compress(pk(NEW_ORACLE))])
    assert res.exit_code == 1 and "--signer" in res.output, res.output
    signer = svc.cfg.path.parent / "current-oracle.json"
    signer.write_text(json.dumps({"scheme": SCHEME, "private_key": ORACLE.hex(),
                                  "public_key": public_json(pk(ORACLE))}))
    res = runner.invoke(main, ["sequencer", "set-oracle-key", "--config", str(svc.cfg.path),
                               "--url", server.url, "--key", compress(pk(NEW_ORACLE)),
                               "--signer", str(signer)])
    assert res.exit_code == 0, res.output
    assert c.get("/v1/status")["oracle_key"] == compress(pk(NEW_ORACLE))
    t = c.get("/v1/status")["time"]
    st, r = c.post(OracleUpdate(PERP, PRICE, t + 1).signed(ORACLE, DOMAIN))
    assert st == 403 and r["error"]["code"] == "BadSignature"
    st, r = c.post(OracleUpdate(PERP, PRICE, t + 1).signed(NEW_ORACLE, DOMAIN))
    assert st == 200, r
    res = runner.invoke(main, ["sequencer", "list-asset", "--config", str(svc.cfg.path),
                               "--url", server.url, "--asset", "6", "--kind", "put",
                               "--underlying", str(PERP), "--strike", str(PRICE), "--expiry",
                               str(FAR), "--risk-initial", "100000", "--risk-maintenance",
                               "50000"])
    assert res.exit_code == 0 and "listed asset 6 (put)" in res.output, res.output
    res = runner.invoke(main, ["sequencer", "list-asset", "--config", str(svc.cfg.path),
                               "--url", server.url, "--asset", "6", "--kind", "put",
                               "--risk-initial", "1", "--risk-maintenance", "1"])
    assert res.exit_code == 1 and "422 InvalidRequest" in res.output, res.output
    back = SetOracleKey(pk(ORACLE)).signed(NEW_ORACLE, DOMAIN).sig
    res = runner.invoke(main, ["sequencer", "set-oracle-key", "--config", str(svc.cfg.path),
                               "--url", "ftp://127.0.0.1:1", "--key", compress(pk(ORACLE)),
                               "--sig", json.dumps(back)])
    assert res.exit_code == 1 and "not an http(s) URL" in res.output, res.output
    # back to the fixture's oracle key for the other tests (signed by the key it replaces)
    st, r = Client(server.url).call("POST", "/v1/admin", json.dumps(
        {"type": "set_oracle_key", "pk": compress(pk(ORACLE)),
         "sig": [[str(back[0][0]), str(back[0][1])], str(back[1])]}).encode(), auth)
    assert st == 200, r
