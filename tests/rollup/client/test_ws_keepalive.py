"""The WebSocket keys of ``[api]`` reach the served API: `rollup sequencer run` in a child
process with short pings closes a client that stops answering them (a raw socket: it sees the
ping, then the close 1011) within ``ws_ping_timeout``, fires its cancel-on-disconnect, and keeps
a client that answers (the SDK's stream) connected across many ping periods."""

from __future__ import annotations

import struct
import time

import pytest

from rollup.api.server import ApiServer, server_options
from rollup.client import Client
from rollup.config import load
from rollup.transactions import SELL, OracleUpdate
from tests.support.operator import ORACLE, PERP, PRICE, ServerProcess, trader, write_config
from tests.support.rawws import frame, raw_ws, read_frame

INTERVAL, TIMEOUT = 0.3, 0.6  # [api] ws_ping_interval / ws_ping_timeout here (20 s / 20 s)
KEYS = dict(api_ws_ping_interval=INTERVAL, api_ws_ping_timeout=TIMEOUT,
            api_ws_send_timeout=2.5, api_ws_send_buffer=64 * 1024)
PING, PONG, CLOSE, TEXT = 0x9, 0xA, 0x8, 0x1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("keepalive")
    proc = ServerProcess(write_config(d / "op", n_traders=2, **KEYS), d / "server.log").start()
    with Client(proc.url, key=ORACLE) as oracle:
        assert oracle.submit(OracleUpdate(PERP, PRICE, 1))["accepted"]
    yield proc
    proc.kill()


def test_the_keys_reach_the_server_options(tmp_path):
    cfg = load(write_config(tmp_path / "op", **KEYS))
    server = ApiServer(None, "127.0.0.1", 0, **server_options(cfg))
    try:
        config = server._server.config
        assert (config.ws_ping_interval, config.ws_ping_timeout) == (INTERVAL, TIMEOUT)
        assert (config.ws.send_timeout, config.ws.send_buffer) == (2.5, 64 * 1024)
    finally:
        server.server_close()


def test_a_client_that_stops_answering_pings_is_closed(server):
    with Client(server.url, key=trader(1), account=1) as c1:
        oid = c1.order(PERP, SELL, 1, PRICE + 5_000)["resting"]["order_id"]
        raw = raw_ws(server.url)
        for m in ({"op": "auth", "token": c1.login(cancel=True)},
                  {"op": "cancel_on_disconnect", "enabled": True}):
            raw.sendall(frame(m))
        start = time.monotonic()
        seen, ping_at = [], None
        while True:  # read, never answer
            try:
                op, payload = read_frame(raw)
            except EOFError:
                break
            seen.append(op)
            if op == PING and ping_at is None:
                ping_at = time.monotonic()
            if op == CLOSE:
                assert struct.unpack("!H", payload[:2])[0] == 1011  # keepalive ping timeout
        ended = time.monotonic()
        raw.close()
        assert seen[:2] == [TEXT, TEXT] and PING in seen and seen[-1] == CLOSE, seen
        # the first ping one interval after the upgrade, the close one timeout after it
        # (generous bounds for a loaded machine; uvicorn's default would be 20 s + 20 s)
        assert ping_at - start < INTERVAL + 2.0
        assert TIMEOUT - 0.05 <= ended - ping_at < TIMEOUT + 2.0
        deadline = time.monotonic() + 10
        while c1.order_status(oid)["status"] == "open" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c1.order_status(oid)["status"] == "cancelled"


def test_a_client_that_answers_pings_stays(server):
    with Client(server.url, key=trader(2), account=2) as c2, c2.stream() as s:
        s.subscribe("orders", 2)
        time.sleep(8 * INTERVAL)  # the SDK's socket answers pings on its own thread
        c2.order(PERP, SELL, 1, PRICE + 6_000)
        events = []
        while not any(m.get("type") == "order" for m in events):
            events.append(s.recv(timeout=5))
