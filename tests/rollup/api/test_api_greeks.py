"""The account view's Greeks: present, typed as the served OpenAPI document says, equal to
``rollup.margin.exposure`` on the service's state, and current after a trade and a price."""

from __future__ import annotations

import jsonschema
import pytest

from rollup.config import Market
from rollup.margin import exposure as ex
from rollup.transactions import BUY, SELL, OracleUpdate, Order
from tests.rollup.api.conftest import Served
from tests.support.operator import DOMAIN, ORACLE, PERP, PRICE, trader

CALL = 2
FAR = 10**9


@pytest.fixture
def options(tmp_path):
    markets = [Market(PERP, "perp", 50_000, 30_000, price=PRICE),
               Market(CALL, "call", 100_000, 50_000, underlying=PERP, strike=PRICE,
                      expiry=30 * 86_400, short_initial=100_000, short_maintenance=60_000,
                      price=4_100)]
    s = Served(tmp_path / "api", markets=markets).start()
    yield s
    s.stop()


def _trade(c, seller, buyer, asset, size, price, oid):
    for i, side in ((seller, SELL), (buyer, BUY)):
        st, r = c.post(Order(i, asset, side, size, price, oid, FAR).signed(trader(i), DOMAIN))
        assert st == 200, r


def _want(served, i):
    st = served.svc.seq.state
    return ex.account_greeks(st.accounts[i], ex.series(st))


def test_account_view_greeks(options):
    c = options.client
    _trade(c, 1, 2, CALL, 10, 4_100, 1)
    _trade(c, 2, 3, PERP, 4, PRICE, 2)
    view = c.get("/v1/accounts/2")
    doc = c.get("/openapi.json")
    schema = doc["paths"]["/v1/accounts/{id}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(view)
    g = view["greeks"]
    assert [(p["asset"], p["underlying"], p["balance"]) for p in g["positions"]] == [
        (CALL, PERP, 10), (PERP, PERP, -4)]
    assert all(isinstance(v, float) for p in g["positions"] for v in p["greeks"].values())
    want = _want(options, 2)
    assert [tuple(p["greeks"].values()) for p in g["positions"]] == [
        tuple(p.greeks) for p in want.positions]
    assert g["underlyings"] == [{"underlying": PERP, "greeks": want.underlyings[PERP]._asdict()}]
    assert g["total"] == want.total._asdict()
    assert 0 < g["positions"][0]["greeks"]["delta"] < 10 and g["total"]["theta"] < 0
    # a price moves the option's Greeks; the view follows
    st, r = c.post(OracleUpdate(PERP, PRICE + 3_000, 2).signed(ORACLE, DOMAIN))
    assert st == 200, r
    after = c.get("/v1/accounts/2")["greeks"]
    assert after["positions"][0]["greeks"]["delta"] > g["positions"][0]["greeks"]["delta"]
    assert after["total"] == _want(options, 2).total._asdict()
    empty = c.get("/v1/accounts/4")["greeks"]
    assert empty == {"positions": [], "underlyings": [], "total": {
        "delta_1pct": 0.0, "gamma_1pct": 0.0, "vega": 0.0, "theta": 0.0}}
