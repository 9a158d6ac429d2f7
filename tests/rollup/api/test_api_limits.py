"""Per-account rate limits: a token bucket per signing account; over it a request is refused
with 429 RateLimited and Retry-After, in its place in a batch, and changes nothing. Forged
requests in an account's name do not use up its budget; oracle messages are not limited."""

from __future__ import annotations

import http.client
import json

from rollup.api.limits import RateLimiter
from rollup.transactions import BUY, OracleUpdate, Order, Transfer
from tests.support.operator import DOMAIN, ORACLE, PERP, PRICE, body, trader

FAR = 10**9


def post(url: str, data: bytes, path: str = "/v1/requests") -> tuple[int, dict, object]:
    host, port = url.removeprefix("http://").split(":")
    # 180 s: a request may compile a kernel on first use (a cold cache, a loaded machine)
    conn = http.client.HTTPConnection(host, int(port), timeout=180)
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read())
    finally:
        conn.close()


def order(i: int, oid: int, signer: int | None = None) -> Order:
    return Order(i, PERP, BUY, 1, PRICE - 500, oid, FAR, 1).signed(trader(signer or i), DOMAIN)


def test_the_bucket_refills_at_the_rate():
    lim = RateLimiter(2.0, 3)
    assert [lim.take(7, now=10.0) for _ in range(3)] == [None] * 3
    wait = lim.take(7, now=10.0)
    assert wait is not None and abs(wait - 0.5) < 1e-9  # one token comes back in 1/rate s
    assert lim.take(8, now=10.0) is None  # another account: its own bucket
    assert lim.take(7, now=10.5) is None and lim.take(7, now=10.5) is not None
    assert lim.refused == 2
    assert RateLimiter(0, 1).take(7) is None  # rate 0: no limit


def test_over_the_limit_is_refused_with_retry_after_and_changes_nothing(limited):
    """[api] rate 0.01/s, burst 3 (the fixture): the fourth order is refused."""
    url, c = limited.server.url, limited.client
    st, _, r = post(url, body(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN)))
    assert st == 200, r
    for t in range(2, 7):  # the oracle is not limited
        assert post(url, body(OracleUpdate(PERP, PRICE, t).signed(ORACLE, DOMAIN)))[0] == 200
    # forged in account 1's name: rejected as forged, not counted against account 1
    for k in range(5):
        st, _, r = post(url, body(order(1, 50 + k, signer=2)))
        assert (st, r["error"]["code"]) == (403, "BadSignature")
    for oid in (1, 2, 3):
        assert post(url, body(order(1, oid)))[0] == 200
    before = c.get("/v1/status")
    st, h, r = post(url, body(order(1, 4)))
    assert (st, r["error"]["code"]) == (429, "RateLimited") and "rate limit" in \
        r["error"]["message"]
    assert int(h["retry-after"]) >= 1
    after = c.get("/v1/status")
    assert (after["seq"], after["root"]) == (before["seq"], before["root"])
    assert after["rate_limited"] == before["rate_limited"] + 1
    assert after["rejected"] == before["rejected"]
    assert 4 not in [o["order_id"] for o in c.get("/v1/accounts/1")["open_orders"]]
    # other accounts have their own budget; a batch answers each item in its place
    items = [order(2, 1), Transfer(2, 3, 1, 0, FAR).signed(trader(2), DOMAIN), order(2, 2),
             order(2, 3), order(3, 1)]
    st, _, out = post(url, json.dumps([x.to_json() for x in items]).encode(),
                      "/v1/requests/batch")
    assert st == 200
    assert [(x["status"], x.get("error", {}).get("code")) for x in out] == [
        (200, None), (200, None), (200, None), (429, "RateLimited"), (200, None)]
    assert c.get("/v1/status")["seq"] == after["seq"] + 4
