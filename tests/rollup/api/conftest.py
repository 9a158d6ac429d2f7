"""A sequencer service with the API in front of it, in this process."""

from __future__ import annotations

import pytest

from rollup.api.server import ApiServer
from rollup.api.service import SequencerService
from rollup.config import load
from rollup.transactions import OracleUpdate
from tests.support.operator import DOMAIN, ORACLE, PERP, PRICE, Client, write_config


class Served:
    """``rollup sequencer run`` in this process: start, stop, restart on the same folder."""

    def __init__(self, folder, server_kw: dict | None = None, **cfg) -> None:
        self.path = write_config(folder, n_traders=4, **cfg)
        self.server_kw = {"max_body": 8192, **(server_kw or {})}  # ApiServer's options
        self.logs: list[str] = []
        self.svc = self.server = self.client = None

    def start(self) -> Served:
        self.svc = SequencerService(load(self.path), log=self.logs.append).start()
        self.server = ApiServer(self.svc, "127.0.0.1", 0, **self.server_kw).start()
        self.client = Client(self.server.url)
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.shutdown()
        self.server.server_close()
        self.svc.close()

    def restart(self) -> Served:
        self.stop()
        return self.start()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "api").start()
    st, r = s.client.post(OracleUpdate(PERP, PRICE, 1).signed(ORACLE, DOMAIN))
    assert st == 200, r
    yield s
    s.stop()


@pytest.fixture
def limited(tmp_path):
    # a token per 100 s, 3 at once: a slow machine cannot refill one during a test
    s = Served(tmp_path / "limited", api_rate=0.01, api_burst=3).start()
    yield s
    s.stop()
