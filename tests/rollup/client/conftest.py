import pytest

from rollup.client import Client
from rollup.transactions import OracleUpdate
from tests.support.operator import ORACLE, PERP, PRICE, ServerProcess, write_config


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("client")
    proc = ServerProcess(write_config(d / "op", n_traders=4), d / "server.log").start()
    with Client(proc.url, key=ORACLE) as oracle:
        assert oracle.submit(OracleUpdate(PERP, PRICE, 1))["accepted"]
    yield proc
    proc.kill()
