"""The signing scheme as docs/api.md states it: the vectors in tests/vectors/signing.json are
reproduced by the Python implementation and by an independent JavaScript client written from the
document with circomlibjs (tests/js/sign_request.mjs), whose signed requests the server accepts."""

from __future__ import annotations

import json
import subprocess

import pytest

from circuits import eddsa_public_key
from rollup.api.codec import parse_request
from rollup.client import Client
from rollup.transactions import Domain
from tests.support import ROOT
from tests.support.circomlibjs import requires_node
from tests.support.operator import DOMAIN, PERP, PRICE, trader

VECTORS = json.loads((ROOT / "tests" / "vectors" / "signing.json").read_text())


def _js_sign(domain: Domain, key: bytes, requests: list[dict]) -> list[dict]:
    inp = {"chain_id": domain.chain_id, "rollup_address": hex(domain.rollup_address),
           "key": key.hex(), "requests": requests}
    out = subprocess.run(["node", str(ROOT / "tests" / "js" / "sign_request.mjs")],
                         input=json.dumps(inp), capture_output=True, text=True, cwd=ROOT,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def test_python_reproduces_the_vectors():
    d = VECTORS["domain"]
    domain = Domain(d["chain_id"], int(d["rollup_address"], 16))
    assert str(domain.field) == d["field"]
    key = bytes.fromhex(VECTORS["key"])
    assert [str(c) for c in eddsa_public_key(key)] == VECTORS["public_key"]
    for v in VECTORS["requests"]:
        req = parse_request(v["request"])
        assert str(req.message(domain)) == v["message"], v["request"]["type"]
        assert req.verify(eddsa_public_key(key), domain)
        unsigned = parse_request({k: x for k, x in v["request"].items() if k != "sig"},
                                 require_sig=False)
        assert unsigned.signed(key, domain) == req  # EdDSA here is deterministic


@pytest.mark.node
@requires_node
def test_javascript_client_reproduces_the_vectors():
    d = VECTORS["domain"]
    domain = Domain(d["chain_id"], int(d["rollup_address"], 16))
    plain = [{**{k: x for k, x in v["request"].items() if k not in ("sig", "type")},
              "type": v["name"]} for v in VECTORS["requests"]]
    got = _js_sign(domain, bytes.fromhex(VECTORS["key"]), plain)
    for g, v in zip(got, VECTORS["requests"], strict=True):
        assert g["domain"] == d["field"] and g["message"] == v["message"]
        assert g["request"]["sig"] == v["request"]["sig"]


@pytest.mark.node
@requires_node
def test_the_server_accepts_what_the_javascript_client_signed(server):
    js = _js_sign(DOMAIN, trader(2), [
        {"type": "order", "account": 2, "asset": PERP, "side": 0, "size": 1,
         "price": PRICE - 20_000, "order_id": 901, "expiry": 10**9, "flags": 0},
        {"type": "cancel", "account": 2, "asset": PERP, "order_id": 901}])
    with Client(server.url) as c:
        placed = c._call("POST", "/v1/requests", json.dumps(js[0]["request"]).encode())
        assert placed["accepted"] and placed["resting"]["order_id"] == 901
        assert c._call("POST", "/v1/requests", json.dumps(js[1]["request"]).encode())["accepted"]
