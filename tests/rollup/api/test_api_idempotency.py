"""Idempotent resubmission: the same signed request sent again gets its original receipt (200,
``Idempotent-Replay: true``) and is not applied twice; a different request with a colliding
order id or nonce still gets its 409. Held across restarts, and after a crash that lost the
newest stored receipts (rebuilt from the journal); bounded by ``[api] idempotency_window``."""

from __future__ import annotations

import http.client
import json
import sqlite3

from rollup.transactions import BUY, SELL, Order, Transfer
from tests.support.operator import DOMAIN, PERP, PRICE, body, trader

FAR = 10**9


def post(url: str, data: bytes, path: str = "/v1/requests") -> tuple[int, dict, dict]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), json.loads(r.read())
    finally:
        conn.close()


def test_a_retry_gets_the_original_receipt_and_a_collision_its_409(served):
    c, url = served.client, served.server.url
    maker = Order(1, PERP, SELL, 3, PRICE + 10, 1, FAR).signed(trader(1), DOMAIN)
    taker = Order(2, PERP, BUY, 2, PRICE + 10, 1, FAR).signed(trader(2), DOMAIN)
    pay = Transfer(3, 4, 5, 0, FAR).signed(trader(3), DOMAIN)
    first = {}
    for req in (maker, taker, pay):
        st, h, r = post(url, body(req))
        assert st == 200 and "idempotent-replay" not in {k.lower() for k in h}, r
        first[req] = r
    before = c.get("/v1/status")
    for req in (maker, taker, pay):
        st, h, r = post(url, body(req))
        assert (st, r) == (200, first[req])
        assert {k.lower(): v for k, v in h.items()}["idempotent-replay"] == "true"
    # the integers written differently are still the same signed request
    alt = json.loads(body(pay))
    alt["amount"], alt["type"] = hex(alt["amount"]), "transfer"
    assert post(url, json.dumps(alt).encode())[2] == first[pay]
    after = c.get("/v1/status")
    assert (after["seq"], after["root"], after["accepted"], after["fills"]) == (
        before["seq"], before["root"], before["accepted"], before["fills"])
    # a different request reusing the order id or the nonce: the 409 it always got
    for other, code in [(Order(1, PERP, SELL, 4, PRICE + 10, 1, FAR).signed(trader(1), DOMAIN),
                         "OrderIdReused"),
                        (Transfer(3, 4, 6, 0, FAR).signed(trader(3), DOMAIN), "StaleNonce")]:
        st, h, r = post(url, body(other))
        assert (st, r["error"]["code"]) == (409, code), r
    # in a batch too, in its place
    st, _, items = post(url, json.dumps([taker.to_json(), pay.to_json()]).encode(),
                        "/v1/requests/batch")
    assert st == 200 and [{**x, "index": 0, "status": 0} for x in items] == [
        {**first[taker], "index": 0, "status": 0}, {**first[pay], "index": 0, "status": 0}]
    assert c.get("/v1/status")["seq"] == before["seq"]


def test_retries_hold_across_a_restart_and_a_crash_that_lost_receipts(served):
    url = served.server.url
    maker = Order(1, PERP, SELL, 3, PRICE + 10, 7, FAR).signed(trader(1), DOMAIN)
    taker = Order(2, PERP, BUY, 2, PRICE + 10, 7, FAR).signed(trader(2), DOMAIN)
    got = [post(url, body(r))[2] for r in (maker, taker)]
    assert got[1]["fills"]
    served.restart()
    url = served.server.url
    assert [post(url, body(r))[2] for r in (maker, taker)] == got
    # a crash between a journal commit and its receipts' write: those receipts are rebuilt
    # from the journal on start (same seq, fills and records; no receive time)
    served.stop()
    db = sqlite3.connect(served.svc.cfg.journal_path)
    db.execute("DELETE FROM receipts WHERE seq >= ?", (got[0]["seq"],))
    db.commit()
    db.close()
    served.start()
    assert any(m.startswith("rebuilt the receipts of journal rows") for m in served.logs)
    url = served.server.url
    again = [post(url, body(r)) for r in (maker, taker)]
    assert all(st == 200 for st, _, _ in again)
    for (_, _, r), want in zip(again, got, strict=True):
        assert r["received_us"] is None
        strip = ("received_us", "root")
        assert {k: v for k, v in r.items() if k not in strip} == {
            k: v for k, v in want.items() if k not in strip} | {
            "fills": [{**f, "received_us": None} for f in want["fills"]]}
    assert again[1][2]["root"] == got[1]["root"]  # the last row's root is the group's
    assert served.client.get("/v1/status")["seq"] == got[1]["seq"]


def test_the_window_bounds_what_is_remembered(tmp_path):
    from tests.rollup.api.conftest import Served

    s = Served(tmp_path / "w", api_idempotency_window=2).start()
    try:
        url = s.server.url
        reqs = [Transfer(1, 2, 1 + k, k, FAR).signed(trader(1), DOMAIN) for k in range(3)]
        first = [post(url, body(r))[2] for r in reqs]
        assert len(s.svc._recent) == 2
        st, _, r = post(url, body(reqs[0]))  # forgotten: its nonce is simply stale now
        assert (st, r["error"]["code"]) == (409, "StaleNonce")
        assert post(url, body(reqs[2]))[2] == first[2]
        s.restart()
        assert len(s.svc._recent) == 2
        assert post(s.server.url, body(reqs[1]))[2] == first[1]
    finally:
        s.stop()
