"""examples/market_maker.py for a bounded time against `rollup sequencer run`: it quotes a call
and a put around their Black-Scholes values while a taker hits its quotes at random, hedges its
delta with the perpetual, and ends with no open orders, its positions within its limits and its
net delta within half a unit."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from rollup.client import Client
from rollup.config import Market
from rollup.errors import EngineError
from rollup.keys import SCHEME
from rollup.transactions import BUY, IOC, SELL, OracleUpdate
from tests.support import ROOT
from tests.support.operator import ORACLE, ServerProcess, trader, wait_until, write_config

SPOT, STRIKE, EXPIRY = 2_000, 2_000, 30 * 86_400


def _example():
    spec = importlib.util.spec_from_file_location("market_maker",
                                                  ROOT / "examples" / "market_maker.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["market_maker"] = mod  # dataclasses look the module up while it loads
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    d = tmp_path_factory.mktemp("mm")
    # priced at genesis: the genesis publishes their scenario rows, so the markets trade at once
    markets = [Market(1, "perp", 50_000, 30_000, name="ETH-PERP", price=SPOT),
               Market(2, "call", 100_000, 50_000, name="ETH-C", underlying=1, strike=STRIKE,
                      expiry=EXPIRY, short_initial=100_000, short_maintenance=50_000, price=137),
               Market(3, "put", 100_000, 50_000, name="ETH-P", underlying=1, strike=STRIKE,
                      expiry=EXPIRY, short_initial=100_000, short_maintenance=50_000, price=137)]
    proc = ServerProcess(write_config(d / "op", n_traders=4, markets=markets),
                         d / "server.log").start()
    with Client(proc.url, key=ORACLE) as o:
        for asset, price in ((1, SPOT), (2, 137), (3, 137)):
            o.submit(OracleUpdate(asset, price, 10))
    yield proc
    proc.kill()


def test_the_example_market_maker_ends_flat_within_its_limits(venue):
    mm_mod = _example()
    limits = mm_mod.Limits(size=3, levels=2, max_position=12, max_delta=2.0)
    with Client(venue.url, key=trader(3), account=3) as lp:  # perpetual liquidity to hedge on
        for k in range(5):
            lp.order(1, BUY, 200, SPOT - 5 - k)
            lp.order(1, SELL, 200, SPOT + 5 + k)
    stop = threading.Event()
    taken = []

    def taker():
        rng = random.Random(5)
        with Client(venue.url, key=trader(4), account=4) as t:
            while not stop.is_set():
                asset = rng.choice([2, 3])
                book = t.book(asset)
                side = rng.choice([BUY, SELL])
                best = (book["asks"] if side == BUY else book["bids"])[:1]
                if best:
                    try:
                        r = t.order(asset, side, 2, best[0]["price"], flags=IOC)
                        taken.extend(r["fills"])
                    except EngineError:
                        pass
                time.sleep(0.1)

    th = threading.Thread(target=taker, daemon=True)
    th.start()
    with Client(venue.url, key=trader(2), account=2) as c:
        mm = mm_mod.MarketMaker(c, limits)
        try:
            out = mm.run(seconds=8.0, pause=0.1)
        finally:
            stop.set()
            th.join(10)
    assert taken, "the taker found quotes to hit"
    assert out["open_orders"] == 0
    assert abs(out["net_delta"]) <= 0.5 + 1e-9, out
    assert all(abs(out["positions"].get(a, 0)) <= limits.max_position for a in (2, 3)), out
    assert out["rounds"] >= 3


def test_a_killed_market_maker_leaves_no_quotes(venue, tmp_path):
    """kill -9 of the example in the middle of its run: its stream's cancel-on-disconnect makes
    the server drop every quote it had resting."""
    key = tmp_path / "mm.key"
    key.write_text(json.dumps({"scheme": SCHEME, "private_key": trader(1).hex()}))
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "market_maker.py"),
                             "--url", venue.url, "--key-file", str(key), "--account", "1",
                             "--seconds", "120"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        with Client(venue.url, key=trader(1), account=1) as c:
            wait_until(lambda: len(c.account_state()["open_orders"]) >= 2 or
                       proc.poll() is not None, timeout=120)
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            wait_until(lambda: c.account_state()["open_orders"] == [], timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
